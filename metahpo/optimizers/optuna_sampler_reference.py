"""Any Optuna sampler as a metahpo optimizer, named by reference (``optuna.samplers:QMCSampler``,
or a sampler class of one's own or from OptunaHub in a module or file).

Wherever an optimizer is named, a ``MODULE:CLASS`` reference to an ``optuna.samplers.BaseSampler``
subclass is taken too, with the sampler's constructor arguments as the optimizer's options, so
that ``metahpo bench`` compares metahpo's optimizers with any sampler under the same protocol
(the same held-out tasks, seeds and budget)::

    metahpo bench --tasks yahpo:lcbench --optimizers meta,tpe,qmc=optuna.samplers:QMCSampler \\
        --option qmc.qmc_type=halton --budget 50 --seeds 5 --out results

It runs as metahpo's TPE, GP and CMA-ES do (:class:`OptunaSamplerOptimizer`): the sampler
proposes in a private in-memory study that holds the search's trials, and is built anew for
every proposal, with a seed drawn from the optimizer's own generator (where its constructor
takes a ``seed``). So the optimizer's state is JSON (its history, the study's system
attributes and its trials', where Optuna's samplers keep what they carry from one proposal to
the next: CMA-ES's distribution, NSGA-II's generations, the QMC sequence's position), and a
restored optimizer proposes what the original would; a study keeps those attributes with its
trials, so a search resumed from a study, another worker's optimizer or each ``metahpo ask``
goes on from them too (see :mod:`metahpo.optimizers.optuna_adapter`). Where a sampler's seed
fixes a structure rather than draws, ``GridSampler``'s order of the grid's points (which its
trials name by position) and ``QMCSampler``'s scrambling, the sampler is built with one seed for
the whole search instead (the optimizer's, or one drawn once): with a new seed for each
proposal, the positions named other points, and a grid of 8 points searched in 8 trials
repeated 3 of them; a scrambled sequence was scrambled anew for every point. What else a
sampler keeps in itself between calls is not kept. NSGA-II and QMC pass the conformance suite
of :mod:`metahpo.testing`. In a study of several objectives the sampler minimizes one
scalarization per trial, as every optimizer does there
(:mod:`metahpo.optimizers.multi_objective`): NSGA-II's own multi-objective selection does not
act (it selects on those scalarizations).

Options are JSON values (numbers, strings, lists, dicts) on the command line, and should be
from Python too, as every optimizer's: they are recorded in its state, which is JSON. A sampler
constructor argument that takes an object (``independent_sampler``) is best left at its
default; given one from Python, the optimizer runs, but its state no longer serializes.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, ClassVar, Mapping

from metahpo.errors import MetaHPOError
from metahpo.optimizers.optuna_adapter import OptunaSamplerOptimizer
from metahpo.space import SearchSpace

_MADE: dict[tuple[str, type], type[OptunaSamplerOptimizer]] = {}


def is_optuna_sampler(obj: Any) -> bool:
    """Whether ``obj`` is an Optuna sampler class (``optuna.samplers.BaseSampler`` subclass)."""
    if not isinstance(obj, type):
        return False
    from optuna.samplers import BaseSampler

    return issubclass(obj, BaseSampler)


def _seed_fixes_a_structure(sampler_class: type) -> bool:
    """Whether ``sampler_class``'s seed orders or scrambles its points, so that one seed must
    serve the whole search (see the module docstring)."""
    from optuna.samplers import GridSampler, QMCSampler

    return issubclass(sampler_class, (GridSampler, QMCSampler))


def sampler_optimizer(reference: str, sampler_class: type) -> type[OptunaSamplerOptimizer]:
    """The optimizer class of the sampler class ``sampler_class`` named by ``reference``
    (``MODULE:CLASS``), made once per process: its options are the keyword arguments of the
    sampler's constructor but ``seed`` (which the optimizer draws)."""
    key = (reference, sampler_class)
    if key not in _MADE:
        params = inspect.signature(sampler_class).parameters
        names = [p.name for p in params.values()
                 if p.name not in ("self", "seed") and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                                   p.KEYWORD_ONLY)]
        options = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY,
                                     default=params[name].default) for name in names]

        def __init__(self: ReferencedSampler, space: SearchSpace, **kwargs: Any) -> None:
            ReferencedSampler.__init__(self, space, **kwargs)

        __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
             inspect.Parameter("space", inspect.Parameter.POSITIONAL_OR_KEYWORD)] + options
            + [inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)])
        _MADE[key] = type(sampler_class.__name__, (ReferencedSampler,), {
            "__init__": __init__, "__doc__": f"The Optuna sampler ``{reference}``.",
            "name": reference, "sampler_class": sampler_class,
            "sampler_options": tuple(names), "takes_seed": "seed" in params,
            "one_seed": _seed_fixes_a_structure(sampler_class)})
    return _MADE[key]


class ReferencedSampler(OptunaSamplerOptimizer):
    """Base of the classes :func:`sampler_optimizer` makes: one Optuna sampler class, built
    anew for each proposal with the options given (see the module docstring)."""

    #: The Optuna sampler class, the names of its constructor's options, whether it takes a
    #: ``seed``, and whether one seed serves the whole search (see the module docstring).
    sampler_class: ClassVar[type]
    sampler_options: ClassVar[tuple[str, ...]] = ()
    takes_seed: ClassVar[bool] = True
    one_seed: ClassVar[bool] = False

    def __init__(self, space: SearchSpace, **kwargs: Any) -> None:
        given = {name: kwargs.pop(name) for name in self.sampler_options if name in kwargs}
        super().__init__(space, **kwargs)
        self._sampler_kwargs = given
        #: The seed of every sampler of the search where :attr:`one_seed`.
        self._search_seed = (int(self._rng.integers(2**31 - 1)) if self.seed is None
                             else self.seed)
        self._make_sampler(0)

    def _make_sampler(self, seed: int) -> Any:
        seed = self._search_seed if self.one_seed else seed
        kwargs = dict(self._sampler_kwargs, **({"seed": seed} if self.takes_seed else {}))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return self.sampler_class(**kwargs)
        except Exception as exc:
            raise MetaHPOError(f"optimizer {self.name!r}: the sampler refused its options "
                               f"{self._sampler_kwargs}: {type(exc).__name__}: {exc}") from None

    def _propose(self) -> dict[str, Any]:
        """The sampler's proposal; a sampler that cannot search the space (``BruteForceSampler``
        on a continuous parameter) fails by name."""
        try:
            return super()._propose()
        except MetaHPOError:
            raise
        except Exception as exc:
            raise MetaHPOError(f"optimizer {self.name!r} failed to propose: "
                               f"{type(exc).__name__}: {exc}") from None

    def _extra_state(self) -> dict[str, Any]:
        return {**super()._extra_state(), "search_seed": self._search_seed}

    def _load_extra_state(self, extra: Mapping[str, Any]) -> None:
        super()._load_extra_state(extra)
        self._search_seed = int(extra.get("search_seed", self._search_seed))
