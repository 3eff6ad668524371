"""A training script as the objective: each trial runs a command and reads its score.

Most models are trained by a script, not by a Python function one can import. A
:class:`CommandObjective` fills a configuration into a command template and runs it, one process
per trial, as ``metahpo tune --command`` does::

    metahpo tune --command "python train.py --lr {learning_rate} --out runs/{trial_number}" \\
        --space space.yaml --trials 30 --direction maximize --storage sqlite:///studies.db

- ``{name}`` placeholders take the values of the space's parameters (format specs work:
  ``{learning_rate:.2e}``); ``{trial_number}`` is the trial's number in the study (an output
  folder per trial, say). The template is split like a shell line (:func:`shlex.split`) and run
  without a shell, so values need no quoting; for pipes or ``&&``, run ``bash -c '...'``. Literal
  braces are doubled: ``{{`` and ``}}``. An argument whose placeholders name a parameter the
  trial's configuration leaves inactive (conditional spaces) is left out, so
  ``--momentum={momentum}`` appears only for the choices that use momentum.
- ``{first_trial_number}`` is the trial's number too, except in a trial that runs again the
  configuration of one whose run was interrupted (Ctrl-C, a process that died: such trials run
  again first when the study resumes), where it is the number of the first trial that ran it.
  A script that saves checkpoints in ``runs/{first_trial_number}`` resumes from them.
- The command also finds the configuration as JSON in the environment variable
  ``METAHPO_PARAMS`` and the two numbers in ``METAHPO_TRIAL_NUMBER`` and
  ``METAHPO_FIRST_TRIAL_NUMBER``.
- With ``devices`` (``--devices 0,1,2,3``), each run gets a device of its own while it runs, as
  ``CUDA_VISIBLE_DEVICES`` (so ``cuda:0`` in the script is that GPU) and ``METAHPO_DEVICE``:
  four jobs on four GPUs, one training each; a job finding every device taken waits for one.
- Intermediate values (a validation score per epoch) go to the study when the command prints
  a line ``METAHPO_REPORT STEP VALUE`` (``print(f"METAHPO_REPORT {epoch} {accuracy}",
  flush=True)``): optuna-dashboard plots them as learning curves, and with a pruner
  (``tune(..., pruner=...)``, ``--pruner``) a run the pruner stops is killed and its trial
  recorded as pruned.
- What else the run measures (a test score, the epoch of its best score, its run time) goes
  with the trial as a user attribute when the command prints ``METAHPO_ATTR NAME VALUE``
  (``VALUE`` read as JSON when it parses, else kept as text): ``metahpo studies show`` lists
  them, and ``--csv`` writes them as ``user_attrs_NAME`` columns.
- A limit the run must keep (at most 10 ms of latency) goes with the trial as a constraint
  when the command prints ``METAHPO_CONSTRAINT NAME VALUE``, feasible where ``VALUE`` is 0 or
  less (``latency_ms - 10``; see :meth:`metahpo.RunningTrial.set_constraint`).
- The trial's value is the **last line the command writes to standard output** (report,
  attribute and constraint lines aside), which must be a number: print the validation score
  last (in a study of several objectives, one number per objective on that line, in the order
  of the study's directions, separated by spaces: ``print(accuracy, seconds)``). A script
  that prints more after its score (a logger's or a framework's closing lines) prints
  ``METAHPO_VALUE VALUE`` instead, anywhere (the last such line counts). Both of its
  output streams pass through as it runs, as if it were run by hand. A command that exits with
  a non-zero status, whose value line is not a number, or that runs past ``timeout`` seconds
  makes a failed trial whose error names the cause (with the end of its standard error). It is
  killed with its whole process group when it times out or when the tune call is interrupted
  (``KeyboardInterrupt``, in whichever job it runs); an interrupted trial does not count and
  its configuration runs again first on resume (see ``{first_trial_number}``).

Commands run in worker threads with ``n_jobs`` / ``--jobs``, several trainings at once; with
``label=True`` (``--jobs`` > 1 on the command line) each line they print begins with
``[trial N]``, so that the interleaved output of concurrent runs can be told apart. POSIX only
(process groups, :mod:`metahpo.tasks.process_group`); on Linux a command also ends when the
metahpo process running it is killed by SIGKILL.

:class:`CommandTask` is the same command as a benchmark task (``metahpo bench --tasks
"command:TEMPLATE"``), to compare optimizers on one's own script.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from string import Formatter
from typing import Any, Mapping, Sequence, cast

from metahpo.errors import CommandFailed, MetaHPOError
from metahpo.space import SearchSpace, read_space
from metahpo.tasks import process_group
from metahpo.tasks.base import Task
from metahpo.trial import TrialPruned, TuningInterrupted, check_direction

TRIAL_NUMBER = "trial_number"
FIRST_TRIAL_NUMBER = "first_trial_number"
NUMBERS = (TRIAL_NUMBER, FIRST_TRIAL_NUMBER)
REPORT = "METAHPO_REPORT"
ATTR = "METAHPO_ATTR"
CONSTRAINT = "METAHPO_CONSTRAINT"
VALUE = "METAHPO_VALUE"
POLL_S = 0.1
ERROR_LINES = 20
ERROR_TAIL = 500


class CommandObjective:
    """``objective(params, trial)`` for :func:`metahpo.tune` that runs ``template`` filled with
    ``params`` (see the module docstring).

    Args:
        template: the command line, with ``{name}`` placeholders.
        space: the search space; every placeholder must name one of its parameters or be
            ``{trial_number}`` or ``{first_trial_number}``.
        timeout: seconds a run may take before it is killed and the trial failed (default: none).
        cwd: the folder commands run in (default: the current one).
        echo: pass the command's output through as it runs (default); else it is only read.
        label: begin each line passed through with ``[trial N] `` (for concurrent runs).
        devices: device ids (GPU indices) to share among concurrent runs, one run per device.
    """

    def __init__(self, template: str, space: SearchSpace, *, timeout: float | None = None,
                 cwd: str | os.PathLike | None = None, echo: bool = True, label: bool = False,
                 devices: Sequence[str] | None = None) -> None:
        if not isinstance(template, str) or not template.strip():
            raise MetaHPOError(f"a command template must be a non-empty string, got {template!r}")
        if timeout is not None and (isinstance(timeout, bool)
                                    or not isinstance(timeout, (int, float)) or not timeout > 0):
            raise MetaHPOError("a command's timeout must be a number of seconds > 0, "
                               f"got {timeout!r}")
        for name in NUMBERS:
            if name in space.names:
                raise MetaHPOError(f"a parameter named {name!r} would clash with the {{{name}}} "
                                   "placeholder of command templates; rename it")
        try:
            self.args = shlex.split(template)
            self._fields = [_fields(arg) for arg in self.args]
        except ValueError as exc:
            raise MetaHPOError(f"command template {template!r}: {exc}") from None
        #: The names the template's placeholders use.
        self.placeholders = frozenset(f for fields in self._fields for f in fields)
        unknown = sorted(self.placeholders - set(space.names) - set(NUMBERS))
        if unknown:
            raise MetaHPOError(f"command template names {unknown}, which are not parameters of "
                               f"the search space ({', '.join(space.names)}) nor "
                               f"{{{TRIAL_NUMBER}}} or {{{FIRST_TRIAL_NUMBER}}}")
        self.template = template
        self.timeout = timeout
        self.cwd = cwd
        self.echo = echo
        self.label = label
        self._free: queue.Queue[str] | None = None
        if devices is not None:
            ids = [str(d).strip() for d in devices]
            if not ids or not all(ids) or len(set(ids)) != len(ids):
                raise MetaHPOError(f"devices must be distinct, non-empty ids, got {devices!r}")
            self._free = queue.Queue()
            for device in ids:
                self._free.put(device)

    def argv(self, params: dict[str, Any], number: int, first: int | None = None) -> list[str]:
        """The command line for a trial: ``template`` filled with ``params``, ``number`` and
        ``first`` (the first trial number of a retried configuration; default ``number``),
        without the arguments that name a parameter ``params`` leaves out."""
        values = {**params, TRIAL_NUMBER: number,
                  FIRST_TRIAL_NUMBER: number if first is None else first}
        return [arg.format(**values) for arg, fields in zip(self.args, self._fields)
                if all(f in values for f in fields)]

    def __call__(self, params: dict[str, Any], trial: Any) -> float | tuple[float, ...]:
        first = trial.number if trial.retry_of is None else trial.retry_of
        argv = self.argv(params, trial.number, first)
        env = {**os.environ, "METAHPO_PARAMS": json.dumps(params),
               "METAHPO_TRIAL_NUMBER": str(trial.number),
               "METAHPO_FIRST_TRIAL_NUMBER": str(first)}
        if self._free is None:
            return self._run(argv, env, trial)
        device = self._take_device(trial)
        try:
            env.update(CUDA_VISIBLE_DEVICES=device, METAHPO_DEVICE=device)
            return self._run(argv, env, trial)
        finally:
            self._free.put(device)

    def _take_device(self, trial: Any) -> str:
        """A free device, waiting for one while every device is taken (unless the tune call is
        interrupted meanwhile)."""
        assert self._free is not None
        while True:
            try:
                return self._free.get(timeout=POLL_S)
            except queue.Empty:
                if trial.interrupted():
                    raise TuningInterrupted(f"trial {trial.number}: tuning was interrupted "
                                            "while it waited for a device") from None

    def _run(self, argv: list[str], env: dict[str, str], trial: Any
             ) -> float | tuple[float, ...]:
        """Run ``argv`` with ``env`` for ``trial``; its value (see the module docstring)."""
        try:
            process = process_group.start(argv, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True, errors="replace",
                                          env=env, cwd=self.cwd)
        except OSError as exc:
            raise CommandFailed(f"cannot run {shlex.join(argv)}: {exc}") from None
        out: deque[str] = deque(maxlen=1)
        err: deque[str] = deque(maxlen=ERROR_LINES)
        reports = _Reports(trial)
        prefix = f"[trial {trial.number}] " if self.label else ""
        readers = [threading.Thread(target=_read, daemon=True, args=(
                       process.stdout, self.echo and sys.stdout, prefix, out, reports)),
                   threading.Thread(target=_read, daemon=True, args=(
                       process.stderr, self.echo and sys.stderr, prefix, err))]
        for reader in readers:
            reader.start()
        try:
            self._wait(process, trial, reports, err)
        except BaseException:
            process_group.kill(process)
            raise
        finally:
            for reader in readers:
                reader.join()
        if reports.error is not None:
            raise reports.error
        if reports.pruned:
            raise TrialPruned()
        if process.returncode != 0:
            raise CommandFailed(f"the command exited with status {process.returncode}{_tail(err)}")
        if reports.value is not None:
            return _values(reports.value, f"the command's {VALUE} line", trial)
        if not out:
            raise CommandFailed("the command printed nothing on standard output; its last line "
                               f"there must be the trial's value{_tail(err)}")
        return _values(out[-1], "the last line of the command's standard output", trial)


    def _wait(self, process: subprocess.Popen, trial: Any, reports: _Reports,
              err: deque[str]) -> None:
        """Wait for ``process`` to end; kill it when the pruner stopped it (``reports``), when
        the tune call is interrupted (raising :class:`TuningInterrupted`) or past the
        timeout (raising :class:`~metahpo.errors.CommandFailed`)."""
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while process.poll() is None:
            if reports.stop.is_set():
                process_group.kill(process)
                return
            if trial.interrupted():
                process_group.kill(process)
                raise TuningInterrupted(f"trial {trial.number}: tuning was interrupted; the "
                                        "command was stopped")
            if deadline is not None and time.monotonic() >= deadline:
                process_group.kill(process)
                raise CommandFailed(f"the command ran past its timeout of {self.timeout:g} s and "
                                   f"was killed{_tail(err)}")
            try:
                process.wait(timeout=POLL_S)
            except subprocess.TimeoutExpired:
                continue


def _values(line: str, where: str, trial: Any) -> float | tuple[float, ...]:
    """The trial's value, or one per objective, that ``line`` (found ``where``) holds."""
    text = line.strip()
    try:
        values = tuple(float(word) for word in text.split())
    except ValueError:
        values = ()
    if not values:
        raise CommandFailed(f"{where} must be the trial's value (a number), got {text[:200]!r}; "
                            f"print the value last, or '{VALUE} VALUE' on a line of its own")
    if len(values) > 1 and trial.objectives == 1:
        raise CommandFailed(f"{where} holds {len(values)} numbers, and the study has one "
                            f"objective: print its value alone (other metrics as '{ATTR} NAME "
                            "VALUE' lines), or tune several objectives, one direction per number")
    return values[0] if len(values) == 1 else values


class CommandTask(Task):
    """A command (see the module docstring) as a benchmark task: ``evaluate(params)`` runs it
    once. Regret is normalized by the best and worst value any run of the suite found, as for
    ``objective:`` tasks. A benchmark runs many searches, in several processes, so trial numbers
    do not name a run there: ``{trial_number}`` and ``{first_trial_number}`` are refused (their
    environment variables are 0);
    reports, attributes and constraints are not stored (a benchmark compares values only), and
    the command's output is not shown.

    Args:
        template: the command line, with ``{name}`` placeholders.
        space: the search space, or a space file's path (or inline JSON, as ``--space``).
        direction: ``"minimize"`` or ``"maximize"``.
    """

    name = "command"

    def __init__(self, template: str, space: SearchSpace | str | Path, direction: str) -> None:
        self.space = space if isinstance(space, SearchSpace) else read_space(space)
        self.objective = CommandObjective(template, self.space, echo=False)
        for name in NUMBERS:
            if name in self.objective.placeholders:
                raise MetaHPOError(f"a benchmark's command cannot use {{{name}}}: its searches "
                                   "run in several processes, where trial numbers repeat")
        self.direction = check_direction(direction)

    def evaluate(self, params: Mapping[str, Any]) -> float:
        return cast(float, self.objective(dict(params), _Detached()))


class _Detached:
    """The running trial a benchmark's command sees: number 0, reports dropped, never pruned
    or interrupted."""

    number = 0
    retry_of = None
    objectives = 1

    def report(self, step: int, value: float) -> None:
        pass

    def set_user_attr(self, key: str, value: Any) -> None:
        pass

    def set_constraint(self, name: str, value: float) -> None:
        pass

    def should_prune(self) -> bool:
        return False

    def interrupted(self) -> bool:
        return False


class _Reports:
    """Intermediate values (``METAHPO_REPORT STEP VALUE``), user attributes
    (``METAHPO_ATTR NAME VALUE``) and constraints (``METAHPO_CONSTRAINT NAME VALUE``) a command
    prints, passed to its running trial as they come, what its last ``METAHPO_VALUE`` line
    holds (``value``, the text after the keyword), and whether the trial's pruner stopped it
    (``stop`` set, with ``pruned`` or a malformed line's ``error``)."""

    def __init__(self, trial: Any) -> None:
        self._trial = trial
        self.stop = threading.Event()
        self.pruned = False
        self.error: Exception | None = None
        self.value: str | None = None

    def take(self, line: str) -> bool:
        """Record ``line`` if it is a report, an attribute, a constraint or the value;
        whether it was one."""
        words = line.split()
        if not words or words[0] not in (REPORT, ATTR, CONSTRAINT, VALUE):
            return False
        if self.stop.is_set():
            return True
        if words[0] == VALUE:
            self.value = line.strip()[len(VALUE):]
            return True
        if words[0] == ATTR:
            self._attr(line)
            return True
        if words[0] == CONSTRAINT:
            self._constraint(words, line)
            return True
        try:
            if len(words) != 3:
                raise ValueError("expected two numbers after it")
            step, value = int(words[1]), float(words[2])
        except ValueError as exc:
            self.error = CommandFailed(f"the command printed a malformed report {line.strip()!r} "
                                      f"({exc}); print {REPORT} STEP VALUE, e.g. "
                                      f"'{REPORT} 3 0.81'")
            self.stop.set()
            return True
        try:
            self._trial.report(step, value)
            if self._trial.should_prune():
                self.pruned = True
                self.stop.set()
        except Exception as exc:  # a report the study refuses (a negative step, say)
            self.error = CommandFailed(f"the command's report {line.strip()!r}: {exc}")
            self.stop.set()
        return True

    def _constraint(self, words: list[str], line: str) -> None:
        """Record the constraint of a ``METAHPO_CONSTRAINT NAME VALUE`` line."""
        try:
            if len(words) != 3:
                raise ValueError("expected a name and a number after it")
            self._trial.set_constraint(words[1], float(words[2]))
        except (ValueError, MetaHPOError) as exc:
            self.error = CommandFailed(f"the command printed a malformed constraint "
                                      f"{line.strip()!r} ({exc}); print {CONSTRAINT} NAME VALUE, "
                                      f"feasible at 0 or less, e.g. '{CONSTRAINT} latency_ms "
                                      "-2.5'")
            self.stop.set()

    def _attr(self, line: str) -> None:
        """Record the user attribute of a ``METAHPO_ATTR NAME VALUE`` line."""
        words = line.split(None, 2)
        if len(words) != 3:
            self.error = CommandFailed(f"the command printed a malformed attribute "
                                      f"{line.strip()!r}; print {ATTR} NAME VALUE, e.g. "
                                      f"'{ATTR} test_accuracy 0.93'")
            self.stop.set()
            return
        name, raw = words[1], words[2].strip()
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        try:
            self._trial.set_user_attr(name, value)
        except Exception as exc:  # a name metahpo keeps for itself
            self.error = CommandFailed(f"the command's attribute {line.strip()!r}: {exc}")
            self.stop.set()


def _read(stream: Any, echo: Any, prefix: str, kept: deque[str],
          reports: _Reports | None = None) -> None:
    """Pass the lines of ``stream`` through to ``echo`` (unless it is false), after
    ``prefix``, as they come, keeping the last non-empty ones in ``kept`` (its ``maxlen``) and
    handing reports to ``reports``. Lines go through ``tqdm.write``, which lifts a progress bar
    on the terminal out of their way; a last line without its line end gets one, so that what
    follows it (the next trial's output, a line of progress) starts a line of its own."""
    from tqdm import tqdm

    for line in stream:
        if echo:
            tqdm.write(prefix + line, file=echo, end="" if line.endswith("\n") else "\n")
        if reports is not None and reports.take(line):
            continue
        if line.strip():
            kept.append(line)
    stream.close()


def _fields(arg: str) -> list[str]:
    """Names of the placeholders in ``arg`` (``{name}`` or ``{name:spec}``)."""
    names = []
    for _, field, _, _ in Formatter().parse(arg):
        if field is None:
            continue
        name = field.split(".")[0].split("[")[0]
        if not name or name.isdigit():
            raise ValueError(f"placeholder {{{field}}} must name a parameter")
        names.append(name)
    return names


def _tail(err: deque[str]) -> str:
    text = "".join(err).strip()
    if not text:
        return ""
    return f"; end of its standard error: {text[-ERROR_TAIL:]!r}"
