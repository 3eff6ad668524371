"""The trial an objective is evaluating, as it sees it: reports, pruning, interruption, user
attributes and, for a trial that runs an interrupted one again, which one.

:func:`metahpo.tune` passes the trial's parameters as :class:`ObjectiveParams` (a dict) and a
:class:`RunningTrial` as the objective's second argument when it takes one; :class:`Pruning`
holds the pruner of one tune call for all its jobs.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Mapping, Union, overload

from metahpo.errors import MetaHPOError
from metahpo.optuna_habits import define_by_run_error, missing_attribute
from metahpo.scalars import python_scalar
from metahpo.storage import checked_user_attr, set_constraint
from metahpo.study import Study
from metahpo.trial import outcome


class ObjectiveParams(dict[str, Any]):
    """The parameters :func:`metahpo.tune` gives an objective: a plain ``{name: value}`` dict,
    on which Optuna's ``trial.suggest_*`` (an Optuna objective passed to ``tune``) is refused
    with what to do, where a dict would say only that it has no such attribute."""

    if not TYPE_CHECKING:  # type checkers still flag an attribute a dict lacks
        def __getattr__(self, name: str) -> Any:
            raise missing_attribute(self, name, define_by_run_error)


class RunningTrial:
    """The trial an objective is evaluating, passed as its second argument when it takes one:
    ``objective(params, trial)``. For learning curves and early stopping, as in Optuna::

        def objective(params, trial):
            for epoch in range(20):
                accuracy = train_one_epoch(model, params)
                trial.report(epoch, accuracy)
                if trial.should_prune():
                    raise metahpo.TrialPruned()
            return accuracy

    Attributes:
        number: the trial's number in the study.
        params: its configuration.
        retry_of: ``None``, or for a trial that runs again the configuration of one whose run
            was interrupted (a study resumed after Ctrl-C, a process that died, an asked trial
            failed as stale), the number of the first trial that ran it: a training that saves
            checkpoints under ``retry_of`` if set, else ``number``, resumes from them.
        device: the device this trial's job trains on, one of :func:`metahpo.tune`'s
            ``devices`` (``"cuda:1"``), or ``None`` when it was given none.
    """

    def __init__(self, study: Study, trial_id: int, number: int, params: Mapping[str, Any],
                 pruning: Pruning, interrupted: threading.Event | None = None,
                 retry_of: int | None = None, device: str | None = None) -> None:
        self.number = number
        self.params = dict(params)
        self.retry_of = retry_of
        self.device = device
        #: ``{name: value}`` this trial's objective set with :meth:`set_constraint`.
        self.constraints: dict[str, float] = {}
        self._study = study
        self._trial_id = trial_id
        self._pruning = pruning
        self._interrupted = interrupted or threading.Event()

    if not TYPE_CHECKING:  # type checkers still flag an attribute the trial lacks
        def __getattr__(self, name: str) -> Any:
            raise missing_attribute(self, name, define_by_run_error)

    @property
    def objectives(self) -> int:
        """How many values the objective returns: one per direction of the study."""
        return len(self._study.directions)

    def interrupted(self) -> bool:
        """Whether the tune call is being interrupted (``KeyboardInterrupt`` in the caller, or
        an error in another job) while this trial runs in a job of its own (``n_jobs > 1``):
        an objective that waits on something long (a training process) can stop it and raise
        :class:`metahpo.TuningInterrupted`, so that the trial is recorded as interrupted rather
        than failed (as :class:`metahpo.CommandObjective` does). Python cannot stop a thread
        from outside; without such a check the call waits for the trial's end."""
        return self._interrupted.is_set()

    @overload
    def report(self, step: int, value: float) -> None: ...

    @overload
    def report(self, value: float, *, step: int) -> None: ...

    def report(self, *args: Any, step: Any = None, value: Any = None) -> None:
        """Record the objective's intermediate ``value`` after ``step`` (an epoch, say; a whole
        number >= 0, a NumPy integer too), stored with the trial (optuna-dashboard plots them as
        learning curves). The step comes first, as in the learning curve's ``(x, y)``:
        ``trial.report(epoch, accuracy)``. Optuna's ``trial.report`` takes ``(value, step)``:
        its keyword form ``trial.report(accuracy, step=epoch)`` is read as it means, and a float
        in the place of the step (``trial.report(accuracy, epoch)``) is refused by name."""
        if len(args) == 1 and step is not None and value is None:
            value = args[0]
        elif len(args) == 1 and value is not None and step is None:
            step = args[0]
        elif len(args) == 2 and step is None and value is None:
            step, value = args
        elif args or step is None or value is None:
            raise MetaHPOError("trial.report takes a step and a value: trial.report(step, value) "
                               "or trial.report(value, step=step)")
        step = python_scalar(step)
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise MetaHPOError(f"trial.report: step must be a whole number >= 0, got {step!r} "
                               "(the step comes first: trial.report(step, value); Optuna's "
                               "trial.report takes (value, step))")
        state, v, err = outcome(value, None)
        if err is not None:
            raise MetaHPOError(f"trial.report: the value at step {step} is not a number: {err}")
        self._study.storage.set_trial_intermediate_value(self._trial_id, step, v)

    def set_user_attr(self, key: str, value: Any) -> None:
        """Record ``value`` under ``key`` with this trial, at once (kept if the trial fails
        later): what the objective knows beside its value, such as the training time, the
        epoch of the best score or a test metric, as in Optuna. ``value`` is a number, string,
        bool, None or a list / dict of them; read them back in
        :attr:`metahpo.TrialRecord.user_attrs`, as ``user_attrs_<key>`` columns of
        :meth:`metahpo.Study.to_csv` and in ``metahpo studies show``."""
        self._study.storage.set_trial_user_attr(self._trial_id, key, checked_user_attr(key, value))

    def set_constraint(self, name: str, value: float) -> None:
        """Record a limit this trial must keep, feasible where ``value`` is 0 or less
        (``trial.set_constraint("latency", latency_ms - 10)`` for at most 10 ms), as Optuna's
        ``trial.set_constraint``. The trial keeps its value, but the optimizers read a trial
        that breaks a constraint as failed, so the search steers away from the infeasible
        region, and :attr:`metahpo.Study.best_trial` / :attr:`~metahpo.Study.best_trials`
        choose among the feasible trials (:attr:`metahpo.TrialRecord.constraints`)."""
        self.constraints[name] = set_constraint(self._study.storage, self._trial_id, name, value)

    def should_prune(self) -> bool:
        """Whether the pruner given to :func:`tune` would stop this trial now, judging by the
        values reported so far against the other trials' (always ``False`` without a pruner)."""
        return self._pruning.should_prune(self._trial_id)


Objective = Union[Callable[[dict[str, Any]], Any], Callable[[dict[str, Any], RunningTrial], Any]]
"""What :func:`tune` calls: ``objective(params)`` or ``objective(params, trial)`` (the
:class:`RunningTrial`, for reports to a pruner), returning the trial's value."""


class Pruning:
    """The pruner of one tune call (or none), shared by its jobs. Optuna's pruners judge a trial
    through an ``optuna.Study`` of the same storage, made on first use."""

    def __init__(self, study: Study, pruner: Any) -> None:
        self._study = study
        self._pruner = pruner
        self._optuna_study: Any = None
        self._lock = threading.Lock()

    def should_prune(self, trial_id: int) -> bool:
        """Whether the pruner would stop trial ``trial_id`` now (``False`` without a pruner)."""
        if self._pruner is None:
            return False
        with self._lock:
            if self._optuna_study is None:
                import optuna

                self._optuna_study = optuna.load_study(study_name=self._study.name,
                                                       storage=self._study.storage,
                                                       pruner=self._pruner)
        return bool(self._pruner.prune(self._optuna_study, self._study.storage.get_trial(trial_id)))
