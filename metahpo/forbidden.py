"""Forbidden combinations: configurations of a space that must never be proposed.

Some combinations of values cannot run, or make no sense: a batch size of 1024 with the large
model on a small GPU, ``nesterov`` momentum with Adam. A forbidden clause maps parameter names
to values; a configuration is forbidden by it when *every* parameter it names is active and
holds one of its values: ``{"model": "large", "batch_size": [512, 1024]}`` forbids the large
model with a batch size of 512 or 1024, and nothing else (ConfigSpace's
``ForbiddenAndConjunction`` of ``ForbiddenEqualsClause`` / ``ForbiddenInClause``; a clause of
one parameter removes values from it).

What :class:`~metahpo.space.SearchSpace` does with its clauses:

- Every optimizer proposes allowed configurations only: the grid and the meta-learned
  optimizer leave forbidden points out of their candidates; any other optimizer whose proposal
  is forbidden proposes again, and after ``MAX_PROPOSALS`` forbidden proposals in a row a
  uniformly drawn allowed configuration is proposed instead (see
  :meth:`metahpo.Optimizer.ask`).
- Configurations a user gives (points to evaluate, enqueued ones) are refused by name when
  forbidden; results of configurations evaluated elsewhere are taken as they are.

Rules, checked when the space is built: a clause names at least one parameter, each named
parameter takes discrete values (categorical, integer or stepped float: one value of a
continuous parameter forbids nothing measurable; a limit on a range is a constraint, see
:meth:`metahpo.RunningTrial.set_constraint`), and each listed value is one of its values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from metahpo.conditions import column_in, value_in
from metahpo.errors import MetaHPOError
from metahpo.parameters import Float

if TYPE_CHECKING:
    from metahpo.parameters import Parameter

#: Forbidden proposals in a row after which :meth:`metahpo.Optimizer.ask` draws an allowed
#: configuration uniformly instead.
MAX_PROPOSALS = 10
#: Uniform draws tried for an allowed configuration before the space is declared (almost) all
#: forbidden.
MAX_DRAWS = 10_000


@dataclass(frozen=True)
class ForbiddenClause:
    """A combination of values no proposed configuration may hold: ``items`` pairs each
    parameter name with the values it forbids (see the module docstring)."""

    items: tuple[tuple[str, tuple[Any, ...]], ...]

    def __init__(self, spec: Any) -> None:
        if isinstance(spec, ForbiddenClause):
            items = spec.items
        else:
            if not isinstance(spec, Mapping) or not spec:
                raise MetaHPOError("a forbidden clause must map parameter names to values, e.g. "
                                   f"{{optimizer: sgd, batch_size: [512, 1024]}}, got {spec!r}")
            items = tuple((name, tuple(v) if isinstance(v, (list, tuple)) else (v,))
                          for name, v in spec.items())
        object.__setattr__(self, "items", items)

    def to_dict(self) -> dict[str, list[Any]]:
        """``{name: [values]}``, the form of a space file's ``forbidden`` list entries."""
        return {name: list(values) for name, values in self.items}

    def __str__(self) -> str:
        return str(self.to_dict())


def check_forbidden(params: Sequence[Parameter], clauses: Any) -> tuple[ForbiddenClause, ...]:
    """``clauses`` (a list of ``{name: value or [values]}``) checked against the space's
    ``params``; a :class:`MetaHPOError` naming the clause and what to change otherwise."""
    if isinstance(clauses, Mapping) or not isinstance(clauses, Sequence) or isinstance(
            clauses, str):
        raise MetaHPOError("forbidden must be a list of clauses such as {optimizer: sgd, "
                           f"batch_size: [512, 1024]}}, got {clauses!r}")
    by_name = {p.name: p for p in params}
    checked = []
    for spec in clauses:
        clause = ForbiddenClause(spec)
        for name, values in clause.items:
            p = by_name.get(name)
            if p is None:
                raise MetaHPOError(f"forbidden clause {clause}: no parameter named {name!r} "
                                   "in the space")
            if isinstance(p, Float) and p.step is None:
                raise MetaHPOError(
                    f"forbidden clause {clause}: {name!r} is continuous, and one of its values "
                    "forbids nothing measurable; forbid values of categorical, integer or "
                    "stepped parameters (a limit on a range is a constraint)")
            if not values:
                raise MetaHPOError(f"forbidden clause {clause}: no value of {name!r} listed")
            bad = [v for v in values if not p.contains(v)]
            if bad:
                raise MetaHPOError(f"forbidden clause {clause}: {bad} are not values of "
                                   f"{name!r} ({p.to_dict()})")
        checked.append(clause)
    return tuple(checked)


def breaking(params: Sequence[Parameter], clauses: Sequence[ForbiddenClause],
             config: Mapping[str, Any]) -> ForbiddenClause | None:
    """The first of ``clauses`` that ``config`` (a valid configuration: its active parameters
    only) breaks, or ``None`` where it is allowed."""
    by_name = {p.name: p for p in params}
    for clause in clauses:
        if all(name in config and value_in(by_name[name], values, config[name])
               for name, values in clause.items):
            return clause
    return None


def forbidden_mask(params: Sequence[Parameter], clauses: Sequence[ForbiddenClause],
                   snapped: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Which snapped unit-cube points ``(n, dim)`` a clause forbids: bool ``(n,)``; ``active``
    ``(n, dim)`` says which parameters each point leaves active (vectorised :func:`breaking`)."""
    index = {p.name: i for i, p in enumerate(params)}
    out = np.zeros(len(snapped), dtype=bool)
    for clause in clauses:
        hit = np.ones(len(snapped), dtype=bool)
        for name, values in clause.items:
            i = index[name]
            hit &= active[:, i] & column_in(params[i], values, snapped[:, i])
        out |= hit
    return out
