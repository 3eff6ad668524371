"""Summaries of benchmark records: normalized regret, average rank and ask time per optimizer.

* **Normalized regret** of a run after ``t`` trials: ``(best - best so far) / (best - worst)``
  (signs flipped for minimization), clipped to ``[0, 1]``; 1 before the first successful trial.
  ``best`` and ``worst`` come from the record's bounds (strong best of cheap tasks, see
  ``tasks.bounds``) or, for tasks without them (real trainings), from the best and worst value
  any run of the suite found on that task.
* **Average rank** after ``t`` trials: on every (task, seed), optimizers are ranked by their
  best-so-far value (1 = best, ties share the average rank); ranks are averaged over tasks and
  seeds.
* **Ask time**: median and 95th percentile over every ``ask`` call of the optimizer, in ms.
* **Step from the incumbent** after ``t`` trials (records that carry unit-cube points): the
  root-mean-square distance over dimensions, in the unit cube, between trial ``t`` and the best
  configuration among trials ``1..t-1``. It shows how an optimizer's proposals move around its
  incumbent: a method that refines locally takes shrinking steps as evidence accumulates.

Means come with their standard error over (task, seed) runs. The same regret per task (over
seeds only) shows where an optimizer wins or loses; a suite-wide mean can hide a task on which
it is behind. Paired comparisons of the leader against each other optimizer on the same runs
(:mod:`metahpo.reports.comparisons`) say whether its lead is more than that noise.
"""

from __future__ import annotations

import json
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from metahpo.errors import MetaHPOError
from metahpo.reports.comparisons import comparisons_table, paired_comparisons

DEFAULT_BUDGETS = (1, 5, 10, 20, 50)
#: Characters of an error message that the summary quotes.
ERROR_CHARS = 160


def best_so_far(record: dict[str, Any]) -> np.ndarray:
    """Best value after each trial in "lower is better" units, ``(budget,)`` (inf before any)."""
    sign = 1.0 if record["direction"] == "minimize" else -1.0
    losses = np.array([np.inf if v is None else sign * v for v in record["values"]], dtype=float)
    return np.minimum.accumulate(losses)


def _task_bounds(records: Sequence[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Per task: (best, worst) in loss units."""
    out: dict[str, tuple[float, float]] = {}
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_task[r["task"]].append(r)
    for task, recs in by_task.items():
        sign = 1.0 if recs[0]["direction"] == "minimize" else -1.0
        if recs[0].get("bounds"):
            b = recs[0]["bounds"]
            out[task] = (sign * b["best"], sign * b["worst"])
        else:
            vals = [sign * v for r in recs for v in r["values"] if v is not None]
            out[task] = (min(vals), max(vals)) if vals else (0.0, 1.0)
    return out


def regret_curves(records: Sequence[dict[str, Any]]) -> list[np.ndarray]:
    """Normalized regret after each trial, one ``(budget,)`` array per record."""
    bounds = _task_bounds(records)
    curves = []
    for r in records:
        best, worst = bounds[r["task"]]
        span = worst - best
        bsf = best_so_far(r)
        reg = np.where(np.isfinite(bsf), (bsf - best) / (span if span > 0 else 1.0), 1.0)
        curves.append(np.clip(reg, 0.0, 1.0))
    return curves


def incumbent_steps(record: dict[str, Any]) -> np.ndarray | None:
    """Distance of each trial from the incumbent before it, ``(budget,)`` (NaN for trial 1 and
    while no trial has succeeded); ``None`` for records without unit-cube points."""
    unit = record.get("unit")
    if not unit:
        return None
    u = np.asarray(unit, dtype=float)
    bsf = best_so_far(record)
    sign = 1.0 if record["direction"] == "minimize" else -1.0
    losses = np.array([np.inf if v is None else sign * v for v in record["values"]], dtype=float)
    steps = np.full(len(u), np.nan)
    incumbent = None
    for t in range(len(u)):
        if incumbent is not None:
            steps[t] = float(np.sqrt(np.mean((u[t] - u[incumbent]) ** 2)))
        if np.isfinite(losses[t]) and losses[t] <= bsf[t]:
            incumbent = t
    return steps


def _ranks(values: dict[str, float]) -> dict[str, float]:
    labels = list(values)
    arr = np.array([values[k] for k in labels])
    order = arr.argsort(kind="stable")
    ranks = np.empty(len(arr))
    ranks[order] = np.arange(1, len(arr) + 1)
    for v in np.unique(arr):
        tie = arr == v
        ranks[tie] = ranks[tie].mean()
    return dict(zip(labels, ranks))


def summarize(records: Sequence[dict[str, Any]], budgets: Sequence[int] = DEFAULT_BUDGETS,
              reference: str | None = None) -> dict[str, Any]:
    """The summary as a JSON-serializable dict (see the module docstring); its paired
    comparisons are of ``reference`` (an optimizer's label), by default of the optimizer with
    the lowest mean regret at the largest budget."""
    max_budget = min(len(r["values"]) for r in records)
    budgets = sorted({b for b in budgets if b <= max_budget} | {max_budget})
    curves = regret_curves(records)
    labels = sorted({r.get("label", r["optimizer"]) for r in records})
    per_label: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        per_label[r.get("label", r["optimizer"])].append(i)
    groups: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
    for i, r in enumerate(records):
        groups[(r["task"], r["seed"])][r.get("label", r["optimizer"])] = i
    rank_curves: dict[str, list[np.ndarray]] = defaultdict(list)
    for members in groups.values():
        if len(members) < 2:
            continue
        steps = np.zeros((len(members), max_budget))
        names = list(members)
        curves_bsf = {n: best_so_far(records[members[n]]) for n in names}
        for t in range(max_budget):
            vals = {n: float(curves_bsf[n][t]) for n in names}
            ranked = _ranks(vals)
            for k, n in enumerate(names):
                steps[k, t] = ranked[n]
        for k, n in enumerate(names):
            rank_curves[n].append(steps[k])
    out: dict[str, Any] = {"budgets": budgets, "n_tasks": len({r["task"] for r in records}),
                           "n_seeds": len({r["seed"] for r in records}), "optimizers": {}}
    for label in labels:
        idx = per_label[label]
        reg = np.stack([curves[i][:max_budget] for i in idx])
        asks = np.concatenate([np.asarray(records[i]["ask_ms"], dtype=float) for i in idx])
        entry: dict[str, Any] = {
            "runs": len(idx),
            "regret_curve": reg.mean(axis=0).tolist(),
            "regret": {str(b): float(reg[:, b - 1].mean()) for b in budgets},
            "regret_se": {str(b): float(reg[:, b - 1].std(ddof=1) / np.sqrt(len(idx)))
                          if len(idx) > 1 else 0.0 for b in budgets},
            "ask_ms_median": float(np.median(asks)),
            "ask_ms_p95": float(np.percentile(asks, 95)),
            **_failures([records[i] for i in idx]),
        }
        if rank_curves.get(label):
            rk = np.stack(rank_curves[label])
            entry["rank_curve"] = rk.mean(axis=0).tolist()
            entry["rank"] = {str(b): float(rk[:, b - 1].mean()) for b in budgets}
        found = [incumbent_steps(records[i]) for i in idx]
        step_curves = [s[:max_budget] for s in found if s is not None]
        if step_curves:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                curve = np.nanmean(np.stack(step_curves), axis=0)
            entry["step_curve"] = [None if not np.isfinite(v) else float(v) for v in curve]
        tests = [records[i]["test_score_of_best"] for i in idx
                 if records[i].get("test_score_of_best") is not None]
        if tests:
            entry["test_score_of_best"] = float(np.mean(tests))
        out["optimizers"][label] = entry
    out["tasks"] = _per_task_regret(records, curves, budgets)
    if reference is not None and reference not in labels:
        raise MetaHPOError(f"no optimizer labelled {reference!r} in these results to compare "
                           f"the others with (labels: {', '.join(labels)})")
    if len(labels) > 1:
        if reference is None:
            reference = min(labels,
                            key=lambda k: out["optimizers"][k]["regret"][str(budgets[-1])])
        out["comparisons"] = paired_comparisons(records, curves, budgets, reference)
    return out


def _failures(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How many of the runs' trials failed (no value: they count as no result in the regret),
    and, where some did, the error most of them gave: a suite whose objective fails for one
    optimizer shows why instead of a regret of 1 alone."""
    errors = [e for r in records
              for v, e in zip(r["values"], r.get("errors") or [None] * len(r["values"]))
              if v is None]
    out: dict[str, Any] = {"trials": sum(len(r["values"]) for r in records),
                           "failed_trials": len(errors)}
    told = [e for e in errors if e]
    if told:
        out["common_error"] = max(set(told), key=told.count)
    return out


def _shortened(text: str) -> str:
    return text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS].rstrip() + " ..."


def _per_task_regret(records: Sequence[dict[str, Any]], curves: Sequence[np.ndarray],
                     budgets: Sequence[int]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per task and optimizer: regret mean and standard error over seeds at each budget, and
    the failed trials (:func:`_failures`): a task whose runs fail shows which one."""
    runs: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, r in enumerate(records):
        runs[r["task"]][r.get("label", r["optimizer"])].append(i)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for task in sorted(runs):
        out[task] = {}
        for label, idx in sorted(runs[task].items()):
            reg = np.stack([curves[i][: budgets[-1]] for i in idx])
            n = len(idx)
            out[task][label] = {
                "runs": n,
                "regret": {str(b): float(reg[:, b - 1].mean()) for b in budgets},
                "regret_se": {str(b): float(reg[:, b - 1].std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
                              for b in budgets},
                **_failures([records[i] for i in idx]),
            }
    return out


def markdown_table(summary: dict[str, Any]) -> str:
    """Regret (mean ± s.e.), average rank and ask time per optimizer, best regret in bold."""
    budgets = summary["budgets"]
    opts = summary["optimizers"]
    best = {str(b): min(o["regret"][str(b)] for o in opts.values()) for b in budgets}
    header = (["optimizer"] + [f"regret t={b}" for b in budgets] + [f"rank t={b}" for b in budgets]
              + ["ask ms (median / p95)"])
    with_test = any("test_score_of_best" in o for o in opts.values())
    if with_test:
        header.append("test score of best")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    order = sorted(opts, key=lambda k: opts[k]["regret"][str(budgets[-1])])
    for label in order:
        o = opts[label]
        cells = [label]
        for b in budgets:
            text = f"{o['regret'][str(b)]:.4f} ± {o['regret_se'][str(b)]:.4f}"
            cells.append(f"**{text}**" if o["regret"][str(b)] == best[str(b)] else text)
        cells += [f"{o['rank'][str(b)]:.2f}" if "rank" in o else "-" for b in budgets]
        cells.append(f"{o['ask_ms_median']:.2f} / {o['ask_ms_p95']:.2f}")
        if with_test:
            cells.append(f"{o['test_score_of_best']:.4f}" if "test_score_of_best" in o else "-")
        lines.append("| " + " | ".join(cells) + " |")
    note = (f"\n{summary['n_tasks']} tasks x {summary['n_seeds']} seeds; normalized regret "
            "(lower is better), mean ± standard error; rank 1 = best.\n")
    return "\n".join(lines) + "\n" + note + _failures_note(opts.items())


def _failures_note(entries: Iterable[tuple[str, dict[str, Any]]]) -> str:
    """A line that counts the failed trials of each of ``entries`` (name, summary entry) that
    had some, with their most common error; empty where none failed."""
    failed = [f"{name}: {o['failed_trials']} of {o['trials']}"
              + (f" ({_shortened(o['common_error'])})" if "common_error" in o else "")
              for name, o in entries if o.get("failed_trials")]
    return "Failed trials (no result): " + "; ".join(failed) + ".\n" if failed else ""


def per_task_table(summary: dict[str, Any]) -> str:
    """Regret (mean ± s.e. over seeds) per task and optimizer, best of each task in bold."""
    budgets = summary["budgets"]
    header = ["task", "optimizer"] + [f"regret t={b}" for b in budgets]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for task, opts in summary["tasks"].items():
        best = {str(b): min(o["regret"][str(b)] for o in opts.values()) for b in budgets}
        for label in sorted(opts, key=lambda k: opts[k]["regret"][str(budgets[-1])]):
            o = opts[label]
            cells = [task, label]
            for b in budgets:
                text = f"{o['regret'][str(b)]:.4f} ± {o['regret_se'][str(b)]:.4f}"
                cells.append(f"**{text}**" if o["regret"][str(b)] == best[str(b)] else text)
            lines.append("| " + " | ".join(cells) + " |")
    seeds = sorted({o["runs"] for opts in summary["tasks"].values() for o in opts.values()})
    note = (f"\nPer task: {'/'.join(map(str, seeds))} seeds; normalized regret (lower is better), "
            "mean ± standard error over seeds.\n")
    failed = _failures_note((f"{label} on {task}", o) for task, opts in summary["tasks"].items()
                            for label, o in opts.items())
    return "\n".join(lines) + "\n" + note + failed


def write_report(records: Sequence[dict[str, Any]], out: str | Path,
                 budgets: Sequence[int] = DEFAULT_BUDGETS,
                 commands: Sequence[str] = (), reference: str | None = None) -> dict[str, Path]:
    """Write ``summary.json``, ``summary.md``, ``per_task.md`` (suites of several tasks),
    ``comparisons.md`` (suites of several optimizers), ``regret.png``, ``rank.png`` and (when
    records carry unit-cube points) ``step.png`` into ``out``; ``summary.md`` ends with
    ``commands``, the commands that produced the records; ``reference`` as in
    :func:`summarize`."""
    from metahpo.reports.plots import plot_curves

    out = Path(out)
    summary = summarize(records, budgets, reference)
    paths = {"json": out / "summary.json", "markdown": out / "summary.md"}
    paths["json"].write_text(json.dumps(summary, indent=1))
    command = "\n".join(f"    {c}" for c in commands)
    text = "# Benchmark summary\n\n" + markdown_table(summary)
    if command:
        text += f"\nProduced by:\n\n{command}\n"
    paths["markdown"].write_text(text)
    if summary["n_tasks"] > 1:
        paths["per_task"] = out / "per_task.md"
        paths["per_task"].write_text("# Benchmark summary per task\n\n" + per_task_table(summary))
    if "comparisons" in summary:
        paths["comparisons"] = out / "comparisons.md"
        paths["comparisons"].write_text("# Paired comparisons\n\n" + comparisons_table(summary))
    paths.update(plot_curves(summary, out))
    return paths
