"""Parameters with one possible value, kept out of the optimizers' sight: :class:`FixedParameters`.

A search space may pin a parameter, as Optuna allows: ``Int("epochs", 10, 10)``,
``Float("momentum", 0.9, 0.9)``, ``Categorical("optimizer", ["adam"])`` (in a space file,
``low`` equal to ``high``, or one choice), so that one study fixes what another tunes while the
space file keeps its shape. Every trial gets that value, so it tells the optimizer nothing, and
pinning a parameter should change nothing else: :class:`FixedParameters` runs the optimizer on
the space of the free parameters only and adds the fixed values to its proposals, so that a
search with pinned parameters is the search without them, proposal for proposal, as Optuna's
samplers and :class:`~metahpo.integrations.optuna.MetaHPOSampler` leave such parameters out.
:func:`~metahpo.optimizers.multi_objective.optimizer_for`, which builds the optimizer of every
metahpo study (and of ``metahpo bench``), wraps it so.

An optimizer that saw them would search dimensions that cannot matter, and its search of the
others would change with them. Measured (``benchmarks/results/fixed_parameters*``, three fixed
parameters beside each task's): on held-out synthetic functions the default policy did as well
either way (regret at 20 trials 0.2250 kept out, 0.2298 seen), but on the held-out lcbench
instances it did better seeing them (0.128 kept out against 0.078 at 20 trials): phantom
dimensions of either kind change how it searches lcbench's seven. In exploratory runs that gain
did not carry over to the lcbench validation instances (within noise) and reversed on
synthetic functions of 4 and 7 dimensions (phantoms cost there), so it is no reason to let a
user's pinned parameters change the search.

A condition's term on a fixed parent always holds (a condition names values of its parent),
so the optimizer sees the child as conditional on its free parents only, or unconditional.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from metahpo.conditions import Condition
from metahpo.forbidden import parse_forbidden
from metahpo.optimizers.base import Optimizer
from metahpo.space import Categorical, Parameter, SearchSpace
from metahpo.trial import Trial, TrialRecord


def only_value(p: Parameter) -> tuple[bool, Any]:
    """``(True, value)`` where ``p`` has one possible value, else ``(False, None)``."""
    if isinstance(p, Categorical):
        return (True, p.choices[0]) if len(p.choices) == 1 else (False, None)
    return (True, p.low) if p.low == p.high else (False, None)


def split_fixed(space: SearchSpace) -> tuple[SearchSpace | None, dict[str, Any]]:
    """The space of ``space``'s free parameters, with the conditions and forbidden clauses
    among them (``None`` where every parameter is fixed), and the fixed parameters' values."""
    fixed = {p.name: value for p in space.parameters for one, value in [only_value(p)] if one}
    free = [p for p in space.parameters if p.name not in fixed]
    if not free:
        return None, fixed
    conditions = {c: _free_condition(cond, fixed)
                  for c, cond in space.conditions.items() if c not in fixed}
    return SearchSpace(free, conditions={c: cond for c, cond in conditions.items() if cond},
                       forbidden=_free_clauses(space, fixed)), fixed


def _free_condition(cond: Condition, fixed: Mapping[str, Any]
                    ) -> list[dict[str, list[Any]]] | None:
    """``cond``'s alternatives without their fixed parents' terms, which hold (a condition may
    only list a parent's values, and a fixed parent has one); ``None`` where an alternative
    then has no term left, so that the condition always holds."""
    alternatives = [{p: list(held) for p, held in terms if p not in fixed}
                    for terms in cond.alternatives]
    return alternatives if all(alternatives) else None


def _free_clauses(space: SearchSpace, fixed: Mapping[str, Any]
                  ) -> list[dict[str, list[Any]] | str]:
    """``space``'s forbidden clauses as they bear on its free parameters: the values a clause
    lists for a fixed parameter can only be its one value, so a clause that names unconditional
    fixed parameters forbids what it lists for the free ones. A clause naming a conditional
    fixed parameter (or only fixed ones), and a relation naming a fixed one, are left to
    :meth:`Optimizer.ask`, which discards the proposals they forbid."""
    out: list[dict[str, list[Any]] | str] = []
    for clause in space.forbidden:
        if isinstance(clause, str):
            if not set(parse_forbidden(clause).names) & set(fixed):
                out.append(clause)
            continue
        on_free = {name: values for name, values in clause.items() if name not in fixed}
        if on_free and not any(name in fixed and name in space.conditions for name in clause):
            out.append(on_free)
    return out


def has_fixed(space: SearchSpace) -> bool:
    """Whether a parameter of ``space`` has one possible value."""
    return any(only_value(p)[0] for p in space.parameters)


class FixedParameters(Optimizer):
    """Run ``optimizer`` on the free parameters of ``space`` (see the module docstring).

    Args:
        space: the search space (without a fixed parameter, the optimizer gets it as it is).
        optimizer: the optimizer of the free parameters, a registered name or ``MODULE:CLASS``.
        options: its keyword options (where no parameter is free, the name and the options'
            names are still checked: a mistake there is one in every other space too).
        directions: the study's directions, one per objective (several: the free parameters'
            optimizer is :class:`~metahpo.optimizers.multi_objective.MultiObjective`).
        direction: the direction of a study of one objective (when ``directions`` is not given).
        seed: the seed of the free parameters' optimizer.
    """

    def __init__(self, space: SearchSpace, *, optimizer: str = "meta",
                 options: Mapping[str, Any] | None = None,
                 directions: Sequence[str] | None = None, direction: str = "minimize",
                 seed: int | None = None) -> None:
        from metahpo.optimizers.multi_objective import optimizer_for
        from metahpo.optimizers.registry import check_options

        wanted = list(directions) if directions is not None else [direction]
        super().__init__(space, direction=wanted[0] if len(wanted) == 1 else "minimize",
                         seed=seed)
        self.free_space, self.fixed = split_fixed(space)
        self._directions = wanted
        if self.free_space is None:
            check_options(optimizer, dict(options or {}))
        self._inner = (None if self.free_space is None else
                       optimizer_for(optimizer, self.free_space, wanted, seed=seed,
                                     **dict(options or {})))
        #: The free parameters' optimizer's pending trial of each of this one's.
        self._inner_pending: dict[int, Trial] = {}
        self._options = {"optimizer": optimizer, "options": dict(options or {}),
                         "directions": wanted}

    @property
    def directions(self) -> list[str]:
        return list(self._directions)

    @property
    def inner(self) -> Optimizer | None:
        """The optimizer of the free parameters (``None`` where none is free)."""
        return self._inner

    @property
    def can_rewind(self) -> bool:
        return self._inner is None or self._inner.can_rewind

    @property
    def seed_plan_length(self) -> int:
        return 0 if self._inner is None else self._inner.seed_plan_length

    def restart_draws(self, key: int) -> None:
        super().restart_draws(key)
        if self._inner is not None:
            self._inner.restart_draws(key)

    def _discard_proposal(self) -> None:
        """The free parameters' optimizer's trial of a forbidden proposal is withdrawn."""
        trial = self._inner_pending.pop(self._next_number, None)
        if trial is not None and self._inner is not None:
            self._inner.withdraw(trial)

    def _complete(self, free: Mapping[str, Any]) -> dict[str, Any]:
        """The configuration of the free parameters' values ``free``, with the fixed values of
        the active fixed parameters, in the space's order."""
        full = {**free, **self.fixed}
        names = self.space.active_names(full) if self.space.is_conditional else self.space.names
        return {n: full[n] for n in names}

    def _free(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if self.free_space is None:
            return {}
        names = set(self.free_space.names)
        return {k: v for k, v in params.items() if k in names}

    def _propose(self) -> dict[str, Any]:
        if self._inner is None:
            return self._complete({})
        trial = self._inner.ask()
        self._inner_pending[self._next_number] = trial
        return self._complete(trial.params)

    def _proposal_attrs(self) -> dict[str, Any]:
        trial = self._inner_pending.get(self._next_number)
        return {} if trial is None else dict(trial.optimizer_attrs)

    def _observe(self, record: TrialRecord) -> None:
        if self._inner is None:
            return
        value = record.value if record.values is None else record.values
        trial = self._inner_pending.pop(record.number, None)
        if trial is None:
            self._inner.add_trial(self._free(record.params), value, error=record.error,
                                  last_report=record.last_report,
                                  optimizer_attrs=record.optimizer_attrs)
        else:
            self._inner.tell(trial, value, error=record.error, last_report=record.last_report)

    def _pending_added(self, trial: Trial) -> None:
        if self._inner is not None:
            self._inner_pending[trial.number] = self._inner.add_pending(
                self._free(trial.params), optimizer_attrs=trial.optimizer_attrs)

    def _withdrawn(self, trial: Trial) -> None:
        inner = self._inner_pending.pop(trial.number, None)
        if self._inner is not None and inner is not None:
            self._inner.withdraw(inner)

    def _forget_after(self, n: int) -> None:
        if self._inner is not None:
            self._inner.rewind(n)

    def _extra_state(self) -> dict[str, Any]:
        return {} if self._inner is None else {"inner": self._inner.state_dict()}

    def _load_extra_state(self, extra: Mapping[str, Any]) -> None:
        from metahpo.optimizers.registry import restore_optimizer

        if self._inner is None or "inner" not in extra:
            return
        self._inner = restore_optimizer(extra["inner"])
        by_number = {t.number: t for t in self._inner.pending}
        self._inner_pending = {n: by_number[n] for n in self._pending if n in by_number}
