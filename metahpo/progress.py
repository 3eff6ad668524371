"""How :func:`metahpo.tune` shows its progress: a progress bar on a terminal or in a notebook,
else a line per finished trial.

A job's standard error is a file where a cluster's scheduler (SLURM, Kubernetes) or ``nohup``
runs it, and there a progress bar's redraws pile up into one long line that says little; a
line per trial, with its time, outcome and the best value so far, is what such a log needs (as
Optuna logs a line per trial).
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any, TextIO

from metahpo.study import params_table, values_text
from metahpo.trial import TrialRecord, TrialState


class TrialLines:
    """A line per finished trial on ``stream`` (default: standard error at the time of
    writing, so that a redirection made after ``tune`` started is followed), e.g.
    ``[2026-12-05 23:41:07] trial 3 complete in 12.4 s (4/30): 0.934; best 0.951 (trial 1);
    learning_rate=0.00316, batch_size=54``."""

    needs_record = True

    def __init__(self, total: int | None, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream

    def show(self, size: int, record: TrialRecord | None, best: TrialRecord | None,
             front: int | None) -> None:
        """Say that ``record`` finished; the study now holds ``size`` trials; ``best`` is
        the best trial so far, or ``front`` the size of the Pareto front (several
        objectives)."""
        if record is None:
            return
        count = str(size) if self.total is None else f"{min(size, self.total)}/{self.total}"
        took = ""
        if record.started_at is not None and record.finished_at is not None:
            took = f" in {(record.finished_at - record.started_at).total_seconds():.3g} s"
        line = f"[{datetime.now():%Y-%m-%d %H:%M:%S}] trial {record.number} "
        if record.state is TrialState.COMPLETE:
            line += f"complete{took} ({count}): {values_text(record)}"
        elif record.pruned:
            line += f"{record.error}{took} ({count})"
        else:
            line += f"failed{took} ({count})"
        if front is not None:
            line += f"; Pareto front of {front}"
        elif best is not None:
            line += f"; best {best.value:.6g} (trial {best.number})"
        if record.params:
            line += f"; {params_table(record.params)}"
        stream = self.stream or sys.stderr
        print(line, file=stream, flush=True)

    def close(self) -> None:
        """Nothing to close: every line is written when its trial finishes."""


class ProgressBar:
    """A tqdm progress bar of the study's size, with the best value so far (or the size of the
    Pareto front)."""

    needs_record = False

    def __init__(self, total: int | None, initial: int) -> None:
        from tqdm.auto import tqdm

        start = initial if total is None else min(initial, total)
        self.total = total
        self._bar = tqdm(total=total, initial=start, desc="metahpo", unit="trial")

    def show(self, size: int, record: TrialRecord | None, best: TrialRecord | None,
             front: int | None) -> None:
        """As :meth:`TrialLines.show`; ``record`` is not read."""
        self._bar.n = size if self.total is None else min(size, self.total)
        if front is not None:
            self._bar.set_postfix(front=front, refresh=False)
        elif best is not None:
            self._bar.set_postfix(best=f"{best.value:.6g}", refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


Progress = TrialLines | ProgressBar


def open_progress(show: bool, total: int | None, initial: int) -> Progress | None:
    """What ``tune(show_progress=show)`` shows for a study of ``initial`` trials that should
    reach ``total``: nothing, a bar where standard error is a terminal or in a Jupyter kernel
    (whose widgets draw it), else :class:`TrialLines`."""
    if not show:
        return None
    if _is_terminal(sys.stderr) or "ipykernel" in sys.modules:
        return ProgressBar(total, initial)
    return TrialLines(total)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
