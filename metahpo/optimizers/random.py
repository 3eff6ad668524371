"""Random search: independent uniform samples of the unit cube.

Uniform in the unit cube means log-uniform for log parameters and equal probability for every
integer step and categorical choice. Pending trials do not change the distribution: independent
samples already spread out over parallel workers.
"""

from __future__ import annotations

from typing import Any

from metahpo.optimizers.base import Optimizer


class RandomSearch(Optimizer):
    """Random search (Bergstra & Bengio, 2012)."""

    name = "random"

    def _propose(self) -> dict[str, Any]:
        return self.space.decode(self.space.sample_unit(self._rng, 1)[0])
