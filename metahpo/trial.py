"""Trials: what an optimizer proposes and what a study records.

``Trial`` is a proposal (number and decoded parameters), handed out by ``Optimizer.ask()``.
``TrialRecord`` is its outcome: state, objective value or error text, and timestamps. Both are
small frozen records; nothing else carries trial state around.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from metahpo.errors import MetaHPOError
from metahpo.optuna_habits import asked_suggest_error, missing_attribute, missing_trial_attribute

DIRECTIONS = ("minimize", "maximize")
#: How the error of a pruned trial begins ("pruned at step 4"); it is a FAILED trial.
PRUNED = "pruned"


def check_direction(direction: str) -> str:
    """``direction`` if it is ``"minimize"`` or ``"maximize"``; a clear error otherwise."""
    if direction not in DIRECTIONS:
        raise MetaHPOError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    return direction


def check_directions(direction: str, directions: Sequence[str] | None) -> list[str]:
    """The direction of each objective, from a ``direction`` (one objective) or ``directions``
    (one per objective, ``["maximize", "minimize"]``, as in Optuna's ``create_study``); a
    clear error for anything else, or for a ``direction`` other than the default beside
    ``directions``."""
    if directions is None:
        return [check_direction(direction)]
    if isinstance(directions, str) or not isinstance(directions, Sequence) or not directions:
        raise MetaHPOError(f"directions must be a non-empty list such as ['maximize', "
                           f"'minimize'], got {directions!r}")
    if direction != "minimize":
        raise MetaHPOError("give direction (one objective) or directions (one per objective), "
                           "not both")
    return [check_direction(d) for d in directions]


class TrialPruned(Exception):
    """Raised by an objective to stop its trial early because
    :meth:`metahpo.RunningTrial.should_prune` said so (``optuna.TrialPruned`` is accepted too).
    The trial is recorded as pruned (Optuna's PRUNED state), with the last value it reported
    (:attr:`TrialRecord.last_report`), which the optimizers may read."""


class TuningInterrupted(BaseException):
    """Raised by an objective that stopped its work because the tune call is being interrupted
    (:meth:`metahpo.RunningTrial.interrupted`; :class:`metahpo.CommandObjective` stops its
    command). Not an ``Exception``, so that the trial is recorded as interrupted, not failed: it
    does not count towards ``n_trials``, and its configuration is evaluated again on resume."""


class TrialState(str, enum.Enum):
    """Life cycle of a trial: ``RUNNING`` until told, then ``COMPLETE`` or ``FAILED``; a
    configuration queued in a study (:meth:`metahpo.Study.enqueue_trial`) is ``WAITING`` until a
    worker starts it."""

    WAITING = "waiting"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"


@dataclass(frozen=True)
class Trial:
    """A configuration proposed by an optimizer.

    Attributes:
        number: the trial's position in the history (0-based, unique within a study or optimizer).
        params: decoded parameter values, ``{name: value}``, in the space's order.
        optimizer_attrs: what the optimizer that proposed the trial keeps with it,
            ``{key: JSON value}`` (empty for most): a study stores it with the trial, and an
            optimizer built again from the study's trials (a resumed search, another worker,
            ``metahpo ask``) is told it back, as Optuna's samplers keep their state in trial
            system attributes (:mod:`metahpo.optimizers.optuna_adapter`). Left out of the
            trial's ``repr``: a sampler's state can run to kilobytes (CMA-ES's, pickled).
    """

    number: int
    params: dict[str, Any]
    optimizer_attrs: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    if not TYPE_CHECKING:  # type checkers still flag an attribute the trial lacks
        def __getattr__(self, name: str) -> Any:
            raise missing_attribute(self, name, asked_suggest_error)

    def __post_init__(self) -> None:
        if isinstance(self.number, bool) or not isinstance(self.number, int) or self.number < 0:
            raise MetaHPOError(f"a trial number must be a non-negative int, got {self.number!r}")
        object.__setattr__(self, "params", dict(self.params))
        object.__setattr__(self, "optimizer_attrs", dict(self.optimizer_attrs))


@dataclass(frozen=True)
class TrialRecord:
    """A trial and its outcome.

    Attributes:
        number: as in :class:`Trial`.
        params: decoded parameter values.
        state: RUNNING, COMPLETE or FAILED.
        value: the objective value of a COMPLETE trial (finite), else ``None``.
        error: why a FAILED trial failed (exception text, "objective returned nan", ...).
        started_at, finished_at: wall-clock times (``finished_at`` is ``None`` while RUNNING).
        last_report: ``(step, value)``, the last intermediate value a pruned trial reported
            before it was stopped (``None`` for other trials, or a pruned one that reported
            nothing): an early estimate of the trial's value, which optimizers may read.
        user_attrs: what the objective recorded beside its value
            (:meth:`metahpo.RunningTrial.set_user_attr`: training time, a test score...), as
            Optuna's trial user attributes; no optimizer reads them.
        retry_of: for a trial that runs again the configuration of one that was interrupted
            (a resumed study's retry), the number of the first trial that ran it; else ``None``.
        interrupted: whether this FAILED trial's run was interrupted (Ctrl-C, a process that
            died, an asked trial failed as stale) rather than failed by its objective: it does
            not count towards ``n_trials``.
        values: every objective value of a COMPLETE trial of a study with several objectives
            (created with ``directions``; ``value`` is then ``None``), else ``None``.
        constraints: ``{name: value}`` the objective set with ``trial.set_constraint``
            (:meth:`metahpo.RunningTrial.set_constraint`, or Optuna's), a training script
            printed or a tell passed; the trial is feasible where every value is 0 or
            less, and best trials are chosen among the feasible ones.
        optimizer_attrs: as in :class:`Trial`.
    """

    number: int
    params: dict[str, Any]
    state: TrialState
    value: float | None = None
    error: str | None = None
    started_at: datetime | None = field(default=None, compare=False)
    finished_at: datetime | None = field(default=None, compare=False)
    last_report: tuple[int, float] | None = None
    user_attrs: dict[str, Any] = field(default_factory=dict, compare=False)
    retry_of: int | None = field(default=None, compare=False)
    interrupted: bool = field(default=False, compare=False)
    values: tuple[float, ...] | None = None
    constraints: dict[str, float] = field(default_factory=dict, compare=False)
    optimizer_attrs: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    if not TYPE_CHECKING:  # type checkers still flag an attribute the record lacks
        def __getattr__(self, name: str) -> Any:
            """Where an attribute of Optuna's ``FrozenTrial`` that this record lacks is (an
            ``AttributeError`` that says so)."""
            raise missing_trial_attribute(name)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", dict(self.params))
        object.__setattr__(self, "user_attrs", dict(self.user_attrs))
        object.__setattr__(self, "optimizer_attrs", dict(self.optimizer_attrs))
        object.__setattr__(self, "constraints", {str(k): float(v)
                                                 for k, v in self.constraints.items()})
        object.__setattr__(self, "state", TrialState(self.state))
        if self.values is not None:
            values = tuple(float(v) for v in self.values)
            if self.state is not TrialState.COMPLETE or self.value is not None or len(values) < 2:
                raise MetaHPOError("values are the objectives of a complete trial with several "
                                   f"(and no value), got {self.state.value} trial with value "
                                   f"{self.value!r} and values {self.values!r}")
            object.__setattr__(self, "values", values)
        elif self.state is TrialState.COMPLETE:
            if self.value is None or not math.isfinite(self.value):
                raise MetaHPOError(f"a complete trial needs a finite value, got {self.value!r}")
            object.__setattr__(self, "value", float(self.value))
        elif self.value is not None:
            raise MetaHPOError(f"a {self.state.value} trial has no value, got {self.value!r}")
        if self.last_report is not None:
            object.__setattr__(self, "last_report", _checked_report(self.last_report, self.pruned))

    @property
    def pruned(self) -> bool:
        """Whether a pruner stopped the trial early (a FAILED trial whose error says so)."""
        return self.state is TrialState.FAILED and (self.error or "").startswith(PRUNED)

    @property
    def feasible(self) -> bool:
        """Whether no constraint value is above 0."""
        return not violations(self.constraints)

    @property
    def duration_s(self) -> float | None:
        """How long the trial ran, in seconds (Optuna's ``duration``); ``None`` while it runs
        or where a time is unknown."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def as_told(value: float | tuple[float, ...] | None, error: str | None,
            constraints: Mapping[str, float]) -> tuple[float | tuple[float, ...] | None,
                                                       str | None]:
    """What optimizers are told of a finished trial, ``(value, error)``, from its outcome
    (``error`` ``None`` for a complete trial) and its ``constraints``: a complete trial that
    breaks one is told as failed (``"infeasible: latency = 3.2 > 0"``), so that the search
    steers away from the infeasible region as from failed trainings; it keeps its value in
    the study."""
    broken = violations(constraints)
    if error is None and broken:
        return None, f"infeasible: {broken}"
    return value, error


def violations(constraints: Mapping[str, float]) -> str:
    """The broken ones of ``constraints`` (``{name: value}``, feasible at 0 or less) as
    ``"latency = 3.2 > 0"``, joined by commas; ``""`` where all hold."""
    return ", ".join(f"{name} = {value:.4g} > 0" for name, value in constraints.items()
                     if value > 0)


def _checked_report(report: Any, pruned: bool) -> tuple[int, float]:
    """``report`` as ``(step, value)``; clear errors for anything else."""
    if not pruned:
        raise MetaHPOError("only a pruned trial has a last report (its error must begin with "
                           f"{PRUNED!r}), got {report!r}")
    bad = MetaHPOError(f"a last report is (step >= 0, finite value), got {report!r}")
    try:
        step, value = report
        step_ok = not isinstance(step, bool) and int(step) == step and step >= 0
        value = float(value)
    except (TypeError, ValueError):
        raise bad from None
    if not step_ok or not math.isfinite(value):
        raise bad
    return int(step), value


def outcome(value: Any, error: str | None) -> tuple[TrialState, float | None, str | None]:
    """Classify what an objective returned: ``(state, value, error)``.

    ``None``, NaN, infinities, non-numbers and an explicit ``error`` all make a FAILED trial, so
    that a broken evaluation is recorded rather than fed to an optimizer as a number. A
    one-element tensor or array counts as its number (a loss returned with its autograd graph
    included, a metric of shape ``(1,)``).
    """
    if error is not None:
        return TrialState.FAILED, None, str(error)
    if value is None:
        return TrialState.FAILED, None, "objective returned None"
    if isinstance(value, bool):
        return TrialState.FAILED, None, f"objective returned a bool ({value!r}), not a number"
    if callable(getattr(value, "detach", None)):
        value = value.detach()
    v: float | None
    if getattr(value, "ndim", 0):
        v = _only_element(value)
    else:
        try:
            v = float(value)
        except OverflowError:
            return (TrialState.FAILED, None,
                    f"objective returned {type(value).__name__} beyond the range of a float "
                    "(±1.8e308)")
        except (TypeError, ValueError):
            v = _only_element(value)
    if v is None:
        hint = ""
        if isinstance(value, (dict, list, tuple)):
            hint = ("; return the one value to optimize, and record other metrics with "
                    "trial.set_user_attr(name, value) in an objective(params, trial); to "
                    "tune the trade-offs of several objectives, give tune directions=[...], "
                    "one per value")
        return (TrialState.FAILED, None,
                f"objective returned {type(value).__name__}, not a number{hint}")
    if not math.isfinite(v):
        return TrialState.FAILED, None, f"objective returned {v}"
    return TrialState.COMPLETE, v, None


def _only_element(value: Any) -> float | None:
    """The number a one-element array holds (NumPy 2 refuses ``float`` of one of shape
    ``(1,)``, and NumPy 1.25-1.26 warns that it will); ``None`` for anything else."""
    item = getattr(value, "item", None)
    if not callable(item) or isinstance(value, (str, bytes, Mapping)):
        return None
    try:
        return float(item())
    except Exception:  # whatever an unknown type's item() raises, it is no number
        return None


def objective_outcome(value: Any, error: str | None, n_objectives: int
                      ) -> tuple[TrialState, float | tuple[float, ...] | None, str | None]:
    """Classify what an objective of a study with ``n_objectives`` objectives returned:
    :func:`outcome` for one; for several, ``(state, values, error)`` where a COMPLETE trial's
    ``values`` hold one finite number per objective, in the order of the study's directions
    (the objective returns a tuple, list, 1-D array or tensor of them); anything else (a
    missing, extra or non-finite value) makes a FAILED trial whose error says which."""
    if n_objectives == 1:
        return outcome(value, error)
    if error is not None:
        return TrialState.FAILED, None, str(error)
    if value is None:
        return TrialState.FAILED, None, "objective returned None"
    if callable(getattr(value, "detach", None)):
        value = value.detach().tolist()
    elif callable(getattr(value, "tolist", None)):
        value = value.tolist()
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
        return (TrialState.FAILED, None,
                f"objective returned {type(value).__name__}, not a sequence of {n_objectives} "
                "numbers (one per direction)")
    if len(value) != n_objectives:
        return (TrialState.FAILED, None,
                f"objective returned {len(value)} values for {n_objectives} objectives")
    values = []
    for i, item in enumerate(value):
        state, v, err = outcome(item, None)
        if v is None:
            return TrialState.FAILED, None, f"{err} as objective {i}"
        values.append(v)
    return TrialState.COMPLETE, tuple(values), None
