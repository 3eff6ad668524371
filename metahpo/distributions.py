"""Conversion between metahpo parameters and Optuna distributions.

Studies are recorded in Optuna's storages and several optimizers are Optuna samplers, so the two
descriptions of a parameter must agree exactly: same bounds, log scale, step and choices.
"""

from __future__ import annotations

from typing import Any, Mapping

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


def from_optuna(name: str, dist: Any) -> Parameter:
    """The metahpo parameter equal to an Optuna distribution."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(dist, FloatDistribution):
        return Float(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, IntDistribution):
        return Int(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, CategoricalDistribution):
        return Categorical(name, dist.choices)
    raise MetaHPOError(f"parameter {name!r}: unsupported Optuna distribution {dist!r}")


def space_from_optuna(distributions: Mapping[str, Any]) -> SearchSpace:
    return SearchSpace([from_optuna(n, d) for n, d in distributions.items()])
