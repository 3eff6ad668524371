"""The conditional structure of a define-by-run Optuna study, read from its completed trials.

An Optuna objective declares its search space as it runs: ``if optimizer == "sgd":`` it
suggests ``momentum``, ``for i in range(n_layers):`` it suggests ``units_{i}``. Optuna's
intersection search space keeps only the parameters every completed trial holds, so such
parameters were left to independent random sampling. :func:`define_by_run_space` also keeps a
parameter that some trials hold when one parameter before it explains where it appears: a
discrete parent (categorical or integer) such that, in every completed trial that holds the
parent, the parameter is present exactly when the parent holds one of the values it held in the
trials with the parameter (``momentum`` when ``optimizer`` is ``"sgd"``, ``units_2`` when
``n_layers`` is 3 or more; an integer parent's values must lie above or below a threshold, and
the condition then takes in the values on that side not seen yet), or, where no one parameter
does, two that do together (``units_3`` when ``model`` is ``"mlp"`` and ``n_layers`` is 3 or
more). That is a :class:`~metahpo.conditions.Condition`, and the sampler's optimizer then
models the parameter where it is active, as it does for a declared conditional space.

What cannot be read this way stays with independent sampling: a parameter whose presence
depends on more than two others, or on one parameter or another (``if a or b``), or on nothing
in the trials (a random choice inside the objective), or whose distribution changes between
trials. Among few trials a pair explains more by coincidence than one parameter does; a
condition read so is dropped as soon as a completed trial contradicts it. A categorical
parent's condition holds the values seen so far: a parameter is not proposed for a choice no
completed trial has shown it with, and a trial that suggests it there (its first) gets it by
independent sampling, after which the condition includes that choice.
"""

from __future__ import annotations

from typing import Any, Sequence, cast

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from metahpo.conditions import Condition

#: Integer parents with more values than this list only the values seen in a condition.
MAX_LISTED = 1024


def define_by_run_space(trials: Sequence[FrozenTrial]
                        ) -> tuple[dict[str, BaseDistribution], dict[str, Condition]]:
    """The parameters of a study's completed ``trials`` that a sampler can model, and the
    conditions of those not held by every trial (see the module docstring).

    Returns ``({name: distribution}, {child: Condition})``: first the parameters every completed
    trial holds with one distribution, ordered by name (Optuna's intersection search space), then
    the conditional ones, each after its parent. Both are empty before a trial has completed."""
    completed = [t for t in trials if t.state == TrialState.COMPLETE]
    distributions: dict[str, BaseDistribution] = {}
    clashing: set[str] = set()
    present: dict[str, set[int]] = {}
    for i, t in enumerate(completed):
        for name, dist in t.distributions.items():
            if distributions.setdefault(name, dist) != dist:
                clashing.add(name)
            present.setdefault(name, set()).add(i)
    names = sorted(n for n in distributions if n not in clashing)
    placed = {n: distributions[n] for n in names if len(present[n]) == len(completed)}
    conditions: dict[str, Condition] = {}
    index = _ValueIndex(completed, present)
    left = [n for n in names if n not in placed]
    while left:
        found = {n: c for n in left if (c := _condition(n, placed, index)) is not None}
        if not found:
            break
        for name in left:
            if name in found:
                placed[name] = distributions[name]
                conditions[name] = found[name]
        left = [n for n in left if n not in found]
    return placed, conditions


class _ValueIndex:
    """Which completed trials hold each parameter (``present``: trial indices), and, built for a
    parameter when first asked, which hold each of its values: the checks of :func:`_condition`
    become set operations instead of passes over the trials (a study of thousands of trials is
    read for every suggestion)."""

    def __init__(self, completed: list[FrozenTrial], present: dict[str, set[int]]) -> None:
        self.completed = completed
        self.present = present
        self._by_value: dict[str, dict[tuple[str, Any], set[int]]] = {}

    def held_with(self, name: str, holding: set[int]) -> tuple[set[tuple[str, Any]], set[int]]:
        """The values of ``name`` (keys, see _key) that the trials ``holding`` a parameter
        show, and every trial holding one of them."""
        groups = self.by_value(name)
        keys = {v for v, trials in groups.items() if not trials.isdisjoint(holding)}
        return keys, set().union(*(groups[v] for v in keys))

    def by_value(self, name: str) -> dict[tuple[str, Any], set[int]]:
        """``{value key (see _key): indices of the trials holding that value}`` of ``name``."""
        if name not in self._by_value:
            groups: dict[tuple[str, Any], set[int]] = {}
            for i in self.present[name]:
                groups.setdefault(_key(self.completed[i].params[name]), set()).add(i)
            self._by_value[name] = groups
        return self._by_value[name]


def _condition(child: str, placed: dict[str, BaseDistribution],
               index: _ValueIndex) -> Condition | None:
    """The condition on the first of the ``placed`` parameters that explains where ``child``
    appears among the completed trials of ``index``, or ``None``: a parent held by every trial
    that holds ``child``, each of whose values the trials holding it either all hold ``child``
    with or all lack it."""
    holding = index.present[child]
    for parent, dist in placed.items():
        if not _can_be_parent(dist) or not holding <= index.present[parent]:
            continue
        values, where = index.held_with(parent, holding)
        if not where <= holding:
            continue
        if isinstance(dist, CategoricalDistribution):
            return Condition(parent, [v for v in dist.choices if _key(v) in values])
        active = _threshold(cast(IntDistribution, dist), {int(v) for _, v in values},
                            {int(v) for _, v in index.by_value(parent)})
        if active is not None:
            return Condition(parent, active)
    return _two_parent_condition(child, placed, index)


def _two_parent_condition(child: str, placed: dict[str, BaseDistribution],
                          index: _ValueIndex) -> Condition | None:
    """The condition on the first pair of the ``placed`` parameters that, together, explains
    where ``child`` appears (``if model == "mlp" and n_layers > 2``), where no one parameter
    does: both parents are held by every trial that holds ``child``, and among the trials
    holding both, ``child`` appears exactly where each holds one of the values it held with
    ``child`` (an integer parent's values extended past the seen ones on their side, as for
    one parent, among the trials where the other parent's values hold). ``None`` if no pair
    does."""
    holding = index.present[child]
    candidates = [(name, dist) for name, dist in placed.items()
                  if _can_be_parent(dist) and holding <= index.present[name]]
    if len(candidates) < 2:
        return None
    # Of each candidate: the values it held with ``child``, and the trials holding one of them.
    with_child = {name: index.held_with(name, holding) for name, _ in candidates}
    # Where a parent holds a value it held with ``child`` and ``child`` is absent, the other
    # parent of a pair must not: pairs that share such a trial are out, all read by one
    # product instead of set operations per pair (a study of thousands of trials and dozens
    # of parameters, where a parameter appears at random, is read for every suggestion).
    stray = np.zeros((len(candidates), len(index.completed)), dtype=np.float32)
    for row, (name, _) in enumerate(candidates):
        stray[row, list(with_child[name][1] - holding)] = 1.0
    shared = stray @ stray.T
    for a, first in enumerate(candidates):
        for b in range(a + 1, len(candidates)):
            if shared[a, b] > 0:
                continue
            both_held = index.present[first[0]] & index.present[candidates[b][0]]
            terms = _pair_terms(first, candidates[b], both_held, with_child, index)
            if terms is not None and _explained(holding, both_held, terms, index):
                return Condition(terms)
    return None


def _pair_terms(first: tuple[str, BaseDistribution], second: tuple[str, BaseDistribution],
                both_held: set[int],
                with_child: dict[str, tuple[set[tuple[str, Any]], set[int]]],
                index: _ValueIndex) -> dict[str, list[Any]] | None:
    """The values of each parent of a pair under which the child may be active: a categorical
    parent's values seen with the child; an integer parent's, extended past the seen ones on
    their side (see :func:`_threshold`) among the trials where the other parent's values hold;
    ``None`` where an integer parent's values are no threshold."""
    terms: dict[str, list[Any]] = {}
    for (name, dist), (other, _) in ((first, second), (second, first)):
        keys = with_child[name][0]
        if isinstance(dist, CategoricalDistribution):
            terms[name] = [v for v in dist.choices if _key(v) in keys]
            continue
        where_other = with_child[other][1] & both_held
        seen = {v for v, trials in index.by_value(name).items()
                if not trials.isdisjoint(where_other)}
        active = _threshold(cast(IntDistribution, dist), {int(v) for _, v in keys},
                            {int(v) for _, v in seen})
        if active is None:
            return None
        terms[name] = active
    return terms


def _explained(holding: set[int], both_held: set[int], terms: dict[str, list[Any]],
               index: _ValueIndex) -> bool:
    """Whether the trials of ``both_held`` in which every parent of ``terms`` holds one of its
    values are exactly the trials ``holding`` the child."""
    where = set(both_held)
    for name, values in terms.items():
        keys = {_key(v) for v in values}
        where &= set().union(*(trials for v, trials in index.by_value(name).items()
                               if v in keys))
    return where == holding


def _threshold(dist: IntDistribution, holding: set[int], seen: set[int]) -> list[int] | None:
    """The values of an integer parent ``dist`` under which a child is active, given the
    parent values ``seen`` in the completed trials and those ``holding`` the child: a child of
    an integer appears above or below a threshold (``for i in range(n_layers)``, ``if n > 2``),
    so the condition extends to the values not seen yet on the same side, and other patterns
    (more likely coincidences among few trials) are not taken for a condition. ``None`` where
    ``holding`` is not the seen values above or below a threshold."""
    values = (list(range(dist.low, dist.high + 1, dist.step))
              if (dist.high - dist.low) // dist.step < MAX_LISTED else sorted(seen))
    if holding == seen:
        return values
    if holding == {v for v in seen if v >= min(holding)}:
        return [v for v in values if v >= min(holding)]
    if holding == {v for v in seen if v <= max(holding)}:
        return [v for v in values if v <= max(holding)]
    return None


def _can_be_parent(dist: BaseDistribution) -> bool:
    if isinstance(dist, CategoricalDistribution):
        return len(dist.choices) > 1
    return isinstance(dist, IntDistribution) and dist.low < dist.high


def _key(value: Any) -> tuple[str, Any]:
    """A value as a set member that tells ``True`` from ``1`` (equal in Python, two choices
    to Optuna)."""
    return type(value).__name__, value
