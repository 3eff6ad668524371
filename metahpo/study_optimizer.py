"""Which optimizer searches a study, kept in the study so that a call that searches it with
another one says so.

Every call that proposes trials (``tune``, each ``Study.ask`` / ``metahpo ask``) builds its
optimizer from what it is given, and a job queue's asks each name theirs: one that forgets
``--optimizer cmaes`` searches the study with ``meta``, the default, and its stored state
(:attr:`metahpo.Trial.optimizer_attrs`) means nothing to it. The study's system attribute
``metahpo:optimizer`` holds the optimizer (its name or reference) and options of the last call
that proposed; a call with others logs a warning once and takes its place, so that a search that
changes its optimizer on purpose (a few random trials, then ``meta``) is told once. The same
record holds ``max_retries``: each worker retries the lost runs it finds by its own value, so
workers given different values give a configuration a number of runs that depends on which
worker finds its loss first; a call with another value than the last one is told so the same way.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Mapping

from metahpo.scalars import python_scalar

if TYPE_CHECKING:
    from metahpo.study import Study

logger = logging.getLogger("metahpo")
OPTIMIZER_ATTR = "metahpo:optimizer"


def note_optimizer(study: Study, name: str, options: Mapping[str, Any], max_retries: int
                   ) -> None:
    """Record that optimizer ``name`` with ``options`` searches ``study``, retrying a lost run's
    configuration up to ``max_retries`` times; warn if the study was searched by another
    optimizer (or with other options, or another ``max_retries``) until now."""
    plain = {key: python_scalar(value) for key, value in options.items()}
    wanted = {"optimizer": name,
              "options": json.loads(json.dumps(plain, default=repr, sort_keys=True)),
              "max_retries": max_retries}
    before = study.storage.get_study_system_attrs(study.study_id).get(OPTIMIZER_ATTR)
    if before == wanted:
        return
    if before is not None and _described(before) != _described(wanted):
        logger.warning("study %r was searched by %s until now; this call searches it with %s "
                       "(give every call on a study the same optimizer and options to go on "
                       "with its search)", study.name, _described(before), _described(wanted))
    if before is not None and before.get("max_retries", max_retries) != max_retries:
        logger.warning("study %r ran with max_retries=%s until now; this call gives %s (give "
                       "every worker of a study the same max_retries, --max-retries: each "
                       "retries the lost runs it finds by its own)", study.name,
                       before["max_retries"], max_retries)
    study.storage.set_study_system_attr(study.study_id, OPTIMIZER_ATTR, wanted)


def searched_by(study: Study) -> str | None:
    """The optimizer that searched ``study`` last, as :func:`note_optimizer` recorded it
    (``'cmaes'``, ``'meta' with options {...}``), or ``None`` (none proposed there yet, or a
    study Optuna made)."""
    record = study.storage.get_study_system_attrs(study.study_id).get(OPTIMIZER_ATTR)
    return None if record is None else _described(record)


def _described(record: Mapping[str, Any]) -> str:
    """``'cmaes'`` or ``'meta' with options {'policy': 'lcbench'}``."""
    options = record.get("options") or {}
    return repr(record.get("optimizer")) + (f" with options {options}" if options else "")
