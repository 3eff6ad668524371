"""A user's own objective as a benchmark task.

``metahpo bench --tasks objective:MODULE:FUNCTION --space FILE --direction maximize`` compares
optimizers on the function ``tune`` would call (``f(params) -> float``), e.g. a real training
of the user's model, to see which one suits it. Such a task has no known best value: regret is
normalized by the best and worst value any run of the suite found, as for the built-in training
tasks. ``FUNCTION`` must be importable by every worker (a module on the path, or a file given as
``path/to/file.py``); with ``--backend ray`` on a cluster, on every node.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from metahpo.errors import MetaHPOError
from metahpo.imports import import_reference
from metahpo.space import SearchSpace, read_space
from metahpo.tasks.base import Task
from metahpo.trial import check_direction


def load_objective(ref: str) -> Callable[[dict[str, Any]], Any]:
    """Import ``module.path:function`` or ``path/to/file.py:function``."""
    func = import_reference(ref, "objective", "MODULE:FUNCTION")
    if not callable(func):
        raise MetaHPOError(f"objective {ref!r} is not a function: {type(func).__name__}")
    return func


class ObjectiveTask(Task):
    """``function(params)`` over ``space`` as a task (see the module docstring).

    Args:
        ref: ``MODULE:FUNCTION`` or ``path/to/file.py:FUNCTION``.
        space: the search space, or a space file's path (or inline JSON, as ``--space``).
        direction: ``"minimize"`` or ``"maximize"``.
    """

    def __init__(self, ref: str, space: SearchSpace | str | Path, direction: str) -> None:
        self.function = load_objective(ref)
        self.space = space if isinstance(space, SearchSpace) else read_space(space)
        self.direction = check_direction(direction)
        module, function = ref.rsplit(":", 1)
        self.name = f"{Path(module).stem if module.endswith('.py') else module}.{function}"

    def evaluate(self, params: Mapping[str, Any]) -> Any:
        """What the function returns; the harness records ``None``, NaN and non-numbers as
        failed trials, as ``tune`` does."""
        return self.function(dict(params))
