"""Conditional parameters: a parameter that only matters for some values of another one.

``momentum`` matters only when ``optimizer`` is ``"sgd"``; the width of a third layer only when
there are three layers. A :class:`Condition` on a parameter (the child) names its parent and the
parent values under which the child is *active*. An inactive parameter is not part of a
configuration: ``SearchSpace.decode`` leaves it out, the objective never receives it and a
study never stores it (as in ConfigSpace, Optuna's define-by-run objectives and Ray Tune's
conditional search spaces).

Optimizers still work in the whole unit cube. An inactive parameter's coordinate holds the
space's middle in that dimension (see ``SearchSpace.middle``) wherever a configuration is
encoded, so that configurations that differ only in inactive parameters are one point: the
grid does not enumerate them twice, and history-based optimizers (GP, the meta-learned policy)
read every trial in the same coordinates.

Rules, checked when the space is built: the parent is a parameter of the space listed *before*
the child (so activity resolves in one pass, and there are no cycles), it takes discrete values
(categorical, integer or stepped float), and every listed value is one of its values. A child
is active when its parent is active and holds one of the values; conditions nest through
parents that are themselves conditional.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from metahpo.errors import MetaHPOError
from metahpo.parameters import Float

if TYPE_CHECKING:
    from metahpo.parameters import Parameter

_TOL = 1e-9


@dataclass(frozen=True)
class Condition:
    """The child parameter is active only when ``parent`` holds one of ``values``.

    Args:
        parent: name of the parameter the child depends on.
        values: the parent values under which the child is active (one value or a list).

    Example::

        SearchSpace([Categorical("optimizer", ["adam", "sgd"]), Float("momentum", 0.0, 0.99)],
                    conditions={"momentum": Condition("optimizer", ["sgd"])})
    """

    parent: str
    values: tuple[Any, ...]

    def __init__(self, parent: str, values: Any) -> None:
        if not isinstance(parent, str) or not parent:
            raise MetaHPOError(f"a condition's parent must be a parameter name, got {parent!r}")
        if isinstance(values, (list, tuple)):
            values = tuple(values)
        else:
            values = (values,)
        if not values:
            raise MetaHPOError(f"a condition on {parent!r} needs at least one value")
        object.__setattr__(self, "parent", parent)
        object.__setattr__(self, "values", values)

    def to_dict(self) -> dict[str, list[Any]]:
        """``{parent: [values]}``, the form of a space file's ``active_if`` key."""
        return {self.parent: list(self.values)}

    @classmethod
    def from_spec(cls, child: str, spec: Any) -> "Condition":
        """Read a space file's ``active_if: {parent: value or [values]}`` for parameter ``child``."""
        if isinstance(spec, Condition):
            return spec
        if not isinstance(spec, Mapping) or len(spec) != 1:
            raise MetaHPOError(
                f"parameter {child!r}: active_if must name one parent and its values, e.g. "
                f"{{optimizer: [sgd]}}, got {spec!r}"
            )
        (parent, values), = spec.items()
        return cls(parent, values)


def both(child: str, first: Condition, second: Condition) -> Condition:
    """The condition under which ``first`` and ``second`` on ``child`` both hold (the values of
    their parent they share); refused, naming ``child``, when they name different parents or
    share no value."""
    if first.parent != second.parent:
        raise MetaHPOError(f"parameter {child!r} has conditions on {first.parent!r} and "
                           f"{second.parent!r}: metahpo's conditions have one parent each")
    shared = [v for v in first.values if v in second.values]
    if not shared:
        raise MetaHPOError(f"parameter {child!r}: its conditions on {first.parent!r} share no "
                           "value, so it would never be active")
    return Condition(first.parent, shared)


def check_conditions(params: Sequence[Parameter], conditions: Mapping[str, Any]
                     ) -> dict[str, Condition]:
    """``conditions`` (child name -> :class:`Condition` or ``{parent: values}``) checked against
    the space's ``params``; returns them as conditions in the order of the params. Raises
    :class:`MetaHPOError` naming the child and what to change."""
    if not isinstance(conditions, Mapping):
        raise MetaHPOError(f"conditions must map parameter names to conditions, got {conditions!r}")
    position = {p.name: i for i, p in enumerate(params)}
    checked: dict[str, Condition] = {}
    for child, spec in conditions.items():
        if child not in position:
            raise MetaHPOError(f"condition on {child!r}: no parameter of that name in the space")
        cond = Condition.from_spec(child, spec)
        if cond.parent not in position:
            raise MetaHPOError(f"parameter {child!r}: its condition names an unknown parent "
                               f"{cond.parent!r}")
        if position[cond.parent] >= position[child]:
            raise MetaHPOError(f"parameter {child!r}: its parent {cond.parent!r} must be listed "
                               "before it in the space")
        parent = params[position[cond.parent]]
        if isinstance(parent, Float) and parent.step is None:
            raise MetaHPOError(f"parameter {child!r}: its parent {cond.parent!r} is continuous; "
                               "a condition's parent must be categorical, integer or stepped")
        bad = [v for v in cond.values if not parent.contains(v)]
        if bad:
            raise MetaHPOError(f"parameter {child!r}: {bad} are not values of its parent "
                               f"{cond.parent!r} ({parent.to_dict()})")
        checked[child] = cond
    return {p.name: checked[p.name] for p in params if p.name in checked}


def holds(parent: Parameter, cond: Condition, value: Any) -> bool:
    """Whether the parent's ``value`` (a valid value of ``parent``) is one of ``cond``'s."""
    u = parent.encode(value)
    return any(abs(u - parent.encode(v)) <= _TOL for v in cond.values)


def active_names(params: Sequence[Parameter], conditions: Mapping[str, Condition],
                 values: Mapping[str, Any]) -> list[str]:
    """Names of the parameters active under ``values`` (a configuration, possibly partial), in
    the space's order. A child whose parent is inactive or absent from ``values`` is inactive."""
    by_name = {p.name: p for p in params}
    active: list[str] = []
    on: set[str] = set()
    for p in params:
        cond = conditions.get(p.name)
        if cond is not None:
            parent = by_name[cond.parent]
            if cond.parent not in on or cond.parent not in values:
                continue
            if not parent.contains(values[cond.parent]) or not holds(parent, cond, values[cond.parent]):
                continue
        active.append(p.name)
        on.add(p.name)
    return active


def active_mask(params: Sequence[Parameter], conditions: Mapping[str, Condition],
                snapped: np.ndarray) -> np.ndarray:
    """Which parameters are active at each of the snapped unit-cube points ``(n, dim)``:
    bool ``(n, dim)`` (vectorised :func:`active_names`)."""
    index = {p.name: i for i, p in enumerate(params)}
    mask = np.ones(snapped.shape, dtype=bool)
    for child, cond in conditions.items():
        i, j = index[child], index[cond.parent]
        parent = params[j]
        allowed = np.array([parent.encode(v) for v in cond.values])
        held = (np.abs(snapped[:, j, None] - allowed[None, :]) <= _TOL).any(axis=1)
        mask[:, i] = mask[:, j] & held
    return mask
