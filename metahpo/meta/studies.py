"""A user's past studies as meta-training tasks (``metahpo meta-train --tasks studies:URL``).

Each study of the storage whose completed trials fit the search space becomes a
:class:`~metahpo.tasks.study_surrogate.StudySurrogate`; a policy meta-trained on them (with an
initial design, as the ``lcbench`` policy) is a learned optimizer for the user's own model
family. Measured on lcbench with one 30-trial TPE study per training instance:
``benchmarks/results/studies_policy``.
"""

from __future__ import annotations

from typing import Sequence

from metahpo.errors import MetaHPOError
from metahpo.space import SearchSpace
from metahpo.study import list_studies
from metahpo.tasks.study_surrogate import StudySurrogate
from metahpo.warm_start import fitting_trials

#: Completed trials (that fit the space) a study needs to become a meta-training task.
MIN_TRIALS = 10


def study_tasks(storage: str, space: SearchSpace | None, names: Sequence[str] | None = None
                ) -> list[StudySurrogate]:
    """The studies of ``storage`` (those named in ``names``, default all) as surrogate tasks of
    ``space`` (default: the search space the first study was created with). Studies with fewer
    than ``MIN_TRIALS`` completed trials that fit the space are left out; none left is an
    error that says how many each had."""
    studies = list_studies(storage)
    if names is not None:
        missing = sorted(set(names) - {s.name for s in studies})
        if missing:
            raise MetaHPOError(f"no studies named {missing} in {storage!r}; studies there: "
                               f"{sorted(s.name for s in studies)}")
        studies = [s for s in studies if s.name in set(names)]
    if space is None:
        space = next((s.space for s in studies if s.space is not None), None)
        if space is None:
            raise MetaHPOError(f"the studies of {storage!r} hold no metahpo search space (made by "
                               "Optuna?): give the space with --space FILE")
    tasks, counts = [], {}
    for study in studies:
        points, losses, _ = fitting_trials(study, space)
        counts[study.name] = len(losses)
        if len(losses) >= MIN_TRIALS:
            tasks.append(StudySurrogate(study.name, space, points, losses))
    if not tasks:
        raise MetaHPOError(f"no study in {storage!r} holds {MIN_TRIALS} completed trials that fit "
                           f"the search space (completed and fitting, per study: {counts})")
    return tasks


def split_tasks(tasks: list[StudySurrogate], validation: Sequence[str] | None
                ) -> tuple[list[StudySurrogate], list[StudySurrogate]]:
    """Training and validation tasks: the studies named in ``validation`` validate."""
    held = set(validation or ())
    unknown = sorted(held - {t.study_name for t in tasks})
    if unknown:
        raise MetaHPOError(f"validation studies {unknown} are not among the training studies "
                           f"{sorted(t.study_name for t in tasks)}")
    val = [t for t in tasks if t.study_name in held]
    train = [t for t in tasks if t.study_name not in held]
    if not train:
        raise MetaHPOError("no study left to train on after the validation studies")
    return train, val

