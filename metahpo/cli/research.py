"""``metahpo`` subcommands for meta-learning and benchmarks: meta-train, bench, report,
portfolio, optimizers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from metahpo.cli.common import parse_option
from metahpo.errors import MetaHPOError


def _cmd_meta_train(args: argparse.Namespace) -> None:
    from metahpo.meta.cli_support import run_meta_train

    run_meta_train(args)


def _label_options(texts: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``LABEL.KEY=VALUE`` entries to ``{label: {key: value}}``."""
    out: dict[str, dict[str, Any]] = {}
    for text in texts:
        key, value = parse_option(text)
        if "." not in key:
            raise MetaHPOError(f"--option expects OPTIMIZER.KEY=VALUE here, got {text!r}")
        label, _, name = key.partition(".")
        out.setdefault(label, {})[name] = value
    return out


def _cmd_bench(args: argparse.Namespace) -> None:
    import shlex

    from metahpo.benchmarks.runner import Suite, load_records, run_suite, suite_commands
    from metahpo.integrations.optuna_study_loop import OptunaStudyLoop
    from metahpo.reports.summary import markdown_table, write_report
    from metahpo.tasks.registry import parse_dims

    suite = Suite(tasks=args.tasks, instances=args.instances,
                  dims=tuple(parse_dims(args.dims)),
                  optimizers=tuple(o.strip() for o in args.optimizers.split(",") if o.strip()),
                  options=_label_options(args.option), budget=args.budget, seeds=args.seeds,
                  data_path=args.yahpo_data, space=args.space, direction=args.direction)
    command = "metahpo " + shlex.join(sys.argv[1:] if args.argv is None else args.argv)
    run_suite(suite, args.out, workers=args.workers, command=command, progress=not args.quiet,
              backend=args.backend, address=args.address, drivers={"optuna": OptunaStudyLoop})
    records = load_records(args.out)
    paths = write_report(records, args.out, commands=suite_commands(args.out))
    print(markdown_table(json.loads(paths["json"].read_text())))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")


def _cmd_report(args: argparse.Namespace) -> None:

    from metahpo.benchmarks.runner import load_records, suite_commands
    from metahpo.reports.summary import markdown_table, write_report

    paths = write_report(load_records(args.dir), args.dir, commands=suite_commands(args.dir),
                         reference=args.reference)
    print(markdown_table(json.loads(paths["json"].read_text())))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")


def _cmd_portfolio(args: argparse.Namespace) -> None:
    import shlex

    from metahpo.meta.distributions import TrainingTask
    from metahpo.meta.portfolio import build_portfolio
    from metahpo.tasks.bounds import task_bounds
    from metahpo.tasks.registry import make_tasks, parse_dims

    if args.tasks.partition(":")[0] not in ("yahpo", "synthetic"):
        raise MetaHPOError(f"portfolio build needs cheap tasks (yahpo: surrogates or synthetic: "
                           f"functions), got {args.tasks!r}")
    tasks = make_tasks(args.tasks, instances=args.instances or "train",
                       dims=parse_dims(args.dims), data_path=args.yahpo_data)
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
    import inspect

    from metahpo.optimizers.registry import available_optimizers, optimizer_options

    names = args.names or available_optimizers()
    width = max(map(len, names))
    for name in names:
        options = " ".join(key if value is inspect.Parameter.empty else f"{key}={value!r}"
                           for key, value in optimizer_options(name).items())
        print(f"{name:<{width}}  {options}".rstrip())


META_TRAIN_EXAMPLES = """examples:
  metahpo meta-train --tasks yahpo:lcbench --instances train \\
      --validation-instances 126025,167149,168335,189873 --out lcbench.safetensors \\
      --iterations 1000 --time-limit 300 --reward log_regret --incumbent-clip 0.001 \\
      --initial-design 5 --seed 1
  metahpo meta-train --tasks synthetic:sphere,gp,rosenbrock --dims 2,4,8 --random-design 5 \\
      --local-start --choose-screen --out mine.safetensors
  metahpo tune train.py:objective --space space.yaml --trials 30 \\
      --option policy=mine.safetensors
"""

BENCH_EXAMPLES = """examples:
  metahpo bench --tasks yahpo:lcbench --instances test --optimizers random,tpe,gp,meta \\
      --option meta.policy=lcbench --budget 50 --seeds 5 --workers 2 --out results/lcbench
  metahpo bench --tasks objective:my_module:objective --space space.yaml \\
      --direction maximize --optimizers random,tpe,meta --budget 20 --out my_bench
  metahpo report results/lcbench
"""

YAHPO_DATA_HELP = "YAHPO data folder (default: $METAHPO_YAHPO_DATA or ../shared/data/yahpo)"


def add_commands(sub: Any) -> None:
    """Add this module's subcommands to the ``metahpo`` parser's subparsers ``sub``."""
    p = sub.add_parser("meta-train", help="meta-train an LSTM policy with REINFORCE",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=META_TRAIN_EXAMPLES)
    p.add_argument("--tasks", action="append", required=True,
                   help="yahpo:SCENARIO or synthetic:FAMILY[,FAMILY]; repeat for a mixture")
    p.add_argument("--instances", help="YAHPO instances: train (default), all, or ID,ID,...")
    p.add_argument("--validation-instances",
                   help="YAHPO instances held out of training to select the best weights")
    p.add_argument("--dims", default="2,3,4,6,8",
                   help="dimensions of synthetic tasks (default 2,3,4,6,8)")
    p.add_argument("--out", required=True, help="checkpoint path (.safetensors)")
    p.add_argument("--iterations", type=int, default=300,
                   help="policy updates (default 300)")
    p.add_argument("--tasks-per-batch", type=int, default=16,
                   help="tasks drawn per update (default 16)")
    p.add_argument("--episodes", type=int, default=16,
                   help="episodes per task and batch (default 16)")
    p.add_argument("--horizon", type=int, default=50, help="trials per episode (default 50)")
    p.add_argument("--lr", type=float, default=1e-3,
                   help="Adam learning rate of the policy (default 0.001)")
    p.add_argument("--entropy", type=float, default=1e-3, help="entropy bonus (default 0.001)")
    p.add_argument("--reward", choices=["regret", "log_regret"], default="regret",
                   help="per-step reward: 1 - regret (default), or -log10(regret + 0.001)")
    p.add_argument("--hidden", type=int, default=64, help="LSTM units (default 64)")
    p.add_argument("--embed", type=int, default=32,
                   help="width of the per-dimension networks (default 32)")
    p.add_argument("--incumbent-clip", type=float, default=0.02,
                   help="clip of the incumbent before its logit (closeness of proposals to "
                        "borders; default 0.02)")
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
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the initial weights, the tasks drawn and the proposals' noise "
                        "(default 0)")
    p.add_argument("--time-limit", type=float,
                   help="stop training so that the whole run (initial design included) takes "
                        "about this many seconds")
    p.add_argument("--validate-every", type=int, default=25,
                   help="iterations between scores on the validation instances, which keep the "
                        "best weights (default 25)")
    p.add_argument("--bounds-samples", type=int, default=200_000,
                   help="random configurations per instance for the regret normalization "
                        "(default 200000)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="run rollouts in this process (default) or on Ray workers")
    p.add_argument("--workers", type=int, default=2, help="Ray rollout workers (default 2)")
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--yahpo-data", help=YAHPO_DATA_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")
    p.set_defaults(func=_cmd_meta_train, argv=None)

    p = sub.add_parser("bench", help="benchmark optimizers on held-out tasks",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=BENCH_EXAMPLES)
    p.add_argument("--tasks", required=True,
                   help="yahpo:SCENARIO, synthetic:FAMILY[,FAMILY], digits, mnist1d, tabular, "
                        "objective:MODULE:FUNCTION (your own objective, with --space), or "
                        "'command:TEMPLATE' (your training command, as tune --command, with "
                        "--space)")
    p.add_argument("--instances", default="test",
                   help="test (default), train, all, ID,ID,... or a count (synthetic)")
    p.add_argument("--dims", default="3", help="dimensions of synthetic tasks (default 3)")
    p.add_argument("--optimizers", required=True,
                   help="comma-separated NAME or LABEL=NAME; a NAME may be MODULE:CLASS or "
                        "FILE.py:CLASS, a metahpo.Optimizer subclass of your own or an Optuna "
                        "sampler class (optuna.samplers:QMCSampler; labelled CLASS)")
    p.add_argument("--option", action="append", default=[], metavar="LABEL.KEY=VALUE",
                   help="optimizer option, e.g. meta.policy=lcbench, or a harness option: "
                        "LABEL.parallel=K (K trials pending at once), LABEL.via=optuna (run as "
                        "the sampler of an Optuna study); repeatable")
    p.add_argument("--budget", type=int, default=50, help="trials per run (default 50)")
    p.add_argument("--seeds", type=int, default=5,
                   help="runs per optimizer and task, seeds 0..N-1 (default 5)")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes (default 1: runs in this process)")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="where runs execute: local processes (default) or a Ray cluster")
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--out", required=True, help="results folder (resumable)")
    p.add_argument("--yahpo-data", help=YAHPO_DATA_HELP)
    p.add_argument("--space", help="search space file (or inline JSON) of an objective: or "
                                   "command: task")
    p.add_argument("--direction", choices=["minimize", "maximize"],
                   help="direction of an objective: or command: task (default minimize)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")
    p.set_defaults(func=_cmd_bench, argv=None)

    p = sub.add_parser("report", help="re-render tables and plots from benchmark results")
    p.add_argument("dir", help="results folder of 'metahpo bench'")
    p.add_argument("--reference", metavar="LABEL",
                   help="the optimizer whose runs comparisons.md pairs with each other's "
                        "(default: the lowest mean regret at the largest budget)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("portfolio", help="build a greedy portfolio on training tasks")
    p.add_argument("action", choices=["build"])
    p.add_argument("--tasks", required=True,
                   help="yahpo:SCENARIO or synthetic:FAMILY[,FAMILY] (cheap tasks: every candidate "
                        "is evaluated on every task)")
    p.add_argument("--instances", help="training instances (default: train)")
    p.add_argument("--dims", default="3", help="dimensions of synthetic tasks (default 3)")
    p.add_argument("--size", type=int, default=50, help="configurations in the portfolio (default 50)")
    p.add_argument("--candidates", type=int, default=20_000,
                   help="random configurations the greedy selection chooses from (default 20000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the candidates (default 0)")
    p.add_argument("--out", required=True,
                   help="JSON file to write (the portfolio optimizer's option portfolio=FILE)")
    p.add_argument("--yahpo-data", help=YAHPO_DATA_HELP)
    p.set_defaults(func=_cmd_portfolio, argv=None)

    p = sub.add_parser("optimizers", help="list the available optimizers and their options")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="list these only: registered names or MODULE:CLASS references (your own "
                        "optimizer, an Optuna sampler class such as optuna.samplers:QMCSampler)")
    p.set_defaults(func=_cmd_optimizers)
