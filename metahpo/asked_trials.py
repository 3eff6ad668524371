"""Trials evaluated elsewhere: what :meth:`metahpo.Study.ask`, :meth:`~metahpo.Study.tell` and
:meth:`~metahpo.Study.fail_stale` do.

For trials that run where no Python loop waits for them (a job queue, another machine): a
proposal is reserved and recorded as running like a tune worker's (:mod:`metahpo.shared_study`),
marked as asked, and its outcome stored when told, from any process; an asked trial whose job
died without telling is failed as stale on request and asked again first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from metahpo.enqueued_trials import any_waiting
from metahpo.errors import MetaHPOError
from metahpo.optimizers.multi_objective import optimizer_for
from metahpo.scalars import python_scalar
from metahpo.shared_study import (
    Peers,
    check_max_retries,
    check_points,
    fail_dead,
    interrupt,
    start_trial,
    store_outcome,
)
from metahpo.storage import (
    ASKED_ATTR,
    DEFAULT_MAX_RETRIES,
    checked_constraint,
    checked_user_attr,
    record_from_optuna,
    set_constraint,
)
from metahpo.study_optimizer import note_optimizer
from metahpo.trial import Trial, TrialRecord, objective_outcome

if TYPE_CHECKING:
    from metahpo.study import Study


def ask_trial(study: Study, optimizer: str, seed: int | None, options: dict[str, Any],
              points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
              max_retries: int = DEFAULT_MAX_RETRIES) -> Trial:
    """Propose and record a trial that is evaluated elsewhere (see :meth:`Study.ask`)."""
    from optuna.trial import TrialState as OptunaState

    space = study.space
    if space is None:
        raise MetaHPOError(f"study {study.name!r} has no metahpo search space (it was not created "
                           f"by metahpo); give it one: metahpo.create_study(space, storage=..., "
                           f"study_name={study.name!r}), or 'metahpo ask --space FILE'")
    points = check_points(points_to_evaluate, space)
    max_retries = python_scalar(max_retries)
    check_max_retries(max_retries)
    opt = optimizer_for(optimizer, space, study.directions, seed=seed, **options)
    note_optimizer(study, optimizer, options, max_retries)
    trials = study.storage.get_all_trials(study.study_id, deepcopy=False,
                                          states=(OptunaState.RUNNING, OptunaState.WAITING))
    fail_dead(study, trials)
    trial_id, number, trial, _ = start_trial(study, opt, Peers(study, opt, max_retries), points,
                                             any_waiting(trials))
    study.storage.set_trial_system_attr(trial_id, ASKED_ATTR, True)
    return Trial(number=number, params=trial.params)


def tell_trial(study: Study, number: int, value: Any, error: str | None,
               attrs: Mapping[str, Any] | None = None,
               limits: Mapping[str, float] | None = None) -> TrialRecord:
    """Record the outcome of running trial ``number``, with the user attributes ``attrs``
    and the constraints ``limits`` (see :meth:`Study.tell`)."""
    from optuna.trial import TrialState as OptunaState

    st = study.storage
    trial_id = study.trial_id(number)
    ft = st.get_trial(trial_id)
    if ft.state != OptunaState.RUNNING:
        why = ("it has not started" if ft.state == OptunaState.WAITING
               else "its outcome is recorded already")
        raise MetaHPOError(f"trial {number} of study {study.name!r} is "
                           f"{record_from_optuna(ft).state.value}, not running: {why}")
    state, v, err = objective_outcome(value, error, len(study.directions))
    if attrs is not None and not isinstance(attrs, Mapping):
        raise MetaHPOError(f"user_attrs must be a dict {{name: value}}, got {attrs!r}")
    checked = {k: checked_user_attr(k, a) for k, a in (attrs or {}).items()}
    if limits is not None and not isinstance(limits, Mapping):
        raise MetaHPOError(f"constraints must be a dict {{name: value}}, got {limits!r}")
    bounds = {k: checked_constraint(k, c) for k, c in (limits or {}).items()}
    for key, attr in checked.items():
        st.set_trial_user_attr(trial_id, key, attr)
    for key, bound in bounds.items():
        set_constraint(st, trial_id, key, bound)
    trial_id = store_outcome(study, trial_id, number, v, err)
    return record_from_optuna(st.get_trial(trial_id))


def fail_stale_asked(study: Study, older_than: float) -> list[int]:
    """Fail as interrupted the asked trials running for ``older_than`` seconds or more (see
    :meth:`Study.fail_stale`); return their numbers."""
    import datetime

    from optuna.trial import TrialState as OptunaState

    st = study.storage
    now = datetime.datetime.now()
    failed = []
    for ft in st.get_all_trials(study.study_id, deepcopy=False, states=(OptunaState.RUNNING,)):
        if not ft.system_attrs.get(ASKED_ATTR) or ft.datetime_start is None:
            continue
        age = (now - ft.datetime_start).total_seconds()
        if age >= older_than:
            trial_id = st.get_trial_id_from_study_id_trial_number(study.study_id, ft.number)
            interrupt(st, trial_id, f"no result {age:.0f} s after it was asked (failed as stale)")
            failed.append(ft.number)
    return failed
