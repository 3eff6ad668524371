"""Search spaces: an ordered set of parameters, the unit-cube encoding, and file formats.

Every optimizer in metahpo works in the unit cube ``[0, 1]^d``: each parameter (see
:mod:`metahpo.parameters`) encodes its value to a number in ``[0, 1]`` and decodes any number in
``[0, 1]`` back to a valid value.

Spaces round-trip through JSON and YAML (a mapping from parameter name to its description, in
order) and can be read from ConfigSpace JSON files, the format YAHPO Gym and SMAC publish.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from metahpo.errors import MetaHPOError
from metahpo.parameters import Categorical, ChoiceValue, Float, Int, Parameter, clip

__all__ = ["Categorical", "ChoiceValue", "Float", "Int", "Parameter", "SearchSpace"]

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
        arr = clip(np.asarray(u, dtype=float).reshape(-1, self.dim), 0.0, 1.0)
        out = arr.copy()
        for i, p in enumerate(self._params):
            if p.n_values is None:
                continue
            col = p.decode_array(arr[:, i])
            if isinstance(p, Categorical):
                out[:, i] = (col + 0.5) / p.n_values
            elif isinstance(p, Int) and p.log:
                lo, hi = math.log(p.low - 0.5), math.log(p.high + 0.5)
                out[:, i] = (np.log(col) - lo) / (hi - lo)
            else:
                out[:, i] = (np.round((col - p.low) / p.step) + 0.5) / p.n_values
        return out

    def descriptors(self) -> np.ndarray:
        """Per-parameter descriptor ``(dim,)``: ``1 / n_values`` if discrete, else 0."""
        return np.array([0.0 if p.n_values is None else 1.0 / p.n_values for p in self._params])

    def middle(self) -> np.ndarray:
        """The unit-cube point ``(dim,)`` of the space's middle: every numeric range at its
        midpoint (in its own scale, so a log range at its geometric mean) and every categorical at
        its first choice. Choices have no middle: their order is the user's, and the one listed
        first is by convention the usual default (``adam`` in ``["adam", "sgd"]``), whereas the
        unit midpoint of two choices would be the border between them."""
        return np.array([0.5 / p.n_values if isinstance(p, Categorical) else 0.5 for p in self._params])

    def all_configurations(self, limit: int) -> np.ndarray | None:
        """Every configuration of an all-discrete space as unit-cube points ``(N, dim)`` (the
        encodings :meth:`snap` gives), or ``None`` if a parameter is continuous or there are more
        than ``limit`` configurations."""
        if not self.is_discrete or math.prod(p.n_values for p in self._params) > limit:
            return None
        coords = []
        for p in self._params:
            if isinstance(p, Categorical):
                values: Sequence[Any] = p.choices
            elif isinstance(p, Int):
                values = range(p.low, p.high + 1, p.step)
            else:
                values = [p.low + k * p.step for k in range(p.n_values)]
            coords.append(np.array([p.encode(v) for v in values], dtype=float))
        mesh = np.meshgrid(*coords, indexing="ij")
        return np.stack([m.reshape(-1) for m in mesh], axis=1)

    def sample_unit(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Uniform points of the unit cube, shape ``(n, dim)``."""
        return rng.random((n, self.dim))

    def validate(self, params: Mapping[str, Any]) -> None:
        """Raise :class:`MetaHPOError` unless ``params`` has exactly this space's names, in range."""
        if not isinstance(params, Mapping):
            raise MetaHPOError(f"parameters must be a dict, got {type(params).__name__}")
        names = self.names
        missing = [n for n in names if n not in params]
        extra = [n for n in params if n not in names]
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
        """Read a space from YAML text. Numbers in exponent notation without a dot or without
        an exponent sign (``1e-5``, ``1.0e5``) are floats, as in YAML 1.2 and JSON; PyYAML
        follows YAML 1.1, where they are strings, so ``low: 1e-5`` would not be a number."""
        import yaml

        try:
            data = yaml.load(text, Loader=yaml_loader())
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


_YAML_EXPONENT_FLOAT = r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"


def yaml_loader() -> type:
    """PyYAML's safe loader, plus YAML 1.2's floats in exponent notation (see
    :meth:`SearchSpace.from_yaml`), for every YAML file metahpo reads. Built on first use:
    PyYAML is imported lazily."""
    import re

    import yaml

    global _YAML_LOADER
    if _YAML_LOADER is None:
        class Loader(yaml.SafeLoader):
            pass

        Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(_YAML_EXPONENT_FLOAT),
                                     list("-+0123456789."))
        _YAML_LOADER = Loader
    return _YAML_LOADER


_YAML_LOADER: type | None = None
