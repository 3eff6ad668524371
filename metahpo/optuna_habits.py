"""What metahpo says where an Optuna user reaches for Optuna's names: the arguments of
``create_study`` / ``optimize`` that :func:`metahpo.tune` has not, Optuna's ``trial.suggest_*``
in an objective or on an asked trial, and the attributes of Optuna's ``Study`` and
``FrozenTrial`` that :class:`metahpo.Study` and :class:`metahpo.TrialRecord` have not. Each
answer names what metahpo does instead; the missing attributes raise ``AttributeError`` (so
``hasattr`` stays false).
"""

from __future__ import annotations

from typing import Callable

#: What ``tune`` does instead of the ``create_study`` / ``optimize`` arguments of Optuna whose
#: names are not close to one of its own.
TUNE_ARGUMENTS = {
    "sampler": "it takes optimizer= (a name such as 'tpe', or an Optuna sampler class as "
               "'optuna.samplers:QMCSampler')",
    "load_if_exists": "a study named by study_name in its storage is always resumed",
    "gc_after_trial": "call gc.collect() in the objective where a training needs it",
}

#: What a :class:`metahpo.Study` offers for attributes of Optuna's ``Study`` it has not; the
#: others are reached through Optuna's object for the same study.
_STUDY_ATTRIBUTES = {
    "optimize": "metahpo.tune(objective, space, storage=study.storage, study_name=study.name, "
                "n_trials=...) goes on with it",
    "trials_dataframe": "study.to_dataframe() gives its trials' table",
    "get_trials": "study.trials gives its trials",
    "study_name": "study.name is its name",
    "sampler": "each tune or ask call names its optimizer (optimizer=...), and the study "
               "records the last one's (metahpo studies show)",
    "pruner": "each tune call takes its own (tune(..., pruner=...))",
}

#: What a :class:`metahpo.TrialRecord` offers for attributes of Optuna's ``FrozenTrial``.
_TRIAL_ATTRIBUTES = {
    "datetime_start": "trial.started_at is when it started",
    "datetime_complete": "trial.finished_at is when it finished",
    "duration": "trial.duration_s is how long it ran, in seconds",
}


def define_by_run_error(name: str) -> AttributeError:
    """The error for Optuna's ``trial.suggest_*`` (``name``) called on what :func:`metahpo.tune`
    gives an objective: its params, or the running trial."""
    return AttributeError(
        f"{name}(): metahpo.tune proposes the parameters of a space declared up front and calls "
        "objective(params) or objective(params, trial) with them (read params['lr']); an Optuna "
        "objective that suggests its own parameters runs in Optuna with metahpo's sampler: "
        "optuna.create_study(sampler=metahpo.integrations.optuna.MetaHPOSampler())"
        ".optimize(objective)")


def missing_attribute(owner: object, name: str, suggest_error: Callable[[str], AttributeError]
                      ) -> AttributeError:
    """The ``AttributeError`` for attribute ``name`` that ``owner`` lacks: ``suggest_error``'s
    for Optuna's ``suggest_*``, Python's own otherwise."""
    if name.startswith("suggest_"):
        return suggest_error(name)
    return AttributeError(f"{type(owner).__name__!r} object has no attribute {name!r}")


def asked_suggest_error(name: str) -> AttributeError:
    """The error for Optuna's ``trial.suggest_*`` (``name``) called on a proposed
    :class:`metahpo.Trial` (``study.ask()``, ``optimizer.ask()``)."""
    return AttributeError(
        f"{name}(): metahpo's ask proposes every parameter of the space at once: read "
        "trial.params['lr']; Optuna's define-by-run ask and tell run in an Optuna study with "
        "metahpo's sampler, optuna.create_study(sampler=metahpo.integrations.optuna."
        "MetaHPOSampler())")


#: Where Optuna's object for a metahpo study is: its functions (``optuna.importance``,
#: ``optuna.visualization``) take that one.
_OPTUNA_STUDY = "optuna.load_study(study_name=study.name, storage=study.storage)"


def missing_study_attribute(name: str) -> AttributeError:
    """The ``AttributeError`` for attribute ``name`` that a :class:`metahpo.Study` lacks: where
    it is, for one of Optuna's ``Study`` (also where an Optuna function was given a metahpo
    study)."""
    import optuna

    return _missing("Study", name, optuna.Study, _STUDY_ATTRIBUTES,
                    f"the Optuna study of the same storage has it: {_OPTUNA_STUDY}")


def missing_trial_attribute(name: str) -> AttributeError:
    """The ``AttributeError`` for attribute ``name`` that a :class:`metahpo.TrialRecord`
    lacks: where it is, for one of Optuna's ``FrozenTrial``."""
    import optuna

    return _missing("TrialRecord", name, optuna.trial.FrozenTrial, _TRIAL_ATTRIBUTES,
                    f"the trials of the Optuna study of the same storage have it: "
                    f"{_OPTUNA_STUDY}.trials")


def _missing(owner: str, name: str, optuna_class: type, hints: dict[str, str],
             elsewhere: str) -> AttributeError:
    """The ``AttributeError`` for ``owner``'s missing attribute ``name``, saying where it is
    when ``optuna_class`` has it, as a class attribute or one its constructor takes (``hints``,
    else ``elsewhere``; Optuna's functions, which reach for such attributes, private ones too,
    are pointed to Optuna's study)."""
    import inspect

    if not name.startswith("__") and (
            name in hints or hasattr(optuna_class, name)
            or name in inspect.signature(optuna_class).parameters):
        where = (f"{hints[name]} (an Optuna function takes the Optuna study of the same "
                 f"storage: {_OPTUNA_STUDY})" if name in hints else elsewhere)
        return AttributeError(f"metahpo's {owner} has no attribute {name!r} of Optuna's "
                              f"{optuna_class.__name__}; {where}")
    return AttributeError(f"{owner!r} object has no attribute {name!r}")
