"""Configurations queued in a study to run next: :func:`enqueue_trials` and what runs them.

Optuna's ``Study.enqueue_trial(params)`` queues a configuration as a WAITING trial, and the next
trial any worker starts takes it instead of asking the sampler (a known good configuration, a
colleague's guess, a rerun). metahpo studies are Optuna studies, so that call works on them
too, and :meth:`metahpo.Study.enqueue_trial` makes the same trial after checking the
configuration against the study's space. Every metahpo worker of the study (``tune``, ``ask``)
starts its next trial by claiming the oldest waiting one, the way Optuna's ``optimize`` does
(the storage moves a trial from WAITING to RUNNING for one worker; on SQLite the workers of one
machine take turns, see :func:`claim_waiting_trial`).

A configuration may name some parameters only, as in Optuna: the optimizer proposes the rest
(its proposal with the queued values put in). One that names a parameter the space lacks, or a
value outside its range, fails its trial with an error that says which, and the worker goes on
with the next.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import tempfile
import threading
import uuid
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from metahpo.errors import MetaHPOError
from metahpo.optimizers.base import Optimizer
from metahpo.parameters import shown_value
from metahpo.space import SearchSpace
from metahpo.storage import FIXED_PARAMS_ATTR, HOST_ATTR, PID_ATTR, RESERVATION_ATTR

if TYPE_CHECKING:
    from metahpo.study import Study


def check_enqueued(params: Any, space: SearchSpace) -> dict[str, Any]:
    """``params`` as a queued configuration of ``space`` may be: a dict of some of its
    parameters, each value in range; a clear error otherwise."""
    if not isinstance(params, Mapping):
        raise MetaHPOError(f"an enqueued configuration must be a dict of parameter values, got "
                           f"{params!r}")
    params = space.cast(params)
    unknown = [n for n in params if n not in space.names]
    outside = [n for n in params if n in space.names and not space[n].contains(params[n])]
    shown = ", ".join(f"{n!r}: {shown_value(v)}" for n, v in params.items())
    if unknown or outside:
        ranges = ", ".join(f"{n}={shown_value(params[n])} ({space[n].to_dict()})"
                           for n in outside)
        parts = ([f"unknown parameters {unknown}"] if unknown else []) + (
            [f"values outside the space: {ranges}"] if outside else [])
        raise MetaHPOError(f"the enqueued configuration {{{shown}}} does not fit the search "
                           f"space: {'; '.join(parts)}")
    clause = space.forbids(params)
    if clause is not None:
        raise MetaHPOError(f"the enqueued configuration {{{shown}}} is forbidden by {clause}")
    return dict(params)


def enqueue_trials(study: Study, configurations: Sequence[Mapping[str, Any]],
                   user_attrs: Mapping[str, Any] | None = None) -> list[int]:
    """Queue each of ``configurations`` in ``study`` as Optuna's ``Study.enqueue_trial`` does
    (see the module docstring), with ``user_attrs``; every one is checked before any is
    queued. Return the waiting trials' numbers."""
    from optuna.trial import TrialState as OptunaState
    from optuna.trial import create_trial

    from metahpo.storage import checked_user_attr

    space = study.space
    if space is None:
        raise MetaHPOError(f"study {study.name!r} has no metahpo search space to check "
                           "configurations against; open it with metahpo.create_study (or "
                           "'metahpo ask --space FILE') first")
    checked = [check_enqueued(params, space) for params in configurations]
    attrs = {k: checked_user_attr(k, v) for k, v in (user_attrs or {}).items()}
    numbers = []
    for fixed in checked:
        template = create_trial(state=OptunaState.WAITING,
                                system_attrs={FIXED_PARAMS_ATTR: fixed}, user_attrs=attrs)
        trial_id = study.storage.create_new_trial(study.study_id, template_trial=template)
        numbers.append(study.storage.get_trial_number_from_id(trial_id))
    return numbers


def any_waiting(trials: list[Any]) -> bool:
    """Whether a study's ``trials`` as just read (Optuna ``FrozenTrial`` s, every state) hold a
    queued one: a worker looks for one to claim only then, which saves a read of the study per
    trial where nothing is queued."""
    from optuna.trial import TrialState as OptunaState

    return any(ft.state == OptunaState.WAITING for ft in trials)


#: Serializes the claims of this process's threads (``tune(n_jobs=...)``).
_CLAIMING = threading.Lock()


def sqlite_path(storage: Any) -> str | None:
    """The absolute path of the database file behind ``storage`` (an Optuna storage, cached or
    not) if it is a SQLite file; ``None`` for servers, memory and other storages."""
    url = getattr(getattr(storage, "_backend", storage), "url", None)
    if not isinstance(url, str) or not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return os.path.realpath(path)


@contextlib.contextmanager
def claims_of_this_machine(storage: Any) -> Iterator[None]:
    """Hold, while the body runs, a lock that every metahpo process of this machine takes to
    claim a queued trial of the SQLite file behind ``storage`` (nothing for other storages).

    SQLite does not lock the row Optuna reads before it moves a trial from WAITING to RUNNING,
    so two processes can both read WAITING and both start the trial. SQLite files are shared by
    processes of one machine (it warns against network file systems), so an advisory lock on a
    file named after the database's path (in the temporary folder, not beside the database)
    makes their claims take turns. Where no such lock can be had (no ``fcntl``, an unwritable
    temporary folder) the claim goes ahead unlocked, guarded by its token alone."""
    path = sqlite_path(storage)
    try:
        import fcntl
    except ImportError:  # not POSIX
        path = None
    if path is None:
        yield
        return
    digest = hashlib.sha256(path.encode()).hexdigest()[:20]
    try:
        fd = os.open(os.path.join(tempfile.gettempdir(), f"metahpo-claims-{digest}.lock"),
                     os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def claim_waiting_trial(storage: Any, study_id: int) -> tuple[int, str, dict[str, Any]] | None:
    """Claim the study's oldest WAITING trial for this process: its id, a reservation token
    (as :func:`~metahpo.storage.reserve_trial` gives) and its queued configuration; ``None``
    when none waits, or other workers claimed every one first.

    The storage moves a trial from WAITING to RUNNING for one caller only where its database
    locks the row (PostgreSQL, MySQL); SQLite's read-then-write can let two processes both
    succeed, as it can in Optuna's ``optimize``. So threads of this process claim one at a
    time, processes of one machine take turns on a SQLite file
    (:func:`claims_of_this_machine`), and a claim whose token another process overwrote is given
    up (a process that skips the lock, Optuna's ``optimize`` on the same study for one)."""
    from optuna.trial import TrialState as OptunaState

    with _CLAIMING, claims_of_this_machine(storage):
        waiting = storage.get_all_trials(study_id, deepcopy=False,
                                         states=(OptunaState.WAITING,))
        for ft in sorted(waiting, key=lambda t: t.number):
            if not storage.set_trial_state_values(ft._trial_id, OptunaState.RUNNING):
                continue  # another worker took it
            token = uuid.uuid4().hex
            for key, value in ((HOST_ATTR, socket.gethostname()), (PID_ATTR, os.getpid()),
                               (RESERVATION_ATTR, token)):
                storage.set_trial_system_attr(ft._trial_id, key, value)
            if storage.get_trial(ft._trial_id).system_attrs.get(RESERVATION_ATTR) != token:
                continue
            return ft._trial_id, token, dict(ft.system_attrs.get(FIXED_PARAMS_ATTR) or {})
    return None


def enqueued_configuration(fixed: Mapping[str, Any], opt: Optimizer) -> dict[str, Any]:
    """The configuration a claimed trial runs: its queued values, the parameters it leaves out
    from ``opt``'s proposal (asked and withdrawn: the caller records the configuration with the
    optimizer), only those active under it."""
    space = opt.space
    values = check_enqueued(fixed, space)
    if space.missing(values):
        proposal = opt.ask()
        opt.withdraw(proposal)
        values = {**proposal.params, **values}
        if space.missing(values):
            raise MetaHPOError(f"the enqueued configuration {dict(fixed)} leaves out "
                               f"{space.missing(values)}, which its values make active")
    active = space.active_names(values)
    return {n: values[n] for n in active}
