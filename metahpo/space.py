"""Search spaces: an ordered set of parameters, the unit-cube encoding, and file formats.

Every optimizer in metahpo works in the unit cube ``[0, 1]^d``: each parameter (see
:mod:`metahpo.parameters`) encodes its value to a number in ``[0, 1]`` and decodes any number in
``[0, 1]`` back to a valid value.

A parameter may be conditional (active only for some values of another one, see
:mod:`metahpo.conditions`): configurations then hold only their active parameters. Forbidden
clauses (see :mod:`metahpo.forbidden`) name combinations of values no optimizer proposes.

Spaces round-trip through JSON and YAML (a mapping from parameter name to its description, in
order, with ``active_if: {parent: [values]}`` on a conditional parameter, and the forbidden
clauses as a list under ``forbidden``) and can be read from ConfigSpace JSON files, the format
YAHPO Gym and SMAC publish.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence, cast

import numpy as np

from metahpo.conditions import Condition, active_mask, active_names, both, check_conditions
from metahpo.errors import MetaHPOError
from metahpo.forbidden import (
    MAX_DRAWS,
    breaking,
    check_forbidden,
    forbidden_mask,
)
from metahpo.parameters import (
    Block,
    Categorical,
    ChoiceValue,
    Float,
    Int,
    Parameter,
    clip,
    listed_values,
    scale_of,
    shown_value,
)
from metahpo.scalars import beyond_float
from metahpo.space_formats import (
    condition_from_configspace,
    forbidden_from_configspace,
    parameter_from_configspace,
    parameter_from_spec,
    parents_first,
    yaml_loader,
)

__all__ = ["Categorical", "ChoiceValue", "Condition", "Float", "Int", "Parameter", "SearchSpace"]

#: The key of a space file that lists forbidden clauses (see :mod:`metahpo.forbidden`).
FORBIDDEN_KEY = "forbidden"


class SearchSpace:
    """An ordered, validated collection of parameters with a unit-cube encoding.

    Args:
        parameters: ``Float``, ``Int`` and ``Categorical`` parameters; names must be unique.
        conditions: conditional parameters, ``{child: Condition(parent, values)}`` (or
            ``{child: {parent: values}}``); see :mod:`metahpo.conditions`.
        forbidden: combinations of values never to propose, ``{name: value or [values],
            ...}``, and relations between two numeric parameters, ``"warmup_epochs >=
            epochs"``, in a list; see :mod:`metahpo.forbidden`.

    Example::

        space = SearchSpace([Float("lr", 1e-4, 1e-1, log=True), Int("layers", 1, 4)])
        u = space.sample_unit(np.random.default_rng(0), 5)   # (5, 2) array in [0, 1]
        params = space.decode(u[0])                          # {"lr": ..., "layers": ...}
    """

    def __init__(self, parameters: Sequence[Parameter], *,
                 conditions: Mapping[str, Any] | None = None,
                 forbidden: Sequence[Mapping[str, Any] | str] | None = None) -> None:
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
        self._names = tuple(p.name for p in params)
        self._conditions = check_conditions(self._params, conditions or {})
        self._forbidden = check_forbidden(self._params, forbidden or [])
        if self._forbidden and FORBIDDEN_KEY in names:
            raise MetaHPOError(f"a space with forbidden clauses cannot have a parameter named "
                               f"{FORBIDDEN_KEY!r} (its files list the clauses under that key); "
                               "rename the parameter")
        self._fill = self.middle()  # the coordinates of inactive parameters
        scales: dict[str, list[int]] = {}
        for i, p in enumerate(self._params):
            scales.setdefault(scale_of(p), []).append(i)
        self._blocks = [(np.array(idx), Block([self._params[i] for i in idx]))
                        for idx in scales.values()]

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return self._params

    @property
    def names(self) -> list[str]:
        return list(self._names)

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

    @property
    def conditions(self) -> dict[str, Condition]:
        """``{child: Condition}`` of the conditional parameters, in the space's order."""
        return dict(self._conditions)

    @property
    def is_conditional(self) -> bool:
        return bool(self._conditions)

    def active_names(self, params: Mapping[str, Any]) -> list[str]:
        """Names of the parameters active in the configuration ``params`` (every name in an
        unconditional space); a child whose parent is missing from ``params`` is inactive."""
        return active_names(self._params, self._conditions, params)

    @property
    def forbidden(self) -> list[dict[str, list[Any]] | str]:
        """The forbidden clauses, ``{name: [values]}``, and relations, ``"NAME OP NAME"`` (see
        :mod:`metahpo.forbidden`)."""
        return [clause.to_spec() for clause in self._forbidden]

    def forbids(self, params: Mapping[str, Any]) -> str | None:
        """The forbidden clause a valid configuration ``params`` breaks, as text for a
        message, or ``None`` where it is allowed."""
        clause = breaking(self._params, self._forbidden, params) if self._forbidden else None
        return None if clause is None else str(clause)

    def forbidden_mask(self, snapped: np.ndarray) -> np.ndarray:
        """Which of the snapped unit-cube points ``(n, dim)`` (see :meth:`snap`) a forbidden
        clause forbids: bool ``(n,)``, all false in a space without clauses."""
        points = np.asarray(snapped, dtype=float).reshape(-1, self.dim)
        if not self._forbidden:
            return np.zeros(len(points), dtype=bool)
        active = (active_mask(self._params, self._conditions, points) if self._conditions
                  else np.ones(points.shape, dtype=bool))
        return forbidden_mask(self._params, self._forbidden, points, active,
                              lambda: self.decode_columns(points))

    def sample_allowed(self, rng: np.random.Generator) -> dict[str, Any]:
        """A uniformly drawn configuration that no forbidden clause forbids."""
        for _ in range(MAX_DRAWS // 1000):
            points = self.snap(rng.random((1000, self.dim)))
            allowed = np.flatnonzero(~self.forbidden_mask(points))
            if len(allowed):
                return self.decode(points[allowed[0]])
        raise MetaHPOError(f"no allowed configuration in {MAX_DRAWS} uniform draws: the "
                           f"forbidden clauses {self.forbidden} leave (almost) nothing of the "
                           "space")

    def missing(self, params: Mapping[str, Any]) -> list[str]:
        """Active parameters that ``params`` (a configuration being written, say) lacks."""
        return [n for n in self.active_names(params) if n not in params]

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SearchSpace) and self._params == other._params
                and self._conditions == other._conditions
                and self._forbidden == other._forbidden)

    def __hash__(self) -> int:
        return hash((self._params, tuple(self._conditions.items()), self._forbidden))

    def __repr__(self) -> str:
        extra = (f", conditions={self._conditions!r}" if self._conditions else "") + (
            f", forbidden={self.forbidden!r}" if self._forbidden else "")
        return f"SearchSpace({list(self._params)!r}{extra})"

    # encoding ---------------------------------------------------------------------------------

    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """Map a parameter dict to its unit-cube point, shape ``(dim,)``; an inactive
        parameter's coordinate is the space's :meth:`middle` there."""
        self.validate(params)
        if self._conditions:
            return np.array([p.encode(params[p.name]) if p.name in params else self._fill[i]
                             for i, p in enumerate(self._params)], dtype=float)
        return np.array([p.encode(params[p.name]) for p in self._params], dtype=float)

    def decode(self, u: Sequence[float] | np.ndarray) -> dict[str, Any]:
        """Map a unit-cube point of shape ``(dim,)`` to a valid parameter dict (values clipped;
        only the active parameters)."""
        arr = np.asarray(u, dtype=float).reshape(-1)
        if arr.shape[0] != self.dim:
            raise MetaHPOError(f"expected a point of dimension {self.dim}, got {arr.shape[0]}")
        if not np.all(np.isfinite(arr)):
            raise MetaHPOError(f"cannot decode a point with non-finite entries: {arr.tolist()}")
        columns = np.empty(self.dim)
        for idx, block in self._blocks:
            columns[idx] = block.decode(arr[idx])
        values = {p.name: p.choices[int(x)] if isinstance(p, Categorical) else
                  int(x) if isinstance(p, Int) else x
                  for p, x in zip(self._params, columns.tolist())}
        if self._conditions:
            return {name: values[name] for name in self.active_names(values)}
        return values

    def decode_columns(self, u: np.ndarray) -> list[np.ndarray]:
        """Vectorised decode of points ``(n, dim)``: one array ``(n,)`` per parameter.

        Numerical parameters give their values (integers as float), categorical ones the index
        of the choice; inactive parameters are decoded too. Used where many configurations are
        scored at once (surrogates).
        """
        arr = np.asarray(u, dtype=float).reshape(-1, self.dim)
        columns: list[np.ndarray] = [np.empty(0)] * self.dim
        for idx, block in self._blocks:
            decoded = block.decode(arr[:, idx])
            for j, i in enumerate(idx):
                columns[i] = decoded[:, j]
        return columns

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Vectorised ``encode(decode(u))`` for points ``(n, dim)``: discrete values move to the
        encoding of the value they decode to, continuous ones are only clipped to ``[0, 1]``, and
        inactive parameters take the space's :meth:`middle`."""
        arr = clip(np.asarray(u, dtype=float).reshape(-1, self.dim), 0.0, 1.0)
        out = arr.copy()
        for idx, block in self._blocks:
            if block.is_discrete:
                out[:, idx] = block.snap(arr[:, idx])
        if self._conditions:
            out = np.where(active_mask(self._params, self._conditions, out), out, self._fill)
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
        than ``limit`` combinations of values (counting inactive parameters' values too;
        configurations that differ only in those are returned once; forbidden ones are left
        out)."""
        if not self.is_discrete or math.prod(cast(int, p.n_values) for p in self._params) > limit:
            return None
        coords = [np.array([p.encode(v) for v in cast(list, listed_values(p))], dtype=float)
                  for p in self._params]
        mesh = np.meshgrid(*coords, indexing="ij")
        points = np.stack([m.reshape(-1) for m in mesh], axis=1)
        if self._conditions:
            _, first = np.unique(self.snap(points), axis=0, return_index=True)
            points = self.snap(points[np.sort(first)])
        return points[~self.forbidden_mask(points)]

    def sample_unit(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Uniform points of the unit cube, shape ``(n, dim)``."""
        return rng.random((n, self.dim))

    def cast(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` as a user wrote them (a JSON or YAML file, Python) in this space's types:
        a whole-number float (``2.0``) or a NumPy integer of an :class:`Int` becomes an ``int``,
        a number of a :class:`Float` a ``float``, a value equal to a :class:`Categorical`'s
        choice (``1.0`` for ``1``) that choice; anything else stays as it is, for
        :meth:`validate` to judge. Only for configurations users type (points to evaluate,
        queued configurations), not for proposals."""
        out = dict(params)
        for name, value in params.items():
            if name not in self._names or isinstance(value, (bool, np.bool_)):
                continue
            kind = self[name]
            number = (isinstance(value, (int, float, np.integer, np.floating))
                      and not beyond_float(value))
            if isinstance(kind, Int) and number and float(value).is_integer():
                out[name] = int(value)
            elif isinstance(kind, Float) and number:
                out[name] = float(value)
            elif isinstance(kind, Categorical) and kind.contains(value):
                out[name] = kind.choices[kind.index(value)]
        return out

    def validate(self, params: Mapping[str, Any]) -> None:
        """Raise :class:`MetaHPOError` unless ``params`` has exactly this space's active names,
        in range."""
        if not isinstance(params, Mapping):
            raise MetaHPOError(f"parameters must be a dict, got {type(params).__name__}")
        names = self.active_names(params) if self._conditions else self.names
        missing = [n for n in names if n not in params]
        extra = [n for n in params if n not in self._names]
        if missing or extra:
            found = [f"{label} {names}" for label, names in (("missing", missing),
                                                             ("unexpected", extra)) if names]
            more = len(self._names) - 12
            has = ", ".join(self._names[:12]) + (f" and {more} more" if more > 0 else "")
            raise MetaHPOError(f"parameters do not match the search space: {', '.join(found)} "
                               f"(the space has {has})")
        for p in self._params:
            if p.name in params and not p.contains(params[p.name]):
                value = params[p.name]
                number = (isinstance(value, (int, float, np.integer, np.floating))
                          and not isinstance(value, (bool, np.bool_)))
                kind = ("" if isinstance(p, Categorical) or number
                        else f" ({type(value).__name__}, not a number)")
                raise MetaHPOError(
                    f"parameter {p.name!r}: value {shown_value(value)}{kind} is outside "
                    f"{p.to_dict()}"
                )
        inactive = [n for n in params if n not in names]
        if inactive:
            reasons = "; ".join(f"{n!r} only when {self._conditions[n]}" for n in inactive)
            raise MetaHPOError(f"parameters {inactive} are inactive in this configuration "
                               f"(active {reasons}); leave them out")

    @property
    def is_discrete(self) -> bool:
        return all(not isinstance(p, Float) or p.step is not None for p in self._params)

    # file formats -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """``{name: {"type": ..., ...}}`` in parameter order (a conditional parameter with
        ``"active_if": {parent: [values]}``, a list of them for an either-or), then, where the
        space has forbidden clauses, ``"forbidden": [{name: [values]}, ...]``; the JSON and
        YAML form."""
        out: dict[str, Any] = {p.name: p.to_dict() for p in self._params}
        for child, cond in self._conditions.items():
            out[child]["active_if"] = cond.to_spec()
        if self._forbidden:
            out[FORBIDDEN_KEY] = self.forbidden
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SearchSpace":
        """Build a space from ``{name: {"type": "float"|"int"|"categorical", ...}}``, with
        forbidden clauses as a list under the key ``forbidden`` (a parameter's description is a
        mapping, so a parameter may still be named so).

        A ConfigSpace JSON document (with a ``"hyperparameters"`` list) is accepted too.
        """
        if not isinstance(data, Mapping):
            raise MetaHPOError(
                "a search space file must hold a mapping from parameter name to its description"
            )
        if "hyperparameters" in data and isinstance(data["hyperparameters"], list):
            return cls.from_configspace(data)
        params: list[Parameter] = []
        conditions: dict[str, Any] = {}
        forbidden = data.get(FORBIDDEN_KEY)
        for name, spec in data.items():
            if name == FORBIDDEN_KEY and isinstance(spec, list):
                continue
            if isinstance(spec, Mapping) and "active_if" in spec:
                conditions[name] = Condition.from_spec(name, spec["active_if"])
                spec = {k: v for k, v in spec.items() if k != "active_if"}
            params.append(parameter_from_spec(name, spec))
        return cls(params, conditions=conditions,
                   forbidden=forbidden if isinstance(forbidden, list) else None)

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
    def from_configspace(cls, data: Mapping[str, Any] | str | Path, *,
                         ignore_conditions: bool = False) -> "SearchSpace":
        """Read a ConfigSpace JSON document (dict, JSON text or file path).

        Supported types: uniform_float (``q`` becomes ``step``), uniform_int, categorical, ordinal
        (its ``sequence`` as ordered choices) and constant (a one-choice categorical). Conditions
        (``EQ``, ``NEQ``, ``LT``, ``GT``, ``IN``, and ``AND`` / ``OR`` conjunctions of them,
        see :func:`~metahpo.space_formats.condition_from_configspace`) become
        :class:`~metahpo.conditions.Condition` s (parents are moved before their children;
        several conditions on one child must all hold); ``ignore_conditions`` makes every
        parameter always active instead (for a surrogate model that reads every parameter; it
        leaves the forbidden clauses out too). Forbidden clauses (``EQUALS``, ``IN``, ``AND``
        conjunctions of them, and the relations ``RELATION_LT`` / ``_EQ`` / ``_GT`` between
        two numeric parameters) become the space's ``forbidden`` list; an ``AND`` with a
        relation in it is not represented: a document with one is read without it, with a
        warning.
        """
        document: Any = data
        if isinstance(data, (str, Path)):
            p = Path(data)
            if not str(data).lstrip().startswith("{") and p.exists():
                try:
                    document = json.loads(p.read_text())
                except (OSError, json.JSONDecodeError) as exc:
                    raise MetaHPOError(f"cannot read ConfigSpace file {str(p)!r}: {exc}") from None
            else:
                try:
                    document = json.loads(str(data))
                except json.JSONDecodeError:
                    raise MetaHPOError(f"ConfigSpace file {str(data)!r} does not exist") from None
        hps = document.get("hyperparameters") if isinstance(document, Mapping) else None
        if not isinstance(hps, list):
            raise MetaHPOError("a ConfigSpace document needs a 'hyperparameters' list")
        params = [parameter_from_configspace(hp) for hp in hps]
        if ignore_conditions:
            return cls(params)
        read = [forbidden_from_configspace(f) for f in document.get("forbiddens") or []]
        forbidden = [clause for clause in read if clause is not None]
        if len(forbidden) < len(read):
            warnings.warn(f"the ConfigSpace document has {len(read) - len(forbidden)} forbidden "
                          "conjunction(s) with a relation between parameters in them, which "
                          "metahpo does not represent: configurations they forbid may be "
                          "proposed; have the objective raise an error for them (a failed "
                          "trial, which the optimizers steer away from)", UserWarning,
                          stacklevel=2)
        by_name = {p.name: p for p in params}
        conditions: dict[str, Condition] = {}
        for c in document.get("conditions") or []:
            child, condition = condition_from_configspace(c, by_name)
            conditions[child] = both(child, conditions[child], condition) if (
                child in conditions) else condition
        return cls(parents_first(params, conditions), conditions=conditions, forbidden=forbidden)

    def without(self, *names: str) -> "SearchSpace":
        """A copy without the named parameters (e.g. a benchmark's instance or fidelity), and
        without the forbidden clauses that name one."""
        unknown = set(names) - set(self.names)
        if unknown:
            raise MetaHPOError(f"unknown parameters {sorted(unknown)}")
        orphans = [c for c, cond in self._conditions.items()
                   if any(p in names for p in cond.parents) and c not in names]
        if orphans:
            raise MetaHPOError(f"cannot remove {sorted(names)}: parameters {orphans} depend on them")
        return SearchSpace([p for p in self._params if p.name not in names],
                           conditions={c: cond for c, cond in self._conditions.items()
                                       if c not in names},
                           forbidden=[c.to_spec() for c in self._forbidden
                                      if not any(name in names for name in c.names)])


def read_space(source: str | Path) -> SearchSpace:
    """The search space a command line names (``--space``): a file (.yaml, .json, ConfigSpace
    JSON), or inline JSON as Optuna's ``ask --search-space`` takes it
    (``'{"lr": {"type": "float", ...}}'``)."""
    text = str(source)
    inline = text.lstrip()[:1]
    if inline == "{" or (inline == "[" and not Path(text).exists()):
        try:
            return SearchSpace.from_json(text)
        except MetaHPOError as exc:
            raise MetaHPOError(f"--space (inline JSON): {exc}") from None
    return SearchSpace.from_file(text)


def check_space(space: Any) -> None:
    """Raise a :class:`MetaHPOError` that says how to build a :class:`SearchSpace` if ``space``
    is not one (a dict is the common mistake of Optuna and Ray Tune users)."""
    if isinstance(space, SearchSpace):
        return
    hint = ("SearchSpace([Float(...), Int(...), Categorical(...)]) or SearchSpace.from_file(path)")
    if isinstance(space, Mapping):
        hint += ("; from a dict in the space-file format SearchSpace.from_dict(d), from Optuna "
                 "distributions metahpo.distributions.space_from_optuna(d), from a Ray Tune "
                 "param_space metahpo.integrations.ray.space_from_ray(d)")
    raise MetaHPOError(f"space must be a metahpo.SearchSpace, got {type(space).__name__}: build one "
                       f"with {hint}")
