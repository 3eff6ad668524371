"""Ray Tune's ``param_space`` as a metahpo ``SearchSpace``, as
:class:`~metahpo.integrations.ray.MetaHPOSearcher` reads it, and the way between the
configurations of the two (:class:`RaySpace`).

Ray Tune's sampled domains map to metahpo parameters: ``tune.uniform``, ``loguniform``,
``quniform``, ``randint`` (its upper bound exclusive), ``lograndint``, ``qrandint`` and ``choice``;
nested dicts become ``"outer/inner"`` names. A ``tune.choice`` among lists or tuples (layer
widths, ``tune.choice([[64, 64], [128]])``) is common in Ray Tune, where metahpo's choices are
plain values (as Optuna's are, to be stored): such a choice becomes a categorical parameter whose
choices are the Python literals of the values (``"[64, 64]"``), which the searcher turns back
into the values it suggests.

A ``tune.choice`` among dicts with domains of their own is Ray Tune's conditional space (as
HyperOpt's nested ``hp.choice``): ``"model": tune.choice([{"type": "mlp", "layers":
tune.randint(1, 4)}, {"type": "cnn", "kernel": tune.choice([3, 5])}])`` becomes a categorical
``model`` of the choices' numbers (0, 1) and a parameter per domain of each choice, named by the
choice's number (``model/0/layers``, ``model/1/kernel``), active where ``model`` holds that
number; a suggestion holds the chosen dict with its domains filled in (``{"type": "mlp",
"layers": 2}``). Such choices nest. Their constant entries (``"type": "mlp"``) must be plain
values or lists of them, as the searcher's saved state holds them.

A domain inside a list (``"hidden": [tune.randint(8, 64), 32]``) is a parameter named by its
place (``hidden/0``); a suggestion holds the whole list, its constants kept (outside choices
among dicts only). What cannot be searched (``tune.grid_search``, ``tune.sample_from``) is
refused by name, with what to do instead.
"""

from __future__ import annotations

import ast
import copy
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Dict, Mapping

import numpy as np
from ray.tune.search.sample import Categorical as RayCategorical
from ray.tune.search.sample import Domain
from ray.tune.search.sample import Float as RayFloat
from ray.tune.search.sample import Function as RayFunction
from ray.tune.search.sample import Integer as RayInteger
from ray.tune.search.sample import LogUniform, Quantized, Uniform
from ray.tune.search.variant_generator import parse_spec_vars
from ray.tune.utils.util import flatten_dict, unflatten_dict

from metahpo.errors import MetaHPOError
from metahpo.scalars import python_scalar
from metahpo.space import Categorical, Condition, Float, Int, Parameter, SearchSpace


def space_from_ray(param_space: Dict[str, Any]) -> SearchSpace:
    """Convert a Ray Tune ``param_space`` (its sampled domains) into a metahpo space. A choice
    among lists or tuples takes their literals as choices, a choice among dicts their numbers
    (see the module docstring)."""
    return ray_space(param_space).space


@dataclass(frozen=True)
class DictChoice:
    """A ``tune.choice`` among dicts, searched as the categorical parameter ``name`` of the
    choices' numbers. Choice ``i`` holds its flat constant entries ``constants[i]`` (``{"":
    value}`` for a choice that is a plain value, not a dict) and the flat keys of its domains
    ``keys[i]``, each the parameter ``name/i/KEY``."""

    name: str
    constants: tuple[dict[str, Any], ...]
    keys: tuple[tuple[str, ...], ...]

    def child(self, i: int, key: str) -> str:
        return f"{self.name}/{i}/{key}"


@dataclass(frozen=True)
class RaySpace:
    """A metahpo ``space`` with what turns its parameters into a Ray Tune configuration and
    back: the names of its choices among literals (``labelled``) and its choices among dicts
    (``choices``, by name)."""

    space: SearchSpace
    labelled: tuple[str, ...] = ()
    choices: Mapping[str, DictChoice] = field(default_factory=dict)
    #: The lists of ``param_space`` that hold domains, by their flat key: each with its
    #: constants, and ``None`` where a domain is (parameter ``KEY/INDEX``, ``KEY/INDEX/NAME``
    #: for a dict in the list).
    lists: Mapping[str, list[Any]] = field(default_factory=dict)

    def config(self, params: Mapping[str, Any]) -> Dict[str, Any]:
        """The nested Ray Tune configuration of a trial's ``params`` (active ones only)."""
        nested = self._nested
        flat = {k: self._value(k, params) for k in params if k not in nested}
        for key, skeleton in self.lists.items():
            filled = copy.deepcopy(skeleton)
            for name in [k for k in flat if k.startswith(key + "/")]:
                _put(filled, name[len(key) + 1:].split("/"), flat.pop(name))
            flat[key] = filled
        return unflatten_dict(flat)

    def params(self, config: Mapping[str, Any]) -> Dict[str, Any]:
        """The parameters of a Ray Tune configuration (nested, or flat with ``/`` between
        levels): its constant entries left out, choices among literals as their literals,
        choices among dicts as the number of the choice the configuration holds; a clear error
        where a configuration's dict is none of its choices."""
        flat = flatten_dict(dict(config), delimiter="/")
        params: Dict[str, Any] = {}
        nested = self._nested
        for name in self.space.names:
            if name in nested:
                continue
            if name in self.choices:
                self._read_choice(name, name, flat, params)
            elif name in flat:
                params[name] = self._label(name, flat[name])
            elif (key := self._list_of(name)) is not None and key in flat:
                found, value = _get(flat[key], name[len(key) + 1:].split("/"))
                if found:
                    params[name] = self._label(name, value)
        return params

    def _list_of(self, name: str) -> str | None:
        """The flat key of the list that parameter ``name`` lies in, if it lies in one."""
        return next((k for k in self.lists if name.startswith(k + "/")), None)

    def state(self) -> Dict[str, Any]:
        """What a searcher's saved state keeps (JSON), read back by :meth:`from_state`."""
        return {"labelled": list(self.labelled),
                "dict_choices": [{"name": c.name, "constants": [repr(k) for k in c.constants],
                                  "keys": [list(k) for k in c.keys]}
                                 for c in self.choices.values()],
                "lists": {k: repr(v) for k, v in self.lists.items()}}

    @classmethod
    def from_state(cls, space: SearchSpace, state: Mapping[str, Any]) -> RaySpace:
        choices = {c["name"]: DictChoice(c["name"],
                                         tuple(ast.literal_eval(k) for k in c["constants"]),
                                         tuple(tuple(k) for k in c["keys"]))
                   for c in state.get("dict_choices", [])}
        lists = {k: ast.literal_eval(v) for k, v in state.get("lists", {}).items()}
        return cls(space, tuple(state.get("labelled", [])), choices, lists)

    @cached_property
    def _nested(self) -> set[str]:
        """The parameters that belong to a choice among dicts."""
        return {c.child(i, k) for c in self.choices.values() for i, keys in enumerate(c.keys)
                for k in keys}

    def _label(self, name: str, value: Any) -> Any:
        return literal(name, value) if name in self.labelled else value

    def _value(self, name: str, params: Mapping[str, Any]) -> Any:
        """The configuration's value of parameter ``name`` (a choice among dicts: the chosen
        dict, its domains filled in from ``params``)."""
        choice = self.choices.get(name)
        if choice is None:
            value = params[name]
            return ast.literal_eval(value) if name in self.labelled else value
        i = params[name]
        if "" in choice.constants[i]:
            return choice.constants[i][""]
        flat = dict(choice.constants[i])
        for key in choice.keys[i]:
            flat[key] = self._value(choice.child(i, key), params)
        return unflatten_dict(flat)

    def _read_choice(self, name: str, path: str, flat: Mapping[str, Any],
                     params: Dict[str, Any]) -> None:
        """Put into ``params`` the choice among dicts ``name`` that the flat configuration
        holds at ``path``, with the parameters of its domains (the first choice that fits)."""
        choice = self.choices[name]
        inner = {k[len(path) + 1:]: v for k, v in flat.items() if k.startswith(path + "/")}
        if path in flat:
            inner = {"": flat[path]}
        for i, (constants, keys) in enumerate(zip(choice.constants, choice.keys)):
            if any(k not in inner or inner[k] != v for k, v in constants.items()):
                continue
            if not all(k in inner or any(x.startswith(k + "/") for x in inner)
                       or choice.child(i, k) in self.choices for k in keys):
                continue
            found = {name: i}
            try:
                for key in keys:
                    child = choice.child(i, key)
                    if child in self.choices:
                        self._read_choice(child, f"{path}/{key}", flat, found)
                    else:
                        found[child] = self._label(child, inner[key])
            except MetaHPOError:
                continue
            if not all(self.space[k].contains(v) for k, v in self.space.cast(found).items()):
                continue
            params.update(found)
            return
        raise MetaHPOError(f"parameter {name!r}: the configuration's {path!r} is none of its "
                           f"tune.choice's choices ({_shown(inner)})")


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


def _shown(inner: Mapping[str, Any]) -> str:
    return repr(inner[""]) if "" in inner else repr(unflatten_dict(dict(inner)))


def ray_space(param_space: Dict[str, Any]) -> RaySpace:
    """:func:`space_from_ray`'s space, with the way from its parameters to Ray Tune's
    configurations and back."""
    _refuse_grid(param_space)
    params: list[Parameter] = []
    labelled: list[str] = []
    choices: dict[str, DictChoice] = {}
    conditions: dict[str, Condition] = {}
    lists: dict[str, list[Any]] = {}
    _convert(param_space, "", params, labelled, choices, conditions, lists)
    return RaySpace(SearchSpace(params, conditions=conditions), tuple(labelled), choices, lists)


def _convert(param_space: Dict[str, Any], prefix: str, params: list[Parameter],
             labelled: list[str], choices: dict[str, DictChoice],
             conditions: dict[str, Condition], lists: dict[str, list[Any]] | None = None
             ) -> list[str]:
    """Add the parameters of ``param_space``'s domains, named after ``prefix``, to ``params``
    (with the conditions of choices among dicts) and the lists that hold domains to ``lists``
    (``None``: inside a choice among dicts, where lists of domains are refused); return the
    flat keys of its domains."""
    flat = flatten_dict(param_space, prevent_delimiter=True)
    _, domains, _ = parse_spec_vars(flat)
    keys = []
    for path, domain in domains:
        keys.append("/".join(str(p) for p in path))
        name = prefix + keys[-1]
        if not all(isinstance(p, str) for p in path):
            if lists is None or (isinstance(domain, RayCategorical)
                                 and any(isinstance(c, dict) for c in domain.categories)):
                raise MetaHPOError(
                    f"parameter {name!r}: a domain inside a list is supported outside a "
                    "tune.choice among dicts only, and not as one; give each its own key "
                    "({'layer0': tune.randint(...), ...}), or search whole lists with "
                    "tune.choice([[64, 64], [128]])")
            if path[0] not in lists:
                lists[path[0]] = _skeleton(flat[path[0]], path[0])
        sampler = domain.get_sampler()
        q = None
        if isinstance(sampler, Quantized):
            q, sampler = sampler.q, sampler.sampler
            if isinstance(sampler, LogUniform) and q != 1:
                warnings.warn(f"parameter {name!r}: a log scale takes no quantization step; "
                              f"its values are not rounded to multiples of {q}", stacklevel=2)
        if isinstance(domain, RayCategorical):
            if any(isinstance(c, dict) for c in domain.categories):
                _convert_choice(name, domain.categories, params, labelled, choices, conditions)
            elif all(c is None or isinstance(c, (bool, int, float, str, np.generic))
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
    return keys


def _convert_choice(name: str, categories: list[Any], params: list[Parameter],
                    labelled: list[str], choices: dict[str, DictChoice],
                    conditions: dict[str, Condition]) -> None:
    """Add the choice among dicts ``name`` (see :class:`DictChoice`) and its choices'
    parameters, each active where ``name`` holds its choice's number."""
    params.append(Categorical(name, list(range(len(categories)))))
    constants: list[dict[str, Any]] = []
    keys: list[tuple[str, ...]] = []
    for i, category in enumerate(categories):
        if not isinstance(category, dict):
            constants.append({"": _constant(name, category)})
            keys.append(())
            continue
        _refuse_grid(category)
        start = len(params)
        keys.append(tuple(_convert(category, f"{name}/{i}/", params, labelled, choices,
                                   conditions)))
        for p in params[start:]:
            conditions.setdefault(p.name, Condition(name, [i]))
        resolved, _, _ = parse_spec_vars(flatten_dict(category, prevent_delimiter=True))
        constants.append({"/".join(path): _constant(f"{name}/{i}/{'/'.join(path)}", value)
                          for path, value in resolved})
    choices[name] = DictChoice(name, tuple(constants), tuple(keys))


def _refuse_grid(param_space: Dict[str, Any]) -> None:
    """A clear error where ``param_space`` (or a choice's dict) holds ``tune.grid_search``."""
    if parse_spec_vars(param_space)[2]:
        raise MetaHPOError("MetaHPOSearcher cannot take tune.grid_search entries (a searcher "
                           "proposes every parameter); use tune.choice")


def _skeleton(value: Any, name: str) -> Any:
    """``value`` (a list of ``param_space`` that holds domains) with ``None`` for its domains
    and its constants as plain values (a clear error where one is not a literal)."""
    if isinstance(value, Domain):
        return None
    if isinstance(value, list):
        return [_skeleton(v, f"{name}/{i}") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _skeleton(v, f"{name}/{k}") for k, v in value.items()}
    return _constant(name, value)


def _step(container: Any, part: str) -> Any:
    """The key of ``part`` (a name's level) in ``container``: an index in a list."""
    return int(part) if isinstance(container, list) else part


def _put(container: Any, parts: list[str], value: Any) -> None:
    """Set ``value`` at the path ``parts`` in nested lists and dicts ``container``."""
    for part in parts[:-1]:
        container = container[_step(container, part)]
    container[_step(container, parts[-1])] = value


def _get(container: Any, parts: list[str]) -> tuple[bool, Any]:
    """``(True, value)`` at the path ``parts`` in nested lists and dicts, or ``(False,
    None)`` where the configuration has none there."""
    for part in parts:
        try:
            container = container[_step(container, part)]
        except (KeyError, IndexError, TypeError, ValueError):
            return False, None
    return True, container


def _constant(name: str, value: Any) -> Any:
    """``value``, a constant entry of a choice among dicts or of a list that holds domains, as
    a plain value; a clear error where the searcher's saved state could not hold it."""
    literal(name, value)
    return _plain(value)
