"""CMA-ES evolution strategy (Hansen, 2016), Optuna's CmaEsSampler.

CMA-ES models only numerical parameters; categorical ones are sampled independently at random,
as Optuna does. The search distribution lives in the trials' system attributes, so it survives a
state round trip.
"""

from __future__ import annotations

from typing import Any

from metahpo.optimizers.optuna_adapter import OptunaSamplerOptimizer
from metahpo.space import SearchSpace


class CMAES(OptunaSamplerOptimizer):
    """Optuna's CMA-ES.

    Options:
        n_startup_trials: independent random trials before CMA-ES starts, default 1.
        restart_strategy: ``None``, ``"ipop"`` or ``"bipop"``, default None.
        with_margin: keep a margin for discrete parameters (CMA-ES with margin), default True.
    """

    name = "cmaes"

    def __init__(self, space: SearchSpace, *, n_startup_trials: int = 1,
                 restart_strategy: str | None = None, with_margin: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        self._sampler_options: dict[str, Any] = dict(
            n_startup_trials=n_startup_trials, restart_strategy=restart_strategy,
            with_margin=with_margin)

    def _make_sampler(self, seed: int) -> Any:
        from optuna.samplers import CmaEsSampler, RandomSampler

        return CmaEsSampler(seed=seed, warn_independent_sampling=False,
                            independent_sampler=RandomSampler(seed=seed), **self._sampler_options)
