"""metahpo: hyperparameter optimization for deep learning with a meta-learned optimizer.

Public API::

    from metahpo import Float, Int, Categorical, SearchSpace, create_optimizer, tune

    space = SearchSpace([Float("lr", 1e-4, 1e-1, log=True), Int("layers", 1, 4)])
    study = tune(objective, space, n_trials=30, direction="maximize")  # the meta-learned optimizer
    print(study.best_params, study.best_value)
"""

from typing import TYPE_CHECKING, Any

from metahpo.errors import MetaHPOError
from metahpo.optimizers.base import Optimizer
from metahpo.optimizers.registry import (
    available_optimizers,
    create_optimizer,
    optimizer_options,
    restore_optimizer,
)
from metahpo.running_trial import RunningTrial
from metahpo.space import Categorical, Condition, Float, Int, SearchSpace
from metahpo.study import Study, create_study, delete_study, list_studies, load_study
from metahpo.tasks.command import CommandObjective
from metahpo.trial import Trial, TrialPruned, TrialRecord, TrialState, TuningInterrupted
from metahpo.tuning import tune
from metahpo.version import __version__

if TYPE_CHECKING:
    from metahpo.warm_start import warm_start_points


def __getattr__(name: str) -> Any:
    """``warm_start_points`` on first use: it brings SciPy, which the command line's record
    keeping (``tell``, ``studies``, ``enqueue``) does not need, a sixth of its start-up."""
    if name == "warm_start_points":
        from metahpo.warm_start import warm_start_points

        return warm_start_points
    raise AttributeError(f"module 'metahpo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "warm_start_points"])


__all__ = [
    "Categorical",
    "CommandObjective",
    "Condition",
    "Float",
    "Int",
    "MetaHPOError",
    "Optimizer",
    "RunningTrial",
    "SearchSpace",
    "Study",
    "Trial",
    "TrialPruned",
    "TrialRecord",
    "TrialState",
    "TuningInterrupted",
    "available_optimizers",
    "create_optimizer",
    "create_study",
    "delete_study",
    "list_studies",
    "load_study",
    "optimizer_options",
    "restore_optimizer",
    "tune",
    "warm_start_points",
    "__version__",
]
