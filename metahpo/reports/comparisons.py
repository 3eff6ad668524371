"""Paired comparisons of a benchmark's optimizers: is the leader's lead more than the noise of
its tasks and seeds?

Mean regrets with standard errors compare optimizers as if their runs were independent, but
every optimizer of a suite runs on the same (task, seed) pairs, and the task explains much of a
run's regret. Pairing the runs removes that part: for the *reference* (the optimizer with the
lowest mean regret at the suite's largest budget) against each other optimizer, at each budget,
the (task, seed) pairs on which the reference's regret is lower (wins), equal (ties: both found
the same best value, or both reached the strong best) and higher (losses), and the two-sided
Wilcoxon signed-rank test's p-value of the paired regret differences (ties dropped, as in
Wilcoxon's original test; 1 where every pair ties). The p-values are per comparison, not
corrected for the number of comparisons in the table.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np


def paired_comparisons(records: Sequence[dict[str, Any]], curves: Sequence[np.ndarray],
                       budgets: Sequence[int], reference: str) -> dict[str, Any]:
    """``{"reference": label, "against": {label: {budget: {"wins", "ties", "losses", "p"}}}}``
    for the records' optimizers other than ``reference``; ``curves`` are the records'
    normalized regret curves (:func:`metahpo.reports.summary.regret_curves`), ``(budget,)``
    each. Only the (task, seed) pairs that both optimizers ran are compared."""
    from scipy.stats import wilcoxon

    runs: dict[str, dict[tuple[str, int], np.ndarray]] = {}
    for record, curve in zip(records, curves):
        label = record.get("label", record["optimizer"])
        runs.setdefault(label, {})[(record["task"], record["seed"])] = curve
    mine = runs[reference]
    against: dict[str, dict[str, dict[str, Any]]] = {}
    for label in sorted(set(runs) - {reference}):
        shared = sorted(set(mine) & set(runs[label]))
        against[label] = {}
        for b in budgets:
            diff = np.array([runs[label][key][b - 1] - mine[key][b - 1] for key in shared])
            wins, losses = int((diff > 0).sum()), int((diff < 0).sum())
            p = 1.0
            if wins + losses:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    p = float(wilcoxon(diff[diff != 0]).pvalue)
            against[label][str(b)] = {"wins": wins, "ties": len(shared) - wins - losses,
                                      "losses": losses, "p": p}
    return {"reference": reference, "against": against}


def comparisons_table(summary: dict[str, Any]) -> str:
    """The Markdown table of :func:`paired_comparisons` in ``summary["comparisons"]``: one row
    per other optimizer, one column per budget, cells ``wins / ties / losses (p = ...)`` of the
    reference."""
    comparisons = summary["comparisons"]
    reference, budgets = comparisons["reference"], summary["budgets"]
    header = ["against"] + [f"t={b}: wins / ties / losses (p)" for b in budgets]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, cells in comparisons["against"].items():
        row = [label] + [f"{c['wins']} / {c['ties']} / {c['losses']} ({_p_text(c['p'])})"
                         for c in (cells[str(b)] for b in budgets)]
        lines.append("| " + " | ".join(row) + " |")
    best = min(summary["optimizers"],
               key=lambda k: summary["optimizers"][k]["regret"][str(budgets[-1])])
    which = (f"the lowest mean regret at t={budgets[-1]}" if reference == best
             else "chosen as the reference")
    note = (f"\nPaired runs (same task and seed) of `{reference}`, {which}, against each other "
            "optimizer: the pairs where its regret is lower (wins), equal (ties) or higher "
            "(losses), and the two-sided Wilcoxon signed-rank p-value of the paired differences "
            "(ties dropped; not corrected for the number of comparisons).\n\nMade from the "
            "runs under `raw/` (the commands that ran them end `summary.md`); `metahpo report "
            "DIR` makes it again.\n")
    return "\n".join(lines) + "\n" + note


def _p_text(p: float) -> str:
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.4f}" if p < 0.01 else f"p = {p:.2f}"
