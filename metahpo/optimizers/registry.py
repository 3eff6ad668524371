"""One place that maps optimizer names to their classes.

Adding an optimizer touches its own module, the ``_REGISTRY`` table below and one fixture entry
of the conformance tests. Classes are imported lazily so that ``import metahpo`` stays light and
heavy dependencies (torch, optuna) load only for the optimizers that need them.

Wherever a name is taken, a user's own :class:`~metahpo.optimizers.base.Optimizer` subclass is
too, by reference: ``module.path:Class`` or ``path/to/file.py:Class`` (imported again by each
process that builds one: benchmark workers, ``ask`` calls). It then runs everywhere the shipped
ones run: ``tune``, ``ask``, ``metahpo bench`` beside them under the same protocol, the Optuna
sampler, the Ray Tune searcher, and the conformance checks of :mod:`metahpo.testing`. So does
any Optuna sampler class named the same way (``optuna.samplers:QMCSampler``; see
:mod:`metahpo.optimizers.optuna_sampler_reference`).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Mapping

from metahpo.errors import MetaHPOError
from metahpo.imports import import_reference
from metahpo.optimizers.base import Optimizer
from metahpo.scalars import python_scalar
from metahpo.space import SearchSpace

_REGISTRY: dict[str, str] = {
    "random": "metahpo.optimizers.random:RandomSearch",
    "grid": "metahpo.optimizers.grid:GridSearch",
    "tpe": "metahpo.optimizers.tpe:TPE",
    "gp": "metahpo.optimizers.gp:GaussianProcessBO",
    "cmaes": "metahpo.optimizers.cmaes:CMAES",
    "evolution": "metahpo.optimizers.evolution:RegularizedEvolution",
    "meta": "metahpo.optimizers.meta:MetaOptimizer",
    "rl": "metahpo.optimizers.rl:PerTaskRL",
    "portfolio": "metahpo.optimizers.portfolio:Portfolio",
}


def available_optimizers() -> list[str]:
    """Names accepted by :func:`create_optimizer`, sorted."""
    return sorted(_REGISTRY)


def optimizer_class(name: str) -> type[Optimizer]:
    """The class of a registered name, or of a ``MODULE:CLASS`` reference to a user's own
    :class:`Optimizer` subclass or to an Optuna sampler class."""
    if isinstance(name, str) and ":" in name:
        cls = import_reference(name, "optimizer", "MODULE:CLASS")
        if isinstance(cls, type) and issubclass(cls, Optimizer):
            return cls
        from metahpo.optimizers.optuna_sampler_reference import (
            is_optuna_sampler,
            sampler_optimizer,
        )

        if is_optuna_sampler(cls):
            return sampler_optimizer(name, cls)
        raise MetaHPOError(f"optimizer {name!r} is neither a subclass of metahpo.Optimizer nor "
                           "an Optuna sampler class")
    if name not in _REGISTRY:
        raise MetaHPOError(
            f"unknown optimizer {name!r}; available: {', '.join(available_optimizers())}, or "
            "MODULE:CLASS naming a metahpo.Optimizer subclass of your own or an Optuna sampler "
            "class (optuna.samplers:QMCSampler)"
        )
    module, cls_name = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls_name)


def optimizer_options(name: str) -> dict[str, Any]:
    """The keyword options of optimizer ``name`` and their defaults, ``{option: default}``,
    in the order its class and then its base classes declare them (``direction`` and ``seed``,
    common to all, excluded)."""
    options: dict[str, Any] = {}
    for klass in optimizer_class(name).__mro__:
        if "__init__" not in vars(klass):
            continue
        for param in inspect.signature(vars(klass)["__init__"]).parameters.values():
            if param.kind is param.KEYWORD_ONLY and param.name not in ("direction", "seed"):
                options.setdefault(param.name, param.default)
    return options


def check_options(name: str, options: Mapping[str, Any]) -> None:
    """Raise :class:`MetaHPOError` naming the valid options if ``options`` holds a key that
    optimizer ``name`` does not take (its values are checked when the optimizer is built)."""
    known = optimizer_options(name)
    unknown = [key for key in options if key not in known]
    if unknown:
        own = [key for key in ("seed", "direction") if key in unknown]
        raise MetaHPOError(
            f"optimizer {name!r} has no option {', '.join(map(repr, unknown))}; "
            f"its options: {', '.join(known) or 'none'}"
            + (f" ({' and '.join(own)} {'is' if len(own) == 1 else 'are'} given on "
               f"{'its' if len(own) == 1 else 'their'} own, not as an option)" if own else "")
        )


def create_optimizer(
    name: str,
    space: SearchSpace,
    *,
    direction: str = "minimize",
    seed: int | None = None,
    **options: Any,
) -> Optimizer:
    """Create a registered optimizer, or one of a user's own (see the module docstring).

    Args:
        name: one of :func:`available_optimizers`, or ``module.path:Class`` /
            ``path/to/file.py:Class`` naming a :class:`Optimizer` subclass.
        space: the search space.
        direction: ``"minimize"`` or ``"maximize"``.
        seed: random seed; the same seed and the same calls give the same trials.
        **options: optimizer-specific keyword options (e.g. ``resolution`` for ``"grid"``);
            NumPy scalars among them, and as the seed, are taken as the Python values they
            hold (the optimizer's state is JSON).
    """
    cls = optimizer_class(name)
    seed = python_scalar(seed)
    options = {key: python_scalar(value) for key, value in options.items()}
    check_options(name, options)
    try:
        opt = cls(space, direction=direction, seed=seed, **options)
    except TypeError as exc:
        raise MetaHPOError(f"optimizer {name!r}: {exc}") from None
    opt._options = dict(options)
    opt.reference = name
    return opt


def restore_optimizer(state: Mapping[str, Any]) -> Optimizer:
    """Rebuild an optimizer from :meth:`Optimizer.state_dict` output."""
    try:
        space = SearchSpace.from_dict(state["space"])
        opt = create_optimizer(
            state["optimizer"], space, direction=state["direction"], seed=state["seed"],
            **state.get("options", {}),
        )
        opt._load_state(state)
    except KeyError as exc:
        raise MetaHPOError(f"optimizer state is missing {exc}") from None
    return opt
