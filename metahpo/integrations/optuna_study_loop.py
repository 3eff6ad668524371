"""A metahpo optimizer run the way Optuna users run it: as ``MetaHPOSampler`` in an Optuna study.

The benchmark harness drives optimizers through ``ask`` / ``tell``. With the harness option
``via=optuna`` (``metahpo bench`` passes ``{"optuna": OptunaStudyLoop}`` as the harness's
drivers) it drives :class:`OptunaStudyLoop` instead, which asks an in-memory Optuna study
(``study.ask()``, then each active parameter suggested as an objective suggests it) whose
sampler is a :class:`~metahpo.integrations.optuna.MetaHPOSampler` for the named optimizer, given
the space as its ``search_space`` (so every parameter is sampled jointly from the first trial
on). The
records are the same as for a direct run, so the two ways of using an optimizer compare on the
same tasks and seeds.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from metahpo.distributions import space_to_optuna, suggest
from metahpo.space import SearchSpace
from metahpo.trial import Trial, TrialRecord, TrialState, outcome


class OptunaStudyLoop:
    """``ask`` / ``tell`` / ``best`` over an in-memory Optuna study sampled by ``MetaHPOSampler``.

    Made for benchmark workers: it sets Optuna's log level to WARNING for the process, so that
    thousands of trials do not each print Optuna's INFO line.

    Args:
        name: a metahpo optimizer name.
        space: the search space.
        direction: ``"minimize"`` or ``"maximize"``.
        seed: the sampler's seed.
        options: the optimizer's options.
    """

    def __init__(self, name: str, space: SearchSpace, *, direction: str, seed: int,
                 options: dict[str, Any]) -> None:
        import optuna

        from metahpo.integrations.optuna import MetaHPOSampler

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.space = space
        self._distributions = space_to_optuna(space)
        self._study = optuna.create_study(
            direction=cast(Literal["minimize", "maximize"], direction),
            sampler=MetaHPOSampler(name, seed=seed, search_space=space, **options))
        self._running: dict[int, Any] = {}
        self._done: list[TrialRecord] = []
        self._sign = 1.0 if direction == "minimize" else -1.0

    def ask(self) -> Trial:
        """The next trial, its parameters suggested one by one in the space's order, as an
        objective does, each only where its condition holds (parents come first)."""
        ot = self._study.ask()
        params: dict[str, Any] = {}
        for name in self.space.names:
            if name not in self.space.conditions or name in self.space.active_names(params):
                params[name] = suggest(ot, name, self._distributions[name])
        self._running[ot.number] = ot
        return Trial(number=ot.number, params=params)

    def tell(self, trial: Trial, value: Any = None, *, error: str | None = None) -> TrialRecord:
        import optuna

        state, v, err = outcome(value, error)
        ot = self._running.pop(trial.number)
        if state is TrialState.COMPLETE:
            self._study.tell(ot, v)
        else:
            self._study.tell(ot, state=optuna.trial.TrialState.FAIL)
        record = TrialRecord(number=trial.number, params=trial.params, state=state, value=v,
                             error=err)
        self._done.append(record)
        return record

    @property
    def best(self) -> TrialRecord | None:
        done = [r for r in self._done if r.state is TrialState.COMPLETE]
        return min(done, key=lambda r: self._sign * cast(float, r.value)) if done else None
