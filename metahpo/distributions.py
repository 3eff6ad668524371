"""Conversion between metahpo parameters and Optuna distributions.

Studies are recorded in Optuna's storages and several optimizers are Optuna samplers, so the two
descriptions of a parameter must agree exactly: same bounds, log scale, step and choices.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from metahpo.errors import MetaHPOError
from metahpo.space import Categorical, Float, Int, Parameter, SearchSpace


def to_optuna(param: Parameter) -> Any:
    """The Optuna distribution equal to ``param``."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(param, Float):
        return FloatDistribution(param.low, param.high, log=param.log, step=param.step)
    if isinstance(param, Int):
        return IntDistribution(param.low, param.high, log=param.log, step=param.step)
    return CategoricalDistribution(param.choices)


def space_to_optuna(space: SearchSpace) -> dict[str, Any]:
    """``{name: optuna distribution}`` in the space's order."""
    return {p.name: to_optuna(p) for p in space}


def suggest(trial: Any, name: str, dist: Any) -> Any:
    """Suggest parameter ``name`` from Optuna distribution ``dist`` in the Optuna ``trial``
    (``trial.suggest_float`` / ``suggest_int`` / ``suggest_categorical`` as ``dist`` says) and
    return its value."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)


def from_optuna(name: str, dist: Any) -> Parameter:
    """The metahpo parameter equal to an Optuna distribution."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(dist, FloatDistribution):
        return Float(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, IntDistribution):
        return Int(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, CategoricalDistribution):
        odd = [c for c in dist.choices if c is not None
               and not isinstance(c, (bool, int, float, str, np.generic))]
        if odd:
            raise MetaHPOError(
                f"parameter {name!r}: choices must be None, bool, int, float or str, got "
                f"{odd[0]!r} ({type(odd[0]).__name__}), as Optuna's storages need them too (it "
                "warns): suggest a string per choice, e.g. suggest_categorical('widths', "
                "['64-64', '128']), and turn it into the value in the objective")
        return Categorical(name, dist.choices)
    raise MetaHPOError(f"parameter {name!r}: unsupported Optuna distribution {dist!r}")


def space_from_optuna(distributions: Mapping[str, Any]) -> SearchSpace:
    return SearchSpace([from_optuna(n, d) for n, d in distributions.items()])
