"""The ``metahpo`` command.

Each subcommand lives in a small ``_cmd_*`` function that parses nothing itself and wires the
public API together. A :class:`~metahpo.errors.MetaHPOError` (a mistake the user can fix) prints
one line ``metahpo: error: ...`` and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Sequence

from metahpo.errors import MetaHPOError


#: ``--pruner`` names and the Optuna pruners they make, with Optuna's default settings.
PRUNERS = {"median": "MedianPruner", "successive-halving": "SuccessiveHalvingPruner",
           "hyperband": "HyperbandPruner"}


def _parse_option(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise MetaHPOError(f"--option expects KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def _print_result(study: Any) -> None:
    from metahpo.study import params_table
    from metahpo.trial import TrialState

    trials = study.trials
    n_done = sum(t.state is TrialState.COMPLETE for t in trials)
    n_failed = sum(t.state is TrialState.FAILED for t in trials)
    print(f"study {study.name}: {len(trials)} trials ({n_done} complete, {n_failed} failed)")
    if n_done:
        best = study.best_trial
        print(f"best value {best.value:.6g} (trial {best.number}): {params_table(best.params)}")


def _cmd_tune(args: argparse.Namespace) -> None:
    from metahpo.space import SearchSpace
    from metahpo.tuning import tune

    from metahpo.tasks.objective import load_objective

    objective = load_objective(args.objective)
    space = SearchSpace.from_file(args.space)
    options = dict(_parse_option(o) for o in args.option)
    points = None if args.points_to_evaluate is None else _read_points(args.points_to_evaluate)
    pruner = None
    if args.pruner is not None:
        import optuna

        pruner = getattr(optuna.pruners, PRUNERS[args.pruner])()
    study = tune(
        objective, space, optimizer=args.optimizer, n_trials=args.trials,
        direction=args.direction, seed=args.seed, storage=args.storage, study_name=args.study,
        timeout=args.timeout, show_progress=not args.quiet, n_jobs=args.jobs,
        points_to_evaluate=points, pruner=pruner, **options,
    )
    _print_result(study)


def _read_points(text: str) -> list[Any]:
    """``--points-to-evaluate``: a JSON or YAML file, or inline JSON, holding one parameter dict
    or a list of them."""
    import yaml

    from metahpo.space import yaml_loader

    path = Path(text)
    source = f"--points-to-evaluate {text!r}"
    if path.is_file():
        text, source = path.read_text(), str(path)
    elif not text.lstrip().startswith(("[", "{")):
        raise MetaHPOError(f"--points-to-evaluate: no file {text!r} (give a JSON or YAML file, "
                           "or inline JSON such as '[{\"lr\": 0.001}]')")
    try:
        data = yaml.load(text, Loader=yaml_loader())
    except yaml.YAMLError as exc:
        raise MetaHPOError(f"{source}: not valid JSON or YAML: {exc}") from None
    points = [data] if isinstance(data, dict) else data
    if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
        raise MetaHPOError(f"{source}: expected a parameter dict or a list of them")
    return points


def _cmd_demo(args: argparse.Namespace) -> None:
    from metahpo.tasks.digits import DigitsCNN
    from metahpo.tuning import tune

    task = DigitsCNN(epochs=args.epochs)
    print(f"tuning a small CNN on scikit-learn's digits with {args.optimizer!r} "
          f"({args.trials} trials, {args.epochs} epochs each)")
    study = tune(
        task.evaluate, task.space, optimizer=args.optimizer, n_trials=args.trials,
        direction=task.direction, seed=args.seed, storage=args.storage, study_name=args.study,
        show_progress=not args.quiet,
    )
    _print_result(study)
    print(f"test accuracy of the best configuration: {task.test_score(study.best_params):.4f}")


def _cmd_ask(args: argparse.Namespace) -> None:
    from metahpo.space import SearchSpace
    from metahpo.study import create_study, load_study

    if args.space is None:
        try:
            study = load_study(args.study, args.storage)
        except MetaHPOError as exc:
            raise MetaHPOError(f"{exc}; pass --space to create the study") from None
    else:
        direction = args.direction
        if direction is None:
            try:
                direction = load_study(args.study, args.storage).direction
            except MetaHPOError:
                direction = "minimize"
        study = create_study(SearchSpace.from_file(args.space), storage=args.storage,
                             study_name=args.study, direction=direction)
    options = dict(_parse_option(o) for o in args.option)
    if args.count < 1:
        raise MetaHPOError(f"--count must be >= 1, got {args.count}")
    for _ in range(args.count):
        trial = study.ask(args.optimizer, seed=args.seed, **options)
        print(json.dumps({"study": study.name, "number": trial.number, "params": dict(trial.params)}),
              flush=True)


def _cmd_tell(args: argparse.Namespace) -> None:
    from metahpo.study import load_study

    if (args.value is None) == (args.error is None):
        raise MetaHPOError("tell needs either --value or --error")
    record = load_study(args.study, args.storage).tell(args.trial, args.value, error=args.error)
    value = f" {record.value:.6g}" if record.value is not None else f": {record.error}"
    print(f"trial {record.number}: {record.state.value}{value}")


def _cmd_studies(args: argparse.Namespace) -> None:
    from metahpo.study import list_studies, load_study, params_table

    if args.action == "list":
        studies = list_studies(args.storage)
        if not studies:
            print(f"no studies in {args.storage}")
        for s in studies:
            trials = s.trials
            done = [t for t in trials if t.value is not None]
            best = f"{s.best_value:.6g}" if done else "-"
            print(f"{s.name}\t{s.direction}\t{len(trials)} trials\tbest {best}")
        return
    if not args.name:
        raise MetaHPOError(f"studies {args.action} needs a study NAME")
    study = load_study(args.name, args.storage)
    if args.action == "best":
        best = study.best_trial
        print(json.dumps({"study": study.name, "number": best.number, "value": best.value,
                          "params": dict(best.params)}))
        return
    if args.csv:
        study.to_csv(args.csv)
        print(f"wrote {len(study.trials)} trials to {args.csv}")
        return
    print(f"study {study.name} ({study.direction})")
    for t in study.trials:
        value = f"{t.value:.6g}" if t.value is not None else "-"
        extra = f"  error: {t.error}" if t.error else ""
        print(f"{t.number:5d}  {t.state.value:9s} {value:>12s}  {params_table(t.params)}{extra}")


def _cmd_meta_train(args: argparse.Namespace) -> None:
    from metahpo.meta.cli_support import run_meta_train

    run_meta_train(args)


def _label_options(texts: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``LABEL.KEY=VALUE`` entries to ``{label: {key: value}}``."""
    out: dict[str, dict[str, Any]] = {}
    for text in texts:
        key, value = _parse_option(text)
        if "." not in key:
            raise MetaHPOError(f"--option expects OPTIMIZER.KEY=VALUE here, got {text!r}")
        label, _, name = key.partition(".")
        out.setdefault(label, {})[name] = value
    return out


def _cmd_bench(args: argparse.Namespace) -> None:
    import shlex

    from metahpo.benchmarks.runner import Suite, load_records, run_suite
    from metahpo.integrations.optuna_study_loop import OptunaStudyLoop
    from metahpo.reports.summary import markdown_table, write_report

    suite = Suite(tasks=args.tasks, instances=args.instances,
                  dims=tuple(int(d) for d in args.dims.split(",")),
                  optimizers=tuple(o.strip() for o in args.optimizers.split(",") if o.strip()),
                  options=_label_options(args.option), budget=args.budget, seeds=args.seeds,
                  data_path=args.yahpo_data, space=args.space, direction=args.direction)
    command = "metahpo " + shlex.join(sys.argv[1:] if args.argv is None else args.argv)
    run_suite(suite, args.out, workers=args.workers, command=command, progress=not args.quiet,
              backend=args.backend, address=args.address, drivers={"optuna": OptunaStudyLoop})
    records = load_records(args.out)
    paths = write_report(records, args.out)
    print(markdown_table(json.loads(paths["json"].read_text())))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")


def _cmd_report(args: argparse.Namespace) -> None:

    from metahpo.benchmarks.runner import load_records
    from metahpo.reports.summary import markdown_table, write_report

    paths = write_report(load_records(args.dir), args.dir)
    print(markdown_table(json.loads(paths["json"].read_text())))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")


def _cmd_portfolio(args: argparse.Namespace) -> None:
    import shlex

    from metahpo.meta.distributions import TrainingTask
    from metahpo.meta.portfolio import build_portfolio
    from metahpo.tasks.bounds import task_bounds
    from metahpo.tasks.registry import make_tasks

    tasks = make_tasks(args.tasks, instances=args.instances or "train",
                       dims=[int(d) for d in args.dims.split(",")], data_path=args.yahpo_data)
    if not all(t.cheap for t in tasks):
        raise MetaHPOError("portfolio build needs cheap (surrogate or synthetic) tasks")
    training = [TrainingTask(t, task_bounds(t)) for t in tasks]
    points, curve = build_portfolio(training, size=args.size, n_candidates=args.candidates,
                                    seed=args.seed)
    configs = [tasks[0].space.decode(u) for u in points]
    command = "metahpo " + shlex.join(sys.argv[1:] if args.argv is None else args.argv)
    data = {"space": tasks[0].space.to_dict(), "configs": configs,
            "built_from": [t.name for t in tasks], "train_regret_curve": curve, "command": command}
    Path(args.out).write_text(json.dumps(data, indent=1))
    print(f"wrote {args.out}: {len(configs)} configurations, mean training regret "
          f"{curve[0]:.4f} after 1, {curve[-1]:.4f} after {len(curve)}")


def _cmd_optimizers(args: argparse.Namespace) -> None:
    from metahpo.optimizers.registry import available_optimizers, optimizer_options

    names = available_optimizers()
    width = max(map(len, names))
    for name in names:
        options = " ".join(f"{key}={value!r}" for key, value in optimizer_options(name).items())
        print(f"{name:<{width}}  {options}".rstrip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metahpo",
        description="Hyperparameter optimization for deep learning with a meta-learned optimizer.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tune", help="tune an objective function over a search space")
    p.add_argument("objective", help="MODULE:FUNCTION or FILE.py:FUNCTION; called as f(params)")
    p.add_argument("--space", required=True, help="search space file (.yaml, .json, ConfigSpace)")
    p.add_argument("--optimizer", default="meta",
                   help="optimizer name (see 'metahpo optimizers'; default: meta, the meta-learned "
                        "one with its 'default' policy)")
    p.add_argument("--trials", type=int, required=True, help="number of trials the study should hold")
    p.add_argument("--direction", choices=["minimize", "maximize"], default="minimize")
    p.add_argument("--storage", help="database URL, e.g. sqlite:///studies.db (default: in memory)")
    p.add_argument("--study", help="study name: resumes the study if it exists")
    p.add_argument("--seed", type=int)
    p.add_argument("--timeout", type=float, help="start no trial after this many seconds")
    p.add_argument("--jobs", type=int, default=1,
                   help="trials at once, in threads of this process (default 1); or run this "
                        "command several times on one --storage")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="optimizer option (value parsed as JSON when it can be), repeatable")
    p.add_argument("--pruner", choices=sorted(PRUNERS),
                   help="stop unpromising trials early (Optuna's pruner of that name, default "
                        "settings); the objective takes the trial: f(params, trial)")
    p.add_argument("--points-to-evaluate", metavar="FILE_OR_JSON",
                   help="configurations to evaluate first, in order (e.g. your current defaults): "
                        "a JSON or YAML file or inline JSON with a parameter dict or a list of them")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_tune)

    p = sub.add_parser("demo", help="tune a small CNN on scikit-learn's digits (no data needed)")
    p.add_argument("--optimizer", default="meta",
                   help="optimizer (default: the meta-learned one with the 'default' policy)")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--storage")
    p.add_argument("--study")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("ask", help="propose a trial to run elsewhere (a job queue); prints JSON")
    p.add_argument("--storage", required=True, help="database URL, e.g. sqlite:///studies.db")
    p.add_argument("--study", required=True, help="study name")
    p.add_argument("--space", help="search space file; needed to create the study")
    p.add_argument("--direction", choices=["minimize", "maximize"],
                   help="for a new study (default minimize); an existing one keeps its own")
    p.add_argument("--optimizer", default="meta", help="optimizer name (default: meta)")
    p.add_argument("--seed", type=int)
    p.add_argument("--count", type=int, default=1,
                   help="trials to propose at once, one JSON line each (e.g. for a job array)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="optimizer option (value parsed as JSON when it can be), repeatable")
    p.set_defaults(func=_cmd_ask)

    p = sub.add_parser("tell", help="record the result of a trial from 'metahpo ask'")
    p.add_argument("--storage", required=True, help="database URL, e.g. sqlite:///studies.db")
    p.add_argument("--study", required=True, help="study name")
    p.add_argument("--trial", type=int, required=True, help="the trial number 'ask' printed")
    p.add_argument("--value", type=float, help="the objective value")
    p.add_argument("--error", help="the trial failed: what went wrong")
    p.set_defaults(func=_cmd_tell)

    p = sub.add_parser("studies", help="list the studies of a storage, show one, or print the "
                                        "best trial of one as JSON")
    p.add_argument("action", choices=["list", "show", "best"])
    p.add_argument("name", nargs="?", help="study name (for show and best)")
    p.add_argument("--storage", required=True, help="database URL, e.g. sqlite:///studies.db")
    p.add_argument("--csv", help="with show: write the trials to this CSV file")
    p.set_defaults(func=_cmd_studies)

    p = sub.add_parser("meta-train", help="meta-train an LSTM policy with REINFORCE")
    p.add_argument("--tasks", action="append", required=True,
                   help="yahpo:SCENARIO or synthetic:FAMILY[,FAMILY]; repeat for a mixture")
    p.add_argument("--instances", help="YAHPO instances: train (default), all, or ID,ID,...")
    p.add_argument("--validation-instances",
                   help="YAHPO instances held out of training to select the best weights")
    p.add_argument("--dims", default="2,3,4,6,8", help="dimensions of synthetic tasks")
    p.add_argument("--out", required=True, help="checkpoint path (.safetensors)")
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument("--tasks-per-batch", type=int, default=16)
    p.add_argument("--episodes", type=int, default=16, help="episodes per task and batch")
    p.add_argument("--horizon", type=int, default=50, help="trials per episode")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--entropy", type=float, default=1e-3, help="entropy bonus")
    p.add_argument("--reward", choices=["regret", "log_regret"], default="regret",
                   help="per-step reward: 1 - regret, or -log10(regret + 0.001)")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--embed", type=int, default=32)
    p.add_argument("--incumbent-clip", type=float, default=0.02,
                   help="clip of the incumbent before its logit (closeness of proposals to borders)")
    p.add_argument("--initial-design", type=int, default=0, metavar="N",
                   help="start every search with N fixed points: a greedy portfolio of the "
                        "training instances (single yahpo:SCENARIO spec only; default 0)")
    p.add_argument("--random-design", type=int, default=0, metavar="N",
                   help="start every search with N points of a Latin hypercube drawn for that "
                        "search; the policy refines from trial N+1 (any space; default 0)")
    p.add_argument("--local-start", action="store_true",
                   help="start training from a local search around the incumbent instead of "
                        "free proposals")
    p.add_argument("--local-spread", type=float, metavar="F",
                   help="with --local-start: proposals start at F times the spread of the best "
                        "trials (default 0.55)")
    p.add_argument("--choose-screen", action="store_true",
                   help="after training, compare searches with and without the GP screen on the "
                        "validation tasks and record the better setting in the checkpoint")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time-limit", type=float,
                   help="stop training so that the whole run (initial design included) takes "
                        "about this many seconds")
    p.add_argument("--validate-every", type=int, default=25)
    p.add_argument("--bounds-samples", type=int, default=200_000,
                   help="random configurations per instance for the regret normalization")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="run rollouts in this process or on Ray workers")
    p.add_argument("--workers", type=int, default=2, help="Ray rollout workers")
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--yahpo-data", help="YAHPO data folder (default: $METAHPO_YAHPO_DATA or "
                   "../shared/data/yahpo)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_meta_train, argv=None)

    p = sub.add_parser("bench", help="benchmark optimizers on held-out tasks")
    p.add_argument("--tasks", required=True,
                   help="yahpo:SCENARIO, synthetic:FAMILY[,FAMILY], digits, mnist1d, tabular, or "
                        "objective:MODULE:FUNCTION (your own objective, with --space)")
    p.add_argument("--instances", default="test",
                   help="test (default), train, all, ID,ID,... or a count (synthetic)")
    p.add_argument("--dims", default="3", help="dimensions of synthetic tasks")
    p.add_argument("--optimizers", required=True, help="comma-separated NAME or LABEL=NAME")
    p.add_argument("--option", action="append", default=[], metavar="LABEL.KEY=VALUE",
                   help="optimizer option, e.g. meta.policy=lcbench, or a harness option: "
                        "LABEL.parallel=K (K trials pending at once), LABEL.via=optuna (run as "
                        "the sampler of an Optuna study); repeatable")
    p.add_argument("--budget", type=int, default=50, help="trials per run")
    p.add_argument("--seeds", type=int, default=5, help="runs per optimizer and task (seeds 0..N-1)")
    p.add_argument("--workers", type=int, default=1, help="worker processes")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="where runs execute: local processes or a Ray cluster")
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--out", required=True, help="results folder (resumable)")
    p.add_argument("--yahpo-data", help="YAHPO data folder")
    p.add_argument("--space", help="search space file of an objective:MODULE:FUNCTION task")
    p.add_argument("--direction", choices=["minimize", "maximize"],
                   help="direction of an objective:MODULE:FUNCTION task (default minimize)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_bench, argv=None)

    p = sub.add_parser("report", help="re-render tables and plots from benchmark results")
    p.add_argument("dir", help="results folder of 'metahpo bench'")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("portfolio", help="build a greedy portfolio on training tasks")
    p.add_argument("action", choices=["build"])
    p.add_argument("--tasks", required=True)
    p.add_argument("--instances", help="training instances (default: train)")
    p.add_argument("--dims", default="3")
    p.add_argument("--size", type=int, default=50)
    p.add_argument("--candidates", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--yahpo-data")
    p.set_defaults(func=_cmd_portfolio, argv=None)

    p = sub.add_parser("optimizers", help="list the available optimizers and their options")
    p.set_defaults(func=_cmd_optimizers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is not None and hasattr(args, "argv"):
        args.argv = list(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        args.func(args)
    except MetaHPOError as exc:
        print(f"metahpo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("metahpo: interrupted; finished trials are recorded", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
