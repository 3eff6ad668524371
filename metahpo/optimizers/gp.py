"""Gaussian-process Bayesian optimization, Optuna's GPSampler."""

from __future__ import annotations

from typing import Any

from metahpo.optimizers.optuna_adapter import OptunaSamplerOptimizer
from metahpo.space import Float, Int, Parameter, SearchSpace

#: Integer and stepped parameters with more values than this are given to the GP as continuous
#: ranges (:meth:`OptunaSamplerOptimizer._relaxed`). Optuna's GPSampler lists every value of
#: such a parameter when it optimizes its acquisition function: an ``Int("n", 0, 10**12)`` asks
#: for 7 TiB, ``10**8`` values cost 1.7 s per proposal, while up to 2**20 values cost no more
#: than a float does (0.14 s at ``10**6`` against 0.11 at ``10**5``, 20 trials). At such widths
#: one step is far below what the kernel resolves, so nothing is lost.
WIDEST_LISTED = 2**20


class GaussianProcessBO(OptunaSamplerOptimizer):
    """Optuna's GP-based Bayesian optimization (Matérn-5/2 kernel, log expected improvement).

    Options:
        n_startup_trials: random trials before the GP is used, default 10.
        deterministic_objective: assume noise-free observations, default False.
    """

    name = "gp"

    def __init__(self, space: SearchSpace, *, n_startup_trials: int = 10,
                 deterministic_objective: bool = False, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        self._sampler_options: dict[str, Any] = dict(
            n_startup_trials=n_startup_trials, deterministic_objective=deterministic_objective)

    def _make_sampler(self, seed: int) -> Any:
        from optuna.samplers import GPSampler

        return GPSampler(seed=seed, **self._sampler_options)

    def _relaxed(self, param: Parameter) -> bool:
        return super()._relaxed(param) or (
            isinstance(param, (Int, Float)) and (param.n_values or 0) > WIDEST_LISTED)
