"""The trials of a study that several workers share: reserve a trial, propose it in trial-number
order, record its outcome, and notice workers that died.

Two drivers use it: the tune loop (:mod:`metahpo.tuning`), which evaluates its trials itself,
and :meth:`metahpo.study.Study.ask` / :meth:`~metahpo.study.Study.tell`
(:mod:`metahpo.asked_trials`), for trials evaluated elsewhere (a job queue, another machine) and
reported later. Either way a proposal is made by an
optimizer that knows every trial of the study: finished ones are told to it, running ones
(whoever runs them) are pending, so it steers away from what is being evaluated.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from metahpo.distributions import space_to_optuna
from metahpo.enqueued_trials import claim_waiting_trial, enqueued_configuration
from metahpo.errors import MetaHPOError
from metahpo.optimizers.base import Optimizer
from metahpo.space import SearchSpace
from metahpo.storage import (
    DEFAULT_MAX_RETRIES,
    ERROR_ATTR,
    INTERRUPTED_ATTR,
    RESERVATION_ATTR,
    RETRY_OF_ATTR,
    STOPPED_ATTR,
    constraints,
    fail_dead_trials,
    in_flight,
    interrupted,
    optimizer_attrs,
    record_from_optuna,
    reserve_trial,
    store_finished_trial,
    store_optimizer_attrs,
    user_attrs,
)
from metahpo.trial import Trial, TrialState, TuningInterrupted, as_told

if TYPE_CHECKING:
    from metahpo.study import Study

logger = logging.getLogger("metahpo")
#: Runs of configurations, ``(number of the first run, runs)``: see :func:`stopped_runs`.
Runs = list[tuple[int, list[Any]]]


class Heartbeat:
    """Records a heartbeat for a running trial every interval (RDB storages only)."""

    def __init__(self, storage: Any, trial_id: int) -> None:
        self._storage = storage
        self._trial_id = trial_id
        self._stop = threading.Event()
        interval = storage.get_heartbeat_interval() if hasattr(storage, "get_heartbeat_interval") else None
        self._thread = None
        if interval:
            storage.record_heartbeat(trial_id)
            self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
            self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self._storage.record_heartbeat(self._trial_id)
            except Exception:  # a transient database error must not kill the trial
                logger.debug("heartbeat failed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class Peers:
    """What the other workers tuning the same study (other processes, other jobs of this call)
    have done, as one job's optimizer should know it: their finished trials are told to the
    optimizer, their running ones are recorded as pending (so that workers do not propose what
    another one is evaluating) and told when they finish. ``mine`` holds the study numbers of
    this job's own trials.

    Proposals are ordered by trial number: a job reserves its trial first
    (:func:`~metahpo.storage.reserve_trial`), then (:meth:`sync_reserved`) finds its number and waits
    until every lower-numbered trial in flight has stored its parameters (at most ``WAIT_S``
    per trial), then proposes. So of two
    workers that start a trial at the same moment, the second sees the first one's
    configuration as pending instead of proposing it again."""

    WAIT_S = 10.0

    def __init__(self, study: Study, opt: Optimizer,
                 max_retries: int = DEFAULT_MAX_RETRIES) -> None:
        self._study = study
        self._opt = opt
        #: After how many lost runs an interrupted trial's configuration is given up
        #: (:func:`retry_to_run`; checked by the callers, :func:`check_max_retries`).
        self.max_retries = max_retries
        self.mine: set[int] = set()
        self._told: set[int] = set()
        self._running: dict[int, Trial] = {}
        self._given_up: set[int] = set()
        #: The study's trials as the last sync read them (Optuna ``FrozenTrial`` s, queued ones
        #: included), and the configurations among them whose last run was interrupted.
        self.trials: list[Any] = []
        self.stopped: Runs = []
        #: The finished trials the study begins with, which a sync takes in once.
        self._settled = SettledTrials()

    def sync(self) -> None:
        """Tell the optimizer what happened in the study since the last call."""
        self._take_in(self._trials())

    def sync_reserved(self, token: str) -> int:
        """Find the trial this job just reserved with ``token``
        (:func:`~metahpo.storage.reserve_trial`) among the study's, add it to :attr:`mine`, wait
        for the lower-numbered trials in flight and take in the study's trials as :meth:`sync`
        does; return its number (found in the same read of the study's trials)."""
        fts = self._trials()
        number = _own_number(fts, token)
        self.mine.add(number)
        self._take_in(fts, before=number)
        return number

    def _take_in(self, fts: list[Any], before: int | None = None) -> None:
        """Tell the optimizer the study's trials ``fts`` as just read; with ``before``, first
        wait (reading again) until no lower-numbered trial is in flight."""
        from optuna.trial import TrialState as OptunaState

        space = self._opt.space
        deadline = time.monotonic() + self.WAIT_S
        while before is not None:
            waiting = [ft.number for ft in self._settled.after(fts)
                       if ft.number < before and in_flight(ft, space)
                       and ft.number not in self.mine and ft.number not in self._given_up]
            if not waiting:
                break
            if time.monotonic() >= deadline:
                self._given_up.update(waiting)
                break
            time.sleep(0.005)
            fts = self._trials()
        self.trials = fts
        tail = self._settled.after(fts)
        self.stopped = (stopped_runs(fts, space) if self._settled.interrupted
                        or any(interrupted(ft) for ft in tail) else [])
        failed = given_up(self.stopped, self.max_retries)
        mine, told = self.mine, self._told
        new = [ft for ft in tail if ft.number not in told and ft.number not in mine
               and ft.state != OptunaState.WAITING]
        for ft in sorted(new, key=lambda f: f.number):
            self._take(ft, ft.number in failed)
        self._settled.advance(fts)

    def counted(self) -> int:
        """How many of the study's trials as the last sync read them count towards
        ``n_trials`` (:func:`counted`), reading the settled ones no more."""
        return self._settled.counted + counted(self._settled.after(self.trials))

    def _trials(self) -> list[Any]:
        """The study's trials, queued ones included (a read filtered by state costs a pass over
        the study in Optuna's in-memory storage: 0.5 ms at 8000 trials; the queued ones are
        left out where the trials are taken in)."""
        return self._study.storage.get_all_trials(self._study.study_id, deepcopy=False)

    def _take(self, ft: Any, failure: bool = False) -> None:
        """Tell the optimizer about trial ``ft``: pending while it runs, then its outcome; an
        interrupted one is withdrawn, unless it is to be read as a ``failure`` (its
        configuration was given up, see :func:`given_up`)."""
        from optuna.trial import TrialState as OptunaState

        if ft.state == OptunaState.RUNNING:
            if ft.number not in self._running and not self._opt.space.missing(ft.params):
                try:
                    self._running[ft.number] = self._opt.add_pending(
                        ft.params, optimizer_attrs=optimizer_attrs(ft))
                except MetaHPOError:
                    self._told.add(ft.number)
            return
        self._told.add(ft.number)
        if interrupted(ft) and not failure:
            pending = self._running.pop(ft.number, None)
            if pending is not None:
                self._opt.withdraw(pending)
            return
        if not ft.params:
            return
        rec = record_from_optuna(ft)
        value, error = as_told(rec.value if rec.values is None else rec.values, rec.error,
                               rec.constraints)
        try:
            pending = self._running.pop(ft.number, None)
            if pending is not None:
                self._opt.tell(pending, value, error=error, last_report=rec.last_report)
            else:
                self._opt.add_trial(rec.params, value, error=error, last_report=rec.last_report,
                                    optimizer_attrs=rec.optimizer_attrs)
        except MetaHPOError:
            logger.warning("trial %d does not fit the search space; not replayed", ft.number)


def _own_number(fts: list[Any], token: str) -> int:
    """The number of the trial among ``fts`` (Optuna ``FrozenTrial`` s) reserved with
    ``token``, looked for from the newest (where the trial just reserved is)."""
    for ft in reversed(fts):
        if ft.system_attrs.get(RESERVATION_ATTR) == token:
            return int(ft.number)
    raise MetaHPOError("the trial this process reserved is missing from the study's trials: "
                       "was the study deleted while it ran?")


def fail_dead(study: Study, trials: list[Any] | None = None) -> list[int]:
    """Mark interrupted the trials left running by dead processes (at the start and before
    every trial: a worker that dies while others go on must not hold its trial, and the study's
    count, forever); return their numbers. ``trials``: the study's trials as just read."""
    numbers = fail_dead_trials(study.storage, study.study_id, trials)
    if numbers:
        logger.warning("study %r: trials %s were left running by a dead process; marked "
                       "interrupted (their configurations run again first)",
                       study.name, numbers)
    return numbers


def counted(trials: list[Any]) -> int:
    """How many of a study's ``trials`` (Optuna ``FrozenTrial`` s) count towards ``n_trials``:
    all but the interrupted ones and those queued but not started (WAITING: the trial that
    runs one counts once it starts)."""
    from optuna.trial import TrialState as OptunaState

    return sum(not interrupted(ft) and ft.state != OptunaState.WAITING for ft in trials)


class SettledTrials:
    """The finished trials a study begins with, for code that reads a study over and over (the
    tune loop before every trial): finished trials do not change and numbers follow the order
    of creation, so each read need pass only over the trials after them (:meth:`after`); a
    running or queued trial ends them. With passes over every trial, random search in memory
    spent 2.6 ms a trial at 3000 trials, most of it reading the study; 0.2 ms this way."""

    def __init__(self) -> None:
        #: How many they are (numbers ``0 .. n-1``), how many of them count towards
        #: ``n_trials`` (:func:`counted`), and whether one was interrupted.
        self.n = 0
        self.counted = 0
        self.interrupted = False

    def after(self, trials: list[Any]) -> list[Any]:
        """The trials of ``trials`` (a study's, all states, as just read) after the settled
        ones; all of them if the read does not begin with them (it always should)."""
        n = self.n
        if n and not (len(trials) >= n and trials[n - 1].number == n - 1):
            self.n, self.counted, self.interrupted = 0, 0, False
            return trials
        return trials[n:]

    def advance(self, trials: list[Any]) -> None:
        """Extend the settled trials over the finished ones that follow them in ``trials``
        (the same read as :meth:`after`'s, once what it gave is dealt with)."""
        n = self.n
        while n < len(trials) and trials[n].number == n and trials[n].datetime_complete is not None:
            stopped = interrupted(trials[n])
            self.interrupted |= stopped
            self.counted += not stopped
            n += 1
        self.n = n


def fail_dead_and_count(study: Study, settled: SettledTrials | None = None) -> tuple[int, bool]:
    """:func:`fail_dead`, then the study's size (the trials that count towards ``n_trials``,
    :func:`counted`) and whether a queued trial waits (:func:`any_waiting`), from one read of its
    trials (a read costs a few milliseconds in an RDB storage, and the tune loop does both
    before every trial) and one pass over them, or over those after the ``settled`` ones of the
    caller's earlier reads."""
    from optuna.trial import TrialState as OptunaState

    if settled is None:
        settled = SettledTrials()
    trials = study.storage.get_all_trials(study.study_id, deepcopy=False)
    running, waiting, size = [], False, 0
    for ft in settled.after(trials):
        state = ft.state
        if state == OptunaState.RUNNING:
            running.append(ft)
        elif state == OptunaState.WAITING:
            waiting = True
        elif not interrupted(ft):
            size += 1
    size += settled.counted + len(running) - len(fail_dead(study, running))
    settled.advance(trials)
    return size, waiting


def check_points(points: Sequence[Mapping[str, Any]] | None,
                 space: SearchSpace) -> list[dict[str, Any]]:
    """``points_to_evaluate`` as a list of parameter dicts, each checked against ``space``
    (for :func:`~metahpo.tuning.tune`, :meth:`Study.ask` and the Ray Tune searcher)."""
    if points is None:
        return []
    if isinstance(points, Mapping) or not isinstance(points, Sequence):
        raise MetaHPOError("points_to_evaluate must be a list of parameter dicts, got "
                           f"{type(points).__name__}")
    checked = []
    for i, point in enumerate(points):
        try:
            if not isinstance(point, Mapping):
                raise MetaHPOError(f"parameters must be a dict, got {type(point).__name__}")
            typed = space.cast(point)
            space.validate(typed)
            clause = space.forbids(typed)
            if clause is not None:
                raise MetaHPOError(f"the configuration is forbidden by {clause}")
        except MetaHPOError as exc:
            raise MetaHPOError(f"points_to_evaluate[{i}]: {exc}") from None
        checked.append(typed)
    return checked


def point_to_evaluate(fts: list[Any], points: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first of ``points`` that none of a study's trials ``fts`` (Optuna ``FrozenTrial`` s)
    holds yet, or ``None``. An interrupted trial holds its point too: its configuration runs
    again as a retry (:func:`retry_to_run`), or was given up."""
    if not points:
        return None
    held = [ft.params for ft in fts]
    return next((point for point in points if point not in held), None)


def store_outcome(study: Study, trial_id: int, number: int,
                  value: float | tuple[float, ...] | None, error: str | None,
                  pruned: bool = False) -> int:
    """Finish trial ``trial_id`` with its outcome (``value``: one per objective in a study
    of several); return the id of the trial that holds it.
    A ``pruned`` trial (stopped early by a pruner; ``error`` says at which step) is stored in
    Optuna's PRUNED state (a FAILED trial to metahpo, with its last report).

    If another process failed the trial while it ran (its heartbeat looked stale: a machine that
    slept or a process that was paused for longer than the grace period), the stored trial can
    no longer change; the outcome is then recorded as a new trial with the same parameters
    rather than lost, marked as a run of the same configuration (``retry_of``), so that the
    failed trial's configuration is not run again once its result is in."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState as OptunaState

    st = study.storage
    try:
        if error is not None:
            st.set_trial_user_attr(trial_id, ERROR_ATTR, error)
        if pruned:
            st.set_trial_state_values(trial_id, OptunaState.PRUNED)
        else:
            finish(st, trial_id, TrialState.COMPLETE if error is None else TrialState.FAILED, value)
        return trial_id
    except UpdateFinishedTrialError:
        stored = st.get_trial(trial_id)
        new_id, new_number = store_finished_trial(
            st, study.study_id, stored.params, stored.distributions, value, error,
            user_attrs(stored), stored.system_attrs.get(RETRY_OF_ATTR, stored.number),
            constraints(stored))
        logger.warning("trial %d was marked failed by another process while it ran; its result "
                       "is recorded as trial %d", number, new_number)
        return new_id


def interrupt(st: Any, trial_id: int, error: str, requested: bool = False) -> None:
    """Fail a trial that this process gave up on (not counted in the study's size); nothing to
    do if another process failed it already. ``requested``: a request to stop ended it
    (:func:`stop_requested`), so the run does not count towards ``max_retries``."""
    from optuna.exceptions import UpdateFinishedTrialError

    try:
        st.set_trial_user_attr(trial_id, ERROR_ATTR, error)
        st.set_trial_user_attr(trial_id, INTERRUPTED_ATTR, True)
        if requested:
            st.set_trial_user_attr(trial_id, STOPPED_ATTR, True)
        finish(st, trial_id, TrialState.FAILED, None)
    except UpdateFinishedTrialError:
        pass


def finish(st: Any, trial_id: int, state: TrialState,
           value: float | tuple[float, ...] | None) -> None:
    from optuna.trial import TrialState as OptunaState

    if state is TrialState.COMPLETE:
        values = list(value) if isinstance(value, tuple) else [value]
        st.set_trial_state_values(trial_id, OptunaState.COMPLETE, values)
    else:
        st.set_trial_state_values(trial_id, OptunaState.FAIL)


def stop_requested(exc: BaseException) -> bool:
    """Whether ``exc``, which ended a trial, is a request to stop (Ctrl-C, SIGTERM to the
    command line, :class:`~metahpo.trial.TuningInterrupted` from an objective that stopped
    because another job's error or a signal interrupts the call) rather than something that
    happened to the run (an error that escaped the objective)."""
    return isinstance(exc, (KeyboardInterrupt, TuningInterrupted))


def lost_runs(chain: list[Any]) -> int:
    """How many of the interrupted runs ``chain`` (Optuna ``FrozenTrial`` s of one
    configuration) were lost rather than stopped on request (:data:`STOPPED_ATTR`): those count
    towards ``max_retries``."""
    return sum(not ft.user_attrs.get(STOPPED_ATTR) for ft in chain)


def check_max_retries(max_retries: Any) -> int:
    """``max_retries`` (after how many lost runs an interrupted trial's configuration is given
    up, :func:`retry_to_run`), or a clear error."""
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise MetaHPOError(f"max_retries must be an int >= 0, got {max_retries!r}")
    return max_retries


def stopped_runs(fts: list[Any], space: SearchSpace) -> Runs:
    """The runs of each configuration of a study's trials ``fts`` (Optuna ``FrozenTrial`` s)
    whose last run was interrupted (Ctrl-C, a process that died, an asked trial failed as
    stale), as ``(number of its first run, its runs in number order)``, earliest first."""
    if not any(interrupted(ft) for ft in fts):
        return []
    runs: dict[int, list[Any]] = {}
    for ft in sorted(fts, key=lambda f: f.number):
        if ft.params and not space.missing(ft.params):
            runs.setdefault(ft.system_attrs.get(RETRY_OF_ATTR, ft.number), []).append(ft)
    return [(first, chain) for first, chain in sorted(runs.items()) if interrupted(chain[-1])]


def retry_to_run(stopped: Runs, max_retries: int) -> tuple[dict[str, Any], int] | None:
    """Of the :func:`stopped_runs` ``stopped``, the configuration of the earliest that no
    later trial runs again yet, with the number of the first trial that ran it; ``None`` if
    there is none. A configuration runs again after at most ``max_retries`` lost runs
    (:func:`lost_runs`), so that one that kills its process every time is given up (see
    :func:`given_up`); runs stopped on request (Ctrl-C, SIGTERM) do not count."""
    for first, chain in stopped:
        if lost_runs(chain) <= max_retries:
            return dict(chain[-1].params), first
    return None


def given_up(stopped: Runs, max_retries: int) -> set[int]:
    """Numbers of the trials that were the last run of a configuration whose runs were lost
    ``max_retries + 1`` times (of the :func:`stopped_runs` ``stopped``; :func:`lost_runs`):
    optimizers read these as failures (a training that kills its process, by running out of
    memory, say), where other interrupted trials are withdrawn (a stopped run says nothing about
    its configuration)."""
    return {chain[-1].number for _, chain in stopped if lost_runs(chain) > max_retries}


def start_trial(study: Study, opt: Optimizer, peers: Peers, points: list[dict[str, Any]],
                waiting: bool = True) -> tuple[int, int, Trial, int | None]:
    """Reserve the study's next trial, give it a configuration and store it: a trial queued in
    the study (:mod:`metahpo.enqueued_trials`) runs its queued configuration, else an
    interrupted trial's (:func:`retry_to_run`), else the first of ``points`` the study does not
    hold yet, else ``opt``'s proposal. Return the trial's id, its study number, ``opt``'s pending
    trial and, for a retry, the number of the first trial that ran its configuration (else
    ``None``). If anything interrupts this, the reserved trial is failed as interrupted (not
    counted) and the exception raised. ``waiting=False``: the caller's last read of the study
    found no queued trial, so none is looked for. A queued configuration the space refuses
    fails its trial (with the reason in its ``error`` attribute) and the next is claimed."""
    while True:
        started = _start_one_trial(study, opt, peers, points, waiting)
        if started is not None:
            return started


def _start_one_trial(study: Study, opt: Optimizer, peers: Peers, points: list[dict[str, Any]],
                     waiting: bool) -> tuple[int, int, Trial, int | None] | None:
    """One attempt of :func:`start_trial`: ``None`` where the claimed queued configuration
    was refused (its trial failed)."""
    st = study.storage
    claimed = claim_waiting_trial(st, study.study_id) if waiting else None
    trial_id, token = claimed[:2] if claimed is not None else reserve_trial(st, study.study_id)
    trial, first = None, None
    try:
        number = peers.sync_reserved(token)
        retry = retry_to_run(peers.stopped, peers.max_retries)
        if claimed is not None:
            try:
                trial = opt.add_pending(enqueued_configuration(claimed[2], opt))
            except MetaHPOError as exc:
                st.set_trial_user_attr(trial_id, ERROR_ATTR, str(exc))
                finish(st, trial_id, TrialState.FAILED, None)
                logger.warning("trial %d failed: %s", number, exc)
                return None
        elif retry is not None:
            params, first = retry
            st.set_trial_system_attr(trial_id, RETRY_OF_ATTR, first)
            trial = opt.add_pending(params)
        else:
            point = point_to_evaluate(peers.trials, points)
            trial = opt.ask() if point is None else opt.add_pending(point)
        store_optimizer_attrs(st, trial_id, trial.optimizer_attrs)
        distributions = space_to_optuna(opt.space)
        for name, value in trial.params.items():
            dist = distributions[name]
            st.set_trial_param(trial_id, name, dist.to_internal_repr(value), dist)
    except BaseException as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        error = f"interrupted before its configuration was stored: {reason}"
        interrupt(st, trial_id, error, requested=stop_requested(exc))
        if trial is not None:
            opt.withdraw(trial)
        raise
    return trial_id, number, trial, first
