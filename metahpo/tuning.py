"""The tune loop: ask, evaluate, tell, record — and resume after a crash.

:func:`tune` fills a :class:`~metahpo.study.Study` (a named record of trials in a storage): it
runs one optimizer against an objective and records every trial before and after it runs, so
that nothing completed is ever lost:

* a trial is reserved (RUNNING, numbered) before it is proposed, and its parameters are written
  before the objective is called;
* an exception, ``None``, NaN or infinity from the objective makes it FAILED with the error text;
* running ``tune`` again with the same study name resumes: finished trials are replayed into the
  optimizer, and RUNNING trials whose process died are marked FAILED as interrupted (never
  counted, and withdrawn from the optimizers rather than read as failures); a process tuning a
  study does the same before every trial, so a worker that dies while others go on does not
  hold its trial, and a place in the study, forever; an interrupted trial's configuration runs
  again first, as a trial whose ``retry_of`` names the first run (after at most
  ``max_retries`` lost runs, default 2: a run stopped on request, by Ctrl-C or SIGTERM, is not
  lost, one whose process died is);
* several processes may tune one study at once; before every ``ask`` each replays the others'
  finished trials and records their running ones as pending (the optimizers steer away from
  those as from their own pending trials), after waiting for the proposals of the
  lower-numbered trials still being proposed, so workers that start together do not propose
  the same configuration; the storage gives every trial a unique number.
  Processes may share a seed: an optimizer's random stream restarts from the seed and the trial
  count whenever it records a trial from elsewhere, so their proposals part ways.

``n_trials`` is the size the study should reach: finished trials (COMPLETE or FAILED, except those
failed because their process died) plus trials running in other processes. Re-running a command
after a crash therefore finishes the study instead of starting over. The jobs of one call
(``n_jobs``) never take the study past it; processes that tune a study at once may, by a
trial each, where they count its last free place at the same moment. ``n_trials=None`` sets no
size: the call runs until its ``timeout``, a callback's :meth:`~metahpo.study.Study.stop` or an
interruption, as Optuna's ``optimize`` does.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from typing import Any, Callable, Mapping, Sequence, cast

from metahpo.errors import CommandFailed
from metahpo.optimizers.base import Optimizer
from metahpo.progress import Progress, open_progress
from metahpo.running_trial import Objective, ObjectiveParams, Pruning, RunningTrial
from metahpo.scalars import python_scalar
from metahpo.shared_study import (
    Heartbeat,
    Peers,
    SettledTrials,
    fail_dead_and_count,
    interrupt,
    start_trial,
    stop_requested,
    store_outcome,
)
from metahpo.space import SearchSpace
from metahpo.storage import DEFAULT_MAX_RETRIES, last_report, record_from_optuna
from metahpo.study import Study, create_study
from metahpo.study_optimizer import note_optimizer
from metahpo.trial import (
    PRUNED,
    Trial,
    TrialPruned,
    TrialRecord,
    TuningInterrupted,
    as_told,
    objective_outcome,
)
from metahpo.tune_arguments import job_count, prepare

logger = logging.getLogger("metahpo")


def _run_trial(
    study: Study, opt: Optimizer, objective: Callable[..., Any],
    started: tuple[int, int, Trial, int | None], catch: tuple[type[BaseException], ...],
    pruning: Pruning | None, interrupted: threading.Event | None = None,
    device: str | None = None,
) -> int:
    """Run a trial ``started`` by :func:`~metahpo.shared_study.start_trial`; return the id of
    the stored trial that holds its outcome. ``pruning`` is ``None`` for an objective that takes
    only the parameters, else the objective also gets the :class:`RunningTrial` (on
    ``device``)."""
    from optuna.exceptions import TrialPruned as OptunaTrialPruned

    st = study.storage
    trial_id, number, trial, retry_of = started
    heartbeat = Heartbeat(st, trial_id)
    pruned, report, running = False, None, None
    try:
        if pruning is None:
            value, error = objective(ObjectiveParams(trial.params)), None
        else:
            running = RunningTrial(study, trial_id, number, trial.params, pruning, interrupted,
                                   retry_of, device)
            value, error = objective(ObjectiveParams(trial.params), running), None
    except (TrialPruned, OptunaTrialPruned):
        report = last_report(st.get_trial(trial_id))
        value, error, pruned = None, f"{PRUNED} at step {report[0]}" if report else PRUNED, True
    except catch as exc:
        value, error = None, f"{type(exc).__name__}: {exc}"
        stack = "" if isinstance(exc, CommandFailed) else "\n" + traceback.format_exc(limit=5)
        logger.warning("trial %d failed: %s%s", number, error, stack)
    except BaseException as exc:
        heartbeat.stop()
        interrupt(st, trial_id, f"interrupted: {type(exc).__name__}", stop_requested(exc))
        opt.withdraw(trial)
        raise
    heartbeat.stop()
    state, v, err = objective_outcome(value, error, len(opt.directions))
    if error is None and err is not None:
        logger.warning("trial %d failed: %s", number, err)
    trial_id = store_outcome(study, trial_id, number, v, err, pruned=pruned)
    told, told_error = as_told(v, err, {} if running is None else running.constraints)
    opt.tell(trial, told, error=told_error, last_report=report)
    return trial_id


def tune(
    objective: Objective,
    space: SearchSpace,
    *,
    optimizer: str | Optimizer = "meta",
    n_trials: int | None,
    direction: str = "minimize",
    directions: Sequence[str] | None = None,
    seed: int | None = None,
    storage: Any = None,
    study_name: str | None = None,
    timeout: float | None = None,
    show_progress: bool = True,
    catch: tuple[type[BaseException], ...] = (Exception,),
    n_jobs: int = 1,
    points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
    callbacks: Sequence[Callable[[Study, TrialRecord], Any]] = (),
    pruner: Any = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    devices: Sequence[str] | None = None,
    on_start: Callable[[Study], Any] | None = None,
    **options: Any,
) -> Study:
    """Tune ``objective`` over ``space`` and return the recorded :class:`Study`.

    Args:
        objective: ``objective(params) -> float``; ``params`` is a dict of decoded values (or
            ``objective(params, trial)``, see ``pruner``; a training script's command line:
            :class:`metahpo.CommandObjective`). Exceptions of a type in ``catch``, ``None``, NaN
            and infinities make failed trials.
        space: the search space.
        optimizer: a registered name (see :func:`metahpo.available_optimizers`), ``MODULE:CLASS``
            naming an optimizer of your own (:func:`metahpo.create_optimizer`), or an instance;
            default ``"meta"``, the meta-learned optimizer with its space-agnostic ``default``
            policy (the sampler and searcher of the Optuna and Ray integrations default to it
            too).
        n_trials: the number of trials the study should hold when this call returns (see the
            module docstring for what counts); ``None``: no number, tune until ``timeout``
            passes (or a callback stops the study, or Ctrl-C).
        direction: ``"minimize"`` or ``"maximize"``.
        directions: instead of ``direction``, one per objective to tune several at once
            (``["maximize", "minimize"]`` for validation accuracy against training time, as
            in Optuna's ``create_study``): the objective returns a tuple of as many values, in
            that order, and the study's best trials are :attr:`Study.best_trials`, the Pareto
            front. The optimizer proposes for one trade-off per trial, drawn at random
            (:class:`~metahpo.optimizers.multi_objective.MultiObjective`); no pruner.
        seed: the optimizer's seed (with an optimizer name).
        storage: database URL (e.g. ``sqlite:///studies.db``), ``journal:///studies.log`` (an
            Optuna journal file, for workers on several machines sharing a file system but no
            database server) or an Optuna storage object; ``None`` keeps the study in memory
            (see :mod:`metahpo.storage`).
        study_name: name of the study to create or resume; default: a new unique name.
        timeout: start no new trial after this many seconds.
        show_progress: show a progress bar with the best value so far where standard error
            is a terminal (or in a notebook), else a line per finished trial there, for the
            log files of cluster jobs (:mod:`metahpo.progress`).
        catch: exception types recorded as failed trials instead of stopping the loop.
        n_jobs: trials run at once (``-1``: one per CPU), in threads of this process (like
            Optuna's ``n_jobs``), each with its own optimizer that takes the other jobs' trials
            as it takes other processes' (see the module docstring). For objectives that
            release the GIL (PyTorch, NumPy, subprocesses, remote calls); for pure-Python
            objectives run several processes on one storage instead. An exception that is not
            caught stops every job after its current trial and is raised here.
        points_to_evaluate: configurations to evaluate first, in order, before the optimizer
            proposes (current defaults, known good settings), as with Ray Tune's searchers or
            Optuna's ``enqueue_trial``. Each is a complete parameter dict of ``space``. They
            count towards ``n_trials``, the optimizer reads their results like its own trials
            (they take the places of a policy's first design points), and a point the study
            already holds (a resumed run, another worker) is not evaluated again.
        pruner: an Optuna pruner (``optuna.pruners.MedianPruner()``,
            ``SuccessiveHalvingPruner()``, ``HyperbandPruner()``...) that stops unpromising
            trials early: the objective takes the running trial, ``objective(params, trial)``,
            reports intermediate values with ``trial.report(step, value)`` and raises
            :class:`TrialPruned` when ``trial.should_prune()`` (see :class:`RunningTrial`). An
            objective with a second parameter gets the trial without a pruner too.
        callbacks: ``callback(study, trial)`` after every trial this call finishes (complete
            or failed), with the study and the trial's record, as in Optuna's ``optimize``:
            log to an experiment tracker, or call ``study.stop()`` once a target is reached.
            With ``n_jobs > 1`` they run in the job's thread, possibly at the same time. An
            exception from a callback stops tuning and is raised (the trial is recorded).
        max_retries: how many times the configuration of a trial whose run was lost (its
            process died or was killed without warning, an error escaped the objective) runs
            again, as a new trial, before it is given up and read by the optimizers as a
            failed one (a training that kills its process each time, by running out of
            memory, say). Runs stopped on request (Ctrl-C, SIGTERM to the command line, a
            :class:`TuningInterrupted`) do not count: such a configuration runs again however
            often that happens. Raise it where machines die without warning (spot instances
            killed outright). Give every worker of a study the same value.
        devices: devices to spread the jobs over, e.g. ``["cuda:0", "cuda:1"]``: job ``j`` runs
            its trials on ``devices[j % len(devices)]``, which the objective reads as
            ``trial.device`` (``torch.device(trial.device)``), so that ``n_jobs=4`` with four
            GPUs trains one model per GPU (with more jobs than devices, jobs share them). For
            an objective that takes the running trial; a training script's command takes its
            devices itself (:class:`metahpo.CommandObjective`'s ``devices``).
        on_start: ``on_start(study)`` once the arguments are checked and the study is open,
            before the first trial (the command line says there where the study is recorded,
            so that a mistake in the arguments is the only thing it prints).
        **options: keyword options of the optimizer (with an optimizer name).
    """
    n_trials, timeout, max_retries = (python_scalar(v) for v in (n_trials, timeout, max_retries))
    n_jobs = job_count(python_scalar(n_jobs))
    points, takes_trial, devices_of_jobs, callbacks, opts = prepare(
        objective, space, optimizer=optimizer, n_trials=n_trials, direction=direction,
        directions=directions, seed=seed,
        timeout=timeout, n_jobs=n_jobs, points_to_evaluate=points_to_evaluate,
        callbacks=callbacks, pruner=pruner, max_retries=max_retries, devices=devices, **options)
    if devices is not None and len(devices) > n_jobs:
        logger.warning("%d devices for %d jobs: %s stay idle (give n_jobs=%d)", len(devices),
                       n_jobs, ", ".join(devices[n_jobs:]), len(devices))
    study = create_study(space, storage=storage, study_name=study_name, direction=direction,
                         directions=directions)
    if isinstance(optimizer, Optimizer):
        note_optimizer(study, optimizer.reference, optimizer.keyword_options, max_retries)
    else:
        note_optimizer(study, optimizer, options, max_retries)
    if on_start is not None:
        on_start(study)
    loop = _Loop(study, objective, n_trials, timeout, catch, points, callbacks,
                 open_progress(show_progress, n_trials, fail_dead_and_count(study)[0]),
                 Pruning(study, pruner) if takes_trial else None, max_retries)
    workers = [threading.Thread(target=loop.run_job, args=(opt, False, device), daemon=True)
               for opt, device in zip(opts[1:], devices_of_jobs[1:])]
    try:
        for worker in workers:
            worker.start()
        loop.run_job(opts[0], True, devices_of_jobs[0])
    except TuningInterrupted as stopped:
        cause = next((e for e in loop.errors if not isinstance(e, TuningInterrupted)), None)
        if cause is None:
            raise
        raise cause from stopped
    finally:
        loop.stop.set()
        loop.join(workers)
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

    def __init__(self, study: Study, objective: Objective, n_trials: int | None,
                 timeout: float | None, catch: tuple[type[BaseException], ...],
                 points: list[dict[str, Any]], callbacks: list[Callable[[Study, TrialRecord], Any]],
                 progress: Progress | None, pruning: Pruning | None, max_retries: int):
        self.study = study
        self.max_retries = max_retries
        self.pruning = pruning
        self.points = points
        self.callbacks = callbacks
        self.objective = objective
        self.n_trials = n_trials
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.catch = catch
        self.progress = progress
        self.stop = threading.Event()
        self.interrupted = threading.Event()
        self.errors: list[BaseException] = []
        self._best: TrialRecord | None = None
        self._lock = threading.Lock()
        #: Held by a job from counting the study to storing its next trial's configuration, so
        #: that two jobs that count the study's last free place do not both fill it.
        self._starting = threading.Lock()
        #: The study's finished first trials, which the count before each trial reads once.
        self._settled = SettledTrials()

    def run_job(self, opt: Optimizer, reraise: bool = False, device: str | None = None) -> None:
        """Run trials with ``opt`` on ``device``; an exception stops the other jobs and is
        raised here (``reraise``, the caller's job) or kept in ``errors`` (the other threads)."""
        try:
            peers = Peers(self.study, opt, self.max_retries)
            peers.sync()
            while True:
                with self._starting:
                    going_on, waiting = self._going_on()
                    if not going_on:
                        break
                    started = start_trial(self.study, opt, peers, self.points, waiting)
                trial_id = _run_trial(self.study, opt, self.objective, started, self.catch,
                                      self.pruning, self.interrupted, device)
                record = None
                if self.callbacks or (self.progress is not None and self.progress.needs_record):
                    # Read back only where needed: a read costs a few ms in an RDB storage.
                    record = record_from_optuna(self.study.storage.get_trial(trial_id))
                self._show(opt, peers, record)
                if record is not None:
                    for callback in self.callbacks:
                        callback(self.study, record)
        except BaseException as exc:
            if not reraise:
                with self._lock:
                    self.errors.append(exc)
            self.stop.set()
            self.interrupted.set()
            if reraise:
                raise

    def join(self, workers: list[threading.Thread]) -> None:
        """Wait for the other jobs to end their trials; interrupted while waiting
        (``KeyboardInterrupt``), tell their objectives so (:meth:`RunningTrial.interrupted`) and
        wait again."""
        try:
            for worker in workers:
                worker.join()
        except BaseException:
            self.interrupted.set()
            for worker in workers:
                worker.join()
            raise

    def _going_on(self) -> tuple[bool, bool]:
        """Whether a job should start another trial, counting the study after failing the
        trials of dead processes (:func:`fail_dead_and_count`), so that a dead peer's trial
        does not hold a place that its configuration's retry needs; and whether a queued
        trial waits in it."""
        if self.stop.is_set() or self.study.stop_requested:
            return False, False
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return False, False
        size, waiting = fail_dead_and_count(self.study, self._settled)
        return self.n_trials is None or size < self.n_trials, waiting

    def _show(self, opt: Optimizer, peers: Peers, record: TrialRecord | None) -> None:
        """Show the progress after this job's trial ``record`` (``None`` where the progress
        does not read it): the study's size as this job's ``peers`` last read it (when its
        trial started; trials started since show at the next update, which saves reading the
        study again) and the best trial any job has seen (a job's optimizer may not have seen
        the other jobs' latest trials yet), or with several objectives the size of the Pareto
        front as this job's optimizer knows it."""
        if self.progress is None:
            return
        with self._lock:
            front = len(opt.front) if len(opt.directions) > 1 else None
            best = opt.best
            sign = 1.0 if opt.direction == "minimize" else -1.0
            if best is not None and (self._best is None or sign * cast(float, best.value)
                                     < sign * cast(float, self._best.value)):
                self._best = best
            self.progress.show(peers.counted(), record, self._best, front)
