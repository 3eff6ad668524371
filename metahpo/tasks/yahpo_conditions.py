"""Which parameters of a YAHPO scenario a configuration leaves inactive.

YAHPO's surrogates were fitted on configurations of their ConfigSpace, where a conditional
parameter without effect is absent (an SVM's ``gamma`` with a linear kernel): YAHPO Gym feeds
such a parameter to the surrogate as ``0`` (continuous) or the ``#na#`` code (categorical).
Unit-cube points carry a value for every parameter (meta-training's rollouts, the regret
bounds' random samples, a scenario whose conditions metahpo's spaces cannot represent), so
:class:`~metahpo.tasks.yahpo.YahpoScenario` masks the parameters each configuration leaves
inactive by :class:`ActiveRules` before it asks the surrogate, as YAHPO Gym does: the surrogate
then sees the inputs it was fitted on.

The conditions are read from the scenario's ConfigSpace JSON document: ``EQ``, ``NEQ``, ``LT``,
``GT`` and ``IN`` on one parent, and ``AND`` / ``OR`` conjunctions of them. A parameter is
active where its conditions hold and its parents are active themselves.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from metahpo.errors import MetaHPOError

#: ``rule(values, active)``: where a condition holds, ``(n,)`` bool, from the configurations'
#: values ``{name: (n,) array}`` (categorical values as strings) and the activity of the
#: conditional parameters decided so far (a parent missing there is unconditional: active).
Rule = Callable[[Mapping[str, np.ndarray], Mapping[str, np.ndarray]], np.ndarray]


def _leaf(cond: Mapping[str, Any]) -> tuple[str, str, Rule]:
    """``(child, parent, rule)`` of a condition on one parent."""
    kind, child, parent = cond.get("type"), cond.get("child"), cond.get("parent")
    if not isinstance(child, str) or not isinstance(parent, str):
        raise MetaHPOError(f"ConfigSpace condition {cond!r} names no child and parent")
    if kind not in ("EQ", "NEQ", "LT", "GT", "IN"):
        raise MetaHPOError(f"ConfigSpace condition type {kind!r} (on {child!r}) is not supported")
    wanted = list(cond.get("values") or []) if kind == "IN" else [cond.get("value")]

    def holds(values: Mapping[str, np.ndarray]) -> np.ndarray:
        column = values[parent]
        targets = (np.asarray([str(v) for v in wanted]) if column.dtype.kind == "U"
                   else np.asarray(wanted, dtype=float))
        if kind == "LT":
            return column < targets[0]
        if kind == "GT":
            return column > targets[0]
        inside = np.isin(column, targets)
        return ~inside if kind == "NEQ" else inside

    return child, parent, lambda values, active: holds(values) & active.get(parent, True)


def _rule(cond: Any) -> tuple[str, list[str], Rule]:
    """``(child, parents, rule)`` of a ConfigSpace JSON condition or conjunction."""
    if not isinstance(cond, Mapping):
        raise MetaHPOError(f"ConfigSpace condition must be a mapping, got {cond!r}")
    if cond.get("type") in ("AND", "OR"):
        parts = [_rule(c) for c in cond.get("conditions") or []]
        children = {child for child, _, _ in parts}
        if len(children) != 1:
            raise MetaHPOError(f"ConfigSpace conjunction {cond!r} must name one child")
        combine = np.logical_and if cond["type"] == "AND" else np.logical_or
        rules = [rule for _, _, rule in parts]

        def joined(values: Mapping[str, np.ndarray],
                   active: Mapping[str, np.ndarray]) -> np.ndarray:
            out = rules[0](values, active)
            for rule in rules[1:]:
                out = combine(out, rule(values, active))
            return out

        return children.pop(), [p for _, parents, _ in parts for p in parents], joined
    child, parent, rule = _leaf(cond)
    return child, [parent], rule


class ActiveRules:
    """The conditions of a ConfigSpace JSON document, to tell which parameters each of ``n``
    configurations leaves inactive (see the module docstring).

    Args:
        document: the ConfigSpace JSON document (its ``conditions`` list).
    """

    def __init__(self, document: Mapping[str, Any]) -> None:
        rules: dict[str, tuple[list[str], list[Rule]]] = {}
        for cond in document.get("conditions") or []:
            child, parents, rule = _rule(cond)
            known = rules.setdefault(child, ([], []))
            known[0].extend(parents)
            known[1].append(rule)
        self._order = _parents_first(rules)
        self._rules = rules

    @property
    def conditional(self) -> list[str]:
        """The parameters that have conditions, parents before children."""
        return list(self._order)

    def active(self, values: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
        """``{name: (n,) bool}``: where each conditional parameter is active, for the
        configurations whose values ``values`` holds (``{name: (n,) array}``, categorical
        values as strings; every parent must be there)."""
        active: dict[str, np.ndarray] = {}
        for child in self._order:
            mask = np.ones(n, dtype=bool)
            for rule in self._rules[child][1]:
                mask &= rule(values, active)
            active[child] = mask
        return active


def _parents_first(rules: Mapping[str, tuple[list[str], list[Rule]]]) -> list[str]:
    """The conditional parameters in an order where every parent comes before its children;
    a clear error for a cycle."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str) -> None:
        if state.get(name) == 2 or name not in rules:
            return
        if state.get(name) == 1:
            raise MetaHPOError(f"the ConfigSpace conditions form a cycle through {name!r}")
        state[name] = 1
        for parent in rules[name][0]:
            visit(parent)
        state[name] = 2
        order.append(name)

    for name in rules:
        visit(name)
    return order
