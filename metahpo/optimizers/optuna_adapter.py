"""Optuna samplers behind metahpo's ask/tell contract.

TPE, GP-based Bayesian optimization and CMA-ES are Optuna's well-kept implementations; metahpo
reuses them rather than writing them again. The adapter keeps a private in-memory Optuna study:
``ask`` is ``study.ask(distributions)``, ``tell`` is ``study.tell``, ``add_trial`` is
``study.add_trial``.

Reproducibility and state: a fresh sampler is built for every ``ask`` with a seed drawn from the
optimizer's own generator, so the whole state is that generator, the history and the samplers'
system attributes of the study and its trials (where CMA-ES keeps its search distribution and
generation, the GA samplers their generations, ``GridSampler`` which point a trial took, QMC its
position in the sequence). ``state_dict`` stores those attributes, and a restored optimizer
continues exactly where the original was.

A proposal's trial also carries them as its ``optimizer_attrs`` (see
:class:`~metahpo.trial.Trial`), which a study stores with the trial: the attributes the sampler
gave the private trial (``trial:KEY``) and those of the private study it set or changed
(``study:KEY``). An adapter built again from the study's trials (a resumed search, another
worker, each ``metahpo ask``) adds them back to its private study's trials, and takes each study
attribute from the latest trial that carries it, so the sampler goes on where the search was:
without them CMA-ES started again from its first generation at every rebuild (an ask/tell loop
of one process per trial never left its initial distribution), QMC proposed the first point of
its sequence again and a grid its first points. What a sampler writes when a trial is told
(Optuna's ``after_trial``) is kept by ``state_dict`` only. Study attributes that name the
private study's trial ids (the GA samplers' cache of a generation's parents) match across
processes where every process took the study's trials in the same order (nothing interrupted in
between); elsewhere the sampler may pick other parents.

Conditional spaces: TPE (``define_by_run``) is asked as an Optuna objective would ask it: a
parameter is suggested only once its parent's value makes it active, so the private study's
trials hold their active parameters only and TPE models each parameter from the trials where it
applied (multivariate TPE with ``group=True``, Optuna's setting for conditional spaces). The GP
and CMA-ES samplers model a fixed set of parameters jointly (CMA-ES fails when that set changes
within a generation), so they are asked for every parameter, the proposal keeps the active ones,
and a trial from elsewhere enters the private study with its inactive parameters at the space's
middle, where metahpo's own encoding puts them.
"""

from __future__ import annotations

import abc
import json
import warnings
from typing import Any, Literal, Mapping, Union, cast

from metahpo.distributions import suggest, to_optuna
from metahpo.loss_range import representable_loss
from metahpo.optimizers.base import Optimizer
from metahpo.space import Float, Int, Parameter, SearchSpace
from metahpo.trial import Trial, TrialRecord, TrialState


def _quiet_study(direction: str) -> Any:
    """A private in-memory Optuna study, created without Optuna's log line.

    A sampler that ends its search calls ``study.stop()`` (``GridSampler``, once its grid is
    done), which Optuna refuses outside ``study.optimize``: the private study ignores it, as
    the search's own budget decides when it ends (the sampler then proposes again as it
    does after its end in Optuna: ``GridSampler`` its grid's points anew)."""
    import optuna

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study: Any = optuna.create_study(storage=optuna.storages.InMemoryStorage(),
                                             direction=cast(Literal["minimize", "maximize"],
                                                            direction),
                                             sampler=optuna.samplers.RandomSampler(seed=0))
    finally:
        optuna.logging.set_verbosity(previous)
    study.stop = lambda: None
    return study


def _readable(value: float | None) -> float | None:
    """A trial's value as the private study holds it (:mod:`metahpo.loss_range`: Optuna's GP
    sampler cannot fit values near float64's limit)."""
    return None if value is None else representable_loss(value)


class OptunaSamplerOptimizer(Optimizer):
    """Base of the optimizers that delegate to an ``optuna.samplers.BaseSampler``."""

    #: Whether a conditional space is asked one active parameter at a time (see the module
    #: docstring); otherwise every parameter is asked and inactive ones are filled in.
    define_by_run = False
    #: Whether a forbidden proposal enters the private study as a trial as bad as the worst
    #: completed one (a sampler that would propose it again otherwise), or fails there (a
    #: sampler that draws afresh); see :meth:`_discard_proposal`.
    discards_as_worst = True

    def __init__(self, space: SearchSpace, **kwargs: Any) -> None:
        self._replaying = False
        super().__init__(space, **kwargs)
        self._relaxed_names = {p.name for p in space if self._relaxed(p)}
        self._distributions = {p.name: self._inner_distribution(p) for p in space}
        self._inactive_values = {p.name: p.decode(u) for p, u in zip(space, space.middle())}
        self._study = _quiet_study(self.direction)
        self._inner: dict[int, int] = {}
        #: The private study's attributes from proposals: for each key, the number of the
        #: trial whose proposal set it last (the latest trial's value wins), and the
        #: ``optimizer_attrs`` of the last proposal.
        self._study_attr_from: dict[str, int] = {}
        self._last_attrs: dict[str, Any] = {}
        #: The private study's trial of the last proposal (``None``: discarded, or none yet).
        self._last_inner: int | None = None

    @abc.abstractmethod
    def _make_sampler(self, seed: int) -> Any:
        """A new Optuna sampler seeded with ``seed``."""

    def _relaxed(self, param: Parameter) -> bool:
        """Whether ``param`` is given to the sampler as a continuous range, its proposals
        rounded to the nearest allowed value: a step finer than 2**-24 of its bounds' magnitude,
        as Optuna's trials hold a value only within 1e-8 steps of its grid, and a float's
        rounding there exceeds that (values 0.001 apart near 1e5 were refused 2-10% of the
        time when a study was resumed)."""
        return (isinstance(param, Float) and param.step is not None
                and param.step < max(abs(param.low), abs(param.high)) * 2.0**-24)

    def _inner_distribution(self, param: Parameter) -> Any:
        """The Optuna distribution the sampler is asked for ``param``."""
        if param.name in self._relaxed_names:
            from optuna.distributions import FloatDistribution

            numeric = cast(Union[Int, Float], param)
            return FloatDistribution(numeric.low, numeric.high, log=numeric.log)
        return to_optuna(param)

    def _outer_value(self, param: Parameter, value: Any) -> Any:
        """``param``'s value for the sampler's ``value`` of :meth:`_inner_distribution`."""
        if param.name not in self._relaxed_names:
            return value
        if isinstance(param, Int):
            k = round((value - param.low) / param.step)
            return min(param.low + k * param.step, param.high)
        return param.decode(param.encode(value))

    def _propose(self) -> dict[str, Any]:
        import optuna

        seed = int(self._rng.integers(2**31 - 1))
        storage, study_id = self._study._storage, self._study._study_id
        before = dict(storage.get_study_system_attrs(study_id))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._study.sampler = self._make_sampler(seed)
            previous = optuna.logging.get_verbosity()
            optuna.logging.set_verbosity(optuna.logging.ERROR)
            try:
                if self.space.is_conditional and self.define_by_run:
                    ot = self._study.ask()
                    for name, dist in self._distributions.items():
                        if name in self.space.active_names(ot.params):
                            suggest(ot, name, dist)
                else:
                    ot = self._study.ask(self._distributions)
            finally:
                optuna.logging.set_verbosity(previous)
        self._last_inner = ot.number
        changed = {key: value for key, value in storage.get_study_system_attrs(study_id).items()
                   if key not in before or before[key] != value}
        for key in changed:
            self._study_attr_from[key] = self._next_number
        self._last_attrs = {**_prefixed("trial:", storage.get_trial_system_attrs(ot._trial_id)),
                            **_prefixed("study:", changed)}
        params = {name: self._outer_value(self.space[name], value)
                  for name, value in ot.params.items()}
        return {name: params[name] for name in self.space.active_names(params)}

    def _proposal_attrs(self) -> dict[str, Any]:
        return self._last_attrs

    def ask(self) -> Trial:
        trial = super().ask()
        if self._last_inner is not None:
            self._inner[trial.number] = self._last_inner
        return trial

    def _discard_proposal(self) -> None:
        """A forbidden proposal enters the private study as a trial as bad as the worst one
        completed there (with ``discards_as_worst``, the default, and where a trial has
        completed), else it fails there. Optuna's samplers leave failed trials out of their
        models, so a GP, whose acquisition is deterministic, proposed a forbidden optimum again
        at every try when it failed (41 of 51 proposals discarded in the conformance check of
        forbidden combinations); a sampler that draws afresh (TPE) is better off with the
        failure, see :class:`~metahpo.optimizers.tpe.TPE`."""
        import optuna

        if self._last_inner is None:
            return
        done = self._study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        values = [cast(float, t.value) for t in done]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if values and self.discards_as_worst:
                worst = max(values) if self.direction == "minimize" else min(values)
                self._study.tell(self._last_inner, worst)
            else:
                self._study.tell(self._last_inner, state=optuna.trial.TrialState.FAIL)
        self._last_inner = None

    def _private_attrs(self, number: int, attrs: Mapping[str, Any]) -> dict[str, Any]:
        """Of a trial from elsewhere and its ``optimizer_attrs``: the private trial's
        attributes; its study attributes enter the private study where no later trial has
        set them."""
        storage, study_id = self._study._storage, self._study._study_id
        for key, value in attrs.items():
            if key.startswith("study:"):
                name = key[len("study:"):]
                if self._study_attr_from.get(name, -1) <= number:
                    storage.set_study_system_attr(study_id, name, value)
                    self._study_attr_from[name] = number
        return {key[len("trial:"):]: value for key, value in attrs.items()
                if key.startswith("trial:")}

    def _load_state(self, state: Mapping[str, Any]) -> None:
        """Restore without replaying the history into a study that the saved one replaces."""
        self._replaying = True
        try:
            super()._load_state(state)
        finally:
            self._replaying = False

    def _pending_added(self, trial: Trial) -> None:
        """A trial running elsewhere becomes a RUNNING trial of the private study, where the
        samplers' constant liar (TPE) and CMA-ES's generation bookkeeping see it."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            attrs = self._private_attrs(trial.number, trial.optimizer_attrs)
            self._inner[trial.number] = _add_running(self._study, self._inner_params(trial.params),
                                                     self._distributions, attrs)

    def _withdrawn(self, trial: Trial) -> None:
        """A withdrawn trial fails in the private study, where Optuna's samplers leave failed
        trials out of their models."""
        import optuna

        inner = self._inner.pop(trial.number, None)
        if inner is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._study.tell(inner, state=optuna.trial.TrialState.FAIL)

    def _observe(self, record: TrialRecord) -> None:
        import optuna

        if self._replaying:
            return
        inner = self._inner.get(record.number)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if inner is not None:
                state = (optuna.trial.TrialState.COMPLETE if record.state is TrialState.COMPLETE
                         else optuna.trial.TrialState.FAIL)
                self._study.tell(inner, _readable(record.value), state=state)
                return
            attrs = self._private_attrs(record.number, record.optimizer_attrs)
            self._study.add_trial(self._frozen(self._inner_params(record.params),
                                               _readable(record.value), attrs))
            self._inner[record.number] = self._study.get_trials(deepcopy=False)[-1].number

    def _inner_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A configuration from elsewhere as the private study holds it: as it is when asked
        define-by-run, else with every inactive parameter at the space's middle."""
        if self.define_by_run or not self.space.is_conditional:
            return dict(params)
        return {name: params.get(name, value) for name, value in self._inactive_values.items()}

    def _frozen(self, params: Mapping[str, Any], value: float | None,
                system_attrs: Mapping[str, Any]) -> Any:
        import optuna

        state = optuna.trial.TrialState.COMPLETE if value is not None else optuna.trial.TrialState.FAIL
        return optuna.trial.create_trial(
            params=dict(params),
            distributions={n: d for n, d in self._distributions.items() if n in params},
            value=value, state=state,
            system_attrs=dict(system_attrs),
        )

    # state ------------------------------------------------------------------------------------

    def _extra_state(self) -> dict[str, Any]:
        trials = self._study.get_trials(deepcopy=False)
        return {
            "inner": {str(k): v for k, v in self._inner.items()},
            "study_attr_from": dict(self._study_attr_from),
            "study_attrs": self._study._storage.get_study_system_attrs(self._study._study_id),
            "system_attrs": [dict(t.system_attrs) for t in trials],
            "params": [dict(t.params) for t in trials],
            "values": [t.value for t in trials],
            "states": [t.state.name for t in trials],
        }

    def _load_extra_state(self, extra: Mapping[str, Any]) -> None:
        if not extra:
            return
        study = _quiet_study(self.direction)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for params, value, state, attrs in zip(extra["params"], extra["values"],
                                                   extra["states"], extra["system_attrs"]):
                if state == "RUNNING":
                    _add_running(study, params, self._distributions, attrs)
                else:
                    study.add_trial(self._frozen(params, value if state == "COMPLETE" else None,
                                                 attrs))
            for key, value in extra.get("study_attrs", {}).items():
                study._storage.set_study_system_attr(study._study_id, key, value)
        self._study = study
        self._inner = {int(k): v for k, v in extra["inner"].items()}
        self._study_attr_from = dict(extra.get("study_attr_from", {}))


def _prefixed(prefix: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """``attrs`` whose values are JSON, as ``{prefix + key: value}`` (a study stores them)."""
    kept = {}
    for key, value in attrs.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        kept[prefix + key] = value
    return kept


def _add_running(study: Any, params: Mapping[str, Any], distributions: Mapping[str, Any],
                 system_attrs: Mapping[str, Any]) -> int:
    """Add a RUNNING trial with ``params`` to the in-memory ``study``; return its number."""
    import optuna

    template = optuna.trial.FrozenTrial(
        number=-1, state=optuna.trial.TrialState.RUNNING, value=None,
        datetime_start=None, datetime_complete=None, params=dict(params),
        distributions={n: d for n, d in distributions.items() if n in params}, user_attrs={},
        system_attrs=dict(system_attrs), intermediate_values={}, trial_id=-1,
    )
    trial_id = study._storage.create_new_trial(study._study_id, template_trial=template)
    return study._storage.get_trial_number_from_id(trial_id)
