"""Parameter kinds of a search space and their unit-interval encodings.

* ``Float``: linear or logarithmic map of ``[low, high]``; with a ``step`` the values
  ``low, low + step, ..., high`` each own an equal bin of the unit interval.
* ``Int``: the values on its step grid each own an equal bin (linear), or the log map of
  ``[low - 0.5, high + 0.5]`` rounded to the nearest integer (log), so that every integer keeps
  a share of the interval proportional to its width on the log scale.
* ``Categorical``: ``k`` choices own ``k`` equal bins; a choice encodes to its bin centre.

Each kind validates itself at construction and raises :class:`~metahpo.errors.MetaHPOError`
with the parameter's name and what to change.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Sequence, Union, cast

import numpy as np

from metahpo.errors import MetaHPOError
from metahpo.scalars import beyond_float, python_scalar

ChoiceValue = Union[None, bool, int, float, str]

_REL_TOL = 1e-9

#: The finest step a ``Float`` takes, relative to the larger magnitude of its bounds: a value
#: ``low + k * step`` carries a rounding error of a few ``float_eps * magnitude``, which stays
#: below a thousandth of a step there (:func:`_on_grid` allows for it).
_FINEST_STEP = 2.0**-40

#: Steps from which a decoded grid value is rounded to 12 decimals (``0.1 * 3`` shows as
#: ``0.3``, not ``0.30000000000000004``); for finer steps that rounding would move a value off
#: its grid, so it is left as computed.
_ROUNDED_STEP = 1e-6


def clip(x: np.ndarray, low: float | np.ndarray, high: float | np.ndarray) -> np.ndarray:
    """``x`` limited to ``[low, high]`` elementwise (NaN stays NaN): ``np.clip``'s values at a
    quarter of its per-call cost, which dominates on the scalars and short arrays of a proposal."""
    return np.minimum(np.maximum(x, low), high)


#: The largest integer bound an :class:`Int` takes: every integer up to it is a float exactly.
_LARGEST_EXACT_INT = 2**53


def _check_order(name: str, low: float, high: float) -> None:
    """``low <= high``: equal bounds fix the parameter at that value, as Optuna allows (a
    space that pins ``epochs`` for one study keeps its other parameters' file as it is)."""
    if not low <= high:
        raise MetaHPOError(
            f"parameter {name!r}: low must not exceed high, got low={low!r} high={high!r}"
        )


def _check_log_span(p: Float | Int) -> None:
    """A log-scale parameter whose ends' logarithms (:attr:`log_ends`) differ in floating
    point, unless it is fixed (a range as narrow as ``[2**53 - 4, 2**53]`` has none: every
    point would decode to one value)."""
    lo, hi = p.log_ends
    if p.low < p.high and not hi > lo:
        raise MetaHPOError(
            f"parameter {p.name!r}: the range [{p.low!r}, {p.high!r}] is too narrow for a log "
            "scale (its ends' logarithms are equal as floats); search it with log=False"
        )


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise MetaHPOError(f"parameter names must be non-empty strings, got {name!r}")


def _check_finite(name: str, **values: Any) -> None:
    """Each of ``values`` a finite number that a float holds: a Python or NumPy one
    (``np.float32(0.1)``, a bound read from an array), not a bool."""
    for label, v in values.items():
        if beyond_float(v):
            raise MetaHPOError(f"parameter {name!r}: {label} must be a finite number that a float "
                               f"holds (up to about 1.8e308), got {shown_value(v)}")
        if (isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating))
                or not math.isfinite(v)):
            raise MetaHPOError(f"parameter {name!r}: {label} must be a finite number, got {v!r}")


def shown_value(value: Any) -> str:
    """``value`` for a message: its repr, or an int's size where its digits would fill the
    screen (Python refuses to print an int of more than 4300 digits)."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an int of {value.bit_length()} bits"
    return repr(value)


def _grid_count(name: str, low: float, high: float, step: float) -> int:
    """Number of values ``low + k * step`` in ``[low, high]``; the step must divide the range."""
    if step <= 0:
        raise MetaHPOError(f"parameter {name!r}: step must be positive, got {step!r}")
    k = (high - low) / step
    if abs(k - round(k)) > 1e-6 * max(1.0, abs(k)):
        raise MetaHPOError(
            f"parameter {name!r}: step {step!r} does not fit the range [{low!r}, {high!r}]; "
            "choose a step that divides high - low"
        )
    return int(round(k)) + 1


def _on_grid(value: float, low: float, high: float, step: float) -> bool:
    """Whether ``value`` is ``low + k * step`` up to the rounding of floats of its magnitude."""
    k = (value - low) / step
    slack = 1e-6 + 8 * sys.float_info.epsilon * max(abs(low), abs(high)) / step
    return abs(k - round(k)) < slack


class _DecodedAlone:
    """What each parameter kind shares: decoding as a :class:`Block` of one."""

    def decode_array(self, u: np.ndarray) -> np.ndarray:
        """Values of unit-interval numbers, vectorised, any shape in and the same shape out:
        floats (integers stored as float), or choice indices (int) for a categorical."""
        return self._block.decode(np.asarray(u, dtype=float)[..., None])[..., 0]

    @cached_property
    def _block(self) -> Block:
        return Block((cast(Parameter, self),))


@dataclass(frozen=True)
class Float(_DecodedAlone):
    """A real-valued parameter in ``[low, high]``.

    Args:
        name: unique name within the space.
        low, high: bounds, ``low <= high`` (equal: the parameter is fixed at that value); with
            ``log=True`` both must be ``> 0``.
        log: sample on a logarithmic scale (learning rates, weight decays).
        step: restrict values to ``low + k * step``; must divide ``high - low`` and be at least
            2**-40 of the bounds' magnitude (finer, floats cannot tell the values apart); not
            with ``log``.
    """

    name: str
    low: float
    high: float
    log: bool = field(default=False, kw_only=True)
    step: float | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_finite(self.name, low=self.low, high=self.high)
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))
        _check_order(self.name, self.low, self.high)
        if not math.isfinite(self.high - self.low):
            raise MetaHPOError(
                f"parameter {self.name!r}: the range [{self.low!r}, {self.high!r}] is wider than "
                "a float holds (high - low overflows); narrow it"
            )
        if self.log and self.low <= 0:
            raise MetaHPOError(
                f"parameter {self.name!r}: a log-scale parameter needs low > 0, got {self.low!r}"
            )
        if self.log:
            _check_log_span(self)
        if self.step is not None:
            _check_finite(self.name, step=self.step)
            if self.log:
                raise MetaHPOError(f"parameter {self.name!r}: step cannot be combined with log")
            object.__setattr__(self, "step", float(self.step))
            _grid_count(self.name, self.low, self.high, self.step)
            finest = max(abs(self.low), abs(self.high)) * _FINEST_STEP
            if self.step < finest:
                raise MetaHPOError(
                    f"parameter {self.name!r}: step {self.step!r} is too fine for values near "
                    f"{max(abs(self.low), abs(self.high)):g}: a float there cannot tell "
                    f"such values apart; use a step of at least {finest:.3g}, or none"
                )

    @property
    def log_ends(self) -> tuple[float, float]:
        """The ends of the range in log units, ``(ln low, ln high)`` (a log-scale parameter's
        encoding is linear between them)."""
        return math.log(self.low), math.log(self.high)

    @property
    def n_values(self) -> int | None:
        """Number of distinct values (``None`` when continuous)."""
        if self.step is None:
            return None
        return _grid_count(self.name, self.low, self.high, self.step)

    def encode(self, value: Any) -> float:
        v = float(value)
        if self.step is not None:
            n = _grid_count(self.name, self.low, self.high, self.step)
            k = min(max(round((v - self.low) / self.step), 0), n - 1)
            return (k + 0.5) / n
        if self.low == self.high:
            return 0.5
        if self.log:
            lo, hi = self.log_ends
            u = (math.log(v) - lo) / (hi - lo)
        else:
            u = (v - self.low) / (self.high - self.low)
        return min(max(u, 0.0), 1.0)

    def decode(self, u: float) -> float:
        return float(self.decode_array(np.asarray(u))[()])

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if beyond_float(value):
            return False
        v = float(value)
        tol = _REL_TOL * max(abs(self.low), abs(self.high), 1.0)
        if not (self.low - tol <= v <= self.high + tol):
            return False
        if self.step is not None:
            return _on_grid(v, self.low, self.high, self.step)
        return True

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "float", "low": self.low, "high": self.high}
        if self.log:
            d["log"] = True
        if self.step is not None:
            d["step"] = self.step
        return d


@dataclass(frozen=True)
class Int(_DecodedAlone):
    """An integer parameter in ``[low, high]`` (both included).

    Args:
        name: unique name within the space.
        low, high: integer bounds, ``low <= high`` (equal: fixed); with ``log=True``,
            ``low >= 1``.
        log: sample on a logarithmic scale (batch sizes, widths).
        step: restrict values to ``low + k * step``; must divide ``high - low``; with ``log`` only 1.
    """

    name: str
    low: int
    high: int
    log: bool = field(default=False, kw_only=True)
    step: int = field(default=1, kw_only=True)

    def __post_init__(self) -> None:
        _check_name(self.name)
        for label, v in (("low", self.low), ("high", self.high), ("step", self.step)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) and not (
                isinstance(v, float) and v.is_integer()
            ):
                raise MetaHPOError(f"parameter {self.name!r}: {label} must be an integer, got {v!r}")
        object.__setattr__(self, "low", int(self.low))
        object.__setattr__(self, "high", int(self.high))
        object.__setattr__(self, "step", int(self.step))
        for label, v in (("low", self.low), ("high", self.high)):
            if abs(v) > _LARGEST_EXACT_INT:
                raise MetaHPOError(
                    f"parameter {self.name!r}: {label} must lie within ±2**53 "
                    f"({_LARGEST_EXACT_INT}), got {shown_value(v)}: larger integers have no exact "
                    "float, the form in which optimizers and Optuna's storages hold a parameter"
                )
        _check_order(self.name, self.low, self.high)
        if self.log and self.low < 1:
            raise MetaHPOError(
                f"parameter {self.name!r}: a log-scale integer needs low >= 1, got {self.low!r}"
            )
        if self.log and self.step != 1:
            raise MetaHPOError(f"parameter {self.name!r}: step cannot be combined with log")
        if self.log:
            _check_log_span(self)
        _grid_count(self.name, self.low, self.high, self.step)

    @property
    def log_ends(self) -> tuple[float, float]:
        """The ends of the range in log units, ``(ln(low - 0.5), ln(high + 0.5))``: each integer
        of a log-scale parameter owns the stretch of log units that rounds to it."""
        return math.log(self.low - 0.5), math.log(self.high + 0.5)

    @property
    def n_values(self) -> int:
        return (self.high - self.low) // self.step + 1

    def encode(self, value: Any) -> float:
        v = int(round(float(value)))
        if self.log:
            lo, hi = self.log_ends
            return min(max((math.log(v) - lo) / (hi - lo), 0.0), 1.0)
        k = min(max(round((v - self.low) / self.step), 0), self.n_values - 1)
        return (k + 0.5) / self.n_values

    def decode(self, u: float) -> int:
        return int(self.decode_array(np.asarray(u))[()])

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            return False
        return bool(self.low <= value <= self.high and (value - self.low) % self.step == 0)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "int", "low": self.low, "high": self.high}
        if self.log:
            d["log"] = True
        if self.step != 1:
            d["step"] = self.step
        return d


@dataclass(frozen=True)
class Categorical(_DecodedAlone):
    """A parameter that takes one of a fixed list of choices (``None``, bool, int, float or str).

    Choices keep their order: an optimizer sees choice ``i`` of ``k`` at ``(i + 0.5) / k``.
    Choices must differ under ``==`` (``1``, ``1.0`` and ``True`` are one choice), as in Optuna.
    NumPy scalars (``np.arange(3)``'s elements, say) become the Python values they hold, so
    that every record and file of the study holds plain values.
    """

    name: str
    choices: Sequence[ChoiceValue]

    def __post_init__(self) -> None:
        _check_name(self.name)
        if isinstance(self.choices, (str, bytes)) or not isinstance(self.choices, Iterable):
            raise MetaHPOError(
                f"parameter {self.name!r}: choices must be a list, got {self.choices!r}"
            )
        choices = tuple(python_scalar(c) for c in self.choices)
        if not choices:
            raise MetaHPOError(f"parameter {self.name!r}: choices must not be empty")
        for c in choices:
            if c is not None and not isinstance(c, (bool, int, float, str)):
                raise MetaHPOError(
                    f"parameter {self.name!r}: choices must be None, bool, int, float or str, "
                    f"got {c!r} ({type(c).__name__})"
                )
        for i, c in enumerate(choices):
            if any(c == other for other in choices[:i]):
                raise MetaHPOError(
                    f"parameter {self.name!r}: duplicate choice {c!r} (choices must differ "
                    "under ==, so 1, 1.0 and True count as the same choice)"
                )
        object.__setattr__(self, "choices", choices)

    @property
    def n_values(self) -> int:
        return len(self.choices)

    def index(self, value: Any) -> int:
        for i, c in enumerate(self.choices):
            if c == value:
                return i
        raise MetaHPOError(f"parameter {self.name!r}: {value!r} is not one of {self.choices!r}")

    def encode(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self.choices)

    def decode(self, u: float) -> ChoiceValue:
        return self.choices[int(self.decode_array(np.asarray(u))[()])]

    def contains(self, value: Any) -> bool:
        try:
            self.index(value)
        except MetaHPOError:
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices)}


Parameter = Union[Float, Int, Categorical]


def listed_values(p: Parameter) -> list[Any] | None:
    """Every value of a discrete parameter, in the order of its encoding (``None`` where it is
    continuous)."""
    if isinstance(p, Categorical):
        return list(p.choices)
    if isinstance(p, Int):
        return list(range(p.low, p.high + 1, p.step))
    if p.step is None:
        return None
    return [p.low + k * p.step for k in range(cast(int, p.n_values))]


def scale_of(p: Parameter) -> str:
    """How ``p`` maps the unit interval to its values: ``"linear"``, ``"log"``, ``"grid"`` (a
    stepped float), ``"int"``, ``"int_log"`` or ``"choice"``; parameters of one scale decode
    together (:class:`Block`)."""
    if isinstance(p, Categorical):
        return "choice"
    if isinstance(p, Int):
        return "int_log" if p.log else "int"
    return "grid" if p.step is not None else "log" if p.log else "linear"


class Block:
    """Parameters of one :func:`scale_of`, decoded and snapped together: column ``j`` of an array
    ``(..., len(params))`` of unit-interval numbers belongs to ``params[j]``.

    Each parameter's own :meth:`~Float.decode_array` is a block of one, so each scale has one
    formula; a search space keeps a block per scale present, so decoding a configuration costs
    one vectorised pass per scale rather than one per parameter: on points of a few values
    numpy's cost per call, not the arithmetic, is the price (an lcbench point, 7 parameters in
    4 scales: 22 microseconds instead of 33 parameter by parameter). Element by element the
    arithmetic is a single parameter's, so the values are the same to the last bit.
    """

    def __init__(self, params: Sequence[Parameter]) -> None:
        self.params = tuple(params)
        self.scale = scale_of(self.params[0])
        if any(scale_of(p) != self.scale for p in self.params):
            raise MetaHPOError("a block holds parameters of one scale")
        self.is_discrete = self.scale not in ("linear", "log")
        if self.scale == "choice":
            self._n = np.array([p.n_values for p in self.params])
            return
        numeric = cast(tuple[Union[Float, Int], ...], self.params)
        self._low = np.array([p.low for p in numeric])
        self._high = np.array([p.high for p in numeric])
        if self.scale in ("grid", "int"):
            self._n = np.array([p.n_values for p in numeric])
            self._step = np.array([p.step for p in numeric])
        elif self.scale in ("log", "int_log"):
            self._lo = np.array([p.log_ends[0] for p in numeric])
            self._hi = np.array([p.log_ends[1] for p in numeric])

    def decode(self, u: np.ndarray) -> np.ndarray:
        """Values of unit-interval numbers ``u`` ``(..., len(params))``, clipped to ``[0, 1]``
        first: floats (integers stored as float), or choice indices (int) for choices."""
        u = clip(u, 0.0, 1.0)
        kind = self.scale
        if kind == "choice":
            return np.minimum(np.floor(u * self._n), self._n - 1).astype(np.int64)
        if kind == "linear":
            return clip(self._low + u * (self._high - self._low), self._low, self._high)
        if kind in ("log", "int_log"):
            values = np.exp(self._lo + u * (self._hi - self._lo))
            return clip(np.round(values) if kind == "int_log" else values, self._low, self._high)
        k = np.minimum(np.floor(u * self._n), self._n - 1)
        if kind == "int":
            return self._low + k * self._step
        values = self._low + k * self._step
        return np.minimum(np.where(self._step >= _ROUNDED_STEP, np.round(values, 12), values),
                          self._high)

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Encodings ``(..., len(params))`` of the values ``u`` decodes to (see
        :meth:`metahpo.space.SearchSpace.snap`)."""
        values = self.decode(u)
        kind = self.scale
        if kind == "choice":
            return (values + 0.5) / self._n
        if kind == "int_log":
            return (np.log(values) - self._lo) / (self._hi - self._lo)
        if kind in ("grid", "int"):
            return (np.round((values - self._low) / self._step) + 0.5) / self._n
        return clip(u, 0.0, 1.0)
