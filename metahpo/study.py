"""Studies: named records of trials in a storage, as :func:`metahpo.tune` writes them.

A :class:`Study` reads its trials, best trial and search space from the storage (see
:mod:`metahpo.storage`); :func:`load_study` and :func:`list_studies` open existing ones, and
:func:`create_or_load_study` creates a study or resumes one created with the same space and
directions. The loop that fills a study lives in :mod:`metahpo.tuning`.
"""

from __future__ import annotations

import csv
import json
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Mapping, Sequence, cast

from metahpo.errors import MetaHPOError
from metahpo.optuna_habits import missing_study_attribute
from metahpo.scalarization import as_losses, dominated
from metahpo.scalars import python_scalar
from metahpo.space import FORBIDDEN_KEY, SearchSpace, check_space
from metahpo.storage import DEFAULT_MAX_RETRIES, open_storage, record_from_optuna
from metahpo.trial import Trial, TrialRecord, TrialState, check_directions

SPACE_ATTR = "metahpo:space"


class Study:
    """A named record of trials in a storage.

    Use :func:`metahpo.tune` to create and run one, :func:`load_study` to open an existing one.
    """

    def __init__(self, *, storage: Any, study_id: int, name: str) -> None:
        self._storage = storage
        self._study_id = study_id
        self.name = name
        self._stop = threading.Event()

    def __getstate__(self) -> dict[str, Any]:
        """A study pickles with its storage (``pickle`` / ``joblib.dump``, or passed to another
        process), as an Optuna study does: an in-memory study is saved that way; a stop request
        belongs to the run it stops and is not kept."""
        state = self.__dict__.copy()
        del state["_stop"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._stop = threading.Event()

    if not TYPE_CHECKING:  # type checkers still flag an attribute the study lacks
        def __getattr__(self, name: str) -> Any:
            """Where an attribute of Optuna's ``Study`` that this study lacks is (an
            ``AttributeError`` that says so)."""
            raise missing_study_attribute(name)

    def stop(self) -> None:
        """Ask the :func:`metahpo.tune` call running on this study to start no further trial,
        as Optuna's ``Study.stop``: from a callback, e.g. once a target value is reached.
        Trials already running finish and are recorded; tuning the study again (``tune`` with
        its name) goes on from there."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

    def enqueue_trial(self, params: Mapping[str, Any],
                      user_attrs: Mapping[str, Any] | None = None) -> int:
        """Queue a configuration to run next, as Optuna's ``Study.enqueue_trial``: the next
        trial any worker of the study starts (``tune``, ``ask``) runs it. ``params`` may name
        some parameters only (the optimizer proposes the others). Returns the waiting trial's
        number. See :mod:`metahpo.enqueued_trials`."""
        from metahpo.enqueued_trials import enqueue_trials

        return enqueue_trials(self, [params], user_attrs)[0]

    def ask(self, optimizer: str = "meta", *, seed: int | None = None,
            points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
            max_retries: int = DEFAULT_MAX_RETRIES, **options: Any) -> Trial:
        """Propose a configuration for a trial evaluated elsewhere, and record it as running.

        For trials that run where no Python loop waits for them (a job queue such as SLURM,
        another machine): ask, submit the job with ``trial.params``, and :meth:`tell` the
        result when it is known, from any process. The optimizer is built afresh for every
        call from the study's space and directions and reads every trial of the study: finished
        ones as results, running ones (asked, or run by :func:`metahpo.tune` workers) as
        pending, so proposals steer away from what is being evaluated, each with what its
        optimizer kept with it (:attr:`Trial.optimizer_attrs`: CMA-ES's generations, a QMC
        sequence's position), so that an optimizer with a state goes on where the search is. A
        seeded optimizer's draws restart from the seed and the trial count, so each call
        proposes anew.

        Args:
            optimizer: a registered name (default: the meta-learned optimizer) or
                ``MODULE:CLASS`` (:func:`metahpo.create_optimizer`).
            seed: the optimizer's seed.
            points_to_evaluate: configurations to propose first, as in :func:`metahpo.tune`
                (current defaults, :func:`metahpo.warm_start_points`): each call proposes the
                first of them that no trial of the study holds yet, then the optimizer's.
            max_retries: how many times a trial failed as stale is asked again, as in
                :func:`metahpo.tune`; give every call on a study the same value.
            **options: keyword options of the optimizer.

        Returns:
            The trial, numbered as in the study. It stays running until told: a job that dies
            is told with an ``error``. An asked trial failed as stale (:meth:`fail_stale`) is
            asked again first, as a new trial whose :attr:`TrialRecord.retry_of` (read with
            :meth:`trial`) names the first trial that ran its configuration: its job can resume
            from that one's checkpoints.
        """
        from metahpo.asked_trials import ask_trial

        return ask_trial(self, optimizer, seed, options, points_to_evaluate, max_retries)

    def tell(self, number: int | Trial, value: Any = None, *, error: str | None = None,
             user_attrs: Mapping[str, Any] | None = None,
             constraints: Mapping[str, float] | None = None) -> TrialRecord:
        """Record the outcome of running trial ``number`` (from :meth:`ask`, or one a process
        has left running; the :class:`Trial` that :meth:`ask` returned names it too, as in
        Optuna's ``study.tell(trial, value)``): its objective value (a list of one per objective
        in a study of several), or ``error`` for a failed trial (``None``, NaN and non-numbers
        fail it too, as in :func:`metahpo.tune`), what the job measured beside it,
        ``user_attrs`` (see :meth:`metahpo.RunningTrial.set_user_attr`), and the limits it must
        keep, ``constraints`` (``{"latency": latency_ms - 10}``, feasible at 0 or less; see
        :meth:`metahpo.RunningTrial.set_constraint`)."""
        from metahpo.asked_trials import tell_trial

        if isinstance(number, Trial):
            number = number.number
        return tell_trial(self, number, value, error, user_attrs, constraints)

    def fail_stale(self, older_than: float) -> list[int]:
        """Fail the trials from :meth:`ask` still running ``older_than`` seconds after they were
        asked (a job the queue killed at its time limit, a lost node: nothing will tell them),
        and return their numbers. They are failed as interrupted, like the trials of a dead
        ``tune`` process: they do not count towards ``n_trials``, and their configurations are
        asked again first (see :meth:`ask`). Trials of running ``tune`` workers are not
        touched."""
        from metahpo.asked_trials import fail_stale_asked

        older_than = python_scalar(older_than)
        if isinstance(older_than, bool) or not isinstance(older_than, (int, float)) or older_than < 0:
            raise MetaHPOError(f"older_than must be a number of seconds >= 0, got {older_than!r}")
        return fail_stale_asked(self, float(older_than))

    @property
    def storage(self) -> Any:
        """The Optuna storage that holds the study (``optuna.storages.BaseStorage``)."""
        return self._storage

    @property
    def study_id(self) -> int:
        """The study's id in :attr:`storage`."""
        return self._study_id

    @property
    def directions(self) -> list[str]:
        """``"minimize"`` / ``"maximize"`` per objective: one, or several for a study created
        with ``directions`` (by :func:`metahpo.tune` or Optuna); its best trials are then
        :attr:`best_trials`."""
        from optuna.study import StudyDirection

        return ["maximize" if d == StudyDirection.MAXIMIZE else "minimize"
                for d in self._storage.get_study_directions(self._study_id)]

    @property
    def direction(self) -> str:
        """The direction of the study's objective; a clear error for a study with several
        (see :attr:`directions`), which has no one best value."""
        directions = self.directions
        if len(directions) > 1:
            raise MetaHPOError(
                f"study {self.name!r} has {len(directions)} objectives ({', '.join(directions)}): "
                "its best trials are best_trials (the Pareto front); best_trial, best_value and "
                "ranking by value need a study of one objective")
        return directions[0]

    @property
    def space(self) -> SearchSpace | None:
        """The search space the study was created with (``None`` for foreign Optuna studies)."""
        data = self._storage.get_study_user_attrs(self._study_id).get(SPACE_ATTR)
        return SearchSpace.from_dict(data) if data else None

    @property
    def trials(self) -> list[TrialRecord]:
        """All trials, ordered by number."""
        fts = self._storage.get_all_trials(self._study_id, deepcopy=False)
        return sorted((record_from_optuna(ft) for ft in fts), key=lambda r: r.number)

    def trial(self, number: int) -> TrialRecord:
        """Trial ``number`` of the study."""
        return record_from_optuna(self._storage.get_trial(self.trial_id(number)))

    def trial_id(self, number: int) -> int:
        """The id in :attr:`storage` of trial ``number`` (an int, a NumPy integer as a data
        frame's ``number`` column holds); a clear error if there is none. A negative number
        names no trial (Optuna's in-memory storage took it as a list index, so ``tell(-1, ...)``
        told the last trial)."""
        number = python_scalar(number)
        if isinstance(number, bool) or not isinstance(number, int):
            raise MetaHPOError(f"a trial number must be an int, got {number!r}")
        if number < 0:
            raise MetaHPOError(f"study {self.name!r} has no trial {number}: trial numbers "
                               "start at 0")
        try:
            return self._storage.get_trial_id_from_study_id_trial_number(self._study_id, number)
        except KeyError:
            raise MetaHPOError(f"study {self.name!r} has no trial {number}") from None

    @property
    def best_trial(self) -> TrialRecord:
        """The complete trial with the best value (among those that satisfy their
        constraints, see :attr:`TrialRecord.constraints`)."""
        sign = 1.0 if self.direction == "minimize" else -1.0
        done = [t for t in self.trials if t.state is TrialState.COMPLETE]
        feasible = [t for t in done if t.feasible]
        if not feasible:
            raise MetaHPOError(f"study {self.name!r} has no completed trial "
                               f"{'that satisfies its constraints ' if done else ''}yet")
        return min(feasible, key=lambda t: sign * cast(float, t.value))

    @property
    def best_trials(self) -> list[TrialRecord]:
        """The complete trials that no other dominates (as good on every objective and better
        on one): the Pareto front, among the trials that satisfy their constraints, by number;
        with one objective, those with the best value."""
        done = [t for t in self.trials if t.state is TrialState.COMPLETE and t.feasible]
        losses = as_losses([t.values or (cast(float, t.value),) for t in done], self.directions)
        return [t for t, d in zip(done, dominated(losses)) if not d]

    @property
    def best_params(self) -> dict[str, Any]:
        return dict(self.best_trial.params)

    @property
    def best_value(self) -> float:
        return cast(float, self.best_trial.value)

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dict per trial: number, state, value, error, times, whether it was
        interrupted and which trial it retries, ``values_<i>`` (a study with several
        objectives), ``params_<name>``, ``user_attrs_<key>`` (the column names of Optuna's
        ``trials_dataframe``) and ``constraints_<name>``."""
        rows = []
        for t in self.trials:
            row: dict[str, Any] = {
                "number": t.number,
                "state": t.state.value,
                "value": t.value,
                "error": t.error,
                "started_at": t.started_at.isoformat() if t.started_at else None,
                "finished_at": t.finished_at.isoformat() if t.finished_at else None,
                "duration_s": t.duration_s,
                "interrupted": t.interrupted,
                "retry_of": t.retry_of,
            }
            row.update({f"values_{k}": v for k, v in enumerate(t.values or ())})
            row.update({f"params_{k}": v for k, v in t.params.items()})
            row.update({f"user_attrs_{k}": v for k, v in t.user_attrs.items()})
            row.update({f"constraints_{k}": v for k, v in t.constraints.items()})
            rows.append(row)
        return rows

    def to_csv(self, path: str) -> None:
        """Write :meth:`to_records` to a CSV file, one row per trial; lists and dicts (user
        attributes such as a learning curve) as JSON, so that a reader gets them back with
        ``json.loads``."""
        rows = [{k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()}
                for row in self.to_records()]
        fields: list[str] = []
        for row in rows:
            fields.extend(k for k in row if k not in fields)
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields or ["number"])
            writer.writeheader()
            writer.writerows(rows)

    def to_dataframe(self) -> Any:
        """The trials as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise MetaHPOError("to_dataframe() needs pandas: pip install pandas") from None
        return pd.DataFrame(self.to_records())


def create_study(space: SearchSpace, *, storage: Any = None, study_name: str | None = None,
                 direction: str = "minimize", directions: Sequence[str] | None = None) -> Study:
    """Create a study, or open the one named ``study_name`` if it exists (with the same space
    and directions), as :func:`metahpo.tune` does; for :meth:`Study.ask` / :meth:`Study.tell`.

    Args:
        space: the search space.
        storage: a database URL, ``journal:///PATH`` (an Optuna journal file), an Optuna
            storage object, or ``None`` (in memory).
        study_name: default: a new unique name.
        direction: ``"minimize"`` or ``"maximize"``.
        directions: instead of ``direction``, one per objective of a study of several
            (``["maximize", "minimize"]``; see :func:`metahpo.tune`).
    """
    check_space(space)
    wanted = check_directions(direction, directions)
    st = open_storage(storage)
    name = study_name or new_study_name()
    return create_or_load_study(st, name, storage, space, wanted)


def space_changes(old: SearchSpace, new: SearchSpace) -> str:
    """What tells search space ``new`` from ``old``, in a few words: the parameters added,
    removed and changed (range, scale, choices, condition), and whether the forbidden
    combinations changed."""
    before, after = old.to_dict(), new.to_dict()
    for d in (before, after):
        d.pop(FORBIDDEN_KEY, None)
    parts = [f"{what}: {', '.join(names)}" for what, names in (
        ("added", [n for n in after if n not in before]),
        ("removed", [n for n in before if n not in after]),
        ("changed", [n for n in after if n in before and after[n] != before[n]]),
    ) if names]
    if old.forbidden != new.forbidden:
        parts.append("forbidden combinations changed")
    return "; ".join(parts)


def new_study_name() -> str:
    """A new unique study name: ``metahpo-`` and 12 hex digits."""
    return f"metahpo-{uuid.uuid4().hex[:12]}"


def list_studies(storage: Any) -> list[Study]:
    """Every study in an existing storage (a URL or an Optuna storage object)."""
    st = open_storage(storage, must_exist=True)
    try:
        summaries = st.get_all_studies()
    except Exception as exc:
        raise MetaHPOError(f"cannot read storage {storage!r}: {type(exc).__name__}: {exc}") from None
    return [Study(storage=st, study_id=s._study_id, name=s.study_name) for s in summaries]


def load_study(study_name: str, storage: Any) -> Study:
    """Open an existing study by name (``storage``: a URL or an Optuna storage object)."""
    st = open_storage(storage, must_exist=True)
    return _existing(st, study_name, storage)


def delete_study(study_name: str, storage: Any) -> int:
    """Delete an existing study and all its trials from ``storage`` (a URL or an Optuna storage
    object), as ``optuna.delete_study`` does; return how many trials it held. A clear error if
    there is no such study."""
    study = load_study(study_name, storage)
    n = len(study.storage.get_all_trials(study.study_id, deepcopy=False))
    study.storage.delete_study(study.study_id)
    return n


def _existing(st: Any, study_name: str, url: str | None) -> Study:
    try:
        study_id = st.get_study_id_from_name(study_name)
    except KeyError:
        names = [s.study_name for s in st.get_all_studies()]
        raise MetaHPOError(
            f"no study named {study_name!r} in {url!r}; studies there: {names or 'none'}"
        ) from None
    return Study(storage=st, study_id=study_id, name=study_name)


def create_or_load_study(
    st: Any, study_name: str, url: str | None, space: SearchSpace, directions: list[str]
) -> Study:
    """Create study ``study_name`` in storage ``st`` (opened from ``url``) for ``space`` and
    ``directions`` (one per objective), or open the existing one; an existing study must have
    the same space (the same parameters; their order may differ: trials record parameters by
    name) and directions. An existing study without a space of its own (made by Optuna, say)
    takes ``space`` as its own: it is tuned over ``space`` from now on, so that ``ask`` and
    later runs find it there (its trials that do not fit it are left out of the optimizer's
    reading)."""
    from optuna.exceptions import DuplicatedStudyError
    from optuna.study import StudyDirection

    try:
        study_id = st.create_new_study(
            [StudyDirection.MAXIMIZE if d == "maximize" else StudyDirection.MINIMIZE
             for d in directions], study_name)
        st.set_study_user_attr(study_id, SPACE_ATTR, space.to_dict())
        return Study(storage=st, study_id=study_id, name=study_name)
    except DuplicatedStudyError:
        pass
    study = _existing(st, study_name, url)
    if study.directions != directions:
        raise MetaHPOError(
            f"study {study_name!r} was created to {', '.join(study.directions)}, not to "
            f"{', '.join(directions)}; choose a new study name, or delete it (metahpo studies "
            "delete NAME)"
        )
    for _ in range(50):  # another process may be between creating the study and saving its space
        saved = study.space
        if saved is not None or st.get_all_trials(study.study_id, deepcopy=False):
            break  # (metahpo saves the space before any trial: a study with trials has none)
        time.sleep(0.1)
    if saved is None:
        st.set_study_user_attr(study.study_id, SPACE_ATTR, space.to_dict())
    elif saved.to_dict() != space.to_dict():
        changes = space_changes(saved, space)
        raise MetaHPOError(
            f"study {study_name!r} was created with another search space ({changes}); "
            "resume it with the same space, start a new study from its best trials (--warm-start "
            f"{study_name}; metahpo.warm_start_points in Python), or delete it (metahpo studies "
            f"delete {study_name})"
        )
    return study


def values_text(record: TrialRecord) -> str:
    """A trial's objective value, or its values joined by commas in a study of several, for
    the CLI (``""`` for a trial without)."""
    shown = record.values or ((record.value,) if record.value is not None else ())
    return ", ".join(f"{v:.6g}" for v in shown)


def params_table(params: Mapping[str, Any]) -> str:
    """``name=value`` pairs on one line, for logs and the CLI."""
    return ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v!r}" for k, v in params.items())
