"""``metahpo`` subcommands that fill users' own studies: tune, demo, ask and tell (reading them
back: :mod:`metahpo.cli.records`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from metahpo.cli.common import (
    add_storage_option,
    optimizer_option_values,
    parse_option,
    read_configurations,
    storage_url,
)
from metahpo.errors import MetaHPOError
from metahpo.space import read_space

#: The study user attribute where ``metahpo ask`` keeps a study's warm start (see :func:`_points`).
WARM_START_ATTR = "metahpo:warm_start"
#: ``--pruner`` names and the Optuna pruners they make, with Optuna's default settings.
PRUNERS = {"median": "MedianPruner", "successive-halving": "SuccessiveHalvingPruner",
           "hyperband": "HyperbandPruner"}


def make_pruner(name: str | None) -> Any:
    """The Optuna pruner ``--pruner`` names (``None``: none)."""
    if name is None:
        return None
    import optuna

    return getattr(optuna.pruners, PRUNERS[name])()


def _tune_announced(args: argparse.Namespace, objective: Any, space: Any,
                    banner: str | None = None, **arguments: Any) -> Any:
    """:func:`metahpo.tune` for ``tune`` / ``demo``, saying what it tunes (``banner``) and
    where the study is recorded before the first trial (a run that is killed prints no summary)
    and after ``tune`` has checked the arguments, the storage and a resumed study's space and
    direction, so that a mistake in them is the only thing said."""
    from metahpo.study import new_study_name
    from metahpo.tuning import tune

    url = storage_url(args, reads=False)
    name = args.study or new_study_name()

    def announce(study: Any) -> None:
        if banner is not None:
            print(banner, flush=True)
        if url is not None:
            resume = "" if args.study else f"; resume with --study {name}"
            print(f"study {name} recorded in {url}{resume}", flush=True)

    return tune(objective, space, storage=url, study_name=name, show_progress=not args.quiet,
                on_start=announce, **arguments)


def _print_result(study: Any, url: str | None) -> int:
    """Print what ``tune`` and ``demo`` found in the study recorded at ``url`` (``None``: in
    memory); the exit status: 1 where the study holds no complete trial (every trial failed, or
    none ran), with a line on standard error that says where the failures' errors are."""
    from metahpo.study import params_table, values_text
    from metahpo.trial import TrialState

    trials = study.trials
    n_done = sum(t.state is TrialState.COMPLETE for t in trials)
    failed = [t for t in trials if t.state is TrialState.FAILED and not t.interrupted]
    n_pruned = sum(t.pruned for t in failed)
    pruned = f", of which {n_pruned} pruned" if n_pruned else ""
    n_interrupted = sum(t.interrupted for t in trials)
    interrupted = f", {n_interrupted} interrupted" if n_interrupted else ""
    n_infeasible = sum(t.state is TrialState.COMPLETE and not t.feasible for t in trials)
    infeasible = f", of which {n_infeasible} broke a constraint" if n_infeasible else ""
    print(f"study {study.name}: {len(trials)} trials ({n_done} complete{infeasible}, "
          f"{len(failed)} failed{pruned}{interrupted})")
    if n_done and len(study.directions) > 1:
        front = study.best_trials
        print(f"Pareto front ({', '.join(study.directions)}): {len(front)} trials")
        for t in front:
            print(f"  trial {t.number}: {values_text(t)}: {params_table(t.params)}")
    elif n_done > n_infeasible:
        best = study.best_trial
        attrs = f"  | {params_table(best.user_attrs)}" if best.user_attrs else ""
        print(f"best value {best.value:.6g} (trial {best.number}): {params_table(best.params)}"
              f"{attrs}")
    elif n_done:
        print("no best value: every complete trial broke a constraint")
    else:
        recorded = "" if url is None else (
            f" and in 'metahpo studies show {study.name} --storage {url}'")
        print(f"metahpo: no trial of study {study.name} completed; the errors are in the "
              f"warnings above{recorded}", file=sys.stderr)
        return 1
    return 0


def _cmd_tune(args: argparse.Namespace) -> int:
    from metahpo.tasks.command import CommandObjective
    from metahpo.tasks.objective import load_objective

    if (args.objective is None) == (args.command is None):
        raise MetaHPOError("tune needs one of an objective (MODULE:FUNCTION) and --command "
                           "TEMPLATE")
    if args.trials is None and args.timeout is None:
        raise MetaHPOError("tune needs --trials N, --timeout SECONDS or both (it stops at the "
                           "first reached)")
    if args.command is None and args.trial_timeout is not None:
        raise MetaHPOError("--trial-timeout applies to --command runs; a Python objective "
                           "enforces its own limits")
    space = read_space(args.space)
    devices = None if args.devices is None else args.devices.split(",")
    objective: Any = (load_objective(args.objective) if args.command is None
                      else CommandObjective(args.command, space, timeout=args.trial_timeout,
                                            label=args.jobs > 1, devices=devices))
    job_devices = None
    if args.command is None and devices is not None:
        job_devices = [f"cuda:{d}" if d.strip().isdigit() else d.strip() for d in devices]
    options = optimizer_option_values(args.option, args.optimizer)
    points = _points(args, space, sys.stdout)
    study = _tune_announced(
        args, objective, space, optimizer=args.optimizer, n_trials=args.trials,
        **_directions(args.direction), seed=args.seed, timeout=args.timeout, n_jobs=args.jobs,
        points_to_evaluate=points, pruner=make_pruner(args.pruner),
        max_retries=args.max_retries, devices=job_devices, **options,
    )
    return _print_result(study, storage_url(args, reads=False))


def _directions(given: list[str] | None) -> dict[str, Any]:
    """The keyword of :func:`metahpo.tune` / :func:`metahpo.create_study` for the
    ``--direction`` options given: ``direction`` for none or one, ``directions`` for several
    (one per objective)."""
    if not given or len(given) == 1:
        return {"direction": given[0] if given else "minimize"}
    return {"directions": given}


def _points(args: argparse.Namespace, space: Any, log: Any, study: Any = None
            ) -> list[dict[str, Any]] | None:
    """The configurations to evaluate first: ``--points-to-evaluate``, then those
    :func:`metahpo.warm_start_points` chooses from the ``--warm-start`` studies of ``--storage``.

    With ``study`` (``ask``), the warm start is chosen once per study: the first call stores the
    points in the study (user attribute ``metahpo:warm_start``, with the past studies' names and
    the count) and later calls that name the same studies and count read them back instead of
    modelling every past study again (about a second with twenty of them, in every call of a
    job queue). A study's warm start therefore stays what it was when the study started, even
    if the past studies have grown since."""
    from metahpo.study import load_study
    from metahpo.warm_start import warm_start_points

    points = (None if args.points_to_evaluate is None
              else read_configurations(args.points_to_evaluate, "--points-to-evaluate"))
    if not args.warm_start:
        return points
    if args.warm_start_points < 1:
        raise MetaHPOError(f"--warm-start-points must be >= 1, got {args.warm_start_points}")
    url = storage_url(args, reads=True)
    names = ", ".join(args.warm_start)
    chosen = {"studies": list(args.warm_start), "n": args.warm_start_points}
    stored = None if study is None else study.storage.get_study_user_attrs(study.study_id).get(
        WARM_START_ATTR)
    if stored is not None and {k: stored.get(k) for k in chosen} == chosen:
        warm = stored["points"]
        print(f"warm start: {len(warm)} configurations from {names} first (chosen when the "
              "study started)", file=log)
    else:
        past = [load_study(name, url) for name in args.warm_start]
        warm = warm_start_points(past, space, n=args.warm_start_points)
        if study is not None:
            study.storage.set_study_user_attr(study.study_id, WARM_START_ATTR,
                                              {**chosen, "points": warm})
        print(f"warm start: {len(warm)} configurations from {names} first", file=log)
    return (points or []) + warm


def _add_first_points(p: argparse.ArgumentParser) -> None:
    """The options of ``tune`` and ``ask`` that name configurations to evaluate first."""
    p.add_argument("--points-to-evaluate", metavar="FILE_OR_JSON",
                   help="configurations to evaluate first, in order (e.g. your current defaults): "
                        "a JSON or YAML file or inline JSON with a parameter dict or a list of them")
    p.add_argument("--warm-start", action="append", default=[], metavar="STUDY",
                   help="a past study in --storage of a related task (the same model on other "
                        "data, or before its search space grew) to take configurations to "
                        "evaluate first from; repeatable")
    p.add_argument("--warm-start-points", type=int, default=5, metavar="N",
                   help="configurations to take from the --warm-start studies (default 5)")


def _add_max_retries(p: argparse.ArgumentParser) -> None:
    """The option of ``tune`` and ``ask`` that bounds the runs of an interrupted configuration."""
    from metahpo.storage import DEFAULT_MAX_RETRIES

    p.add_argument("--max-retries", type=int, default=DEFAULT_MAX_RETRIES, metavar="N",
                   help="times the configuration of a lost run (a process that died or was "
                        "killed without warning, a stale asked trial) runs again before it "
                        f"counts as failed (default {DEFAULT_MAX_RETRIES}; more where machines "
                        "die often); runs stopped by Ctrl-C or SIGTERM do not count")


def _cmd_demo(args: argparse.Namespace) -> int:
    from metahpo.optimizers.registry import optimizer_class
    from metahpo.tasks.digits import DigitsCNN

    if args.trials < 1:
        raise MetaHPOError(f"--trials must be >= 1, got {args.trials}")
    optimizer_class(args.optimizer)
    task = DigitsCNN(epochs=args.epochs)
    pruning = "" if args.pruner is None else f", {args.pruner} pruning"
    banner = (f"tuning a small CNN on scikit-learn's digits with {args.optimizer!r} "
              f"({args.trials} trials, {args.epochs} epochs each{pruning})")
    study = _tune_announced(
        args, task.evaluate if args.pruner is None else task.evaluate_reporting, task.space,
        banner=banner,
        optimizer=args.optimizer, n_trials=args.trials, direction=task.direction, seed=args.seed,
        pruner=make_pruner(args.pruner),
    )
    status = _print_result(study, storage_url(args, reads=False))
    if status == 0:
        print(f"test accuracy of the best configuration: {task.test_score(study.best_params):.4f}")
    return status


def _cmd_ask(args: argparse.Namespace) -> None:
    from metahpo.study import create_study, load_study

    if args.count < 1:
        raise MetaHPOError(f"--count must be >= 1, got {args.count}")
    options = optimizer_option_values(args.option, args.optimizer)
    try:
        url = storage_url(args, reads=args.space is None)
    except MetaHPOError as exc:
        raise MetaHPOError(f"{exc}; pass --space to create the study") from None
    if url is None:
        raise MetaHPOError("--storage memory would forget the asked trial when 'ask' returns; give "
                           "a database URL that 'tell' can reach")
    if args.space is None:
        try:
            study = load_study(args.study, url)
        except MetaHPOError as exc:
            raise MetaHPOError(f"{exc}; pass --space to create the study") from None
    else:
        directions = args.direction
        if directions is None:
            try:
                directions = load_study(args.study, url).directions
            except MetaHPOError:
                directions = None
        study = create_study(read_space(args.space), storage=url,
                             study_name=args.study, **_directions(directions))
    points = _points(args, study.space, sys.stderr, study)
    for _ in range(args.count):
        trial = study.ask(args.optimizer, seed=args.seed, points_to_evaluate=points,
                          max_retries=args.max_retries, **options)
        print(json.dumps({"study": study.name, "number": trial.number, "params": dict(trial.params),
                          "retry_of": study.trial(trial.number).retry_of}), flush=True)


def _cmd_tell(args: argparse.Namespace) -> None:
    from metahpo.study import load_study, values_text

    url = storage_url(args, reads=True)
    if args.stale is not None:
        if (args.trial is not None or args.value is not None or args.error is not None
                or args.attr or args.constraint):
            raise MetaHPOError("--stale fails every stale asked trial: give it without --trial, "
                               "--value, --error, --attr and --constraint")
        if args.stale < 0:
            raise MetaHPOError(f"--stale must be a number of seconds >= 0, got {args.stale:g}")
        failed = load_study(args.study, url).fail_stale(args.stale)
        print(f"failed as stale: {', '.join(map(str, failed))}" if failed
              else "no asked trial has been running that long")
        return
    if args.trial is None:
        raise MetaHPOError("tell needs --trial N (or --stale SECONDS)")
    if (args.value is None) == (args.error is None):
        raise MetaHPOError("tell needs either --value or --error")
    attrs = dict(parse_option(a, "--attr") for a in args.attr)
    limits = dict(parse_option(c, "--constraint") for c in args.constraint)
    study = load_study(args.study, url)
    directions = study.directions
    if args.value is not None and len(args.value) != len(directions):
        raise MetaHPOError(f"study {study.name} has {len(directions)} objective"
                           f"{'s' if len(directions) > 1 else ''} ({', '.join(directions)}): "
                           f"give --value once per objective, in that order; got "
                           f"{len(args.value)}")
    values = args.value if args.value is None or len(args.value) > 1 else args.value[0]
    record = study.tell(args.trial, values, error=args.error, user_attrs=attrs,
                        constraints=limits)
    value = f" {values_text(record)}" if record.error is None else f": {record.error}"
    print(f"trial {record.number}: {record.state.value}{value}")


TUNE_EXAMPLES = """examples:
  metahpo tune train.py:objective --space space.yaml --direction maximize --trials 30 \\
      --study my-model
  metahpo tune --command "python train.py --lr {learning_rate} --out runs/{trial_number}" \\
      --space space.yaml --direction maximize --trials 30 --jobs 2 --study my-model
  metahpo tune train.py:objective --space space.yaml --timeout 28800 --storage memory
  metahpo studies show my-model --top 5
  metahpo studies plot my-model --out plots
"""

QUEUE_EXAMPLES = """examples (jobs of a queue or a cluster, one trial each):
  metahpo ask --storage sqlite:///studies.db --study my-model --space space.yaml \\
      --direction maximize --seed 0
  metahpo tell --storage sqlite:///studies.db --study my-model --trial 0 --value 0.934
  metahpo tell --storage sqlite:///studies.db --study my-model --trial 3 --error "node lost"
  metahpo tell --storage sqlite:///studies.db --study my-model --stale 86400
"""

SEED_HELP = ("seeds the optimizer: the same seed, space and results give the same proposals "
             "(default: a different search each run)")


def add_commands(sub: Any) -> None:
    """Add this module's subcommands to the ``metahpo`` parser's subparsers ``sub``."""
    p = sub.add_parser("tune", help="tune an objective function or a training command over a "
                                    "search space",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=TUNE_EXAMPLES)
    p.add_argument("objective", nargs="?",
                   help="MODULE:FUNCTION or FILE.py:FUNCTION; called as f(params)")
    p.add_argument("--command", metavar="TEMPLATE",
                   help="instead of an objective, run this command per trial: {name} placeholders "
                        "take the parameters' values, {trial_number} the trial's number, "
                        "{first_trial_number} the number of the run an interrupted trial's "
                        "retry resumes (a checkpoint folder); the last line it prints is the "
                        "trial's value (or a METAHPO_VALUE VALUE line anywhere); METAHPO_REPORT "
                        "STEP VALUE, METAHPO_ATTR NAME VALUE and METAHPO_CONSTRAINT NAME VALUE "
                        "lines record learning curves, other metrics and constraints")
    p.add_argument("--trial-timeout", type=float, metavar="SECONDS",
                   help="with --command: kill a run after this many seconds (a failed trial)")
    p.add_argument("--devices", metavar="ID,ID,...",
                   help="GPUs to share among the --jobs (e.g. 0,1,2,3 with --jobs 4): a --command "
                        "run gets one of its own as CUDA_VISIBLE_DEVICES; an objective f(params, "
                        "trial) finds its job's as trial.device ('cuda:2'; other names, such as "
                        "mps, pass as they are)")
    p.add_argument("--space", required=True,
                   help="search space file (.yaml, .json, ConfigSpace), or inline JSON")
    p.add_argument("--optimizer", default="meta",
                   help="optimizer name (see 'metahpo optimizers'; default: meta, the meta-learned "
                        "one with its 'default' policy), or MODULE:CLASS / FILE.py:CLASS naming a "
                        "metahpo.Optimizer subclass of your own or an Optuna sampler class")
    p.add_argument("--trials", type=int,
                   help="number of trials the study should hold (without it: until --timeout)")
    p.add_argument("--direction", choices=["minimize", "maximize"], action="append",
                   help="minimize (default) or maximize the objective; given once per "
                        "objective to tune several at once (the objective returns a tuple, or "
                        "the command prints the values on its last line, in this order)")
    add_storage_option(p, in_memory=True)
    p.add_argument("--study", help="study name: resumes the study if it exists (default: a new "
                                   "name, printed at the start)")
    p.add_argument("--seed", type=int, help=SEED_HELP)
    p.add_argument("--timeout", type=float,
                   help="start no trial after this many seconds (with or without --trials)")
    p.add_argument("--jobs", type=int, default=1,
                   help="trials at once, in threads of this process (default 1; -1: one per "
                        "CPU); or run this command several times on one --storage")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="optimizer option (value parsed as JSON when it can be), repeatable")
    p.add_argument("--pruner", choices=sorted(PRUNERS),
                   help="stop unpromising trials early (Optuna's pruner of that name, default "
                        "settings); the objective takes the trial, f(params, trial), and reports "
                        "to it, or the --command prints METAHPO_REPORT STEP VALUE lines")
    _add_first_points(p)
    _add_max_retries(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_tune)

    p = sub.add_parser("demo", help="tune a small CNN on scikit-learn's digits (no data needed)")
    p.add_argument("--optimizer", default="meta",
                   help="optimizer (default: the meta-learned one with the 'default' policy)")
    p.add_argument("--trials", type=int, default=20, help="trainings (default 20)")
    p.add_argument("--epochs", type=int, default=10, help="epochs per training (default 10)")
    p.add_argument("--pruner", choices=sorted(PRUNERS),
                   help="stop unpromising trainings early, judged by validation accuracy after "
                        "each epoch")
    p.add_argument("--seed", type=int, default=0, help="the optimizer's seed (default 0)")
    add_storage_option(p, in_memory=True)
    p.add_argument("--study", help="study name: resumes the study if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("ask", help="propose a trial to run elsewhere (a job queue); prints JSON",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=QUEUE_EXAMPLES)
    add_storage_option(p, in_memory=False)
    p.add_argument("--study", required=True, help="study name")
    p.add_argument("--space", help="search space file, or inline JSON; needed to create the "
                                   "study")
    p.add_argument("--direction", choices=["minimize", "maximize"], action="append",
                   help="for a new study (default minimize; once per objective for several); "
                        "an existing one keeps its own")
    p.add_argument("--optimizer", default="meta",
                   help="optimizer name (default: meta) or MODULE:CLASS, as for tune")
    p.add_argument("--seed", type=int, help=SEED_HELP)
    p.add_argument("--count", type=int, default=1,
                   help="trials to propose at once, one JSON line each (e.g. for a job array)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="optimizer option (value parsed as JSON when it can be), repeatable")
    _add_first_points(p)
    _add_max_retries(p)
    p.set_defaults(func=_cmd_ask)

    p = sub.add_parser("tell", help="record the result of a trial from 'metahpo ask'",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=QUEUE_EXAMPLES)
    add_storage_option(p, in_memory=False)
    p.add_argument("--study", required=True, help="study name")
    p.add_argument("--trial", type=int, help="the trial number 'ask' printed")
    p.add_argument("--value", type=float, action="append",
                   help="the objective value (once per objective, in the study's order, for "
                        "a study of several)")
    p.add_argument("--error", help="the trial failed: what went wrong")
    p.add_argument("--attr", action="append", default=[], metavar="KEY=VALUE",
                   help="something else the job measured (a test score, its run time), stored "
                        "with the trial as a user attribute (value parsed as JSON when it can "
                        "be), repeatable")
    p.add_argument("--constraint", action="append", default=[], metavar="NAME=VALUE",
                   help="a limit the trial had to keep, feasible at VALUE <= 0 (latency_ms=-2.5 "
                        "for 7.5 ms against at most 10): the optimizers read a trial that breaks "
                        "one as failed, and best trials are chosen among the feasible; "
                        "repeatable")
    p.add_argument("--stale", type=float, metavar="SECONDS",
                   help="instead: fail every asked trial still running this many seconds after "
                        "it was asked (jobs that died without telling)")
    p.set_defaults(func=_cmd_tell)
