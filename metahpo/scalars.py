"""NumPy scalars at the public API's edge, as the Python numbers they hold.

A count or a seed often comes from NumPy (``np.random.randint``, a column of a data frame, a
configuration array): ``tune(n_trials=np.int64(20))`` should run 20 trials, as Optuna's
``optimize`` does, rather than be refused as "not an int" by a check that compares types.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def python_scalar(value: Any) -> Any:
    """``value.item()`` for a NumPy scalar (``np.int64(3)`` is ``3``, ``np.bool_(True)``
    ``True``), anything else as it is."""
    return value.item() if isinstance(value, np.generic) else value


def beyond_float(value: Any) -> bool:
    """Whether ``value`` is a Python int too large in magnitude for a float (from 2**1024 on),
    which ``float()`` refuses with an OverflowError where it turns a float's overflow into
    ``inf``."""
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**1024
