"""PNG plots of a benchmark summary against trials: normalized regret, average rank and the
step from the incumbent."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_curves(summary: dict[str, Any], out: str | Path) -> dict[str, Path]:
    """Write ``regret.png`` (log-log), ``rank.png`` (log x) and ``step.png`` (log-log, only for
    optimizers whose records carry unit-cube points); return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    paths = {}
    for key, ylabel, fname, logy in (("regret_curve", "mean normalized regret", "regret.png", True),
                                     ("rank_curve", "average rank", "rank.png", False),
                                     ("step_curve", "RMS distance of trial t from the incumbent "
                                      "(unit cube)", "step.png", True)):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        drawn, positive = 0, False
        for k, (label, o) in enumerate(sorted(summary["optimizers"].items())):
            if key not in o:
                continue
            ys = [float("nan") if y is None else y for y in o[key]]
            style = "-" if k < 10 else "--"
            width = 2 if label.startswith("meta") else 1.2
            ax.plot(range(1, len(ys) + 1), ys, style, label=label, linewidth=width)
            drawn += 1
            positive = positive or any(y > 0 for y in ys)
        if not drawn:
            plt.close(fig)
            continue
        ax.set_xscale("log")
        if logy and positive:
            ax.set_yscale("log")
        ax.set_xlabel("trials")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, ncol=2)
        fig.tight_layout()
        paths[fname.split(".")[0]] = out / fname
        fig.savefig(out / fname, dpi=110)
        plt.close(fig)
    return paths
