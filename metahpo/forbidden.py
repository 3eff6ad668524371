"""Forbidden combinations: configurations of a space that must never be proposed.

Some combinations of values cannot run, or make no sense: a batch size of 1024 with the large
model on a small GPU, ``nesterov`` momentum with Adam. A forbidden clause maps parameter names
to values; a configuration is forbidden by it when *every* parameter it names is active and
holds one of its values: ``{"model": "large", "batch_size": [512, 1024]}`` forbids the large
model with a batch size of 512 or 1024, and nothing else (ConfigSpace's
``ForbiddenAndConjunction`` of ``ForbiddenEqualsClause`` / ``ForbiddenInClause``; a clause of
one parameter removes values from it). A relation between two numeric parameters,
``"warmup_epochs >= epochs"`` (``<``, ``<=``, ``==``, ``>=`` or ``>``), forbids the
configurations where both are active and compare so (ConfigSpace's forbidden relations).

What :class:`~metahpo.space.SearchSpace` does with its clauses:

- Every optimizer proposes allowed configurations only: the grid and the meta-learned
  optimizer leave forbidden points out of their candidates (the meta-learned one draws its
  random initial design among allowed points, see
  :func:`metahpo.policy.random_design_points`); any other optimizer whose proposal
  is forbidden proposes again (the Optuna-backed ones other than TPE take the forbidden
  proposal in as a trial as bad as their worst, see
  ``OptunaSamplerOptimizer._discard_proposal``), and after
  ``MAX_PROPOSALS`` forbidden proposals in a row a uniformly drawn allowed configuration is
  proposed instead (see :meth:`metahpo.Optimizer.ask`).
- Configurations a user gives (points to evaluate, enqueued ones) are refused by name when
  forbidden; results of configurations evaluated elsewhere are taken as they are.

Rules, checked when the space is built: a clause names at least one parameter, each named
parameter takes discrete values (categorical, integer or stepped float: one value of a
continuous parameter forbids nothing measurable; a limit measured by the training is a
constraint, see :meth:`metahpo.RunningTrial.set_constraint`), and each listed value is one of
its values; a relation compares two different integer or float parameters.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence, Union

import numpy as np

from metahpo.conditions import terms_mask, value_in
from metahpo.errors import MetaHPOError
from metahpo.parameters import Float, Int

if TYPE_CHECKING:
    from metahpo.parameters import Parameter

#: Forbidden proposals in a row after which :meth:`metahpo.Optimizer.ask` draws an allowed
#: configuration uniformly instead.
MAX_PROPOSALS = 10
#: Uniform draws tried for an allowed configuration before the space is declared (almost) all
#: forbidden.
MAX_DRAWS = 10_000


@dataclass(frozen=True, init=False)
class ForbiddenClause:
    """A combination of values no proposed configuration may hold: ``items`` pairs each
    parameter name with the values it forbids (see the module docstring)."""

    items: tuple[tuple[str, tuple[Any, ...]], ...]

    def __init__(self, spec: Mapping[str, Any]) -> None:
        object.__setattr__(self, "items", tuple(
            (name, tuple(v) if isinstance(v, (list, tuple)) else (v,))
            for name, v in spec.items()))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.items)

    def to_spec(self) -> dict[str, list[Any]]:
        """``{name: [values]}``, the form of a space file's ``forbidden`` list entries."""
        return {name: list(values) for name, values in self.items}

    def __str__(self) -> str:
        return str(self.to_spec())

    def check(self, by_name: Mapping[str, Parameter]) -> None:
        """Refuse, naming the clause, what the space's parameters ``by_name`` cannot hold."""
        for name, values in self.items:
            p = _named(self, name, by_name)
            if isinstance(p, Float) and p.step is None:
                raise MetaHPOError(
                    f"forbidden clause {self}: {name!r} is continuous, and one of its values "
                    "forbids nothing measurable; forbid values of categorical, integer or "
                    "stepped parameters, or a relation between two numbers ('warmup >= "
                    "epochs'; a limit on a range is a constraint)")
            if not values:
                raise MetaHPOError(f"forbidden clause {self}: no value of {name!r} listed")
            bad = [v for v in values if not p.contains(v)]
            if bad:
                raise MetaHPOError(f"forbidden clause {self}: {bad} are not values of "
                                   f"{name!r} ({p.to_dict()})")

    def breaks(self, by_name: Mapping[str, Parameter], config: Mapping[str, Any]) -> bool:
        """Whether the valid configuration ``config`` is forbidden by this clause."""
        return all(name in config and value_in(by_name[name], values, config[name])
                   for name, values in self.items)

    def mask(self, index: Mapping[str, int], params: Sequence[Parameter], snapped: np.ndarray,
             active: np.ndarray, columns: list[np.ndarray]) -> np.ndarray:
        """:meth:`breaks` at snapped unit-cube points ``(n, dim)``: bool ``(n,)`` (see
        :func:`forbidden_mask` for the arguments)."""
        return terms_mask(self.items, index, params, snapped, active)


#: The comparisons a :class:`ForbiddenRelation` takes.
RELATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt, "<=": operator.le, "==": operator.eq, ">=": operator.ge, ">": operator.gt}


@dataclass(frozen=True, init=False)
class ForbiddenRelation:
    """Configurations whose numeric parameters ``left`` and ``right``, both active, compare by
    ``op`` (``"warmup_epochs >= epochs"``) are forbidden (ConfigSpace's forbidden relations).
    Its methods do what :class:`ForbiddenClause`'s do."""

    left: str
    op: str
    right: str

    def __init__(self, spec: str) -> None:
        parts = spec.split()
        if len(parts) != 3 or parts[1] not in RELATIONS:
            raise MetaHPOError(f"forbidden relation {spec!r} must read 'NAME OP NAME' with OP one "
                               f"of {' '.join(RELATIONS)}, e.g. 'warmup_epochs >= epochs'")
        for field, value in zip(("left", "op", "right"), parts):
            object.__setattr__(self, field, value)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.left, self.right)

    def to_spec(self) -> str:
        return f"{self.left} {self.op} {self.right}"

    def __str__(self) -> str:
        return repr(self.to_spec())

    def check(self, by_name: Mapping[str, Parameter]) -> None:
        for name in self.names:
            if not isinstance(_named(self, name, by_name), (Float, Int)):
                raise MetaHPOError(f"forbidden relation {self}: {name!r} is categorical; a "
                                   "relation compares numbers (forbid combinations of choices "
                                   "with a clause {name: value, ...})")
        if self.left == self.right:
            raise MetaHPOError(f"forbidden relation {self} compares a parameter with itself")

    def breaks(self, by_name: Mapping[str, Parameter], config: Mapping[str, Any]) -> bool:
        return (self.left in config and self.right in config
                and bool(RELATIONS[self.op](config[self.left], config[self.right])))

    def mask(self, index: Mapping[str, int], params: Sequence[Parameter], snapped: np.ndarray,
             active: np.ndarray, columns: list[np.ndarray]) -> np.ndarray:
        i, j = index[self.left], index[self.right]
        return active[:, i] & active[:, j] & RELATIONS[self.op](columns[i], columns[j])


Forbidden = Union[ForbiddenClause, ForbiddenRelation]


def _named(clause: Forbidden, name: str, by_name: Mapping[str, Parameter]) -> Parameter:
    if name not in by_name:
        raise MetaHPOError(f"forbidden clause {clause}: no parameter named {name!r} in the space")
    return by_name[name]


def parse_forbidden(spec: Any) -> Forbidden:
    """A clause from its form in a space (``{name: value or [values], ...}``) or a relation
    from its text (``"warmup_epochs >= epochs"``)."""
    if isinstance(spec, str):
        return ForbiddenRelation(spec)
    if not isinstance(spec, Mapping) or not spec:
        raise MetaHPOError("a forbidden clause must map parameter names to values, e.g. "
                           "{optimizer: sgd, batch_size: [512, 1024]}, or be a relation such as "
                           f"'warmup_epochs >= epochs', got {spec!r}")
    return ForbiddenClause(spec)


def check_forbidden(params: Sequence[Parameter], clauses: Any) -> tuple[Forbidden, ...]:
    """``clauses`` (a list of ``{name: value or [values]}`` and ``"NAME OP NAME"``) checked
    against the space's ``params``; a :class:`MetaHPOError` naming the clause and what to
    change otherwise."""
    if isinstance(clauses, (Mapping, str)) or not isinstance(clauses, Sequence):
        raise MetaHPOError("forbidden must be a list of clauses such as {optimizer: sgd, "
                           f"batch_size: [512, 1024]}} or 'warmup_epochs >= epochs', got "
                           f"{clauses!r}")
    by_name = {p.name: p for p in params}
    checked = []
    for spec in clauses:
        clause = parse_forbidden(spec)
        clause.check(by_name)
        checked.append(clause)
    return tuple(checked)


def breaking(params: Sequence[Parameter], clauses: Sequence[Forbidden],
             config: Mapping[str, Any]) -> Forbidden | None:
    """The first of ``clauses`` that ``config`` (a valid configuration: its active parameters
    only) breaks, or ``None`` where it is allowed."""
    by_name = {p.name: p for p in params}
    return next((clause for clause in clauses if clause.breaks(by_name, config)), None)


def forbidden_mask(params: Sequence[Parameter], clauses: Sequence[Forbidden],
                   snapped: np.ndarray, active: np.ndarray,
                   columns: Callable[[], list[np.ndarray]]) -> np.ndarray:
    """Which snapped unit-cube points ``(n, dim)`` a clause forbids: bool ``(n,)``; ``active``
    ``(n, dim)`` says which parameters each point leaves active, and ``columns()`` gives each
    parameter's values at the points (``SearchSpace.decode_columns``; called only where a
    relation needs them). Vectorised :func:`breaking`."""
    index = {p.name: i for i, p in enumerate(params)}
    decoded = columns() if any(isinstance(c, ForbiddenRelation) for c in clauses) else []
    out = np.zeros(len(snapped), dtype=bool)
    for clause in clauses:
        out |= clause.mask(index, params, snapped, active, decoded)
    return out
