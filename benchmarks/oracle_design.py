"""How low can a fixed design go on the lcbench test split? A greedy portfolio chosen *on the
test instances themselves* (an oracle no optimizer may use), against the lcbench targets.

A search's first trials carry little or no information about the task, so up to a few trials
no method can do much better than the best fixed sequence of configurations for the task set
it is scored on. This script builds that sequence with the knowledge a fair method never has:
greedy portfolios (as ``metahpo portfolio build`` makes them) from candidate pools scored on
the test instances, each instance's best candidate refined by a local search. Its regret curve
is a floor for any non-adaptive start and a near-floor for the first few trials of any method.
It is compared with the ``4x below the best other optimizer`` thresholds computed from the
committed lcbench benchmark (``--bench``).

    .venv/bin/python benchmarks/oracle_design.py --out benchmarks/results/lcbench_oracle_design

Writes ``summary.md`` (with this command) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from summary_files import save_summary, this_command

from metahpo.meta.distributions import FixedTasks
from metahpo.meta.portfolio import build_portfolio
from metahpo.tasks.registry import make_tasks

OURS = ("meta", "meta_fake_feedback")


def targets(bench: dict, budgets: list[int]) -> dict[str, dict[str, float]]:
    """Per budget, from a bench ``summary.json``: the best other optimizer's mean regret and name,
    the lcbench target (at t = 1 the portfolio's regret, later 0.25 times the best other's) and
    the meta optimizer's regret."""
    missing = {"meta", "portfolio"} - set(bench["optimizers"])
    if missing:
        raise SystemExit(f"oracle_design: the bench summary has no {', '.join(sorted(missing))} "
                         "runs; point --bench at a summary.json with meta and portfolio labels")
    out = {}
    for t in budgets:
        others = {name: row["regret"][str(t)] for name, row in bench["optimizers"].items()
                  if name not in OURS and str(t) in row["regret"]}
        best = min(others, key=others.get)
        target = others["portfolio"] if t == 1 else 0.25 * others[best]
        out[str(t)] = {"best_other": best, "best_other_regret": others[best], "target": target,
                       "meta": bench["optimizers"]["meta"]["regret"][str(t)]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--bench", default="benchmarks/results/lcbench/summary.json")
    parser.add_argument("--candidates", type=int, default=200_000)
    parser.add_argument("--refine-rounds", type=int, default=40)
    parser.add_argument("--pools", type=int, default=3, help="candidate pools (seeds 0..pools-1)")
    parser.add_argument("--size", type=int, default=20)
    args = parser.parse_args()
    tasks = FixedTasks(make_tasks("yahpo:lcbench", instances="test")).tasks
    curves = []
    for pool in range(args.pools):
        _, curve = build_portfolio(tasks, size=args.size, n_candidates=args.candidates, seed=pool,
                                   refine_rounds=args.refine_rounds)
        curves.append(curve)
    oracle = np.min(np.array(curves), axis=0)
    bench = json.loads(Path(args.bench).read_text())
    budgets = [t for t in bench["budgets"] if t <= args.size]
    rows = targets(bench, budgets)
    for t in budgets:
        rows[str(t)]["oracle_design"] = float(oracle[t - 1])
    command = this_command()
    lines = ["| trials | best other optimizer (regret) | target | oracle design on the test "
             "instances | meta |", "|---|---|---|---|---|"]
    for t in budgets:
        r = rows[str(t)]
        lines.append(f"| {t} | {r['best_other']} ({r['best_other_regret']:.4f}) | {r['target']:.4f} | "
                     f"{r['oracle_design']:.4f} | {r['meta']:.4f} |")
    text = (f"# A fixed design chosen on the lcbench test instances (an oracle)\n\n" + "\n".join(lines)
            + f"\n\nMean normalized regret over the {len(tasks)} test instances of the best-so-far after "
            f"t trials. Oracle: the lowest of {args.pools} greedy portfolios, each from "
            f"{args.candidates} random configurations plus every test instance's best one refined "
            f"by {args.refine_rounds} rounds of local search, all scored on the test instances. "
            f"Target: the portfolio's regret at t = 1, 0.25 times the best other optimizer's "
            f"after. Other columns: `{args.bench}`.\n\nProduced by:\n\n    {command}\n")
    save_summary(args.out, text, {"command": command, "pool_curves": curves, "rows": rows})


if __name__ == "__main__":
    main()
