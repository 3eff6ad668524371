"""How long jobs show their progress: a progress bar on a terminal or in a notebook, else lines.

A job's standard error is a file where a cluster's scheduler (SLURM, Kubernetes) or ``nohup``
runs it, and there a progress bar's redraws pile up into one long line that says little. There
:func:`metahpo.tune` writes a line per finished trial, with its time, outcome and the best value
so far (as Optuna logs a line per trial), and benchmarks and meta-training, which count runs or
iterations by the hundred, a line of their count every half minute and at the end.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Any, TextIO

from metahpo.study import params_table, values_text
from metahpo.trial import TrialRecord, TrialState


class TrialLines:
    """A line per finished trial on ``stream`` (default: standard error at the time of
    writing, so that a redirection made after ``tune`` started is followed), e.g.
    ``[2026-12-05 23:41:07] trial 3 complete in 12.4 s (4/30): 0.934; best 0.951 (trial 1);
    learning_rate=0.00316, batch_size=54`` (durations past 90 s in minutes)."""

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
        took = "" if record.duration_s is None else f" in {duration_text(record.duration_s)}"
        line = f"[{datetime.now():%Y-%m-%d %H:%M:%S}] trial {record.number} "
        if record.state is TrialState.COMPLETE:
            line += f"complete{took} ({count}): {values_text(record)}"
            if not record.feasible:
                line += " (breaks a constraint)"
        elif record.pruned:
            line += f"{record.error}{took} ({count})"
        else:
            cause = (record.error or "").strip().split("\n", 1)[0]
            cause = cause if len(cause) <= 160 else cause[:157] + "..."
            line += f"failed{took} ({count}): {cause}" if cause else f"failed{took} ({count})"
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
    if _draws_bars():
        return ProgressBar(total, initial)
    return TrialLines(total)


class CountLines:
    """A count's progress as a line on ``stream`` (default: standard error) at most every
    ``every_s`` seconds and once at the end, e.g. ``[2026-12-05 23:41:07] bench: 12/385 runs
    after 2.2 min, about 65 min left``, with the latest ``postfix`` values after it."""

    def __init__(self, total: int, desc: str, unit: str, *, every_s: float = 30.0,
                 stream: TextIO | None = None) -> None:
        self.total, self.desc, self.unit, self.every_s = total, desc, unit, every_s
        self.stream = stream
        self.n = 0
        self._postfix: dict[str, Any] = {}
        self._start = self._said = time.monotonic()
        self._said_n = 0

    def update(self, n: int = 1, **postfix: Any) -> None:
        """Count ``n`` more; ``postfix``: values to show beside the count (``regret=0.031``)."""
        self.n += n
        self._postfix.update(postfix)
        if time.monotonic() - self._said >= self.every_s:
            self._say()

    def close(self) -> None:
        """Say the final count, unless the last line said it."""
        if self.n != self._said_n:
            self._say()

    def _say(self) -> None:
        now = time.monotonic()
        elapsed = now - self._start
        line = (f"[{datetime.now():%Y-%m-%d %H:%M:%S}] {self.desc}: {self.n}/{self.total} "
                f"{self.unit} after {duration_text(elapsed)}")
        if 0 < self.n < self.total:
            line += f", about {duration_text(elapsed / self.n * (self.total - self.n))} left"
        if self._postfix:
            line += "; " + ", ".join(f"{k}={v}" for k, v in self._postfix.items())
        print(line, file=self.stream or sys.stderr, flush=True)
        self._said, self._said_n = now, self.n


class CountBar:
    """A tqdm bar of a count, with :class:`CountLines`' methods."""

    def __init__(self, total: int, desc: str, unit: str) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, desc=desc, unit=unit)

    def update(self, n: int = 1, **postfix: Any) -> None:
        self._bar.update(n)
        if postfix:
            self._bar.set_postfix(postfix, refresh=False)

    def close(self) -> None:
        self._bar.close()


Count = CountBar | CountLines


def open_count(total: int, desc: str, unit: str) -> Count:
    """The progress of a count of ``total`` ``unit`` (runs, iterations): a bar where one is
    drawn (as :func:`open_progress`), else :class:`CountLines`."""
    return CountBar(total, desc, unit) if _draws_bars() else CountLines(total, desc, unit)


def duration_text(seconds: float) -> str:
    """``12.4 s``, ``3.5 min`` or ``2.1 h``: a time as a person reads it in a log line."""
    if seconds < 90:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 90 * 60 else f"{seconds / 3600:.1f} h"


def _draws_bars() -> bool:
    """Whether a progress bar is drawn where it shows: standard error is a terminal, or the
    code runs in a Jupyter kernel (whose widgets draw it)."""
    return _is_terminal(sys.stderr) or "ipykernel" in sys.modules


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
