"""The tune loop: ask, evaluate, tell, record — and resume after a crash.

:func:`tune` fills a :class:`~metahpo.study.Study` (a named record of trials in a storage): it
runs one optimizer against an objective and records every trial before and after it runs, so
that nothing completed is ever lost:

* a trial is reserved (RUNNING, numbered) before it is proposed, and its parameters are written
  before the objective is called;
* an exception, ``None``, NaN or infinity from the objective makes it FAILED with the error text;
* running ``tune`` again with the same study name resumes: finished trials are replayed into the
  optimizer, and RUNNING trials whose process died are marked FAILED (never re-counted); a
  process tuning a study does the same before every trial, so a worker that dies while others
  go on does not hold its trial, and a place in the study, forever;
* several processes may tune one study at once; before every ``ask`` each replays the others'
  finished trials and records their running ones as pending (the optimizers steer away from
  those as from their own pending trials), after waiting for the proposals of the
  lower-numbered trials still being proposed, so workers that start together do not propose
  the same configuration; the storage gives every trial a unique number.
  Processes may share a seed: an optimizer's random stream restarts from the seed and the trial
  count whenever it records a trial from elsewhere, so their proposals part ways.

``n_trials`` is the size the study should reach: finished trials (COMPLETE or FAILED, except those
failed because their process died) plus trials running in other processes. Re-running a command
after a crash therefore finishes the study instead of starting over.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from typing import Any, Callable, Mapping, Sequence

from metahpo.distributions import space_to_optuna
from metahpo.errors import MetaHPOError
from metahpo.optimizers.base import Optimizer, check_direction
from metahpo.optimizers.registry import create_optimizer
from metahpo.space import SearchSpace
from metahpo.storage import (
    ERROR_ATTR,
    INTERRUPTED_ATTR,
    fail_dead_trials,
    in_flight,
    open_storage,
    record_from_optuna,
    reserve_trial,
    store_finished_trial,
)
from metahpo.study import Study, create_or_load_study
from metahpo.trial import Trial, TrialRecord, TrialState, outcome

logger = logging.getLogger("metahpo")


class _Heartbeat:
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


class _Peers:
    """What the other workers tuning the same study (other processes, other jobs of this call)
    have done, as one job's optimizer should know it: their finished trials are told to the
    optimizer, their running ones are recorded as pending (so that workers do not propose what
    another one is evaluating) and told when they finish. ``mine`` holds the study numbers of
    this job's own trials.

    Proposals are ordered by trial number: a job reserves its trial first
    (:func:`~metahpo.storage.reserve_trial`), then waits until every lower-numbered trial in
    flight has stored its parameters (at most ``WAIT_S`` per trial), then proposes. So of two
    workers that start a trial at the same moment, the second sees the first one's
    configuration as pending instead of proposing it again."""

    WAIT_S = 10.0

    def __init__(self, study: Study, opt: Optimizer) -> None:
        self._study = study
        self._opt = opt
        self.mine: set[int] = set()
        self._told: set[int] = set()
        self._running: dict[int, Trial] = {}
        self._given_up: set[int] = set()

    def sync(self, before: int | None = None) -> None:
        """Tell the optimizer what happened in the study since the last call; with ``before``
        (this process's reserved trial), first wait for the lower-numbered trials in flight."""
        names = self._opt.space.names
        deadline = time.monotonic() + self.WAIT_S
        while True:
            fts = self._trials()
            waiting = [ft.number for ft in fts
                       if before is not None and ft.number < before and in_flight(ft, names)
                       and ft.number not in self.mine and ft.number not in self._given_up]
            if not waiting:
                break
            if time.monotonic() >= deadline:
                self._given_up.update(waiting)
                break
            time.sleep(0.005)
        for ft in sorted(fts, key=lambda f: f.number):
            if ft.number not in self.mine and ft.number not in self._told:
                self._take(ft)

    def _trials(self) -> list[Any]:
        from optuna.trial import TrialState as OptunaState

        return self._study.storage.get_all_trials(
            self._study.study_id, deepcopy=False,
            states=(OptunaState.COMPLETE, OptunaState.FAIL, OptunaState.RUNNING),
        )

    def _take(self, ft: Any) -> None:
        from optuna.trial import TrialState as OptunaState

        if ft.state == OptunaState.RUNNING:
            if ft.number not in self._running and set(ft.params) >= set(self._opt.space.names):
                try:
                    self._running[ft.number] = self._opt.add_pending(ft.params)
                except MetaHPOError:
                    self._told.add(ft.number)
            return
        self._told.add(ft.number)
        if not ft.params:
            return
        rec = record_from_optuna(ft)
        try:
            pending = self._running.pop(ft.number, None)
            if pending is not None:
                self._opt.tell(pending, rec.value, error=rec.error)
            else:
                self._opt.add_trial(rec.params, rec.value, error=rec.error)
        except MetaHPOError:
            logger.warning("trial %d does not fit the search space; not replayed", ft.number)


def _fail_dead(study: Study) -> None:
    """Mark failed the trials left running by dead processes (at the start and before every
    trial: a worker that dies while others go on must not hold its trial, and the study's
    count, forever)."""
    interrupted = fail_dead_trials(study.storage, study.study_id)
    if interrupted:
        logger.warning("study %r: trials %s were left running by a dead process; marked failed",
                       study.name, interrupted)


def _study_size(study: Study) -> int:
    from optuna.trial import TrialState as OptunaState

    n = 0
    for ft in study.storage.get_all_trials(study.study_id, deepcopy=False):
        if ft.state == OptunaState.FAIL and ft.user_attrs.get(INTERRUPTED_ATTR):
            continue
        n += 1
    return n


def _check_points(points: Sequence[Mapping[str, Any]] | None,
                  space: SearchSpace) -> list[dict[str, Any]]:
    """``points_to_evaluate`` as a list of parameter dicts, each checked against ``space``."""
    if points is None:
        return []
    if isinstance(points, Mapping) or not isinstance(points, Sequence):
        raise MetaHPOError("points_to_evaluate must be a list of parameter dicts, got "
                           f"{type(points).__name__}")
    checked = []
    for i, point in enumerate(points):
        try:
            space.validate(point)
        except MetaHPOError as exc:
            raise MetaHPOError(f"points_to_evaluate[{i}]: {exc}") from None
        checked.append(dict(point))
    return checked


def _point_to_evaluate(study: Study, points: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first of ``points`` that no trial of the study holds yet, or ``None``. A trial failed
    because its process died (or was interrupted) does not hold its point: the point is
    evaluated again, as such a trial does not count towards ``n_trials`` either."""
    if not points:
        return None
    from optuna.trial import TrialState as OptunaState

    held = [ft.params for ft in study.storage.get_all_trials(study.study_id, deepcopy=False)
            if not (ft.state == OptunaState.FAIL and ft.user_attrs.get(INTERRUPTED_ATTR))]
    return next((point for point in points if point not in held), None)


def _run_trial(
    study: Study, opt: Optimizer, objective: Callable[[dict[str, Any]], Any], peers: _Peers,
    catch: tuple[type[BaseException], ...], points: list[dict[str, Any]],
) -> TrialRecord:
    st = study.storage
    distributions = space_to_optuna(opt.space)
    trial_id, number = reserve_trial(st, study.study_id)
    peers.mine.add(number)
    trial = None
    try:
        peers.sync(before=number)
        point = _point_to_evaluate(study, points)
        trial = opt.ask() if point is None else opt.add_pending(point)
        for name, value in trial.params.items():
            dist = distributions[name]
            st.set_trial_param(trial_id, name, dist.to_internal_repr(value), dist)
    except BaseException as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        error = f"interrupted before its configuration was stored: {reason}"
        _interrupt(st, trial_id, error)
        if trial is not None:
            opt.tell(trial, error=error)
        raise
    heartbeat = _Heartbeat(st, trial_id)
    try:
        value, error = objective(dict(trial.params)), None
    except catch as exc:
        value, error = None, f"{type(exc).__name__}: {exc}"
        logger.warning("trial %d failed: %s\n%s", number, error, traceback.format_exc(limit=5))
    except BaseException as exc:
        heartbeat.stop()
        _interrupt(st, trial_id, f"interrupted: {type(exc).__name__}")
        opt.tell(trial, error=f"interrupted: {type(exc).__name__}")
        raise
    heartbeat.stop()
    state, v, err = outcome(value, error)
    trial_id = _store_outcome(study, trial_id, number, trial.params, distributions, v, err)
    opt.tell(trial, v, error=err)
    return record_from_optuna(st.get_trial(trial_id))


def _store_outcome(study: Study, trial_id: int, number: int, params: Mapping[str, Any],
                   distributions: dict[str, Any], value: float | None, error: str | None) -> int:
    """Finish trial ``trial_id`` with its outcome; return the id of the trial that holds it.

    If another process failed the trial while it ran (its heartbeat looked stale: a machine that
    slept or a process that was paused for longer than the grace period), the stored trial can
    no longer change; the outcome is then recorded as a new trial with the same parameters
    rather than lost."""
    from optuna.exceptions import UpdateFinishedTrialError

    st = study.storage
    try:
        if error is not None:
            st.set_trial_user_attr(trial_id, ERROR_ATTR, error)
        _finish(st, trial_id, TrialState.COMPLETE if error is None else TrialState.FAILED, value)
        return trial_id
    except UpdateFinishedTrialError:
        new_id, new_number = store_finished_trial(st, study.study_id, dict(params),
                                                  distributions, value, error)
        logger.warning("trial %d was marked failed by another process while it ran; its result "
                       "is recorded as trial %d", number, new_number)
        return new_id


def _interrupt(st: Any, trial_id: int, error: str) -> None:
    """Fail a trial that this process gave up on (not counted in the study's size); nothing to
    do if another process failed it already."""
    from optuna.exceptions import UpdateFinishedTrialError

    try:
        st.set_trial_user_attr(trial_id, ERROR_ATTR, error)
        st.set_trial_user_attr(trial_id, INTERRUPTED_ATTR, True)
        _finish(st, trial_id, TrialState.FAILED, None)
    except UpdateFinishedTrialError:
        pass


def _finish(st: Any, trial_id: int, state: TrialState, value: float | None) -> None:
    from optuna.trial import TrialState as OptunaState

    if state is TrialState.COMPLETE:
        st.set_trial_state_values(trial_id, OptunaState.COMPLETE, [value])
    else:
        st.set_trial_state_values(trial_id, OptunaState.FAIL)


def tune(
    objective: Callable[[dict[str, Any]], Any],
    space: SearchSpace,
    *,
    optimizer: str | Optimizer = "meta",
    n_trials: int,
    direction: str = "minimize",
    seed: int | None = None,
    storage: Any = None,
    study_name: str | None = None,
    timeout: float | None = None,
    show_progress: bool = True,
    catch: tuple[type[BaseException], ...] = (Exception,),
    n_jobs: int = 1,
    points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
    callbacks: Sequence[Callable[[Study, TrialRecord], Any]] = (),
    **options: Any,
) -> Study:
    """Tune ``objective`` over ``space`` and return the recorded :class:`Study`.

    Args:
        objective: ``objective(params) -> float``; ``params`` is a dict of decoded values.
            Exceptions of a type in ``catch``, ``None``, NaN and infinities make failed trials.
        space: the search space.
        optimizer: a registered name (see :func:`metahpo.available_optimizers`) or an instance;
            default ``"meta"``, the meta-learned optimizer with its space-agnostic ``default``
            policy (the sampler and searcher of the Optuna and Ray integrations default to it
            too).
        n_trials: the number of trials the study should hold when this call returns (see the
            module docstring for what counts).
        direction: ``"minimize"`` or ``"maximize"``.
        seed: the optimizer's seed (with an optimizer name).
        storage: database URL (e.g. ``sqlite:///studies.db``) or an Optuna storage object (e.g.
            ``JournalStorage(JournalFileBackend("studies.log"))`` for workers on several
            machines sharing a file system); ``None`` keeps the study in memory.
        study_name: name of the study to create or resume; default: a new unique name.
        timeout: start no new trial after this many seconds.
        show_progress: show a progress bar with the best value so far.
        catch: exception types recorded as failed trials instead of stopping the loop.
        n_jobs: trials run at once, in threads of this process (like Optuna's ``n_jobs``), each
            with its own optimizer that takes the other jobs' trials as it takes other
            processes' (see the module docstring). For objectives that release the GIL (PyTorch,
            NumPy, subprocesses, remote calls); for pure-Python objectives run several
            processes on one storage instead. An exception that is not caught stops every job
            after its current trial and is raised here.
        points_to_evaluate: configurations to evaluate first, in order, before the optimizer
            proposes (current defaults, known good settings), as with Ray Tune's searchers or
            Optuna's ``enqueue_trial``. Each is a complete parameter dict of ``space``. They
            count towards ``n_trials``, the optimizer reads their results like its own trials
            (they take the places of a policy's first design points), and a point the study
            already holds (a resumed run, another worker) is not evaluated again.
        callbacks: ``callback(study, trial)`` after every trial this call finishes (complete
            or failed), with the study and the trial's record, as in Optuna's ``optimize``:
            log to an experiment tracker, or call ``study.stop()`` once a target is reached.
            With ``n_jobs > 1`` they run in the job's thread, possibly at the same time. An
            exception from a callback stops tuning and is raised (the trial is recorded).
        **options: keyword options of the optimizer (with an optimizer name).
    """
    if not isinstance(space, SearchSpace):
        raise MetaHPOError(f"space must be a metahpo.SearchSpace, got {type(space).__name__}")
    check_direction(direction)
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0:
        raise MetaHPOError(f"n_trials must be a non-negative int, got {n_trials!r}")
    if not callable(objective):
        raise MetaHPOError(f"objective must be callable, got {type(objective).__name__}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise MetaHPOError(f"n_jobs must be an int >= 1, got {n_jobs!r}")
    points = _check_points(points_to_evaluate, space)
    callbacks = list(callbacks)
    for callback in callbacks:
        if not callable(callback):
            raise MetaHPOError(f"callbacks must be callables f(study, trial), got {callback!r}")
    if isinstance(optimizer, Optimizer):
        if optimizer.space != space or optimizer.direction != direction:
            raise MetaHPOError("the optimizer instance was built for another space or direction")
        if seed is not None or options:
            raise MetaHPOError("seed and optimizer options go with an optimizer name; an optimizer "
                               "instance already has its own")
        if n_jobs > 1:
            raise MetaHPOError("an optimizer instance serves one job; pass its name for n_jobs > 1")
        opts = [optimizer]
    else:
        opts = [create_optimizer(optimizer, space, direction=direction, seed=seed, **options)
                for _ in range(n_jobs)]
    st = open_storage(storage)
    name = study_name or f"metahpo-{uuid.uuid4().hex[:12]}"
    study = create_or_load_study(st, name, storage, space, direction)
    _fail_dead(study)
    loop = _Loop(study, objective, n_trials, timeout, catch, points, callbacks,
                 _progress(show_progress, n_trials, _study_size(study)))
    workers = [threading.Thread(target=loop.run_job, args=(opt,), daemon=True) for opt in opts[1:]]
    try:
        for worker in workers:
            worker.start()
        loop.run_job(opts[0], reraise=True)
    finally:
        loop.stop.set()
        for worker in workers:
            worker.join()
        if loop.progress is not None:
            loop.progress.close()
    if loop.errors:
        raise loop.errors[0]
    return study


class _Loop:
    """The tune loop of one call, shared by its jobs (threads): each job proposes with its own
    optimizer until the study holds ``n_trials`` trials, the timeout passes, ``stop`` is set
    (by a job that raised, or by the caller's thread on an exception) or a callback stopped the
    study (:meth:`~metahpo.study.Study.stop`)."""

    def __init__(self, study: Study, objective: Callable[[dict[str, Any]], Any], n_trials: int,
                 timeout: float | None, catch: tuple[type[BaseException], ...],
                 points: list[dict[str, Any]], callbacks: list[Callable[[Study, TrialRecord], Any]],
                 progress: Any):
        self.study = study
        self.points = points
        self.callbacks = callbacks
        self.objective = objective
        self.n_trials = n_trials
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.catch = catch
        self.progress = progress
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()

    def run_job(self, opt: Optimizer, reraise: bool = False) -> None:
        """Run trials with ``opt``; an exception stops the other jobs and is raised here
        (``reraise``, the caller's job) or kept in ``errors`` (the other threads)."""
        try:
            peers = _Peers(self.study, opt)
            peers.sync()
            while self._going_on():
                _fail_dead(self.study)
                record = _run_trial(self.study, opt, self.objective, peers, self.catch, self.points)
                self._show(opt)
                for callback in self.callbacks:
                    callback(self.study, record)
        except BaseException as exc:
            self.stop.set()
            if reraise:
                raise
            with self._lock:
                self.errors.append(exc)

    def _going_on(self) -> bool:
        """Whether a job should start another trial."""
        if self.stop.is_set() or self.study.stop_requested:
            return False
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return False
        return _study_size(self.study) < self.n_trials

    def _show(self, opt: Optimizer) -> None:
        if self.progress is None:
            return
        with self._lock:
            self.progress.n = min(_study_size(self.study), self.n_trials)
            best = opt.best
            if best is not None:
                self.progress.set_postfix(best=f"{best.value:.6g}", refresh=False)
            self.progress.refresh()


def _progress(show: bool, total: int, initial: int) -> Any:
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=min(initial, total), desc="metahpo", unit="trial")
