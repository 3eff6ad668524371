"""Losses of any finite magnitude, in the range the optimizers' arithmetic takes:
:func:`representable_loss`.

An objective may return any finite number: a diverged training's loss of 1e39, a metric in odd
units. The meta-learned optimizer holds its search history in float32, where a loss beyond
about 3.4e38 cannot be stored and losses beyond about 1e19 overflow the z-score's sum of
squares; Optuna's GP sampler fails to fit values near float64's limit. Every optimizer that
reads magnitudes therefore reads losses through one increasing map that is the identity over
any range an objective's values normally take.
"""

from __future__ import annotations

import math

#: Loss magnitude up to which losses are read as they are.
LOSS_LIMIT = 1e12


def representable_loss(loss: float) -> float:
    """``loss`` itself within ``±LOSS_LIMIT``; beyond it, compressed logarithmically,
    ``±LOSS_LIMIT * (1 + ln(|loss| / LOSS_LIMIT))`` (at most about 7e14 for any finite float).

    The map is continuous and increasing, so ranks, the incumbent and the best trials are those
    of the losses themselves; only models of the values' spread (a z-score, a GP) see losses
    beyond the limit closer together than they are.
    """
    if abs(loss) <= LOSS_LIMIT:
        return loss
    return math.copysign(LOSS_LIMIT * (1.0 + math.log(abs(loss) / LOSS_LIMIT)), loss)
