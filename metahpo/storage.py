"""Where studies live: Optuna's storage layer, opened by URL.

metahpo records its studies in Optuna's storages rather than a schema of its own. Reasons: the
RDB schema is versioned and migrated by Optuna, handles many processes on one study (trial numbers
are assigned in a transaction), works with SQLite and server databases (PostgreSQL, MySQL) alike,
and makes every metahpo study readable by Optuna's tools (``optuna-dashboard``, ``optuna.load_study``).

* ``None`` — an in-memory storage (lost with the process).
* ``sqlite:///path.db`` — the embedded default; ``postgresql://...``, ``mysql://...`` — servers.
* ``journal:///studies.log`` — an Optuna journal file (``journal:////shared/studies.log`` for
  an absolute path, as with SQLite), for workers on several machines that share a file system
  but no database server (Optuna's advice for NFS, where SQLite's locks are unreliable): Optuna's
  ``JournalStorage(JournalFileBackend(path))``.
* an Optuna storage object, e.g. that journal storage built by hand.

Trials keep the host and process id that run them, and RDB storages a heartbeat, so that a trial
left RUNNING by a process that died is recognised and marked FAILED when the study resumes
(without a heartbeat, as in a journal storage, only by a process on the same host).

An RDB storage is read through Optuna's cache of finished trials, as ``optuna.create_study``
reads one: a finished trial cannot change, so after the first read only new and running trials
come from the database. Every proposal reads the study's trials (to take in other workers'
results), and read afresh each time a SQLite study's overhead grew with its size: with random
search 39 ms per trial at the start of a ``tune`` run and 282 ms after 400 trials; through the
cache 26 and 31 ms (``benchmarks/results/storage_overhead``, which now also counts the SQL
statements per trial).
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import uuid
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from metahpo.errors import MetaHPOError
from metahpo.trial import PRUNED, TrialRecord, TrialState

#: How a journal file storage's URL begins (see the module docstring).
JOURNAL_URL = "journal:///"
HEARTBEAT_INTERVAL_S = 10
GRACE_PERIOD_S = 60
#: The pip package of a database driver that SQLAlchemy imports by module name, where the two
#: differ (``postgresql://`` takes ``psycopg``, ``mysql://`` ``MySQLdb``).
_DRIVER_PACKAGES = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary",
                    "MySQLdb": "mysqlclient", "pymysql": "PyMySQL"}
HOST_ATTR = "metahpo:host"
PID_ATTR = "metahpo:pid"
ERROR_ATTR = "error"
INTERRUPTED_ATTR = "metahpo:interrupted"
#: Set beside :data:`INTERRUPTED_ATTR` on a trial that a request to stop ended (Ctrl-C,
#: SIGTERM to the command line, :class:`~metahpo.trial.TuningInterrupted`): such a run says
#: nothing about its configuration, so it does not count towards ``max_retries``.
STOPPED_ATTR = "metahpo:stopped"
ASKED_ATTR = "metahpo:asked"
#: The trial system attribute of a trial that runs an interrupted one's configuration again:
#: the number of the first trial that ran it.
RETRY_OF_ATTR = "metahpo:retry_of"
#: The trial system attribute that tells a reserved trial's process which trial is its own
#: (:func:`reserve_trial`): a token no other reservation holds.
RESERVATION_ATTR = "metahpo:reservation"
#: Optuna's system attribute of a WAITING trial that holds its queued configuration
#: (``Study.enqueue_trial``).
FIXED_PARAMS_ATTR = "fixed_params"
#: How many times a configuration whose run was lost (its process died, an asked trial failed
#: as stale, an error escaped the objective) runs again by default (``max_retries`` of
#: :func:`metahpo.tune` and :meth:`metahpo.Study.ask`).
DEFAULT_MAX_RETRIES = 2
#: How the trial system attributes that hold a trial's ``optimizer_attrs`` begin
#: (:class:`~metahpo.trial.Trial`): one per key, so that each stays as small as the optimizer
#: made it (Optuna's samplers keep theirs under 2046 characters for RDB storages).
OPTIMIZER_ATTR_PREFIX = "metahpo:optimizer:"
#: How the trial user attributes metahpo keeps for itself begin (besides :data:`ERROR_ATTR`).
OWN_ATTR_PREFIX = "metahpo:"
#: How a trial's constraint ``NAME`` is stored (system attribute ``constraints:NAME``), as
#: Optuna >= 5 stores ``trial.set_constraint``, so that either reads the other's.
CONSTRAINT_ATTR_PREFIX = "constraints:"


def _storage_hint(url: Any) -> str:
    """What a common slip in a storage argument meant: a bare SQLite file name
    (``studies.db``), or the command line's ``memory`` given to the Python API."""
    if url == "memory":
        return "; storage=None keeps a study in memory"
    if isinstance(url, str) and url.endswith((".db", ".sqlite", ".sqlite3")):
        return f"; for a SQLite file, sqlite:///{url}"
    return ""


def open_storage(url: Any, *, must_exist: bool = False) -> Any:
    """Open an Optuna storage by URL (``None``: in memory); an Optuna storage object is
    returned as it is.

    Args:
        url: a SQLAlchemy database URL, e.g. ``sqlite:///studies.db``, or an
            ``optuna.storages.BaseStorage``.
        must_exist: for readers: refuse a SQLite file that does not exist instead of creating it.
    """
    import optuna

    if url is None:
        return optuna.storages.InMemoryStorage()
    if isinstance(url, optuna.storages.BaseStorage):
        return _cached(url)
    if not isinstance(url, str) or "://" not in url:
        raise MetaHPOError(
            "storage must be a database URL such as sqlite:///studies.db, a journal file such as "
            f"journal:///studies.log, or an Optuna storage, got {url!r}{_storage_hint(url)}"
        )
    if url.startswith(JOURNAL_URL):
        return _journal(url, _local_file(url, JOURNAL_URL, must_exist))
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        _local_file(url, "sqlite:///", must_exist)
        engine_kwargs = {"connect_args": {"timeout": 60}}
    error: Exception | None = None
    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return _cached(optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=HEARTBEAT_INTERVAL_S,
                    grace_period=GRACE_PERIOD_S,
                ))
        except Exception as exc:  # SQLAlchemy raises many types for unreachable or foreign databases
            error = exc
            racing = ("already exists", "UNIQUE constraint failed", "database is locked")
            if not any(text in str(exc) for text in racing):
                break
            time.sleep(0.2 * (attempt + 1))  # another process is creating the schema right now
    missing = error.__cause__ if isinstance(error, ImportError) else None
    if isinstance(missing, ModuleNotFoundError) and missing.name:
        package = _DRIVER_PACKAGES.get(missing.name.split(".")[0], missing.name)
        raise MetaHPOError(f"cannot open storage {url!r}: its database driver is not installed "
                           f"({missing}); pip install '{package}'")
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    raise MetaHPOError(f"cannot open storage {url!r}: {type(error).__name__}: {first_line}")


def _local_file(url: str, prefix: str, must_exist: bool) -> Path:
    """The file a ``prefix``-scheme URL names, with a clear error where its folder is missing
    (or, with ``must_exist``, the file itself)."""
    path = Path(url[len(prefix):])
    if must_exist and not path.exists():
        raise MetaHPOError(f"storage {url!r}: the file {str(path)!r} does not exist")
    if not path.parent.exists():
        raise MetaHPOError(f"storage {url!r}: the folder {str(path.parent)!r} does not exist")
    return path


def _journal(url: str, path: Path) -> Any:
    """The journal storage in ``path``. A file that exists must begin with a journal entry:
    Optuna reads anything else as an empty journal and appends to it (an application's log
    named by mistake)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if path.is_dir():
        raise MetaHPOError(f"storage {url!r}: {str(path)!r} is a folder, not a journal file")
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as f:
            first = f.readline()
        try:
            entry = json.loads(first)
        except ValueError:
            entry = None
        if not isinstance(entry, dict) or "op_code" not in entry:
            raise MetaHPOError(f"storage {url!r}: {str(path)!r} is not an Optuna journal file "
                               "(its first line is no journal entry); name a new file or a "
                               "journal that studies were recorded in")
    return JournalStorage(JournalFileBackend(str(path)))


def _cached(storage: Any) -> Any:
    """``storage`` read through Optuna's cache of finished trials if it is an RDB storage (see the
    module docstring); other storages as they are."""
    import optuna

    get_storage = getattr(optuna.storages, "get_storage", None)
    if get_storage is None or not isinstance(storage, optuna.storages.RDBStorage):
        return storage
    return get_storage(storage)


def reserve_trial(storage: Any, study_id: int) -> tuple[int, str]:
    """Create a RUNNING trial, without parameters yet, that names this host and process, in one
    write; return its id and its reservation token (:data:`RESERVATION_ATTR`). Other processes
    see it as a trial in flight from the moment it exists (see :func:`in_flight`).

    Its number is not read back here: the reserving process reads the study's trials next
    anyway (:meth:`metahpo.shared_study.Peers.sync`) and finds its own there by the token. A
    read of one running trial costs as much as that of all new ones (a few milliseconds in a
    SQLite file), and the storage API gives no number with a new trial's id."""
    token = uuid.uuid4().hex
    template = _template("RUNNING", {}, {}, None, {}, {RESERVATION_ATTR: token})
    return storage.create_new_trial(study_id, template_trial=template), token


def store_finished_trial(storage: Any, study_id: int, params: dict[str, Any],
                         distributions: dict[str, Any], value: float | tuple[float, ...] | None,
                         error: str | None, attrs: dict[str, Any] | None = None,
                         retry_of: int | None = None,
                         constraints: dict[str, float] | None = None) -> tuple[int, int]:
    """Record a finished trial (COMPLETE with ``value``, one per objective in a study of
    several, or FAILED with ``error``) with the
    user attributes ``attrs`` and ``constraints`` (:func:`set_constraint`) in one write, as a
    run of trial ``retry_of``'s configuration if given (:data:`RETRY_OF_ATTR`); return its id
    and number."""
    state = "COMPLETE" if error is None else "FAIL"
    system = {CONSTRAINT_ATTR_PREFIX + str(k): v for k, v in (constraints or {}).items()}
    if retry_of is not None:
        system[RETRY_OF_ATTR] = retry_of
    return _create_trial(storage, study_id, state, params, distributions, value,
                         {**(attrs or {}), **({} if error is None else {ERROR_ATTR: error})},
                         system)


def store_optimizer_attrs(storage: Any, trial_id: int, attrs: Mapping[str, Any]) -> None:
    """Keep a trial's ``optimizer_attrs`` with it (:data:`OPTIMIZER_ATTR_PREFIX`)."""
    for key, value in attrs.items():
        storage.set_trial_system_attr(trial_id, OPTIMIZER_ATTR_PREFIX + key, value)


def optimizer_attrs(ft: Any) -> dict[str, Any]:
    """The ``optimizer_attrs`` an Optuna ``FrozenTrial`` holds."""
    n = len(OPTIMIZER_ATTR_PREFIX)
    return {k[n:]: v for k, v in ft.system_attrs.items() if k.startswith(OPTIMIZER_ATTR_PREFIX)}


def checked_user_attr(key: Any, value: Any) -> Any:
    """``value`` as a trial user attribute ``key`` may hold it (a number, string, bool, None or
    a list / dict of them, as JSON has; NumPy and PyTorch scalars become their numbers, and
    their arrays lists, also inside lists and dicts); a clear error for a name metahpo keeps
    for itself or a value JSON cannot hold."""
    if not isinstance(key, str) or not key:
        raise MetaHPOError(f"a user attribute's name must be a non-empty string, got {key!r}")
    if _own_attr(key):
        raise MetaHPOError(f"user attribute {key!r}: the name {ERROR_ATTR!r} and names that "
                           f"begin with {OWN_ATTR_PREFIX!r} are metahpo's own; choose another")
    value = _plain(value)
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise MetaHPOError(f"user attribute {key!r}: {type(value).__name__} value {value!r:.80} "
                           f"cannot be stored ({exc}); store numbers, strings, booleans, None, "
                           "or lists and dicts of them") from None
    return value


def _plain(value: Any) -> Any:
    """``value`` with NumPy and PyTorch scalars and arrays, at any depth of lists, tuples and
    dicts, turned into Python numbers and lists (``tolist``); anything else as it is."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    detach = getattr(value, "detach", None)
    if callable(detach):
        value = detach()
    if callable(getattr(value, "tolist", None)) and hasattr(value, "dtype"):
        return value.tolist()
    return value


def user_attrs(ft: Any) -> dict[str, Any]:
    """The user attributes of an Optuna ``FrozenTrial`` without metahpo's own."""
    return {k: v for k, v in ft.user_attrs.items() if not _own_attr(k)}


def _own_attr(key: str) -> bool:
    return key == ERROR_ATTR or key.startswith(OWN_ATTR_PREFIX)


def interrupted(ft: Any) -> bool:
    """Whether an Optuna ``FrozenTrial`` is a run metahpo recorded as interrupted (Ctrl-C, a
    process that died, an asked trial failed as stale): FAILED, yet not counted, not read by
    the optimizers as a failure, and run again (see :mod:`metahpo.shared_study`)."""
    if not ft.user_attrs.get(INTERRUPTED_ATTR):
        return False  # most trials, settled without the import below (a sync reads them all)
    from optuna.trial import TrialState as OptunaState

    return bool(ft.state == OptunaState.FAIL)


def _create_trial(storage: Any, study_id: int, state: str, params: dict[str, Any],
                  distributions: dict[str, Any], value: float | tuple[float, ...] | None,
                  user_attrs: dict[str, Any], system_attrs: dict[str, Any]) -> tuple[int, int]:
    template = _template(state, params, distributions, value, user_attrs, system_attrs)
    trial_id = storage.create_new_trial(study_id, template_trial=template)
    return trial_id, storage.get_trial_number_from_id(trial_id)


def _template(state: str, params: dict[str, Any], distributions: dict[str, Any],
              value: float | tuple[float, ...] | None, user_attrs: dict[str, Any],
              system_attrs: dict[str, Any]) -> Any:
    """An Optuna ``FrozenTrial`` to create a trial from, naming this host and process."""
    from optuna.trial import FrozenTrial
    from optuna.trial import TrialState as OptunaState

    running = state == "RUNNING"
    return FrozenTrial(
        number=-1, state=OptunaState[state], value=None if isinstance(value, tuple) else value,
        values=list(value) if isinstance(value, tuple) else None, datetime_start=datetime.now(),
        datetime_complete=None if running else datetime.now(), params=dict(params),
        distributions=dict(distributions), user_attrs=dict(user_attrs),
        system_attrs={HOST_ATTR: socket.gethostname(), PID_ATTR: os.getpid(), **system_attrs},
        intermediate_values={}, trial_id=-1,
    )


def in_flight(ft: Any, space: Any) -> bool:
    """Whether ``ft`` is a trial reserved by a metahpo process that has not stored all its
    active parameters of ``space`` (a ``SearchSpace``) yet: it is between its reservation and
    its proposal (parameters are stored in the space's order, parents before children)."""
    if ft.datetime_complete is not None:
        return False  # a finished trial, settled without the import below
    from optuna.trial import TrialState as OptunaState

    return (ft.state == OptunaState.RUNNING and PID_ATTR in ft.system_attrs
            and bool(space.missing(ft.params)))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_dead_trials(storage: Any, study_id: int, trials: list[Any] | None = None) -> list[int]:
    """Mark FAILED the RUNNING trials whose process has died; return their numbers. ``trials``:
    the study's trials (Optuna ``FrozenTrial`` s) as just read, to save reading them again.

    A trial is dead when it was started on this host by a process that no longer exists, or when
    its heartbeat (RDB storages) is older than the grace period (any host). A trial proposed by
    ``Study.ask`` (``ASKED_ATTR``) runs elsewhere, without a process here to watch: it stays
    running until it is told.
    """
    from optuna.trial import TrialState as OptunaState

    failed = []
    host = socket.gethostname()
    stale_ids: set[int] = set()
    # Heartbeat storages (RDB) expose their stale trials through this method of Optuna's
    # heartbeat interface; optuna.storages.fail_stale_trials uses it too but cannot attach our
    # error text before failing the trial.
    if hasattr(storage, "_get_stale_trial_ids") and storage.get_heartbeat_interval():
        stale_ids = set(storage._get_stale_trial_ids(study_id))
    if trials is None:
        trials = storage.get_all_trials(study_id, deepcopy=False, states=(OptunaState.RUNNING,))
    for ft in trials:
        if ft.state != OptunaState.RUNNING:
            continue
        attrs = ft.system_attrs
        if attrs.get(ASKED_ATTR):
            continue
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, ft.number)
        same_host_dead = attrs.get(HOST_ATTR) == host and PID_ATTR in attrs and not _pid_alive(
            int(attrs[PID_ATTR])
        )
        if same_host_dead or trial_id in stale_ids:
            try:
                storage.set_trial_user_attr(trial_id, ERROR_ATTR, "the process running it died")
                storage.set_trial_user_attr(trial_id, INTERRUPTED_ATTR, True)
                if storage.set_trial_state_values(trial_id, OptunaState.FAIL):
                    failed.append(ft.number)
            except RuntimeError:
                continue  # another process finished or failed it first
    return failed


def record_from_optuna(ft: Any) -> TrialRecord:
    """Convert an Optuna ``FrozenTrial`` into a :class:`TrialRecord`."""
    from optuna.trial import TrialState as OptunaState

    state = {
        OptunaState.COMPLETE: TrialState.COMPLETE,
        OptunaState.RUNNING: TrialState.RUNNING,
        OptunaState.WAITING: TrialState.WAITING,
    }.get(ft.state, TrialState.FAILED)
    error = None
    if state is TrialState.FAILED:
        error = ft.user_attrs.get(ERROR_ATTR) or (
            PRUNED if ft.state == OptunaState.PRUNED else "failed without an error message"
        )
    several = state is TrialState.COMPLETE and len(ft.values or ()) > 1
    return TrialRecord(
        number=ft.number,
        params=(ft.params if state is not TrialState.WAITING
                else ft.system_attrs.get(FIXED_PARAMS_ATTR) or {}),
        state=state,
        value=ft.values[0] if state is TrialState.COMPLETE and not several else None,
        values=tuple(ft.values) if several else None,
        error=error,
        started_at=ft.datetime_start,
        finished_at=ft.datetime_complete,
        last_report=(last_report(ft) if ft.state == OptunaState.PRUNED and error is not None
                     and error.startswith(PRUNED)
                     else None),
        user_attrs=user_attrs(ft),
        retry_of=ft.system_attrs.get(RETRY_OF_ATTR),
        interrupted=interrupted(ft),
        constraints=constraints(ft),
        optimizer_attrs=optimizer_attrs(ft),
    )


def constraints(ft: Any) -> dict[str, float]:
    """``{name: value}`` of the constraints an Optuna ``FrozenTrial`` holds (the objective's
    ``trial.set_constraint``, Optuna >= 5, or a sampler's ``constraints_func``, numbered);
    feasible where every value is 0 or less."""
    found = getattr(ft, "constraints", None)
    if found is None:  # Optuna < 5 keeps a constraints_func's values as a list
        found = dict(enumerate(ft.system_attrs.get("constraints") or ()))
        found.update({k[len(CONSTRAINT_ATTR_PREFIX):]: v for k, v in ft.system_attrs.items()
                      if k.startswith(CONSTRAINT_ATTR_PREFIX)})
    return dict(found)


def set_constraint(storage: Any, trial_id: int, name: Any, value: Any) -> float:
    """Record constraint ``name`` of trial ``trial_id``, feasible at ``value`` <= 0 (see
    :func:`constraints`); return the value recorded (a float)."""
    checked = checked_constraint(name, value)
    storage.set_trial_system_attr(trial_id, CONSTRAINT_ATTR_PREFIX + name, checked)
    return checked


def checked_constraint(name: Any, value: Any) -> float:
    """``value`` of constraint ``name`` as a float; a clear error for a name that is not a
    non-empty string or a value that is not a number."""
    if not isinstance(name, str) or not name.strip():
        raise MetaHPOError(f"a constraint's name must be a non-empty string, got {name!r}")
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise MetaHPOError(f"constraint {name!r}: the value must be a number (feasible at 0 or "
                           f"less), got {value!r}")
    return float(value)


def last_report(ft: Any) -> tuple[int, float] | None:
    """``(step, value)`` of the last finite intermediate value an Optuna ``FrozenTrial``
    reported, or ``None``."""
    finite = {step: v for step, v in ft.intermediate_values.items() if math.isfinite(v)}
    if not finite:
        return None
    step = max(finite)
    return step, float(finite[step])
