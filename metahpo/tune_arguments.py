"""The checks :func:`metahpo.tune` runs on its arguments before it opens a study, and what they
give the tune loop (first points, each job's device and optimizer): :func:`prepare`.
"""

from __future__ import annotations

import difflib
import inspect
import os
from typing import Any, Callable, Mapping, Sequence

from metahpo.errors import MetaHPOError
from metahpo.optimizers.base import Optimizer
from metahpo.optimizers.multi_objective import optimizer_for
from metahpo.optimizers.registry import optimizer_options
from metahpo.optuna_habits import TUNE_ARGUMENTS
from metahpo.running_trial import Objective
from metahpo.shared_study import check_max_retries, check_points
from metahpo.space import SearchSpace, check_space
from metahpo.storage import DEFAULT_MAX_RETRIES
from metahpo.study import Study
from metahpo.tasks.command import CommandObjective
from metahpo.trial import TrialRecord, check_directions


def _takes_trial(objective: Callable[..., Any]) -> bool:
    """Whether ``objective`` has a second positional parameter without a default: it is then
    called as ``objective(params, trial)``."""
    try:
        parameters = list(inspect.signature(objective).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters
                  if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 and positional[1].default is inspect.Parameter.empty


def prepare(
    objective: Objective, space: SearchSpace, *, optimizer: str | Optimizer = "meta",
    n_trials: int | None, direction: str = "minimize",
    directions: Sequence[str] | None = None, seed: int | None = None,
    timeout: float | None = None, n_jobs: int = 1,
    points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
    callbacks: Sequence[Callable[[Study, TrialRecord], Any]] = (), pruner: Any = None,
    max_retries: int = DEFAULT_MAX_RETRIES, devices: Sequence[str] | None = None,
    **options: Any,
) -> tuple[list[dict[str, Any]], bool, list[str | None], list[Callable[[Study, TrialRecord], Any]],
           list[Optimizer]]:
    """:func:`tune`'s arguments checked: its first points, whether the objective takes the
    trial, each job's device, the callbacks and each job's optimizer."""
    check_space(space)
    wanted = check_directions(direction, directions)
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int)
                                 or n_trials < 0):
        raise MetaHPOError(f"n_trials must be a non-negative int or None, got {n_trials!r}")
    if not callable(objective):
        raise MetaHPOError(f"objective must be callable, got {type(objective).__name__}")
    _check_jobs_and_timeout(n_jobs, timeout)
    points = check_points(points_to_evaluate, space)
    check_max_retries(max_retries)
    takes_trial = _takes_trial(objective)
    devices_of_jobs = _job_devices(devices, n_jobs, objective, takes_trial)
    if pruner is not None:
        import optuna

        if not isinstance(pruner, optuna.pruners.BasePruner):
            raise MetaHPOError(f"pruner must be an Optuna pruner such as "
                               f"optuna.pruners.MedianPruner(), got {type(pruner).__name__}")
        if not takes_trial:
            raise MetaHPOError("a pruner needs an objective that takes the running trial, "
                               "objective(params, trial), and reports to it")
        if len(wanted) > 1:
            raise MetaHPOError("a pruner judges trials by one reported value, and a study of "
                               "several objectives has no such value (Optuna's pruners do not "
                               "support them either); tune without a pruner")
    if callable(callbacks) or not isinstance(callbacks, Sequence):
        raise MetaHPOError(f"callbacks must be a list of callables f(study, trial), got "
                           f"{callbacks!r}; pass [callback] for one")
    callbacks = list(callbacks)
    for callback in callbacks:
        if not callable(callback):
            raise MetaHPOError(f"callbacks must be callables f(study, trial), got {callback!r}")
        if type(callback).__module__.split(".")[0] in ("optuna", "optuna_integration"):
            raise MetaHPOError(
                f"callback {type(callback).__name__} is Optuna's: it reads an optuna.Study and "
                "a FrozenTrial, and metahpo calls each callback as f(study, record) with a "
                "metahpo.Study and a metahpo.TrialRecord; here n_trials, timeout and "
                "study.stop() end a search, and an Optuna study run by "
                "metahpo.integrations.optuna.MetaHPOSampler takes Optuna's callbacks")
    if isinstance(optimizer, Optimizer):
        if optimizer.space.to_dict() != space.to_dict() or optimizer.directions != wanted:
            raise MetaHPOError("the optimizer instance was built for another space or direction"
                               + ("" if len(wanted) == 1 else "; for several objectives, pass "
                                  "the optimizer's name"))
        if seed is not None or options:
            raise MetaHPOError("seed and optimizer options go with an optimizer name; an optimizer "
                               "instance already has its own")
        if n_jobs > 1:
            raise MetaHPOError("an optimizer instance serves one job; pass its name (or "
                               "MODULE:CLASS) for n_jobs > 1")
        opts = [optimizer]
    else:
        _check_option_names(optimizer, options)
        opts = [optimizer_for(optimizer, space, wanted, seed=seed, **options)
                for _ in range(n_jobs)]
    return points, takes_trial, devices_of_jobs, callbacks, opts


def _check_option_names(optimizer: str, options: Mapping[str, Any]) -> None:
    """A clear error for a keyword of :func:`tune` that is neither its argument nor an option
    of ``optimizer`` but close to an argument's name: a misspelt argument of tune (Optuna's
    ``show_progress_bar``) is named as one, rather than as an option the optimizer lacks (which
    the optimizer's construction says of other keywords)."""
    from metahpo.tuning import tune

    known = optimizer_options(optimizer)
    arguments = [name for name, p in inspect.signature(tune).parameters.items()
                 if p.kind is inspect.Parameter.KEYWORD_ONLY]
    for key in options:
        if key in known:
            continue
        near = difflib.get_close_matches(key, arguments, n=1, cutoff=0.75)
        hint = (f"did you mean {near[0]!r}?" if near else TUNE_ARGUMENTS.get(key))
        if hint:
            raise MetaHPOError(f"tune() has no argument {key!r}; {hint} (other keywords are "
                               f"options of optimizer {optimizer!r}: {', '.join(known) or 'none'})")


def job_count(n_jobs: Any) -> int:
    """The number of jobs ``n_jobs`` asks for: itself, or this machine's CPU count for ``-1``
    (as Optuna's ``optimize`` reads it); a clear error for anything else."""
    if isinstance(n_jobs, int) and not isinstance(n_jobs, bool) and n_jobs == -1:
        return os.cpu_count() or 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise MetaHPOError(f"n_jobs must be an int >= 1, or -1 for one job per CPU, got "
                           f"{n_jobs!r}")
    return n_jobs


def _check_jobs_and_timeout(n_jobs: Any, timeout: Any) -> None:
    """A clear error for ``n_jobs`` or ``timeout`` values :func:`tune` cannot take."""
    job_count(n_jobs)
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not timeout > 0):
        raise MetaHPOError(f"timeout must be a number of seconds > 0 (or None), got {timeout!r}")


def _job_devices(devices: Sequence[str] | None, n_jobs: int, objective: Any,
                 takes_trial: bool) -> list[str | None]:
    """The device of each of ``n_jobs`` jobs (see :func:`tune`'s ``devices``), or a clear
    error."""
    if devices is None:
        return [None] * n_jobs
    if isinstance(devices, str) or not isinstance(devices, Sequence):
        raise MetaHPOError(f"devices must be a list of device names such as ['cuda:0', "
                           f"'cuda:1'], got {devices!r}")
    ids = list(devices)
    if (not ids or not all(isinstance(d, str) and d.strip() for d in ids)
            or len(set(ids)) != len(ids)):
        raise MetaHPOError(f"devices must be distinct, non-empty device names, got {devices!r}")
    if isinstance(objective, CommandObjective):
        raise MetaHPOError("a training command takes its devices itself: "
                           "CommandObjective(..., devices=[...]), not tune(devices=...)")
    if not takes_trial:
        raise MetaHPOError("devices need an objective that takes the running trial, "
                           "objective(params, trial), and trains on trial.device")
    return [ids[j % len(ids)] for j in range(n_jobs)]
