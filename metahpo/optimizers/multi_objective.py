"""Several objectives with any of metahpo's optimizers: :class:`MultiObjective`.

metahpo's optimizers, the meta-learned one first, minimize one number. A study of several
objectives (validation accuracy and training time, say) wants the trade-offs that no trial beats
on every objective, the Pareto front. :class:`MultiObjective` gets there with one of them, as
ParEGO does (:mod:`metahpo.scalarization`): for each proposal it draws weights on the simplex,
rescores every finished trial by its augmented Chebyshev loss under those weights, and asks a
fresh optimizer that has read the trials with these losses. Each proposal answers one trade-off;
the weights, drawn afresh per trial, spread the trials along the front. It is the rule
:class:`metahpo.integrations.optuna.MetaHPOSampler` follows in an Optuna study of several
objectives, so both ways of tuning one take the same approach.

Every finished trial's loss changes with the weights, so the wrapped optimizer is built afresh
and told the whole history for each proposal, a cost that grows with the study (for ``meta``,
0.47 s per 50-trial study in ``benchmarks/results/tune_multi_objective``, which also shows it
scoring as the sampler does) instead of the constant cost of an optimizer kept in step with one
objective.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from metahpo.errors import MetaHPOError
from metahpo.optimizers.fixed_parameters import FixedParameters, has_fixed
from metahpo.optimizers.base import Optimizer
from metahpo.optimizers.registry import create_optimizer, optimizer_class
from metahpo.scalarization import as_losses, chebyshev_losses, draw_weights
from metahpo.space import SearchSpace
from metahpo.trial import TrialState, check_directions


class MultiObjective(Optimizer):
    """Tune several objectives with a single-objective optimizer (see the module docstring).

    Told one value per objective: ``tell(trial, (accuracy, seconds))``, in the order of
    ``directions``; a trial missing a value, or with a non-finite one, is failed.

    Args:
        space: the search space.
        directions: ``"minimize"`` / ``"maximize"`` per objective, at least two.
        optimizer: the single-objective optimizer that proposes, a registered name or
            ``MODULE:CLASS`` (default ``"meta"``).
        options: its keyword options.
        direction: unused (the wrapped optimizer minimizes the Chebyshev losses); present
            because every optimizer takes it.
        seed: the seed of the weights and of the wrapped optimizer (which restarts its draws
            from it and each trial's number); ``None``: fresh entropy.
    """

    def __init__(self, space: SearchSpace, *, directions: Sequence[str],
                 optimizer: str = "meta", options: Mapping[str, Any] | None = None,
                 direction: str = "minimize", seed: int | None = None) -> None:
        super().__init__(space, direction="minimize", seed=seed)
        self._directions = check_directions("minimize", directions)
        if len(self._directions) < 2:
            raise MetaHPOError(f"several objectives need at least two directions, got "
                               f"{self._directions!r}; for one, give direction instead")
        if not isinstance(optimizer, str) or optimizer_class(optimizer) is MultiObjective:
            raise MetaHPOError(f"optimizer must name a single-objective optimizer, got "
                               f"{optimizer!r}")
        self.optimizer = optimizer
        self.options = dict(options or {})
        #: Seed of the wrapped optimizer and of the weights (drawn once without a seed, so that
        #: a policy's initial design, planned from the seed, plays in order).
        self._inner_seed = int(self._rng.integers(2**31)) if seed is None else int(seed)
        create_optimizer(optimizer, space, seed=self._inner_seed, **self.options)  # checks
        self._options = {"directions": list(self._directions), "optimizer": optimizer,
                         "options": dict(self.options)}
        #: The ``optimizer_attrs`` of the wrapped optimizer's last proposal.
        self._last_attrs: dict[str, Any] = {}

    @property
    def directions(self) -> list[str]:
        return list(self._directions)

    def weights(self, number: int) -> np.ndarray:
        """The weights of trial ``number``'s proposal, ``(n_objectives,)``: the same for the
        same seed and number, whichever worker proposes it."""
        rng = np.random.default_rng([self._inner_seed, int(number), 1])
        return draw_weights(len(self._directions), rng)

    def _propose(self) -> dict[str, Any]:
        number = self._next_number
        done = [r for r in self._history if r.state is TrialState.COMPLETE]
        losses = chebyshev_losses(as_losses([r.values for r in done], self._directions),
                                  self.weights(number))
        loss_of = dict(zip((r.number for r in done), losses.tolist()))
        inner = create_optimizer(self.optimizer, self.space, seed=self._inner_seed,
                                 **self.options)
        for r in self._history:
            inner.add_trial(r.params, loss_of.get(r.number), error=r.error,
                            optimizer_attrs=r.optimizer_attrs)
        for t in self._pending.values():
            inner.add_pending(t.params, optimizer_attrs=t.optimizer_attrs)
        inner.restart_draws(number)
        trial = inner.ask()
        self._last_attrs = trial.optimizer_attrs
        return dict(trial.params)

    def _proposal_attrs(self) -> dict[str, Any]:
        return self._last_attrs

    def _extra_state(self) -> dict[str, Any]:
        return {"inner_seed": self._inner_seed}

    def _load_extra_state(self, extra: Mapping[str, Any]) -> None:
        self._inner_seed = int(extra.get("inner_seed", self._inner_seed))


def optimizer_for(name: str, space: SearchSpace, directions: Sequence[str],
                  seed: int | None = None, **options: Any) -> Optimizer:
    """The optimizer that tunes a study of ``directions``: optimizer ``name`` itself for one
    objective, wrapped in :class:`MultiObjective` for several, and in
    :class:`~metahpo.optimizers.fixed_parameters.FixedParameters` where parameters of
    ``space`` have one value."""
    if has_fixed(space):
        return create_optimizer(f"{FixedParameters.__module__}:FixedParameters", space,
                                seed=seed, directions=list(directions), optimizer=name,
                                options=options)
    if len(directions) == 1:
        return create_optimizer(name, space, direction=directions[0], seed=seed, **options)
    return create_optimizer(f"{__name__}:MultiObjective", space, seed=seed,
                            directions=list(directions), optimizer=name, options=options)
