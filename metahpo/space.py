"""Search spaces: parameter kinds, validation, the unit-cube encoding, and file formats.

Every optimizer in metahpo works in the unit cube ``[0, 1]^d``: a parameter encodes its value to
a number in ``[0, 1]`` and decodes any number in ``[0, 1]`` back to a valid value.

* ``Float``: linear or logarithmic map of ``[low, high]``; with a ``step`` the values
  ``low, low + step, ..., high`` each own an equal bin of the unit interval.
* ``Int``: the values on its step grid each own an equal bin (linear), or the log map of
  ``[low - 0.5, high + 0.5]`` rounded to the nearest integer (log), so that every integer keeps
  a share of the interval proportional to its width on the log scale.
* ``Categorical``: ``k`` choices own ``k`` equal bins; a choice encodes to its bin centre.

Spaces round-trip through JSON and YAML (a mapping from parameter name to its description, in
order) and can be read from ConfigSpace JSON files, the format YAHPO Gym and SMAC publish.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, Union

import numpy as np

from metahpo.errors import MetaHPOError

ChoiceValue = Union[None, bool, int, float, str]

_REL_TOL = 1e-9


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise MetaHPOError(f"parameter names must be non-empty strings, got {name!r}")


def _check_finite(name: str, **values: Any) -> None:
    for label, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise MetaHPOError(f"parameter {name!r}: {label} must be a finite number, got {v!r}")


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


@dataclass(frozen=True)
class Float:
    """A real-valued parameter in ``[low, high]``.

    Args:
        name: unique name within the space.
        low, high: bounds, ``low < high``; with ``log=True`` both must be ``> 0``.
        log: sample on a logarithmic scale (learning rates, weight decays).
        step: restrict values to ``low + k * step``; must divide ``high - low``; not with ``log``.
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
        if not self.low < self.high:
            raise MetaHPOError(
                f"parameter {self.name!r}: low must be smaller than high, got low={self.low!r} "
                f"high={self.high!r}"
            )
        if self.log and self.low <= 0:
            raise MetaHPOError(
                f"parameter {self.name!r}: a log-scale parameter needs low > 0, got {self.low!r}"
            )
        if self.step is not None:
            _check_finite(self.name, step=self.step)
            if self.log:
                raise MetaHPOError(f"parameter {self.name!r}: step cannot be combined with log")
            object.__setattr__(self, "step", float(self.step))
            _grid_count(self.name, self.low, self.high, self.step)

    @property
    def n_values(self) -> int | None:
        """Number of distinct values (``None`` when continuous)."""
        if self.step is None:
            return None
        return _grid_count(self.name, self.low, self.high, self.step)

    def encode(self, value: Any) -> float:
        v = float(value)
        if self.step is not None:
            n = self.n_values
            k = min(max(round((v - self.low) / self.step), 0), n - 1)
            return (k + 0.5) / n
        if self.log:
            u = (math.log(v) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        else:
            u = (v - self.low) / (self.high - self.low)
        return min(max(u, 0.0), 1.0)

    def decode_array(self, u: np.ndarray) -> np.ndarray:
        """Values of unit-interval numbers, vectorised: any shape in, same shape out (float)."""
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        if self.step is not None:
            n = self.n_values
            k = np.minimum(np.floor(u * n), n - 1)
            return np.minimum(np.round(self.low + k * self.step, 12), self.high)
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return np.clip(np.exp(lo + u * (hi - lo)), self.low, self.high)
        return np.clip(self.low + u * (self.high - self.low), self.low, self.high)

    def decode(self, u: float) -> float:
        return float(self.decode_array(np.asarray(u))[()])

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        v = float(value)
        tol = _REL_TOL * max(abs(self.low), abs(self.high), 1.0)
        if not (self.low - tol <= v <= self.high + tol):
            return False
        if self.step is not None:
            k = (v - self.low) / self.step
            return abs(k - round(k)) < 1e-6
        return True

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "float", "low": self.low, "high": self.high}
        if self.log:
            d["log"] = True
        if self.step is not None:
            d["step"] = self.step
        return d


@dataclass(frozen=True)
class Int:
    """An integer parameter in ``[low, high]`` (both included).

    Args:
        name: unique name within the space.
        low, high: integer bounds, ``low < high``; with ``log=True``, ``low >= 1``.
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
        if not self.low < self.high:
            raise MetaHPOError(
                f"parameter {self.name!r}: low must be smaller than high, got low={self.low!r} "
                f"high={self.high!r}"
            )
        if self.log and self.low < 1:
            raise MetaHPOError(
                f"parameter {self.name!r}: a log-scale integer needs low >= 1, got {self.low!r}"
            )
        if self.log and self.step != 1:
            raise MetaHPOError(f"parameter {self.name!r}: step cannot be combined with log")
        _grid_count(self.name, self.low, self.high, self.step)

    @property
    def n_values(self) -> int:
        return (self.high - self.low) // self.step + 1

    def encode(self, value: Any) -> float:
        v = int(round(float(value)))
        if self.log:
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            return min(max((math.log(v) - lo) / (hi - lo), 0.0), 1.0)
        k = min(max(round((v - self.low) / self.step), 0), self.n_values - 1)
        return (k + 0.5) / self.n_values

    def decode_array(self, u: np.ndarray) -> np.ndarray:
        """Values of unit-interval numbers, vectorised (integers stored as float)."""
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        if self.log:
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            return np.clip(np.round(np.exp(lo + u * (hi - lo))), self.low, self.high)
        k = np.minimum(np.floor(u * self.n_values), self.n_values - 1)
        return self.low + k * self.step

    def decode(self, u: float) -> int:
        return int(self.decode_array(np.asarray(u))[()])

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            return False
        return self.low <= value <= self.high and (value - self.low) % self.step == 0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "int", "low": self.low, "high": self.high}
        if self.log:
            d["log"] = True
        if self.step != 1:
            d["step"] = self.step
        return d


@dataclass(frozen=True)
class Categorical:
    """A parameter that takes one of a fixed list of choices (``None``, bool, int, float or str).

    Choices keep their order: an optimizer sees choice ``i`` of ``k`` at ``(i + 0.5) / k``.
    Choices must differ under ``==`` (``1``, ``1.0`` and ``True`` are one choice), as in Optuna.
    """

    name: str
    choices: tuple[ChoiceValue, ...]

    def __post_init__(self) -> None:
        _check_name(self.name)
        if isinstance(self.choices, (str, bytes)) or not isinstance(self.choices, Iterable):
            raise MetaHPOError(
                f"parameter {self.name!r}: choices must be a list, got {self.choices!r}"
            )
        choices = tuple(self.choices)
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

    def decode_array(self, u: np.ndarray) -> np.ndarray:
        """Choice indices of unit-interval numbers, vectorised (int array)."""
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        k = len(self.choices)
        return np.minimum(np.floor(u * k), k - 1).astype(np.int64)

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


class SearchSpace:
    """An ordered, validated collection of parameters with a unit-cube encoding.

    Args:
        parameters: ``Float``, ``Int`` and ``Categorical`` parameters; names must be unique.

    Example::

        space = SearchSpace([Float("lr", 1e-4, 1e-1, log=True), Int("layers", 1, 4)])
        u = space.sample_unit(np.random.default_rng(0), 5)   # (5, 2) array in [0, 1]
        params = space.decode(u[0])                          # {"lr": ..., "layers": ...}
    """

    def __init__(self, parameters: Sequence[Parameter]) -> None:
        params = list(parameters)
        if not params:
            raise MetaHPOError("a search space needs at least one parameter")
        names: set[str] = set()
        for p in params:
            if not isinstance(p, (Float, Int, Categorical)):
                raise MetaHPOError(
                    f"search space entries must be Float, Int or Categorical, got {p!r}"
                )
            if p.name in names:
                raise MetaHPOError(f"duplicate parameter name {p.name!r} in the search space")
            names.add(p.name)
        self._params: tuple[Parameter, ...] = tuple(params)

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return self._params

    @property
    def names(self) -> list[str]:
        return [p.name for p in self._params]

    @property
    def dim(self) -> int:
        """Number of parameters, i.e. the dimension of the unit cube."""
        return len(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __iter__(self):
        return iter(self._params)

    def __getitem__(self, name: str) -> Parameter:
        for p in self._params:
            if p.name == name:
                return p
        raise KeyError(name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self._params == other._params

    def __hash__(self) -> int:
        return hash(self._params)

    def __repr__(self) -> str:
        return f"SearchSpace({list(self._params)!r})"

    # encoding ---------------------------------------------------------------------------------

    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """Map a parameter dict to its unit-cube point, shape ``(dim,)``."""
        self.validate(params)
        return np.array([p.encode(params[p.name]) for p in self._params], dtype=float)

    def decode(self, u: Sequence[float] | np.ndarray) -> dict[str, Any]:
        """Map a unit-cube point of shape ``(dim,)`` to a valid parameter dict (values clipped)."""
        arr = np.asarray(u, dtype=float).reshape(-1)
        if arr.shape[0] != self.dim:
            raise MetaHPOError(f"expected a point of dimension {self.dim}, got {arr.shape[0]}")
        if not np.all(np.isfinite(arr)):
            raise MetaHPOError(f"cannot decode a point with non-finite entries: {arr.tolist()}")
        return {p.name: p.decode(x) for p, x in zip(self._params, arr)}

    def decode_columns(self, u: np.ndarray) -> list[np.ndarray]:
        """Vectorised decode of points ``(n, dim)``: one array ``(n,)`` per parameter.

        Numerical parameters give their values (integers as float), categorical ones the index
        of the choice. Used where many configurations are scored at once (surrogates).
        """
        arr = np.asarray(u, dtype=float).reshape(-1, self.dim)
        return [p.decode_array(arr[:, i]) for i, p in enumerate(self._params)]

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Vectorised ``encode(decode(u))`` for points ``(n, dim)``: discrete values move to the
        encoding of the value they decode to, continuous ones are only clipped to ``[0, 1]``."""
        arr = np.clip(np.asarray(u, dtype=float).reshape(-1, self.dim), 0.0, 1.0)
        out = arr.copy()
        for i, (p, col) in enumerate(zip(self._params, self.decode_columns(arr))):
            if isinstance(p, Categorical):
                out[:, i] = (col + 0.5) / p.n_values
            elif isinstance(p, Int) and p.log:
                lo, hi = math.log(p.low - 0.5), math.log(p.high + 0.5)
                out[:, i] = (np.log(col) - lo) / (hi - lo)
            elif p.n_values is not None:
                out[:, i] = (np.round((col - p.low) / p.step) + 0.5) / p.n_values
        return out

    def descriptors(self) -> np.ndarray:
        """Per-parameter descriptor ``(dim,)``: ``1 / n_values`` if discrete, else 0."""
        return np.array([0.0 if p.n_values is None else 1.0 / p.n_values for p in self._params])

    def sample_unit(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Uniform points of the unit cube, shape ``(n, dim)``."""
        return rng.random((n, self.dim))

    def validate(self, params: Mapping[str, Any]) -> None:
        """Raise :class:`MetaHPOError` unless ``params`` has exactly this space's names, in range."""
        if not isinstance(params, Mapping):
            raise MetaHPOError(f"parameters must be a dict, got {type(params).__name__}")
        missing = [n for n in self.names if n not in params]
        extra = [n for n in params if n not in set(self.names)]
        if missing or extra:
            raise MetaHPOError(
                f"parameters do not match the search space: missing {missing}, unexpected {extra}"
            )
        for p in self._params:
            if not p.contains(params[p.name]):
                raise MetaHPOError(
                    f"parameter {p.name!r}: value {params[p.name]!r} is outside {p.to_dict()}"
                )

    @property
    def is_discrete(self) -> bool:
        return all(not isinstance(p, Float) or p.step is not None for p in self._params)

    # file formats -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """``{name: {"type": ..., ...}}`` in parameter order; the JSON and YAML form."""
        return {p.name: p.to_dict() for p in self._params}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SearchSpace":
        """Build a space from ``{name: {"type": "float"|"int"|"categorical", ...}}``.

        A ConfigSpace JSON document (with a ``"hyperparameters"`` list) is accepted too.
        """
        if not isinstance(data, Mapping):
            raise MetaHPOError(
                "a search space file must hold a mapping from parameter name to its description"
            )
        if "hyperparameters" in data and isinstance(data["hyperparameters"], list):
            return cls.from_configspace(data)
        params: list[Parameter] = []
        for name, spec in data.items():
            params.append(_parameter_from_spec(name, spec))
        return cls(params)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "SearchSpace":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MetaHPOError(f"search space is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)

    @classmethod
    def from_yaml(cls, text: str) -> "SearchSpace":
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise MetaHPOError(f"search space is not valid YAML: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_file(cls, path: str | Path) -> "SearchSpace":
        """Read a space from ``.json`` (metahpo or ConfigSpace format), ``.yaml`` or ``.yml``."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise MetaHPOError(f"cannot read search space file {str(path)!r}: {exc.strerror}") from None
        try:
            if path.suffix.lower() == ".json":
                return cls.from_json(text)
            return cls.from_yaml(text)
        except MetaHPOError as exc:
            raise MetaHPOError(f"{path}: {exc}") from None

    def save(self, path: str | Path) -> None:
        path = Path(path)
        text = self.to_json() if path.suffix.lower() == ".json" else self.to_yaml()
        path.write_text(text)

    @classmethod
    def from_configspace(cls, data: Mapping[str, Any] | str | Path) -> "SearchSpace":
        """Read a ConfigSpace JSON document (dict, JSON text or file path).

        Supported types: uniform_float (``q`` becomes ``step``), uniform_int, categorical, ordinal
        (its ``sequence`` as ordered choices) and constant (a one-choice categorical). Conditions
        and forbidden clauses are not represented: every parameter is always active.
        """
        if isinstance(data, (str, Path)):
            p = Path(data)
            if p.exists():
                try:
                    data = json.loads(p.read_text())
                except (OSError, json.JSONDecodeError) as exc:
                    raise MetaHPOError(f"cannot read ConfigSpace file {str(p)!r}: {exc}") from None
            else:
                try:
                    data = json.loads(str(data))
                except json.JSONDecodeError:
                    raise MetaHPOError(f"ConfigSpace file {str(data)!r} does not exist") from None
        hps = data.get("hyperparameters") if isinstance(data, Mapping) else None
        if not isinstance(hps, list):
            raise MetaHPOError("a ConfigSpace document needs a 'hyperparameters' list")
        params: list[Parameter] = []
        for hp in hps:
            params.append(_parameter_from_configspace(hp))
        return cls(params)

    def without(self, *names: str) -> "SearchSpace":
        """A copy without the named parameters (e.g. a benchmark's instance or fidelity)."""
        unknown = set(names) - set(self.names)
        if unknown:
            raise MetaHPOError(f"unknown parameters {sorted(unknown)}")
        return SearchSpace([p for p in self._params if p.name not in names])


def _parameter_from_spec(name: str, spec: Any) -> Parameter:
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise MetaHPOError(
            f"parameter {name!r}: expected a mapping with a 'type' (float, int or categorical), "
            f"got {spec!r}"
        )
    kind = spec["type"]
    allowed = {
        "float": {"low", "high", "log", "step"},
        "int": {"low", "high", "log", "step"},
        "categorical": {"choices"},
    }
    if kind not in allowed:
        raise MetaHPOError(
            f"parameter {name!r}: unknown type {kind!r}; use float, int or categorical"
        )
    keys = set(spec) - {"type"}
    unknown = keys - allowed[kind]
    if unknown:
        raise MetaHPOError(f"parameter {name!r}: unknown keys {sorted(unknown)} for type {kind!r}")
    required = {"low", "high"} if kind != "categorical" else {"choices"}
    if required - keys:
        raise MetaHPOError(f"parameter {name!r}: missing {sorted(required - keys)}")
    try:
        if kind == "float":
            return Float(name, spec["low"], spec["high"], log=bool(spec.get("log", False)),
                         step=spec.get("step"))
        if kind == "int":
            return Int(name, spec["low"], spec["high"], log=bool(spec.get("log", False)),
                       step=spec.get("step", 1))
        return Categorical(name, spec["choices"])
    except TypeError as exc:
        raise MetaHPOError(f"parameter {name!r}: {exc}") from None


def _parameter_from_configspace(hp: Mapping[str, Any]) -> Parameter:
    name = hp.get("name")
    kind = hp.get("type")
    if kind == "uniform_float":
        return Float(name, hp["lower"], hp["upper"], log=bool(hp.get("log", False)), step=hp.get("q"))
    if kind == "uniform_int":
        q = hp.get("q")
        return Int(name, hp["lower"], hp["upper"], log=bool(hp.get("log", False)),
                   step=int(q) if q else 1)
    if kind == "categorical":
        return Categorical(name, hp["choices"])
    if kind == "ordinal":
        return Categorical(name, hp["sequence"])
    if kind == "constant":
        return Categorical(name, [hp["value"]])
    raise MetaHPOError(f"ConfigSpace parameter {name!r}: type {kind!r} is not supported")
