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
restored optimizer proposes what the original would. What a sampler keeps in itself between
calls is not kept: a scrambled QMC sequence (``scramble=True``) is scrambled anew for every
point, so its points are those of a randomized sequence rather than of one low-discrepancy
sequence (Optuna's default, ``scramble=False``, is kept whole). And what a sampler counts in
the study counts this optimizer's own proposals only: trials it is told from elsewhere
(another worker's, or a study's when a search resumes) do not move QMC's position, so a QMC
search resumed from a study's trials, or run by several workers, starts its sequence again
and repeats their points. Samplers whose state lies in the trials (TPE, GP, CMA-ES, NSGA-II)
have no such limit; the conformance suite of :mod:`metahpo.testing` checks NSGA-II. In a
study of several objectives the sampler minimizes one scalarization per trial, as every
optimizer does there (:mod:`metahpo.optimizers.multi_objective`), rebuilt for each proposal:
NSGA-II's own multi-objective selection and its generations do not act.

Options are JSON values (numbers, strings, lists, dicts) on the command line, and should be
from Python too, as every optimizer's: they are recorded in its state, which is JSON. A sampler
constructor argument that takes an object (``independent_sampler``) is best left at its
default; given one from Python, the optimizer runs, but its state no longer serializes.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, ClassVar

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
            "sampler_options": tuple(names), "takes_seed": "seed" in params})
    return _MADE[key]


class ReferencedSampler(OptunaSamplerOptimizer):
    """Base of the classes :func:`sampler_optimizer` makes: one Optuna sampler class, built
    anew for each proposal with the options given (see the module docstring)."""

    #: The Optuna sampler class, the names of its constructor's options, and whether it takes a
    #: ``seed``.
    sampler_class: ClassVar[type]
    sampler_options: ClassVar[tuple[str, ...]] = ()
    takes_seed: ClassVar[bool] = True

    def __init__(self, space: SearchSpace, **kwargs: Any) -> None:
        given = {name: kwargs.pop(name) for name in self.sampler_options if name in kwargs}
        super().__init__(space, **kwargs)
        self._sampler_kwargs = given
        self._make_sampler(0)

    def _make_sampler(self, seed: int) -> Any:
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
