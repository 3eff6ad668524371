"""Run any metahpo optimizer inside an Optuna study.

``MetaHPOSampler`` is an ``optuna.samplers.BaseSampler``. It keeps no state of its own between
calls: for every new trial it rebuilds the metahpo optimizer from the study's trials (finished
trials replayed with ``add_trial``), so Optuna's storages
(in memory, SQLite, server RDBs, JournalStorage), several worker processes on one study,
resumed studies and optuna-dashboard all work unchanged. The optimizer's seed is derived from
the sampler seed and the trial number, so a study is reproducible trial by trial.

Search space: Optuna's intersection search space (parameters present, with identical
distributions, in every finished trial) is sampled jointly by the metahpo optimizer; parameters
with a single possible value are returned as that value. Parameters that appear only in some
trials (define-by-run, conditional spaces) fall back to independent uniform random sampling:
that is the documented independent strategy.

Example::

    import optuna
    from metahpo.integrations.optuna import MetaHPOSampler

    study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0), direction="maximize",
                                storage="sqlite:///studies.db", study_name="m", load_if_exists=True)
    study.optimize(objective, n_trials=30)
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from metahpo.distributions import space_from_optuna
from metahpo.errors import MetaHPOError
from metahpo.optimizers.registry import check_options, create_optimizer
from metahpo.space import SearchSpace


def _single_value(dist: BaseDistribution) -> bool:
    if isinstance(dist, CategoricalDistribution):
        return len(dist.choices) == 1
    return dist.low == dist.high


class MetaHPOSampler(BaseSampler):
    """An Optuna sampler backed by a metahpo optimizer.

    Args:
        optimizer: a metahpo optimizer name (see ``metahpo.available_optimizers()``).
        seed: seed; each trial's optimizer is seeded from it and the trial number.
        **options: keyword options of the optimizer (e.g. ``policy="default"`` for ``"meta"``).
    """

    def __init__(self, optimizer: str = "meta", *, seed: int | None = None, **options: Any) -> None:
        check_options(optimizer, options)
        self.optimizer = optimizer
        self.options = dict(options)
        self._seed = seed if seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        self._search_space = IntersectionSearchSpace()
        self._independent = RandomSampler(seed=self._seed)

    def reseed_rng(self) -> None:
        self._seed = int(np.random.SeedSequence().entropy % 2**31)
        self._independent.reseed_rng()

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial
                                    ) -> dict[str, BaseDistribution]:
        space = self._search_space.calculate(study)
        return {name: dist for name, dist in space.items()}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        if len(study.directions) > 1:
            raise MetaHPOError("MetaHPOSampler supports single-objective studies only")
        fixed = {n: (d.choices[0] if isinstance(d, CategoricalDistribution) else d.low)
                 for n, d in search_space.items() if _single_value(d)}
        free = {n: d for n, d in search_space.items() if n not in fixed}
        if not free:
            return fixed
        space = space_from_optuna(free)
        direction = "maximize" if study.direction == StudyDirection.MAXIMIZE else "minimize"
        seed = zlib.crc32(f"{self._seed}:{trial.number}".encode()) & 0x7FFFFFFF
        opt = create_optimizer(self.optimizer, space, direction=direction, seed=seed, **self.options)
        self._replay(study, trial, opt, space, free)
        proposal = opt.ask().params
        return {**fixed, **{n: _to_python(v) for n, v in proposal.items()}}

    @staticmethod
    def _replay(study: optuna.Study, current: FrozenTrial, opt: Any, space: SearchSpace,
                distributions: dict[str, BaseDistribution]) -> None:
        """Tell the optimizer the study's finished trials that fit ``distributions``, and
        record the trials running in other workers as pending, so that the proposal steers away
        from configurations already being evaluated (what Optuna's samplers call a constant
        liar)."""
        trials = study.get_trials(deepcopy=False)
        for t in sorted(trials, key=lambda x: x.number):
            if t.number == current.number:
                continue
            if any(n not in t.params or t.distributions[n] != d for n, d in distributions.items()):
                continue
            params = {n: t.params[n] for n in distributions}
            if t.state == TrialState.COMPLETE and t.value is not None:
                opt.add_trial(params, t.value)
            elif t.state in (TrialState.FAIL, TrialState.PRUNED):
                opt.add_trial(params, error=t.state.name.lower())
            elif t.state == TrialState.RUNNING:
                opt.add_pending(params)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._independent.sample_independent(study, trial, param_name, param_distribution)


def _to_python(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value
