"""An optimizer of your own, run by metahpo beside the shipped ones.

Subclass ``metahpo.Optimizer`` and implement ``_propose()``; metahpo does the rest (numbering,
validation, failed and pending trials, the direction, saving and restoring its state). Name the
class by reference wherever an optimizer name is taken:

    metahpo bench --tasks yahpo:lcbench --optimizers random,tpe,meta,examples/custom_optimizer.py:OnePlusOne \\
        --option OnePlusOne.initial_step=0.3 --budget 50 --seeds 5 --out results
    metahpo tune my_module:objective --space space.yaml --trials 30 \\
        --optimizer examples/custom_optimizer.py:OnePlusOne
    metahpo.tune(objective, space, optimizer="examples/custom_optimizer.py:OnePlusOne", ...)
    MetaHPOSampler("examples/custom_optimizer.py:OnePlusOne")   # Optuna; Ray Tune's searcher too

(a module on the path works too: ``my_package.optimizers:OnePlusOne``). Check it against the
contract every shipped optimizer passes::

    from metahpo.testing import CONFORMANCE_CHECKS
    for check in CONFORMANCE_CHECKS:
        check("examples/custom_optimizer.py:OnePlusOne")

The optimizer here is the (1+1) evolution strategy with the one-fifth success rule (Rechenberg,
1973; the step factors of Kern et al., 2004), in the unit cube every metahpo optimizer works in.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from metahpo import MetaHPOError, Optimizer, SearchSpace, TrialRecord, TrialState


class OnePlusOne(Optimizer):
    """Gaussian steps around the best configuration so far; the step grows after an improvement
    and shrinks otherwise, so that about one step in five improves.

    Args:
        space, direction, seed: as for every optimizer.
        initial_step: the first step's standard deviation, as a fraction of each parameter's
            range in the unit cube (log scale for log parameters).
    """

    name = "one_plus_one"

    def __init__(self, space: SearchSpace, *, direction: str = "minimize", seed: int | None = None,
                 initial_step: float = 0.2) -> None:
        super().__init__(space, direction=direction, seed=seed)
        if not 0.0 < initial_step <= 1.0:
            raise MetaHPOError(f"initial_step must be in (0, 1], got {initial_step!r}")
        self.initial_step = initial_step
        self._step = initial_step
        self._best: tuple[float, np.ndarray] | None = None

    def _propose(self) -> dict[str, Any]:
        if self._best is None:
            unit = self.space.sample_unit(self._rng, 1)[0]
        else:
            step = self._step * self._rng.standard_normal(self.space.dim)
            unit = np.clip(self._best[1] + step, 0.0, 1.0)
        return self.space.decode(unit)

    def _observe(self, record: TrialRecord) -> None:
        """Called once per finished trial, in order: all the state there is, so that replaying a
        study's trials (a resumed search, ``restore_optimizer``) rebuilds it."""
        if record.state is not TrialState.COMPLETE or record.value is None:
            self._step *= math.exp(-1 / 12)
            return
        loss = self._loss(record.value)
        if self._best is None or loss < self._best[0]:
            self._best = (loss, self.space.encode(record.params))
            self._step *= math.exp(1 / 3)
        else:
            self._step *= math.exp(-1 / 12)
        self._step = min(max(self._step, 1e-4), 1.0)
