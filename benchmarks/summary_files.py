"""What every benchmark script here records of a run: the command that ran it, the commit it
ran at, and its summary as Markdown (printed too) and JSON in the output folder."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np


def this_command() -> str:
    """The command line that runs the current script with its arguments, from the project root."""
    return f"python benchmarks/{Path(sys.argv[0]).name} " + shlex.join(sys.argv[1:])


def this_commit() -> str:
    """The short hash of the checked-out commit."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()


def save_summary(out: str | Path, text: str, data: dict[str, Any]) -> None:
    """Write ``summary.md`` (``text``) and ``summary.json`` (``data``) into ``out``; print
    ``text``."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.md").write_text(text)
    (folder / "summary.json").write_text(json.dumps(data, indent=1))
    print(text)


def save_run_summary(out: str | Path, title: str, lines: list[str], note: str,
                     data: dict[str, Any]) -> None:
    """Save a benchmark's summary: ``# title``, the table ``lines``, ``note`` followed by the
    commit, and the command that produced it; ``data`` goes to ``summary.json`` with both."""
    commit, command = this_commit(), this_command()
    text = (f"# {title}\n\n" + "\n".join(lines) + f"\n\n{note}; commit {commit}.\n\n"
            f"Produced by:\n\n    {command}\n")
    save_summary(out, text, {"command": command, "commit": commit, **data})


def mean_and_stderr(values: np.ndarray, reported: Sequence[int]) -> dict[str, dict[str, float]]:
    """Mean and standard error over the rows of ``values`` ``(runs, len(reported))``, keyed by
    the trial counts ``reported``."""
    return {str(t): {"mean": float(values[:, k].mean()),
                     "stderr": float(values[:, k].std(ddof=1) / np.sqrt(len(values)))}
            for k, t in enumerate(reported)}


def mean_cells(row: dict[str, dict[str, float]], reported: Sequence[int], signed: bool = False) -> str:
    """Table cells ``mean ± stderr`` of a :func:`mean_and_stderr` row, joined by `` | ``."""
    sign = "+" if signed else ""
    return " | ".join(f"{row[str(t)]['mean']:{sign}.4f} ± {row[str(t)]['stderr']:.4f}"
                      for t in reported)
