"""What metahpo says where an Optuna user reaches for Optuna's names: the arguments of
``create_study`` / ``optimize`` that :func:`metahpo.tune` has not, Optuna's ``trial.suggest_*``
in an objective, and the attributes of Optuna's ``Study`` that :class:`metahpo.Study` has not.
Each answer names what metahpo does instead.
"""

from __future__ import annotations

from metahpo.errors import MetaHPOError

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
}


def define_by_run_error(name: str) -> MetaHPOError:
    """The error for Optuna's ``trial.suggest_*`` (``name``) called on what :func:`metahpo.tune`
    gives an objective: its params, or the running trial."""
    return MetaHPOError(
        f"{name}(): metahpo.tune proposes the parameters of a space declared up front and calls "
        "objective(params) or objective(params, trial) with them (read params['lr']); an Optuna "
        "objective that suggests its own parameters runs in Optuna with metahpo's sampler: "
        "optuna.create_study(sampler=metahpo.integrations.optuna.MetaHPOSampler())"
        ".optimize(objective)")


def missing_study_attribute(name: str) -> AttributeError:
    """The ``AttributeError`` for attribute ``name`` that a :class:`metahpo.Study` lacks: where
    it is, for one of Optuna's ``Study``."""
    import optuna

    if not name.startswith("_") and (name in _STUDY_ATTRIBUTES or hasattr(optuna.Study, name)):
        hint = _STUDY_ATTRIBUTES.get(name, (
            "a metahpo study is an Optuna study in its storage: optuna.load_study("
            f"study_name=study.name, storage=study.storage) gives Optuna's, with {name}"))
        return AttributeError(f"metahpo's Study has no attribute {name!r} of Optuna's; {hint}")
    return AttributeError(f"'Study' object has no attribute {name!r}")
