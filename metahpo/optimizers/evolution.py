"""Regularized (aging) evolution (Real et al., 2019), in the unit cube.

The population is the ``population_size`` most recent COMPLETE trials (failed ones never enter):
the oldest member dies when a new one arrives, whatever its score, which keeps the search from
stalling on one lucky configuration. Until the population is full, proposals are uniform random.
Then each proposal is a mutation of a tournament winner: ``tournament_size`` members are drawn
at random and the best one is copied and mutated.

Mutation works on the parameter kinds natively: each parameter mutates with probability
``1 / dim`` (at least one always does); a numerical parameter moves by a Gaussian step of
``mutation_scale`` in the unit cube, reflected at the borders (log parameters therefore move in
log space, integers onto their grid); a categorical parameter switches to another choice drawn
uniformly. A mutation that lands on its parent's value again is redrawn, so children differ.
In a conditional space only the parent's active parameters mutate (``1 / active`` each), so
that a child is a different configuration.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metahpo.errors import MetaHPOError
from metahpo.optimizers.base import Optimizer
from metahpo.space import Categorical, SearchSpace


def _reflect(x: float) -> float:
    x = abs(x) % 2.0
    return 2.0 - x if x > 1.0 else x


class RegularizedEvolution(Optimizer):
    """Aging evolution.

    Options:
        population_size: members kept alive, default 20.
        tournament_size: members compared to choose a parent, default 5.
        mutation_scale: standard deviation of numerical mutations in the unit cube, default 0.15.
    """

    name = "evolution"

    def __init__(self, space: SearchSpace, *, population_size: int = 20, tournament_size: int = 5,
                 mutation_scale: float = 0.15, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        if population_size < 2 or not 1 <= tournament_size <= population_size:
            raise MetaHPOError(
                "evolution: need population_size >= 2 and 1 <= tournament_size <= population_size"
            )
        if not mutation_scale > 0:
            raise MetaHPOError(f"evolution: mutation_scale must be > 0, got {mutation_scale!r}")
        self.population_size = int(population_size)
        self.tournament_size = int(tournament_size)
        self.mutation_scale = float(mutation_scale)

    def _propose(self) -> dict[str, Any]:
        x, losses = self.completed_unit()
        if len(losses) < self.population_size:
            return self.space.decode(self.space.sample_unit(self._rng, 1)[0])
        pop_x, pop_loss = x[-self.population_size:], losses[-self.population_size:]
        contenders = self._rng.choice(self.population_size, size=self.tournament_size, replace=False)
        parent = pop_x[contenders[np.argmin(pop_loss[contenders])]]
        return self._mutate(parent)

    def _mutate(self, parent: np.ndarray) -> dict[str, Any]:
        parent_params = {p.name: p.decode(x) for p, x in zip(self.space.parameters, parent)}
        active = set(self.space.active_names(parent_params))
        genes = np.array([i for i, p in enumerate(self.space.parameters) if p.name in active])
        mask = self._rng.random(len(genes)) < 1.0 / len(genes)
        if not mask.any():
            mask[self._rng.integers(len(genes))] = True
        child = parent.copy()
        for i in genes[np.flatnonzero(mask)]:
            param = self.space.parameters[i]
            for _ in range(10):
                if isinstance(param, Categorical):
                    k = param.n_values
                    if k == 1:
                        break
                    current = param.index(parent_params[param.name])
                    choice = (current + 1 + self._rng.integers(k - 1)) % k
                    child[i] = (choice + 0.5) / k
                else:
                    child[i] = _reflect(parent[i] + self.mutation_scale * self._rng.normal())
                if param.decode(child[i]) != parent_params[param.name]:
                    break
        return self.space.decode(child)
