"""Reading search-space descriptions: metahpo's space files (YAML / JSON, one mapping per
parameter), ConfigSpace JSON documents and YAML 1.2 numbers. :class:`metahpo.space.SearchSpace`
builds spaces from what these functions return."""

from __future__ import annotations

import operator
from typing import Any, Mapping

from metahpo.conditions import Condition, both, merged_terms
from metahpo.errors import MetaHPOError
from metahpo.parameters import Categorical, Float, Int, Parameter, listed_values


def parameter_from_spec(name: str, spec: Any) -> Parameter:
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise MetaHPOError(
            f"parameter {name!r}: expected a mapping with a 'type' (float, int or categorical), "
            f"got {spec!r}{_spec_hint(name, spec)}"
        )
    kind = spec["type"]
    allowed = {
        "float": {"low", "high", "log", "step"},
        "int": {"low", "high", "log", "step"},
        "categorical": {"choices"},
    }
    if not isinstance(kind, str) or kind not in allowed:
        written = _TYPES_ELSEWHERE.get(str(kind).lower())
        hint = "" if written is None else f"; {kind!r} is written {written}"
        raise MetaHPOError(
            f"parameter {name!r}: unknown type {kind!r}; use float, int or categorical{hint}"
        )
    keys = set(spec) - {"type"}
    unknown = keys - allowed[kind]
    if unknown:
        allowed_keys = ", ".join(sorted(allowed[kind] | {"active_if"}))
        meant = [f"{key!r}: {_KEYS_ELSEWHERE[key]}" for key in sorted(unknown)
                 if key in _KEYS_ELSEWHERE]
        hint = f"; {'; '.join(meant)}" if meant else ""
        raise MetaHPOError(f"parameter {name!r}: unknown keys {sorted(unknown)} for type {kind!r} "
                           f"(allowed: {allowed_keys}; a conditional parameter takes "
                           f"active_if: {{parent: [values]}}){hint}")
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


_TYPES_ELSEWHERE = {
    "uniform": "{type: float, low: A, high: B}",
    "loguniform": "{type: float, low: A, high: B, log: true}",
    "quniform": "{type: float, low: A, high: B, step: Q}",
    "qloguniform": "{type: float, low: A, high: B, log: true} (a log scale takes no step)",
    "randint": "{type: int, low: A, high: B} (high is included, unlike in Ray Tune's randint)",
    "qrandint": "{type: int, low: A, high: B, step: Q}",
    "lograndint": ("{type: int, low: A, high: B, log: true} (high is included, unlike in Ray "
                   "Tune's lograndint)"),
    "choice": "{type: categorical, choices: [A, B]}",
    "bool": "{type: categorical, choices: [true, false]}",
    "boolean": "{type: categorical, choices: [true, false]}",
    "integer": "{type: int, low: A, high: B}",
    "real": "{type: float, low: A, high: B}",
    "double": "{type: float, low: A, high: B}",
    "continuous": "{type: float, low: A, high: B}",
    "discrete": "{type: int, low: A, high: B, step: Q} or {type: categorical, choices: [A, B]}",
    "ordinal": "{type: categorical, choices: [A, B]}",
}
"""The space-file form of parameter types as Ray Tune, Hyperopt, Optuna's distributions and
other tools name them, for the error that refuses such a ``type``."""

_KEYS_ELSEWHERE = {
    "min": "write low", "max": "write high", "lower": "write low", "upper": "write high",
    "values": "write choices", "options": "write choices", "q": "write step",
    "base": "write log: true (a log scale is base-free)",
    "default": "configurations to evaluate first go in --points-to-evaluate "
               "(points_to_evaluate in Python)",
}
"""What other tools' parameter keys are in a space file, for the error that refuses them."""


def _spec_hint(name: str, spec: Any) -> str:
    """What the user most likely meant by a parameter entry without a ``type``: choices
    written as a bare list, a range without its type (an integer range and a float range
    look alike in YAML, so metahpo does not guess), or forbidden clauses under a
    misspelt key."""
    clause_like = isinstance(spec, list) and any(
        isinstance(item, Mapping) or (isinstance(item, str) and any(op in item for op in "<=>"))
        for item in spec)
    if name == "forbidden" or clause_like:
        return ("; forbidden clauses go in a list under the key 'forbidden': forbidden: "
                "[{model: large, batch_size: [512, 1024]}]")
    if isinstance(spec, list):
        return f"; choices are written {{type: categorical, choices: {_flow(spec)}}}"
    if isinstance(spec, Mapping) and "choices" in spec:
        return "; add 'type: categorical'"
    if isinstance(spec, Mapping):
        return "; add 'type: float' or 'type: int'"
    return ""


def _flow(values: list[Any]) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


def parameter_from_configspace(hp: Mapping[str, Any]) -> Parameter:
    name: Any = hp.get("name")
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


#: A ``NEQ``, ``LT`` or ``GT`` condition's parent with more values than this is refused: the
#: condition becomes the list of the parent values it allows.
MAX_LISTED_VALUES = 10_000


def condition_from_configspace(cond: Any, params: Mapping[str, Parameter]
                               ) -> tuple[str, Condition]:
    """``(child, Condition)`` of a ConfigSpace JSON condition; ``params``: the document's
    parameters by name.

    metahpo's conditions name, for each parent, the values it may hold, so every ConfigSpace
    condition on one parent is read as such a list: ``EQ`` and ``IN`` as they are, ``NEQ`` as
    the parent's other values, ``LT`` / ``GT`` as its values below / above the given one (in
    the order of an ordinal's sequence); an ``AND`` of conditions as the values they all allow
    of each parent, an ``OR`` of conditions on one parent as the union of their values, and
    an ``OR`` over several parents as an either-or condition (nested conjunctions are
    multiplied out into alternatives). ``NEQ`` / ``LT`` / ``GT`` on a continuous parent are
    refused by name."""
    if not isinstance(cond, Mapping):
        raise MetaHPOError(f"ConfigSpace condition must be a mapping, got {cond!r}")
    child: Any = cond.get("child")
    return child, _condition(child, cond, params)


def _condition(child: Any, cond: Any, params: Mapping[str, Parameter]) -> Condition:
    if not isinstance(cond, Mapping):
        raise MetaHPOError(f"ConfigSpace condition on {child!r}: expected a mapping, got {cond!r}")
    kind = cond.get("type")
    if kind in ("AND", "OR"):
        parts = [_condition(child, c, params) for c in cond.get("conditions") or []]
        if not parts:
            raise MetaHPOError(f"ConfigSpace condition {kind!r} on {child!r} combines no "
                               "conditions")
        combined = parts[0]
        if kind == "AND":
            for part in parts[1:]:
                combined = both(child, combined, part)
            return combined
        alternatives = [terms for part in parts for terms in part.alternatives]
        if all(len(terms) == 1 for terms in alternatives) and len(
                {name for terms in alternatives for name, _ in terms}) == 1:
            values = list(dict.fromkeys(v for terms in alternatives for v in terms[0][1]))
            return Condition(alternatives[0][0][0], values)
        return Condition([{name: list(held) for name, held in terms} for terms in alternatives])
    parent: Any = cond.get("parent")
    if kind == "EQ":
        return Condition(parent, [cond.get("value")])
    if kind == "IN":
        return Condition(parent, list(cond.get("values") or []))
    if kind not in ("NEQ", "LT", "GT"):
        raise MetaHPOError(f"ConfigSpace condition {kind!r} on {child!r} is not supported: "
                           "metahpo reads EQ, NEQ, LT, GT, IN, AND and OR")
    if parent not in params:
        raise MetaHPOError(f"parameter {child!r}: its condition names an unknown parent "
                           f"{parent!r}")
    p = params[parent]
    listed = listed_values(p) if (p.n_values or 0) <= MAX_LISTED_VALUES else None
    if listed is None:
        raise MetaHPOError(f"ConfigSpace condition {kind!r} on {child!r}: its parent {parent!r} "
                           f"is continuous or has over {MAX_LISTED_VALUES} values; a "
                           "condition's parent must be categorical, integer or stepped")
    value = cond.get("value")
    if not p.contains(value):
        raise MetaHPOError(f"ConfigSpace condition {kind!r} on {child!r}: {value!r} is not a "
                           f"value of its parent {parent!r} ({p.to_dict()})")
    at = p.encode(value)
    compare = {"NEQ": operator.ne, "LT": operator.lt, "GT": operator.gt}[kind]
    allowed = [v for v in listed if compare(p.encode(v), at)]
    if not allowed:
        raise MetaHPOError(f"ConfigSpace condition {kind!r} on {child!r}: no value of "
                           f"{parent!r} meets it, so the parameter would never be active")
    return Condition(parent, allowed)


def forbidden_from_configspace(item: Any) -> dict[str, list[Any]] | str | None:
    """The forbidden clause ``{name: [values]}`` of a ConfigSpace JSON forbidden of type
    ``EQUALS``, ``IN`` or an ``AND`` of them (one name twice: the values both list), or the
    relation ``"left OP right"`` of a ``RELATION_LT`` / ``_EQ`` / ``_GT`` (or a ``RELATION``
    with that ``lambda``); ``None`` for an ``AND`` with a relation in it, which metahpo does not
    represent."""
    if not isinstance(item, Mapping):
        raise MetaHPOError(f"ConfigSpace forbidden clause must be a mapping, got {item!r}")
    kind = item.get("type")
    name: Any = item.get("name")
    if kind == "EQUALS":
        return {name: [item.get("value")]}
    if kind == "IN":
        return {name: list(item.get("values") or [])}
    if kind == "AND":
        merged: dict[str, list[Any]] = {}
        for part in item.get("clauses") or []:
            clause = forbidden_from_configspace(part)
            if not isinstance(clause, dict):
                return None
            merged = merged_terms(merged.items(), clause.items())
        return merged
    if kind == "RELATION":  # the older form
        kind = f"RELATION_{item.get('lambda')}"
    ops = {"RELATION_LT": "<", "RELATION_EQ": "==", "RELATION_GT": ">"}
    if kind in ops:
        return f"{item.get('left')} {ops[kind]} {item.get('right')}"
    raise MetaHPOError(f"ConfigSpace forbidden clause of type {kind!r} is not supported: metahpo "
                       "reads EQUALS, IN, AND and RELATION_LT / _EQ / _GT")




def parents_first(params: list[Parameter], conditions: Mapping[str, Condition]) -> list[Parameter]:
    """``params`` reordered as little as possible so that every parent precedes its children
    (ConfigSpace files need not list them so); parameters caught in a cycle are left at the end,
    for the space to refuse."""
    placed: list[Parameter] = []
    done: set[str] = set()
    remaining = list(params)
    while remaining:
        ready = [p for p in remaining
                 if p.name not in conditions
                 or all(parent in done for parent in conditions[p.name].parents)]
        if not ready:
            break
        placed += ready
        done.update(p.name for p in ready)
        remaining = [p for p in remaining if p.name not in done]
    return placed + remaining


_YAML_EXPONENT_FLOAT = r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"


def yaml_loader() -> type:
    """PyYAML's safe loader, plus YAML 1.2's floats in exponent notation (see
    ``SearchSpace.from_yaml``), for every YAML file metahpo reads. Built on first use:
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
