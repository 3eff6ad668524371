"""Conditional parameters: a parameter that only matters for some values of another one.

``momentum`` matters only when ``optimizer`` is ``"sgd"``; the width of a third layer only when
there are three layers. A :class:`Condition` on a parameter (the child) names its parent and the
parent values under which the child is *active*, or several parents, each with its values, that
must all hold (``units_3`` of an MLP only: ``{"model": "mlp", "layers": [3, 4]}``), or
alternatives of which one must hold (``[{"model": "mlp", "layers": [3, 4]}, {"model":
"wide"}]``: a deep MLP or the wide model, ConfigSpace's ``OR`` across parents). An
inactive parameter is not part of a configuration: ``SearchSpace.decode`` leaves it out, the
objective never receives it and a study never stores it (as in ConfigSpace, Optuna's
define-by-run objectives and Ray Tune's conditional search spaces).

Optimizers still work in the whole unit cube. An inactive parameter's coordinate holds the
space's middle in that dimension (see ``SearchSpace.middle``) wherever a configuration is
encoded, so that configurations that differ only in inactive parameters are one point: the
grid does not enumerate them twice, and history-based optimizers (GP, the meta-learned policy)
read every trial in the same coordinates.

Rules, checked when the space is built: each parent is a parameter of the space listed *before*
the child (so activity resolves in one pass, and there are no cycles), it takes discrete values
(categorical, integer or stepped float), and every listed value is one of its values. A child
is active when, in one of its condition's alternatives, each parent is active and holds one of
its values; conditions nest through parents that are themselves conditional.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from metahpo.errors import MetaHPOError
from metahpo.parameters import Float

if TYPE_CHECKING:
    from metahpo.parameters import Parameter

_TOL = 1e-9


_NO_VALUES: Any = object()

#: A condition's term: a parent and the values under which it holds.
Term = tuple[str, tuple[Any, ...]]


@dataclass(frozen=True, init=False, repr=False)
class Condition:
    """The child parameter is active only when its parent holds one of ``values``; or, given a
    mapping of several parents, when each of them holds one of its values; or, given a list of
    such mappings, when one of them holds (an either-or).

    Args:
        parent: name of the parameter the child depends on; or a mapping ``{parent: values}``
            of the parents that must all hold (``{"model": "mlp", "layers": [3, 4]}``); or a
            list of such mappings, of which one must hold (``[{"layers": [3, 4]}, {"model":
            "wide"}]``: the third layer's width for deep or wide models).
        values: the parent values under which the child is active (one value or a list);
            with one parent named, not with a mapping or a list.

    Example::

        SearchSpace([Categorical("optimizer", ["adam", "sgd"]), Float("momentum", 0.0, 0.99)],
                    conditions={"momentum": Condition("optimizer", ["sgd"])})
    """

    #: The either-or alternatives, in the order given: each a tuple of ``(parent, values)``
    #: terms, each parent once, that must all hold.
    alternatives: tuple[tuple[Term, ...], ...]

    def __init__(self, parent: str | Mapping[str, Any] | Sequence[Mapping[str, Any]],
                 values: Any = _NO_VALUES) -> None:
        if isinstance(parent, (Mapping, list, tuple)) and values is not _NO_VALUES:
            raise MetaHPOError("a condition takes either a parent and its values or a mapping "
                               f"{{parent: values}} (or a list of them), not both (got {parent!r} "
                               f"and {values!r})")
        if isinstance(parent, (list, tuple)):
            if not parent:
                raise MetaHPOError("an either-or condition needs at least one alternative")
            bad = [alt for alt in parent if not isinstance(alt, Mapping)]
            if bad:
                raise MetaHPOError("an either-or condition lists mappings {parent: values}, one "
                                   f"per alternative; got {bad[0]!r}")
            groups = [list(alt.items()) for alt in parent]
        elif isinstance(parent, Mapping):
            groups = [list(parent.items())]
        elif values is _NO_VALUES:
            raise MetaHPOError(f"a condition on {parent!r} needs the parent's values under which "
                               "the child is active")
        else:
            groups = [[(parent, values)]]
        alternatives = []
        for pairs in groups:
            if not pairs:
                raise MetaHPOError("a condition needs at least one parent")
            terms = []
            for name, held in pairs:
                if not isinstance(name, str) or not name:
                    raise MetaHPOError("a condition's parent must be a parameter name, got "
                                       f"{name!r}")
                held = tuple(held) if isinstance(held, (list, tuple)) else (held,)
                if not held:
                    raise MetaHPOError(f"a condition on {name!r} needs at least one value")
                terms.append((name, held))
            if tuple(terms) not in alternatives:
                alternatives.append(tuple(terms))
        object.__setattr__(self, "alternatives", tuple(alternatives))

    @property
    def terms(self) -> tuple[Term, ...]:
        """The ``(parent, values)`` terms of a condition without alternatives, in the order
        given."""
        if len(self.alternatives) != 1:
            raise MetaHPOError(f"condition {self} is an either-or; read its alternatives")
        return self.alternatives[0]

    @property
    def parents(self) -> tuple[str, ...]:
        """The names of the parents, in the order given (each once)."""
        return tuple(dict.fromkeys(name for terms in self.alternatives for name, _ in terms))

    @property
    def parent(self) -> str:
        """The parent of a condition on one parameter."""
        return self._only()[0]

    @property
    def values(self) -> tuple[Any, ...]:
        """The parent values of a condition on one parameter."""
        return self._only()[1]

    def _only(self) -> Term:
        if len(self.terms) != 1:
            raise MetaHPOError(f"condition {self} has several parents; read its terms")
        return self.terms[0]

    def to_spec(self) -> dict[str, list[Any]] | list[dict[str, list[Any]]]:
        """``{parent: [values], ...}``, or a list of them for an either-or: the form of a space
        file's ``active_if`` key."""
        specs = [{name: list(held) for name, held in terms} for terms in self.alternatives]
        return specs[0] if len(specs) == 1 else specs

    def __str__(self) -> str:
        def conjunction(terms: tuple[Term, ...]) -> str:
            return " and ".join(f"{name!r} is one of {list(held)}" for name, held in terms)

        if len(self.alternatives) == 1:
            return conjunction(self.alternatives[0])
        return " or ".join(f"({conjunction(terms)})" for terms in self.alternatives)

    def __repr__(self) -> str:
        if len(self.alternatives) == 1 and len(self.terms) == 1:
            return f"Condition({self.parent!r}, {list(self.values)!r})"
        return f"Condition({self.to_spec()!r})"

    @classmethod
    def from_spec(cls, child: str, spec: Any) -> "Condition":
        """Read a space file's ``active_if: {parent: value or [values], ...}`` (several parents:
        all must hold), or a list of such mappings (one must hold), for parameter ``child``."""
        if isinstance(spec, Condition):
            return spec
        if not isinstance(spec, (Mapping, list)) or not spec:
            raise MetaHPOError(
                f"parameter {child!r}: active_if must name its parents and their values, e.g. "
                f"{{optimizer: [sgd]}}, or list such alternatives, got {spec!r}"
            )
        try:
            return cls(spec)
        except MetaHPOError as exc:
            raise MetaHPOError(f"parameter {child!r}: {exc}") from None


def both(child: str, first: Condition, second: Condition) -> Condition:
    """The condition under which ``first`` and ``second`` on ``child`` both hold: for each pair
    of their alternatives, their :func:`merged_terms` (pairs that share a parent but none of
    its values drop out; refused, naming ``child``, where every pair does)."""
    merged = [merged_terms(a, b) for a in first.alternatives for b in second.alternatives]
    possible = [terms for terms in merged if all(terms.values())]
    if not possible:
        clash = next(name for name, values in merged[0].items() if not values)
        raise MetaHPOError(f"parameter {child!r}: its conditions on {clash!r} share no value, so "
                           "it would never be active")
    return Condition(possible)


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
        for name, held in (term for terms in cond.alternatives for term in terms):
            if name not in position:
                raise MetaHPOError(f"parameter {child!r}: its condition names an unknown parent "
                                   f"{name!r}")
            if position[name] >= position[child]:
                raise MetaHPOError(f"parameter {child!r}: its parent {name!r} must be listed "
                                   "before it in the space")
            parent = params[position[name]]
            if isinstance(parent, Float) and parent.step is None:
                raise MetaHPOError(f"parameter {child!r}: its parent {name!r} is continuous; "
                                   "a condition's parent must be categorical, integer or stepped")
            bad = [v for v in held if not parent.contains(v)]
            if bad:
                raise MetaHPOError(f"parameter {child!r}: {bad} are not values of its parent "
                                   f"{name!r} ({parent.to_dict()})")
        checked[child] = cond
    return {p.name: checked[p.name] for p in params if p.name in checked}


def value_in(p: Parameter, values: Sequence[Any], value: Any) -> bool:
    """Whether ``value`` (a valid value of ``p``) is one of ``values`` (compared by encoding,
    so that ``3`` and ``3.0`` of an integer are one value)."""
    u = p.encode(value)
    return any(abs(u - p.encode(v)) <= _TOL for v in values)


def column_in(p: Parameter, values: Sequence[Any], column: np.ndarray) -> np.ndarray:
    """Vectorised :func:`value_in` for the snapped unit-cube coordinates ``column`` ``(n,)``
    of ``p``: bool ``(n,)``."""
    codes = np.array([p.encode(v) for v in values])
    return (np.abs(column[:, None] - codes[None, :]) <= _TOL).any(axis=1)


def terms_mask(terms: Sequence[Term], index: Mapping[str, int], params: Sequence[Parameter],
               snapped: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Where every ``(name, values)`` of ``terms`` holds at the snapped unit-cube points
    ``(n, dim)``: the parameter active there (``active``, bool ``(n, dim)``) and at one of the
    values; bool ``(n,)``. ``index`` maps names to columns. A condition's alternative and a
    forbidden clause are such terms."""
    hit = np.ones(len(snapped), dtype=bool)
    for name, values in terms:
        j = index[name]
        hit &= active[:, j] & column_in(params[j], values, snapped[:, j])
    return hit


def merged_terms(first: Iterable[tuple[str, Sequence[Any]]],
                 second: Iterable[tuple[str, Sequence[Any]]]) -> dict[str, list[Any]]:
    """The terms under which ``first`` and ``second`` both hold: each name they share with the
    values both list (an empty list where they list none in common), and the other names of
    each."""
    merged = {name: list(values) for name, values in first}
    for name, values in second:
        merged[name] = [v for v in merged[name] if v in values] if name in merged else list(values)
    return merged


def active_names(params: Sequence[Parameter], conditions: Mapping[str, Condition],
                 values: Mapping[str, Any]) -> list[str]:
    """Names of the parameters active under ``values`` (a configuration, possibly partial), in
    the space's order. A child with a parent inactive or absent from ``values`` is inactive."""
    by_name = {p.name: p for p in params}
    active: list[str] = []
    on: set[str] = set()
    for p in params:
        cond = conditions.get(p.name)
        if cond is not None and not any(all(
                name in on and name in values and by_name[name].contains(values[name])
                and value_in(by_name[name], held, values[name]) for name, held in terms)
                for terms in cond.alternatives):
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
        holds = np.zeros(len(snapped), dtype=bool)
        for terms in cond.alternatives:
            holds |= terms_mask(terms, index, params, snapped, mask)
        mask[:, index[child]] &= holds
    return mask
