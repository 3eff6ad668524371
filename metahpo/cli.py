"""The ``metahpo`` command.

Each subcommand lives in a small ``_cmd_*`` function that parses nothing itself and wires the
public API together. A :class:`~metahpo.errors.MetaHPOError` (a mistake the user can fix) prints
one line ``metahpo: error: ...`` and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from metahpo.errors import MetaHPOError


def _parse_option(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise MetaHPOError(f"--option expects KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def load_objective(ref: str) -> Callable[[dict[str, Any]], Any]:
    """Import ``module.path:function`` or ``path/to/file.py:function``."""
    if ":" not in ref:
        raise MetaHPOError(f"objective must look like MODULE:FUNCTION, got {ref!r}")
    module_ref, func_name = ref.rsplit(":", 1)
    try:
        if module_ref.endswith(".py"):
            path = Path(module_ref)
            if not path.exists():
                raise MetaHPOError(f"cannot import objective {ref!r}: no file {module_ref!r}")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            if "" not in sys.path:
                sys.path.insert(0, "")
            module = importlib.import_module(module_ref)
    except MetaHPOError:
        raise
    except Exception as exc:
        raise MetaHPOError(f"cannot import objective {ref!r}: {type(exc).__name__}: {exc}") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise MetaHPOError(f"cannot import objective {ref!r}: {module_ref} has no function {func_name!r}")
    return func


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
    from metahpo.study import tune

    objective = load_objective(args.objective)
    space = SearchSpace.from_file(args.space)
    options = dict(_parse_option(o) for o in args.option)
    study = tune(
        objective, space, optimizer=args.optimizer, n_trials=args.trials,
        direction=args.direction, seed=args.seed, storage=args.storage, study_name=args.study,
        timeout=args.timeout, show_progress=not args.quiet, **options,
    )
    _print_result(study)


def _cmd_demo(args: argparse.Namespace) -> None:
    from metahpo.study import tune
    from metahpo.tasks.digits import DigitsCNN

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
        raise MetaHPOError("studies show needs a study NAME")
    study = load_study(args.name, args.storage)
    if args.csv:
        study.to_csv(args.csv)
        print(f"wrote {len(study.trials)} trials to {args.csv}")
        return
    print(f"study {study.name} ({study.direction})")
    for t in study.trials:
        value = f"{t.value:.6g}" if t.value is not None else "-"
        extra = f"  error: {t.error}" if t.error else ""
        print(f"{t.number:5d}  {t.state.value:9s} {value:>12s}  {params_table(t.params)}{extra}")


def _cmd_optimizers(args: argparse.Namespace) -> None:
    from metahpo.optimizers.registry import available_optimizers

    print("\n".join(available_optimizers()))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metahpo",
        description="Hyperparameter optimization for deep learning with a meta-learned optimizer.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tune", help="tune an objective function over a search space")
    p.add_argument("objective", help="MODULE:FUNCTION or FILE.py:FUNCTION; called as f(params)")
    p.add_argument("--space", required=True, help="search space file (.yaml, .json, ConfigSpace)")
    p.add_argument("--optimizer", default="random", help="optimizer name (see 'metahpo optimizers')")
    p.add_argument("--trials", type=int, required=True, help="number of trials the study should hold")
    p.add_argument("--direction", choices=["minimize", "maximize"], default="minimize")
    p.add_argument("--storage", help="database URL, e.g. sqlite:///studies.db (default: in memory)")
    p.add_argument("--study", help="study name: resumes the study if it exists")
    p.add_argument("--seed", type=int)
    p.add_argument("--timeout", type=float, help="start no trial after this many seconds")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="optimizer option (value parsed as JSON when it can be), repeatable")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_tune)

    p = sub.add_parser("demo", help="tune a small CNN on scikit-learn's digits (no data needed)")
    p.add_argument("--optimizer", default="random")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--storage")
    p.add_argument("--study")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("studies", help="list the studies of a storage or show one")
    p.add_argument("action", choices=["list", "show"])
    p.add_argument("name", nargs="?", help="study name (for show)")
    p.add_argument("--storage", required=True, help="database URL, e.g. sqlite:///studies.db")
    p.add_argument("--csv", help="with show: write the trials to this CSV file")
    p.set_defaults(func=_cmd_studies)

    p = sub.add_parser("optimizers", help="list the available optimizers")
    p.set_defaults(func=_cmd_optimizers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
