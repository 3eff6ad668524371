"""What the benchmarks of searches on an epoch budget share (``pruning.py``,
``ray_schedulers.py``): trials report lcbench learning curves of 52 epochs, a search runs until
it has spent a number of full trainings' worth of epochs, and the table gives the normalized
regret of the best final value among trials trained to the end after 5, 10, 20... trainings'
worth, with the trials started and completed per search.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

EPOCHS = 52
REPORTED = (5, 10, 20, 30, 50)


def regrets_at(bounds: Any, best: np.ndarray, reported: Sequence[int]) -> list[float]:
    """The normalized regret of a search's best final value ``best`` (one per epoch spent, NaN
    before the first trial trained to the end: regret 1) after each of ``reported`` trainings'
    worth of epochs."""
    curve = bounds.regret(np.nan_to_num(best, nan=bounds.worst))
    return [curve[c * EPOCHS - 1] for c in reported]


def summary_row(regrets: list[list[float]], started: list[int], completed: list[int],
                reported: Sequence[int]) -> dict[str, Any]:
    """The means (and standard errors) over searches of :func:`regrets_at`, and the mean
    trials started and completed per search."""
    return {
        "regret": {str(c): float(v) for c, v in zip(reported, np.mean(regrets, axis=0))},
        "regret_se": {str(c): float(v) for c, v in
                      zip(reported, np.std(regrets, axis=0) / np.sqrt(len(regrets)))},
        "trials_started": float(np.mean(started)),
        "trials_completed": float(np.mean(completed)),
    }


def table_lines(first_column: str, results: dict[str, dict[str, Any]],
                reported: Sequence[int]) -> list[str]:
    """The Markdown table of :func:`summary_row` s, one row per label of ``results``."""
    regret_columns = " | ".join(f"regret after {c} x 52 epochs" for c in reported)
    header = f"| {first_column} | {regret_columns} | trials started | trials completed |"
    lines = [header, "|" + "---|" * (len(reported) + 3)]
    for label, row in results.items():
        cells = [f"{row['regret'][str(c)]:.4f} ± {row['regret_se'][str(c)]:.4f}" for c in reported]
        lines.append(f"| {label} | " + " | ".join(cells)
                     + f" | {row['trials_started']:.1f} | {row['trials_completed']:.1f} |")
    return lines
