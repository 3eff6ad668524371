"""``metahpo studies``: list the studies of a storage, show one, print its best trial (or front)
as JSON, print its search space as a space file (YAML, for ``--space``), plot it (PNG files), or
delete one — what ``tune``, ``ask`` / ``tell`` and Optuna recorded; and ``metahpo enqueue``,
which queues configurations in a stored study for its workers to run next."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from metahpo.cli.common import add_storage_option, read_configurations, storage_url
from metahpo.errors import MetaHPOError


def _cmd_studies(args: argparse.Namespace) -> None:
    from metahpo.progress import duration_text
    from metahpo.study import delete_study, list_studies, load_study, params_table, values_text
    from metahpo.study_optimizer import searched_by
    from metahpo.trial import violations

    url = storage_url(args, reads=True)
    if args.action == "list":
        studies = list_studies(url)
        if not studies:
            print(f"no studies in {url}")
        for s in studies:
            trials = s.trials
            directions = s.directions
            if len(directions) > 1:
                best = f"{len(s.best_trials)} on the front"
            else:
                best = "best " + (f"{s.best_value:.6g}" if any(t.value is not None and t.feasible
                                                              for t in trials) else "-")
            print(f"{s.name}\t{','.join(directions)}\t{len(trials)} trials\t{best}")
        return
    if not args.name:
        raise MetaHPOError(f"studies {args.action} needs a study NAME")
    if args.action == "delete":
        n = delete_study(args.name, url)
        print(f"deleted study {args.name} ({n} trials)")
        return
    study = load_study(args.name, url)
    if args.action == "space":
        print((study.space or _space_read_from_trials(study)).to_yaml(), end="")
        return
    if args.action == "plot":
        from metahpo.reports.study_plots import plot_study

        written, skipped = plot_study(study, args.out)
        for path in written:
            print(f"wrote {path}")
        for why in skipped:
            print(f"metahpo: left out {why}", file=sys.stderr)
        return
    directions = study.directions
    if args.action == "best":
        if len(directions) > 1:
            front = [{"number": r.number, "values": r.values, "params": dict(r.params),
                      "user_attrs": r.user_attrs} for r in study.best_trials]
            print(json.dumps({"study": study.name, "directions": directions, "front": front}))
            return
        record = study.best_trial
        print(json.dumps({"study": study.name, "number": record.number, "value": record.value,
                          "params": dict(record.params), "user_attrs": record.user_attrs}))
        return
    if args.csv:
        study.to_csv(args.csv)
        print(f"wrote {len(study.trials)} trials to {args.csv}")
        return
    trials = study.trials
    optimizer = searched_by(study)
    searched = "" if optimizer is None else f"; searched by {optimizer}"
    if args.top is not None:
        if args.top < 1:
            raise MetaHPOError(f"--top must be >= 1, got {args.top}")
        if len(directions) > 1:
            raise MetaHPOError(f"--top ranks by one objective, and study {study.name!r} has "
                               f"{len(directions)}; 'metahpo studies best {study.name}' gives "
                               "its Pareto front")
        sign = 1.0 if study.direction == "minimize" else -1.0
        ranked = sorted(((sign * r.value, r.number, r) for r in trials
                         if r.value is not None and r.feasible), key=lambda entry: entry[:2])
        infeasible = sum(r.value is not None and not r.feasible for r in trials)
        left_out = f" ({infeasible} that broke a constraint left out)" if infeasible else ""
        trials = [entry[2] for entry in ranked[:args.top]]
        print(f"study {study.name} ({study.direction}{searched}): the {len(trials)} best of "
              f"{len(ranked)} complete trials{left_out}")
    else:
        print(f"study {study.name} ({', '.join(directions)}{searched})")
    for t in trials:
        value = values_text(t) or "-"
        extra = f"  | {params_table(t.user_attrs)}" if t.user_attrs else ""
        extra += f"  error: {t.error}" if t.error else ""
        extra += f"  infeasible: {violations(t.constraints)}" if not t.feasible else ""
        extra += f"  (runs trial {t.retry_of} again)" if t.retry_of is not None else ""
        if t.last_report is not None:
            extra += f" (last reported {t.last_report[1]:.6g})"
        state = "interrupted" if t.interrupted else t.state.value
        took = "-" if t.duration_s is None else duration_text(t.duration_s)
        print(f"{t.number:5d}  {state:11s} {value:>12s} {took:>9s}  {params_table(t.params)}"
              f"{extra}")


def _space_read_from_trials(study: Any) -> Any:
    """The search space of a study that Optuna made (its objective declared its parameters as
    it ran), as its completed trials show it: the parameters every trial holds, and those whose
    presence one or two others explain, as conditions (what ``MetaHPOSampler`` reads, see
    :mod:`metahpo.integrations.optuna_conditions`). What is left out is named on standard error,
    beside the space file on standard output."""
    from optuna.trial import TrialState

    from metahpo.distributions import from_optuna
    from metahpo.integrations.optuna_conditions import define_by_run_space
    from metahpo.space import SearchSpace

    trials = study.storage.get_all_trials(study.study_id, deepcopy=False)
    distributions, conditions = define_by_run_space(trials)
    if not distributions:
        raise MetaHPOError(f"study {study.name!r} holds no search space and no completed trial "
                           "to read one from (Optuna made it; its objective declares its "
                           "parameters as it runs)")
    completed = [t for t in trials if t.state == TrialState.COMPLETE]
    seen = sorted({name for t in completed for name in t.params} - set(distributions))
    left_out = (f"; left out, as nothing in the trials says where they appear or their "
                f"ranges changed: {', '.join(seen)}" if seen else "")
    print(f"metahpo: study {study.name!r} was made by Optuna: its space as its "
          f"{len(completed)} completed trials show it{left_out}", file=sys.stderr)
    return SearchSpace([from_optuna(name, dist) for name, dist in distributions.items()],
                       conditions=conditions)


def _cmd_enqueue(args: argparse.Namespace) -> None:
    from metahpo.enqueued_trials import enqueue_trials
    from metahpo.study import load_study

    configurations = read_configurations(args.params, "--params")
    if not configurations:
        raise MetaHPOError(f"--params {args.params!r} holds no configuration to queue")
    try:
        study = load_study(args.study, storage_url(args, reads=True))
    except MetaHPOError as exc:
        raise MetaHPOError(
            f"{exc}. enqueue queues configurations in a study that exists; to run them first "
            "in a new study, pass them to the 'metahpo tune' or 'metahpo ask' that makes it, "
            "as --points-to-evaluate") from None
    for number in enqueue_trials(study, configurations):
        print(json.dumps({"study": study.name, "number": number,
                          "params": study.trial(number).params}))


def add_commands(sub: Any) -> None:
    """Add ``studies`` and ``enqueue`` to the ``metahpo`` parser's subparsers ``sub``."""
    p = sub.add_parser("studies", help="list the studies of a storage, show one, print the "
                                        "best trial of one as JSON, print its search space as "
                                        "a space file, plot one, or delete one")
    p.add_argument("action", nargs="?", choices=["list", "show", "best", "space", "plot", "delete"],
                   default="list", help="default: list")
    p.add_argument("name", nargs="?", help="study name (for show, best, space, plot and delete)")
    add_storage_option(p, in_memory=False)
    p.add_argument("--csv", help="with show: write the trials to this CSV file")
    p.add_argument("--top", type=int, metavar="N",
                   help="with show: only the N best complete trials, best first")
    p.add_argument("--out", default=".", metavar="DIR",
                   help="with plot: the folder to write NAME_history.png, NAME_slice.png, "
                        "NAME_importances.png and NAME_curves.png to (those that apply; default: "
                        "the current folder)")
    p.set_defaults(func=_cmd_studies)

    p = sub.add_parser("enqueue", help="queue configurations in a study: the next trials its "
                                        "workers start (tune, ask) run them first")
    add_storage_option(p, in_memory=False)
    p.add_argument("--study", required=True, help="study name")
    p.add_argument("--params", required=True, metavar="FILE_OR_JSON",
                   help="a parameter dict or a list of them (a JSON or YAML file, or inline "
                        "JSON); parameters left out are proposed by the optimizer")
    p.set_defaults(func=_cmd_enqueue)
