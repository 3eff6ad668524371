"""Gaussian-process Bayesian optimization, Optuna's GPSampler."""

from __future__ import annotations

from typing import Any

from metahpo.optimizers.optuna_adapter import OptunaSamplerOptimizer
from metahpo.space import SearchSpace


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
