"""Run a benchmark suite: every optimizer on every task with every seed, for a budget of trials.

Each run is one independent search recorded as one JSON file
``OUT/raw/<optimizer>/<task>/seed<k>.json`` with every trial's value (``null`` when failed),
the time spent in ``ask`` (ms), the parameters, the task's regret bounds and, for tasks with a
test split, the test score of the best configuration. Files are written atomically when a run
ends, so an interrupted suite resumes by skipping the runs whose file exists. Runs are spread
over worker processes.

Optimizers are given as ``NAME`` or ``LABEL=NAME`` (e.g. ``meta_fake=meta``), with options per
label (``{"meta_fake": {"fake_feedback": True}}``). A meta-learned optimizer is only scored on
tasks it was not trained on: a policy or portfolio whose training tasks include a suite task is
refused.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from metahpo.errors import MetaHPOError
from metahpo.optimizers.multi_objective import optimizer_for
from metahpo.optimizers.registry import optimizer_class
from metahpo.progress import Count, open_count
from metahpo.ray_backend import connect_ray
from metahpo.tasks.base import Task
from metahpo.tasks.bounds import task_bounds
from metahpo.tasks.registry import make_tasks
from metahpo.trial import TrialState

logger = logging.getLogger("metahpo")

HARNESS_OPTIONS = ("parallel", "via")

#: How a search can be driven other than by the optimizer's own ask/tell: ``{name: factory}``
#: with ``factory(name, space, direction=..., seed=..., options=...)`` returning an object with
#: ``ask()``, ``tell(trial, value, error=...)`` and ``best`` like an optimizer's. The harness
#: option ``via=NAME`` picks one. Integrations supply them (the command line passes
#: ``{"optuna": OptunaStudyLoop}``), so that this layer does not import the integrations.
Drivers = Mapping[str, Callable[..., Any]]


@dataclass(frozen=True)
class Suite:
    """What to run.

    Attributes:
        tasks: task spec (see :mod:`metahpo.tasks.registry`).
        instances: instances of the spec (``test``, ``all``, ``ID,ID``, a count...).
        dims: dimensions for synthetic specs.
        optimizers: ``NAME`` or ``LABEL=NAME`` entries.
        options: ``{label: {option: value}}``.
        budget: trials per run.
        seeds: number of seeds (0 .. seeds-1).
        data_path: YAHPO data folder (``None``: the default search).
        space, direction: search space file and direction of an ``objective:`` task spec.
    """

    tasks: str
    instances: str | None = None
    dims: tuple[int, ...] = (3,)
    optimizers: tuple[str, ...] = ("random",)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    budget: int = 50
    seeds: int = 5
    data_path: str | None = None
    space: str | None = None
    direction: str | None = None

    def __post_init__(self) -> None:
        for label, value in (("budget", self.budget), ("seeds", self.seeds)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise MetaHPOError(f"{label} must be a whole number >= 1, got {value!r}")
        if not self.optimizers:
            raise MetaHPOError("a benchmark needs at least one optimizer (see 'metahpo optimizers')")

    def labels(self) -> list[tuple[str, str]]:
        """``(label, optimizer name)`` pairs; an unlabelled ``MODULE:CLASS`` is labelled by its
        class name (a label is a folder name and the prefix of ``LABEL.KEY`` options)."""
        out = []
        for entry in self.optimizers:
            label, equals, name = entry.partition("=")
            if equals and not (label and name):
                raise MetaHPOError(f"optimizer {entry!r}: write LABEL=NAME, both non-empty, or "
                                   "NAME alone")
            if not equals:
                name, label = label, label.rsplit(":", 1)[-1]
            if not re.fullmatch(r"[A-Za-z0-9_-]+", label):
                raise MetaHPOError(f"optimizer label {label!r}: a label names a results folder "
                                   "and begins LABEL.KEY options, so it is letters, digits, '_' "
                                   "and '-' only; write LABEL=NAME")
            out.append((label, name))
        return out

    def build_tasks(self) -> list[Task]:
        return make_tasks(self.tasks, instances=self.instances, dims=self.dims,
                          data_path=self.data_path, space=self.space, direction=self.direction)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def run_path(out: Path, label: str, task: Task, seed: int) -> Path:
    return out / "raw" / slug(label) / slug(task.name) / f"seed{seed}.json"


def check_held_out(suite: Suite, tasks: Sequence[Task]) -> None:
    """Refuse meta-learned optimizers whose training tasks overlap the suite's tasks."""
    names = {t.name for t in tasks}
    for label, name in suite.labels():
        opts = suite.options.get(label, {})
        trained: list[str] = []
        if name == "meta":
            from metahpo.optimizers.meta import load_cached

            trained = load_cached(opts.get("policy", "default"))[1].training_tasks
        elif name == "portfolio" and "portfolio" in opts:
            from metahpo.optimizers.portfolio import load_portfolio

            trained = load_portfolio(opts["portfolio"]).get("built_from", [])
        overlap = sorted(names & set(trained))
        if overlap:
            raise MetaHPOError(
                f"optimizer {label!r} was trained on {', '.join(overlap[:5])}"
                f"{' ...' if len(overlap) > 5 else ''}; a meta-learned method is only scored on "
                "tasks it was not trained on"
            )


def run_one(task: Task, name: str, options: dict[str, Any], seed: int, budget: int,
            drivers: Drivers | None = None) -> dict[str, Any]:
    """One search; returns its record (see the module docstring).

    Two harness options are not passed to the optimizer. ``parallel=K`` simulates ``K``
    workers: ``K`` trials are kept pending, and each time the oldest one is told a new one is
    asked. Values are recorded in completion order, so regret after ``t`` trials means after
    ``t`` completed trials. ``via=NAME`` drives the search through ``drivers[NAME]`` (see
    :data:`Drivers`; ``via=optuna``: as the sampler of an Optuna study, the way Optuna users run
    metahpo).
    """
    options = dict(options)
    parallel = int(options.pop("parallel", 1))
    via = options.pop("via", None)
    if via is None:
        opt = optimizer_for(name, task.space, [task.direction], seed=seed, **options)
    else:
        factory = _driver(via, drivers)
        opt = factory(name, task.space, direction=task.direction, seed=seed, options=options)
    values: list[float | None] = []
    errors: list[str | None] = []
    ask_ms: list[float] = []
    params: list[dict[str, Any]] = []
    start = time.perf_counter()
    queue: list[Any] = []
    asked = 0
    while len(values) < budget:
        while len(queue) < parallel and asked < budget:
            t0 = time.perf_counter()
            queue.append(opt.ask())
            ask_ms.append((time.perf_counter() - t0) * 1e3)
            asked += 1
        trial = queue.pop(0)
        try:
            value, error = task.evaluate(trial.params), None
        except Exception as exc:  # a failed evaluation is data, not a crash of the suite
            value, error = None, f"{type(exc).__name__}: {exc}"
        record = opt.tell(trial, value, error=error)
        values.append(record.value)
        errors.append(record.error)
        params.append(dict(trial.params))
    best = opt.best
    test = task.test_score(best.params) if best is not None else None
    bounds = None
    if task.cheap:
        b = task_bounds(task)
        bounds = {"best": b.best, "worst": b.worst}
    return {
        "task": task.name, "optimizer": name, "seed": seed, "budget": budget,
        "direction": task.direction, "values": values, "errors": errors, "ask_ms": ask_ms,
        "params": params, "unit": [task.space.encode(p).round(6).tolist() for p in params],
        "bounds": bounds, "test_score_of_best": test,
        "wall_s": round(time.perf_counter() - start, 3),
        "states": [TrialState.COMPLETE.value if v is not None else TrialState.FAILED.value
                   for v in values],
    }


_WORKER_TASKS: dict[str, list[Task]] = {}


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def _driver(via: Any, drivers: Drivers | None) -> Callable[..., Any]:
    if drivers is None or via not in drivers:
        known = ", ".join(sorted(drivers or {})) or "none given"
        raise MetaHPOError(f"via={via!r} is not a way to drive a search here (known: {known})")
    return drivers[via]


def _check_labels(suite: Suite) -> None:
    """Labels name one optimizer each, options name a label of the suite, and ``parallel``
    keeps at least one trial pending."""
    labels = [label for label, _ in suite.labels()]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise MetaHPOError(f"optimizer labels must differ (each names a results folder): "
                           f"{', '.join(repeated)} given twice; write LABEL=NAME")
    unknown = sorted(set(suite.options) - set(labels))
    if unknown:
        raise MetaHPOError(f"options for {', '.join(map(repr, unknown))}, which no optimizer of "
                           f"the suite is labelled (labels: {', '.join(labels)})")
    for label, options in suite.options.items():
        parallel = options.get("parallel", 1)
        if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
            raise MetaHPOError(f"{label}.parallel must be a whole number of trials >= 1, got "
                               f"{parallel!r}")


def _check_kept(path: Path, out: Path, label: str, name: str, options: Mapping[str, Any],
                budget: int) -> None:
    """Refuse to report a run kept from an earlier suite as this suite's when it was run with
    another budget, optimizer or options: resuming reruns only missing runs, so it would
    silently stand for what this suite asks."""
    kept = read_record(path)
    differs = []
    if kept.get("budget") != budget:
        differs.append(f"a budget of {kept.get('budget')} (this suite: {budget})")
    if kept.get("optimizer") != name:
        differs.append(f"optimizer {kept.get('optimizer')!r} (this suite: {name!r})")
    if "options" in kept and kept["options"] != json.loads(json.dumps(dict(options))):
        differs.append(f"options {kept['options']} (this suite: {dict(options)})")
    if differs:
        raise MetaHPOError(
            f"{str(out)!r} holds runs of {label!r} made with {'; '.join(differs)}; a resumed "
            f"suite only adds missing runs: give another --out, or delete "
            f"{str(out / 'raw' / slug(label))!r} to run them again")


def _run_job(suite_json: str, task_index: int, label: str, name: str, seed: int, path: str,
             drivers: Drivers | None = None) -> str:
    suite = Suite(**json.loads(suite_json))
    key = suite_json
    if key not in _WORKER_TASKS:
        _WORKER_TASKS[key] = suite.build_tasks()
    task = _WORKER_TASKS[key][task_index]
    record = run_one(task, name, suite.options.get(label, {}), seed, suite.budget, drivers)
    record["label"] = label
    record["options"] = suite.options.get(label, {})
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, out)
    return path


def run_suite(suite: Suite, out: str | Path, *, workers: int = 1, command: str = "",
              progress: bool = True, on_done: Callable[[str], None] | None = None,
              backend: str = "local", address: str | None = None,
              drivers: Drivers | None = None) -> list[Path]:
    """Run every missing run of ``suite`` into ``out``; return the paths of all its runs.

    Args:
        workers: local worker processes (``backend="local"``).
        drivers: the ways a label may drive its search with the option ``via`` (see
            :data:`Drivers`).
        backend: ``"local"`` (processes on this machine) or ``"ray"`` (one Ray task per run, on
            the cluster at ``address`` or a local Ray started on demand). Each run is seeded on
            its own, so both backends give the same records.
    """
    if backend not in ("local", "ray"):
        raise MetaHPOError(f"backend must be 'local' or 'ray', got {backend!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise MetaHPOError(f"workers must be a whole number >= 1 (1: runs in this process), "
                           f"got {workers!r}")
    out = Path(out)
    tasks = suite.build_tasks()
    _check_labels(suite)
    for label, name in suite.labels():
        optimizer_class(name)
        options = {k: v for k, v in suite.options.get(label, {}).items()
                   if k not in HARNESS_OPTIONS}
        if "via" in suite.options.get(label, {}):
            try:
                _driver(suite.options[label]["via"], drivers)
            except MetaHPOError as exc:
                raise MetaHPOError(f"{label}: {exc}") from None
        optimizer_for(name, tasks[0].space, [tasks[0].direction], **options)
    check_held_out(suite, tasks)
    if out.exists() and not out.is_dir():
        raise MetaHPOError(f"results folder {str(out)!r} is a file; give a folder (new or of "
                           "an earlier run of this suite) to write the results into")
    out.mkdir(parents=True, exist_ok=True)
    history = suite_commands(out)
    fresh = [command] if command and command not in history else []
    meta = {"suite": _suite_dict(suite), "commands": history + fresh}
    partial = out / "suite.json.partial"
    partial.write_text(json.dumps(meta, indent=1))
    os.replace(partial, out / "suite.json")
    for task in tasks:
        if task.cheap:
            task_bounds(task)
    jobs = []
    all_paths = []
    suite_json = json.dumps(_suite_dict(suite))
    for i, task in enumerate(tasks):
        for label, name in suite.labels():
            for seed in range(suite.seeds):
                path = run_path(out, label, task, seed)
                all_paths.append(path)
                if not path.exists():
                    jobs.append((suite_json, i, label, name, seed, str(path), drivers))
                else:
                    _check_kept(path, out, label, name, suite.options.get(label, {}),
                                suite.budget)
    if len(jobs) < len(all_paths):
        logger.warning("%d of the suite's %d runs are kept from an earlier run into %s, not run "
                       "again (an optimizer's code changed since does not show in them: "
                       "delete %s to run them again)", len(all_paths) - len(jobs),
                       len(all_paths), out, out / "raw")
    bar: Count | None = None
    if progress and jobs:
        bar = open_count(len(jobs), "bench", "runs")
    try:
        if backend == "ray":
            for done in _run_on_ray(jobs, address):
                if bar is not None:
                    bar.update(1)
                if on_done is not None:
                    on_done(done)
        elif workers <= 1:
            _worker_init()
            for job in jobs:
                done = _run_job(*job)
                if bar is not None:
                    bar.update(1)
                if on_done is not None:
                    on_done(done)
        else:
            import multiprocessing

            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                     initializer=_worker_init) as pool:
                futures = [pool.submit(_run_job, *job) for job in jobs]
                for fut in as_completed(futures):
                    done = fut.result()
                    if bar is not None:
                        bar.update(1)
                    if on_done is not None:
                        on_done(done)
    finally:
        if bar is not None:
            bar.close()
    return all_paths


def _run_on_ray(jobs: list[tuple], address: str | None) -> Iterator[str]:
    """Run jobs as Ray tasks (one CPU each); yield result paths as they finish."""
    ray = connect_ray(address)
    remote = ray.remote(num_cpus=1)(_ray_job)
    pending = [remote.remote(*job) for job in jobs]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        yield ray.get(done[0])


def _ray_job(*job: Any) -> str:
    _worker_init()
    return _run_job(*job)


def _suite_dict(suite: Suite) -> dict[str, Any]:
    d = asdict(suite)
    d["dims"] = list(suite.dims)
    d["optimizers"] = list(suite.optimizers)
    return d


def load_records(out: str | Path) -> list[dict[str, Any]]:
    """Every run record under ``out/raw``."""
    out = Path(out)
    paths = sorted((out / "raw").glob("*/*/seed*.json"))
    if not paths:
        raise MetaHPOError(f"no benchmark results under {str(out / 'raw')!r}")
    return [read_record(p) for p in paths]


def suite_commands(out: str | Path) -> list[str]:
    """The commands that produced the results in ``out`` (from its ``suite.json``; none where
    there is none yet), each once, oldest first."""
    path = Path(out) / "suite.json"
    if not path.exists():
        return []
    try:
        commands = json.loads(path.read_text()).get("commands", [])
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
        raise MetaHPOError(f"{str(path)!r} is not a suite record ({exc}); delete it (the commands "
                           "that produced the results are then forgotten) and run again") from None
    if not isinstance(commands, list) or not all(isinstance(c, str) for c in commands):
        raise MetaHPOError(f"{str(path)!r} is not a suite record ('commands' is not a list of "
                           "strings); delete it (the commands that produced the results are then "
                           "forgotten) and run again")
    return commands


def read_record(path: Path) -> dict[str, Any]:
    """One run's record; a clear error naming the file where it is not one (a run file edited
    or cut short by hand: runs write theirs whole)."""
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MetaHPOError(f"{str(path)!r} is not a run record ({exc}); delete it, and the "
                           "suite reruns that run") from None
    if not isinstance(record, dict) or "values" not in record:
        raise MetaHPOError(f"{str(path)!r} is not a run record (no 'values'); delete it, and the "
                           "suite reruns that run")
    return record
