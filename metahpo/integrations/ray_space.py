"""Ray Tune's ``param_space`` as a metahpo ``SearchSpace``, as
:class:`~metahpo.integrations.ray.MetaHPOSearcher` reads it.

Ray Tune's sampled domains map to metahpo parameters: ``tune.uniform``, ``loguniform``,
``quniform``, ``randint`` (its upper bound exclusive), ``lograndint``, ``qrandint`` and ``choice``;
nested dicts become ``"outer/inner"`` names. A ``tune.choice`` among lists or tuples (layer
widths, ``tune.choice([[64, 64], [128]])``) is common in Ray Tune, where metahpo's choices are
plain values (as Optuna's are, to be stored): such a choice becomes a categorical parameter whose
choices are the Python literals of the values (``"[64, 64]"``), which the searcher turns back
into the values it suggests. What cannot be searched (``tune.grid_search``, ``tune.sample_from``,
a choice among dicts) is refused by name, with what to do instead.
"""

from __future__ import annotations

import ast
import warnings
from typing import Any, Dict

import numpy as np
from ray.tune.search.sample import Categorical as RayCategorical
from ray.tune.search.sample import Float as RayFloat
from ray.tune.search.sample import Function as RayFunction
from ray.tune.search.sample import Integer as RayInteger
from ray.tune.search.sample import LogUniform, Quantized, Uniform
from ray.tune.search.variant_generator import parse_spec_vars
from ray.tune.utils.util import flatten_dict

from metahpo.errors import MetaHPOError
from metahpo.scalars import python_scalar
from metahpo.space import Categorical, Float, Int, Parameter, SearchSpace


def space_from_ray(param_space: Dict[str, Any]) -> SearchSpace:
    """Convert a Ray Tune ``param_space`` (its sampled domains) into a metahpo space. A choice
    among lists or tuples takes their literals as choices (see the module docstring)."""
    return ray_space(param_space)[0]


def has_domains(param_space: Dict[str, Any]) -> bool:
    """Whether ``param_space`` holds anything to search (else constants only)."""
    _, domains, grid = parse_spec_vars(flatten_dict(param_space, prevent_delimiter=True))
    return bool(domains or grid)


def _plain(value: Any) -> Any:
    """``value`` with NumPy scalars, also inside lists and tuples, as the Python values they
    hold."""
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return python_scalar(value)


def literal(name: str, value: Any) -> str:
    """The Python literal that stands for ``value`` as a choice of parameter ``name``; a
    clear error where none gives ``value`` back."""
    label = repr(_plain(value))
    try:
        same = ast.literal_eval(label) == value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        same = False
    if not same:
        raise MetaHPOError(
            f"parameter {name!r}: the choice {value!r} ({type(value).__name__}) cannot be "
            "proposed: tune.choice takes plain values (None, bool, int, float, str) and lists "
            "or tuples of them")
    return label


def ray_space(param_space: Dict[str, Any]) -> tuple[SearchSpace, list[str]]:
    """:func:`space_from_ray`'s space, and the names of its choices among literals."""
    if parse_spec_vars(param_space)[2]:
        raise MetaHPOError("MetaHPOSearcher cannot take tune.grid_search entries (a searcher "
                           "proposes every parameter); use tune.choice")
    flat = flatten_dict(param_space, prevent_delimiter=True)
    _, domains, _ = parse_spec_vars(flat)
    params: list[Parameter] = []
    labelled: list[str] = []
    for path, domain in domains:
        name = "/".join(path)
        sampler = domain.get_sampler()
        q = None
        if isinstance(sampler, Quantized):
            q, sampler = sampler.q, sampler.sampler
            if isinstance(sampler, LogUniform) and q != 1:
                warnings.warn(f"parameter {name!r}: a log scale takes no quantization step; "
                              f"its values are not rounded to multiples of {q}", stacklevel=2)
        if isinstance(domain, RayCategorical):
            if any(isinstance(c, dict) for c in domain.categories):
                raise MetaHPOError(
                    f"parameter {name!r}: a tune.choice among dicts (choices with parameters "
                    "of their own) is not supported; declare the choice and its "
                    "parameters as a conditional space, MetaHPOSearcher(space=SearchSpace([...], "
                    "conditions={...})), and no param_space")
            if all(c is None or isinstance(c, (bool, int, float, str, np.generic))
                   for c in domain.categories):
                params.append(Categorical(name, domain.categories))
            else:
                params.append(Categorical(name, [literal(name, c) for c in domain.categories]))
                labelled.append(name)
        elif isinstance(domain, RayFloat) and isinstance(sampler, (Uniform, LogUniform)):
            params.append(Float(name, domain.lower, domain.upper,
                                log=isinstance(sampler, LogUniform),
                                step=q if q and not isinstance(sampler, LogUniform) else None))
        elif isinstance(domain, RayInteger) and isinstance(sampler, (Uniform, LogUniform)):
            upper = domain.upper if q else domain.upper - 1  # randint's upper bound is exclusive
            params.append(Int(name, domain.lower, upper, log=isinstance(sampler, LogUniform),
                              step=int(q) if q and not isinstance(sampler, LogUniform) else 1))
        elif isinstance(domain, RayFunction):
            raise MetaHPOError(
                f"parameter {name!r}: tune.sample_from is not supported (the searcher cannot see "
                "which parameters a sample function depends on); for conditional parameters pass "
                "MetaHPOSearcher(space=SearchSpace([...], conditions={...})) and no param_space")
        else:
            how = type(sampler).__name__.lstrip("_")
            raise MetaHPOError(
                f"parameter {name!r}: Ray Tune's {how} sampling of a "
                f"{type(domain).__name__} is not supported; metahpo takes tune.uniform, "
                "loguniform, quniform, qloguniform, randint, lograndint, qrandint, qlograndint "
                "and choice")
    return SearchSpace(params), labelled
