"""A sampler's optimizer kept in step with one Optuna study between calls (see
:class:`StudyReplica`); used by :class:`metahpo.integrations.optuna.MetaHPOSampler`."""

from __future__ import annotations

import bisect
import warnings
import weakref
from typing import Any, Mapping

from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from metahpo.storage import constraints, last_report, optimizer_attrs, store_optimizer_attrs
from metahpo.trial import as_told, violations


class StudyReplica:
    """A sampler's optimizer kept in step with one study between calls.

    Each call tells it only what changed since the last one (trials that finished, trials
    started in other workers), in trial-number order as a fresh replay would, so a suggestion
    costs the new trials instead of the whole study (median suggestion on the held-out lcbench
    instances, ``benchmarks/results/optuna_sampler``: 1.3 ms, against 9.6 ms when every call
    replayed the study into a new optimizer). The proposals are the same bit for bit (the
    ``via=optuna`` benchmark runs reproduce exactly). A trial that finishes after later-numbered
    ones were told (parallel workers, ``n_jobs``) is read in its place: the optimizer is
    rewound to before those trials, told it, and told them again, as a replay in number order
    would (the policy's proposals depend on the order; with trials of random length on three
    threads, a sampler that read trials in the order they finished and one built afresh
    disagreed on the next proposal in 29 of 40 studies). Where the study departs from what the
    replica assumed (a trial ran with other parameters than proposed, the search space changed,
    or the optimizer cannot rewind) the sampler rebuilds it from the whole study.
    """

    def __init__(self, opt: Any, free: dict[str, BaseDistribution], storage: Any, *,
                 declared: bool = False, losses: Mapping[int, float] | None = None) -> None:
        self.opt = opt
        self.free = free
        self.declared = declared
        #: ``{trial number: loss}`` told in place of the trials' own values (a study with
        #: several objectives, scalarized); a complete trial missing from it is told as failed.
        self.losses = losses
        self.storage = weakref.ref(storage)  # a study's identity; ids are reused once it is gone
        self._told: set[int] = set()
        self._order: list[int] = []  # numbers of the trials in the optimizer's history, ascending
        self._pending: dict[int, Any] = {}

    def catch_up(self, trials: list[FrozenTrial], current: FrozenTrial) -> bool:
        """Take in the trials not seen yet; ``False`` if the replica no longer matches the
        study (rebuild it)."""
        if any(n >= len(trials) for n in self._told):
            return False
        again: list[tuple[int, Any]] = []  # rewound trials to tell again, ascending numbers
        for t in sorted(trials, key=lambda x: x.number):
            if t.number == current.number or t.number in self._told:
                continue
            names = self.opt.space.active_names(t.params)
            fits = all(n in t.params and t.distributions[n] == self.free[n] for n in names)
            outside = [n for n in names if fits and not self.opt.space[n].contains(t.params[n])]
            params = {n: t.params[n] for n in names} if fits and not outside else None
            pending = self._pending.get(t.number)
            if pending is not None and params != dict(pending.params):
                if t.state == TrialState.RUNNING and _storing(t.params, pending.params):
                    continue
                return False
            if t.state in (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED):
                self._told.add(t.number)
                if params is None:
                    if outside:
                        values = ", ".join(f"{n}={t.params[n]!r}" for n in outside)
                        warnings.warn(f"trial {t.number} holds values outside their "
                                      f"distributions ({values}; an enqueued trial, say): the "
                                      "optimizer does not see it", stacklevel=2)
                    elif self.declared and t.state == TrialState.COMPLETE:
                        missing = [n for n in names if n not in t.params]
                        what = f"lacks {missing}" if missing else "holds other distributions"
                        warnings.warn(f"trial {t.number} {what} of the sampler's search_space; "
                                      "the optimizer does not see it", stacklevel=2)
                    continue
                if self._order and t.number < self._order[-1]:
                    if not self.opt.can_rewind:
                        return False
                    keep = bisect.bisect(self._order, t.number)
                    again = sorted(again + list(zip(self._order[keep:], self.opt.rewind(keep))),
                                   key=lambda item: item[0])
                    del self._order[keep:]
                while again and again[0][0] < t.number:
                    self._tell_again(*again.pop(0))
                self._order.append(t.number)
                own = t.value if self.losses is None else self.losses.get(t.number)
                complete = t.state == TrialState.COMPLETE
                value, error = as_told(
                    own, None if complete and own is not None else
                    "no finite value" if complete else t.state.name.lower(), constraints(t))
                report = last_report(t) if t.state == TrialState.PRUNED else None
                if pending is not None:
                    self.opt.tell(self._pending.pop(t.number), value, error=error,
                                  last_report=report)
                else:
                    self.opt.add_trial(params, value, error=error, last_report=report,
                                       optimizer_attrs=optimizer_attrs(t))
            elif t.state == TrialState.RUNNING and params is not None and pending is None:
                self._pending[t.number] = self.opt.add_pending(
                    params, optimizer_attrs=optimizer_attrs(t))
        for number, record in again:
            self._tell_again(number, record)
        return True

    def _tell_again(self, number: int, record: Any) -> None:
        """Tell a trial taken back by a rewind again, in its place."""
        self._order.append(number)
        self.opt.add_trial(record.params, record.value, error=record.error,
                           last_report=record.last_report, optimizer_attrs=record.optimizer_attrs)

    def propose(self, trial: FrozenTrial) -> dict[str, Any]:
        """The optimizer's proposal for study trial ``trial``, kept as pending; what the
        optimizer keeps with it (:attr:`metahpo.Trial.optimizer_attrs`) is stored with the
        study's trial, where a replica built in another process reads it back."""
        self.opt.restart_draws(trial.number)
        proposed = self.opt.ask()
        self._pending[trial.number] = proposed
        storage = self.storage()
        if storage is not None:
            store_optimizer_attrs(storage, trial._trial_id, proposed.optimizer_attrs)
        return dict(proposed.params)


def violated_constraints(trial: FrozenTrial) -> str:
    """The constraints a finished trial breaks (``"latency = 3.2 > 0"``, joined by commas), or
    ``""``: Optuna's constraint values, from the objective's ``trial.set_constraint`` (Optuna
    >= 5) or a sampler's ``constraints_func``, where a value above 0 is infeasible."""
    return violations(constraints(trial))


def _storing(stored: Mapping[str, Any], proposed: Mapping[str, Any]) -> bool:
    """Whether a running trial's ``stored`` parameters are part of the ``proposed`` ones: its
    objective is suggesting them one by one (another thread of this process asked meanwhile)."""
    return all(n in proposed and proposed[n] == v for n, v in stored.items())
