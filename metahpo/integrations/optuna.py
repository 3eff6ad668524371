"""Run any metahpo optimizer inside an Optuna study.

``MetaHPOSampler`` is an ``optuna.samplers.BaseSampler``. The study is the only record: the
sampler builds its metahpo optimizer from the study's trials (finished ones replayed with
``add_trial``, running ones in other workers added as pending) and, between calls, keeps it in
step by telling it only what changed, rebuilding it whenever the study departs from it. So
Optuna's storages (in memory, SQLite, server RDBs, JournalStorage), several worker processes on
one study, resumed studies and optuna-dashboard all work unchanged. The optimizer is seeded with the
sampler's seed, so what it plans once per search (a policy's initial design) is the same plan in
every trial, and its random draws restart from the seed and the trial number, so that a study is
reproducible trial by trial and concurrent trials that read the same history draw differently.

Search space: given ``search_space`` (the parameters every trial suggests, as Optuna distributions
or a metahpo :class:`~metahpo.space.SearchSpace`), the optimizer samples all of them jointly from
the very first trial. Without it, the sampler infers Optuna's intersection search space (parameters
present, with identical distributions, in every completed trial, ordered by name) and the
conditional parameters below. Until a trial has
completed that space is empty, and Optuna asks one parameter at a time: each is then the
optimizer's proposal for that parameter alone. For the ``default`` policy that is the same first
point (the middle of the space), but a policy meta-trained for one space cannot propose for one
parameter, so the study's first trial is random and the policy's learned initial design is never
played from its start: on the held-out lcbench instances the ``lcbench`` policy had regret 0.457 /
0.121 / 0.048 at 1 / 5 / 20 trials that way, against 0.033 / 0.029 / 0.017 with ``search_space``
(0.033 / 0.029 / 0.015 in a direct run; ``benchmarks/results/optuna_sampler_lcbench``). Parameters
with a single possible value are returned as that value. Without a declared space, parameters
that only some trials suggest (define-by-run) join the joint space where the completed trials
show a condition on one parameter before them (:mod:`metahpo.integrations.optuna_conditions`):
``momentum`` when ``optimizer`` is ``"sgd"``, ``units_2`` when ``n_layers`` is 3 or more. On two
families of such objectives (``benchmarks/results/optuna_define_by_run``) that took ``meta`` from
0.0608 / 0.0418 to 0.0472 / 0.0174 best loss at 20 / 50 trials on one and from 0.0846 / 0.0322 to
0.0426 / 0.0176 on the other (with choices that gate parameters switched, the optimizer's default
in conditional spaces). Parameters outside the joint space fall back to independent uniform
random sampling (seeded by the sampler's seed, the trial number and the parameter, so that
workers sharing a seed draw different values): that is the documented independent strategy.
With a declared space, a finished trial that lacks one of its parameters cannot be shown to the
optimizer; the sampler warns and leaves it out.

Several objectives (``optuna.create_study(directions=["maximize", "minimize"])``, accuracy and
training time, say): before each proposal the sampler draws a weight per objective and gives the
optimizer every finished trial's augmented Chebyshev distance from the best seen, objectives
scaled to the ranges seen (:mod:`metahpo.scalarization`, ParEGO), so each trial is the
optimizer's answer to one trade-off and the trials spread along the Pareto front
(``study.best_trials``). A trial with a non-finite objective is shown to the optimizer as failed.
On the held-out lcbench instances, validation accuracy against training time
(``benchmarks/results/optuna_multi_objective``), ``meta`` dominated more of the objective space
than NSGA-II, TPE and random search from 10 trials on; Optuna's GP sampler more than ``meta``
from 20 trials on, at 60 times its cost per suggestion.

Constraints (``trial.set_constraint("latency", latency_ms - 10)`` in the objective, Optuna >= 5,
feasible where every value is 0 or less; or the values an earlier sampler's
``constraints_func`` stored): the optimizer is told an infeasible trial as failed, so it steers
away from the infeasible region as from failed trainings (the README's *Failed trials*), while
Optuna's ``best_trial`` / ``best_trials`` pick among the feasible ones.

Conditional parameters: declare a :class:`~metahpo.space.SearchSpace` with conditions (momentum
only for SGD, say) and the optimizer models them as in :func:`metahpo.tune`: each trial's
proposal holds the parameters its values make active, the objective suggests those (Optuna's
define-by-run ``if``), and a finished trial needs only its active parameters to be shown to the
optimizer. An objective that suggests a parameter the declared conditions leave inactive in
that trial gets an error that names the condition (the declaration and the objective disagree).

Pruners: the optimizer reads every trial of the study, pruned ones at their last report, as in
:func:`metahpo.tune`. Under Optuna's ``HyperbandPruner`` Optuna hands a sampler the trials of
the current trial's bracket only (its TPE models each bracket apart); the sampler reads the
whole study instead (:func:`_whole_study`): read bracket by bracket, each bracket started the
seed's plan anew, so ``meta`` proposed the first points of its design once per bracket (40
trials of a test held 32 configurations).

Run this way, ``meta`` with its default policy does as well as in a direct ask/tell run. On
validation tasks (``benchmarks/results/optuna_sampler_validation*``; regret at 20 trials): 0.178
vs 0.174 direct on synthetic functions, 0.080 vs 0.075 on four lcbench instances. An earlier
version (commit 1fb37c4), which seeded each trial's optimizer on its own and drew the first
trial at random, had 0.210 and 0.083: its first trial missed the design's start and each design
point came from another design.

Example::

    import optuna
    from metahpo.integrations.optuna import MetaHPOSampler

    study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0), direction="maximize",
                                storage="sqlite:///studies.db", study_name="m", load_if_exists=True)
    study.optimize(objective, n_trials=30)

    # every parameter sampled jointly from the first trial on (needed for a policy meta-trained
    # for one space, whose learned initial design starts the study)
    from optuna.distributions import FloatDistribution, IntDistribution
    sampler = MetaHPOSampler("meta", seed=0, search_space={
        "lr": FloatDistribution(1e-5, 1e-1, log=True), "layers": IntDistribution(1, 5)})
"""

from __future__ import annotations

import threading
import warnings
import zlib
from typing import Any, Mapping, Union, cast

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from metahpo.conditions import Condition
from metahpo.distributions import from_optuna, space_from_optuna, space_to_optuna
from metahpo.errors import MetaHPOError
from metahpo.integrations.optuna_conditions import define_by_run_space
from metahpo.integrations.optuna_replica import StudyReplica, violated_constraints
from metahpo.optimizers.registry import check_options, create_optimizer
from metahpo.scalarization import as_losses, chebyshev_losses, draw_weights
from metahpo.space import SearchSpace


def _single_value(dist: BaseDistribution) -> bool:
    if isinstance(dist, CategoricalDistribution):
        return len(dist.choices) == 1
    numeric = cast(Union[FloatDistribution, IntDistribution], dist)
    return numeric.low == numeric.high


class MetaHPOSampler(BaseSampler):
    """An Optuna sampler backed by a metahpo optimizer.

    Args:
        optimizer: a metahpo optimizer name (see ``metahpo.available_optimizers()``), or
            ``MODULE:CLASS`` naming an optimizer of your own (``metahpo.create_optimizer``).
        seed: the optimizer's seed; its random draws restart from it and each trial's number.
        search_space: the parameters every trial suggests, ``{name: optuna distribution}`` or a
            :class:`~metahpo.space.SearchSpace` (whose forbidden combinations are then never
            proposed); they are then sampled jointly from the first trial on (see the module
            docstring). Default: Optuna's intersection search space
            and the conditional parameters that the completed trials show (define-by-run).
        **options: keyword options of the optimizer (e.g. ``policy="default"`` for ``"meta"``).
    """

    def __init__(self, optimizer: str = "meta", *, seed: int | None = None,
                 search_space: Mapping[str, BaseDistribution] | SearchSpace | None = None,
                 **options: Any) -> None:
        check_options(optimizer, options)
        self.optimizer = optimizer
        self.options = dict(options)
        self._seed = (seed if seed is not None
                      else int(cast(int, np.random.SeedSequence().entropy) % 2**31))
        self._declared = None if search_space is None else _declared_space(search_space)
        #: The declared space where its conditions or forbidden clauses say more than Optuna
        #: distributions can.
        self._structured = (search_space if isinstance(search_space, SearchSpace)
                            and (search_space.is_conditional or search_space.forbidden) else None)
        if self._declared is not None:
            free = {n: d for n, d in self._declared.items() if not _single_value(d)}
            if free:  # an optimizer that cannot serve the space says so now, not in a trial
                create_optimizer(optimizer, self._optimizer_space(free), seed=0, **self.options)
        self._warned_first = False
        self._lock = threading.Lock()
        self._replicas: dict[tuple[int, int], StudyReplica] = {}
        #: Per thread, ``(storage, study id, trial number, conditions)`` of the last
        #: :meth:`infer_relative_search_space`, which Optuna follows with
        #: :meth:`sample_relative` for the same trial in the same thread: the conditions are
        #: then taken from there instead of reading the study's trials again.
        self._inferred = threading.local()

    def reseed_rng(self) -> None:
        """Keep the seed. Optuna calls this on the shared sampler when ``optimize`` runs with
        ``n_jobs > 1``, so that copies of a sampler do not draw the same values; this sampler's
        draws restart from the seed and each trial's number, so trials draw differently anyway,
        and a new seed mid-study would switch the optimizer's plan (a policy's initial design)
        between trials and make a seeded study irreproducible."""

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_lock"], state["_replicas"], state["_inferred"] = None, {}, None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._inferred = threading.local()

    def _optimizer_space(self, free: dict[str, BaseDistribution],
                         inferred: dict[str, Condition] | None = None) -> SearchSpace:
        """The metahpo space of the parameters ``free`` (those with more than one value), with
        the declared conditions and forbidden clauses among them, or else the ``inferred``
        conditions (:func:`define_by_run_space`; ``free`` lists each parent before its
        children)."""
        if self._structured is None:
            return SearchSpace([from_optuna(n, d) for n, d in free.items()],
                               conditions={c: cond for c, cond in (inferred or {}).items()
                                           if c in free})
        fixed = [n for n in self._structured.names if n not in free]
        try:
            return self._structured.without(*fixed)
        except MetaHPOError as exc:
            raise MetaHPOError(f"search_space: a parameter with a single value cannot be the "
                               f"parent of a condition ({exc})") from None

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial
                                    ) -> dict[str, BaseDistribution]:
        if self._declared is not None:
            return dict(self._declared)
        study = _whole_study(study)
        space, conditions = define_by_run_space(study.get_trials(deepcopy=False))
        self._inferred.last = (study._storage, study._study_id, trial.number, conditions)
        return space

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        last = getattr(self._inferred, "last", None)
        self._inferred.last = None
        if not search_space:
            return {}
        study = _whole_study(study)
        fixed = {n: (d.choices[0] if isinstance(d, CategoricalDistribution)
                     else cast(Union[FloatDistribution, IntDistribution], d).low)
                 for n, d in search_space.items() if _single_value(d)}
        free = {n: d for n, d in search_space.items() if n not in fixed}
        trials = study.get_trials(deepcopy=False)
        inferred: dict[str, Condition] = {}
        if self._declared is None:
            if (last is not None and last[0] is study._storage
                    and last[1:3] == (study._study_id, trial.number)):
                inferred = last[3]  # what inferred ``search_space`` (one read of the trials)
            else:
                free, inferred = _still_inferred(free, trials)
        if not free:
            return fixed
        space = self._optimizer_space(free, inferred)
        if len(study.directions) > 1:
            return {**fixed, **self._propose_scalarized(study, trial, trials, free, space)}
        direction = "maximize" if study.direction == StudyDirection.MAXIMIZE else "minimize"
        storage = study._storage
        key = (id(storage), study._study_id)
        with self._lock:
            self._replicas = {k: r for k, r in self._replicas.items() if r.storage() is not None}
            replica = self._replicas.get(key)
            if (replica is None or replica.storage() is not storage or replica.free != free
                    or replica.opt.space.conditions != space.conditions
                    or not replica.catch_up(trials, trial)):
                replica = self._replica(free, space, direction, storage, self._seed, trials, trial)
                self._replicas[key] = replica
            proposal = self._propose(replica, free, space, direction, trials, trial)
        return {**fixed, **proposal}

    def _propose(self, replica: StudyReplica, free: dict[str, BaseDistribution],
                 space: SearchSpace, direction: str, trials: list[FrozenTrial],
                 trial: FrozenTrial, losses: Mapping[int, float] | None = None
                 ) -> dict[str, Any]:
        """``replica``'s proposal for ``trial``, or, while its optimizer plays a plan drawn
        from its seed and another worker races this trial (:meth:`_racing`), the proposal of
        an optimizer seeded for this trial."""
        opt = replica.opt
        if (len(opt.history) + len(opt.pending) < opt.seed_plan_length
                and self._racing(trials, trial, space)):
            seed = _derived_seed(self._seed, trial.number)
            storage = replica.storage()
            replica = self._replica(free, space, direction, storage, seed, trials, trial, losses)
        return {n: _to_python(v) for n, v in replica.propose(trial).items()}

    def _propose_scalarized(self, study: optuna.Study, trial: FrozenTrial,
                            trials: list[FrozenTrial], free: dict[str, BaseDistribution],
                            space: SearchSpace) -> dict[str, Any]:
        """The proposal for ``trial`` of a study with several objectives: the optimizer
        minimizes the finished trials' augmented Chebyshev losses under weights drawn for this
        trial (:mod:`metahpo.scalarization`, ParEGO). The losses of every finished trial change
        with the weights, so the optimizer is built afresh from the study for each trial (its
        cost grows with the study: 0.54 s per 50-trial study for ``meta`` in
        ``benchmarks/results/optuna_multi_objective``) instead of being kept in step."""
        directions = ["minimize" if d == StudyDirection.MINIMIZE else "maximize"
                      for d in study.directions]
        finished = [t for t in trials if t.state == TrialState.COMPLETE and t.values is not None
                    and np.all(np.isfinite(t.values)) and not violated_constraints(t)]
        rng = np.random.default_rng(_derived_seed(self._seed, trial.number, "weights"))
        losses = chebyshev_losses(as_losses([t.values for t in finished], directions),
                                  draw_weights(len(directions), rng))
        told = dict(zip((t.number for t in finished), losses.tolist()))
        replica = self._replica(free, space, "minimize", study._storage, self._seed, trials,
                                trial, told)
        return self._propose(replica, free, space, "minimize", trials, trial, told)

    def _replica(self, free: dict[str, BaseDistribution], space: SearchSpace, direction: str,
                 storage: Any, seed: int, trials: list[FrozenTrial],
                 current: FrozenTrial, losses: Mapping[int, float] | None = None
                 ) -> StudyReplica:
        """A new optimizer for ``space`` (the parameters ``free``) seeded with ``seed`` that
        has read the study's ``trials`` (with ``losses`` in place of their values, see
        :class:`StudyReplica`)."""
        opt = create_optimizer(self.optimizer, space, direction=direction, seed=seed,
                               **self.options)
        replica = StudyReplica(opt, free, storage, declared=self._declared is not None,
                               losses=losses)
        replica.catch_up(trials, current)
        return replica

    def _racing(self, trials: list[FrozenTrial], current: FrozenTrial,
                space: SearchSpace) -> bool:
        """Whether an earlier trial is running without its parameters yet (a worker that started
        at the same moment). It cannot be passed to the optimizer as pending, so while the
        optimizer plays a plan drawn from its seed (a policy's random design, see
        :attr:`~metahpo.optimizers.base.Optimizer.seed_plan_length`) both trials would get the
        same point: this trial is then proposed by an optimizer with a seed of its own (another
        plan). Past the plan, draws restart from each trial's number and differ anyway, so the
        sampler's own optimizer proposes, kept in step with the study instead of rebuilt."""
        return any(t.number < current.number and not t.state.is_finished()
                   and space.missing(t.params) for t in trials)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        if self._declared is not None and param_name in self._declared:
            condition = (self._structured.conditions.get(param_name)
                         if self._structured is not None else None)
            if condition is not None and param_distribution == self._declared[param_name]:
                held = ", ".join(f"{p!r} is {trial.params.get(p, 'not suggested yet')!r}"
                                 for p in condition.parents)
                raise MetaHPOError(
                    f"trial {trial.number} suggests parameter {param_name!r}, which the "
                    f"sampler's search_space declares active only when {condition}, but this "
                    f"trial's {held}; suggest it only where the condition holds, or declare "
                    "the condition the objective applies")
            raise MetaHPOError(
                f"trial {trial.number} suggests parameter {param_name!r} as "
                f"{param_distribution!r}, but the sampler's search_space declares "
                f"{self._declared[param_name]!r}; "
                "suggest it as declared or change search_space")
        study = _whole_study(study)
        first = self._first_value(study, trial, param_name, param_distribution)
        if first is not None:
            return first
        random = RandomSampler(seed=_derived_seed(self._seed, trial.number, param_name))
        return random.sample_independent(study, trial, param_name, param_distribution)

    def _first_value(self, study: optuna.Study, trial: FrozenTrial, name: str,
                     dist: BaseDistribution) -> Any | None:
        """Until a trial of the study has completed, Optuna shows the search space one parameter
        at a time; each is then the optimizer's own proposal for that parameter alone (for
        ``meta``'s default policy: the middle of its range, where its design starts), with the
        earlier trials as failed or pending. ``None`` where that cannot be: a trial has
        completed, an optimizer bound to another space, or an earlier trial
        has not drawn this parameter yet (another worker started at the same moment), where the
        optimizer could only repeat that trial's proposal: sample at random."""
        trials = study.get_trials(deepcopy=False)
        if _single_value(dist) or any(t.state == TrialState.COMPLETE for t in trials):
            return None
        earlier = [t for t in trials if t.number < trial.number]
        if any(t.distributions.get(name) != dist for t in earlier):
            return None
        direction = ("minimize" if len(study.directions) > 1
                     or study.direction == StudyDirection.MINIMIZE else "maximize")
        try:
            opt = create_optimizer(self.optimizer, space_from_optuna({name: dist}),
                                   direction=direction, seed=self._seed, **self.options)
        except MetaHPOError as exc:
            if not self._warned_first:
                self._warned_first = True
                warnings.warn(
                    f"MetaHPOSampler({self.optimizer!r}) cannot propose a study's first trial one "
                    f"parameter at a time, as Optuna asks before any trial has finished ({exc}); "
                    "those parameters are drawn at random. Pass search_space= with the "
                    "parameters every trial suggests to sample them jointly from the first trial "
                    "on", stacklevel=2)
            return None
        try:
            for t in earlier:
                if t.state.is_finished():
                    opt.add_trial({name: t.params[name]}, error=t.state.name.lower())
                else:
                    opt.add_pending({name: t.params[name]})
        except MetaHPOError:
            return None
        opt.restart_draws(trial.number)
        return _to_python(opt.ask().params[name])


def _whole_study(study: optuna.Study) -> optuna.Study:
    """The study that ``study`` stands for: under a ``HyperbandPruner`` Optuna passes samplers
    a study of one bracket's trials, which keeps the whole study as ``_study`` (see the module
    docstring); any other study is itself."""
    if isinstance(study.pruner, optuna.pruners.HyperbandPruner):
        return cast(optuna.Study, getattr(study, "_study", study))
    return study


def _still_inferred(free: dict[str, BaseDistribution], trials: list[FrozenTrial]
                    ) -> tuple[dict[str, BaseDistribution], dict[str, Condition]]:
    """Of the parameters ``free`` (the relative search space Optuna passes back, less those with
    a single value), those that the study's ``trials`` still put in the sampler's space, with
    their conditions (:func:`define_by_run_space`), where :meth:`MetaHPOSampler.sample_relative`
    is called without the inference before it (by another caller than Optuna's trial, or in
    another thread): the trials may have changed what is inferred since; a parameter that left
    the space, or whose parent did, is then sampled independently."""
    now, conditions = define_by_run_space(trials)
    kept: dict[str, BaseDistribution] = {}
    for name, dist in now.items():
        condition = conditions.get(name)
        if free.get(name) == dist and (condition is None
                                       or all(p in kept for p in condition.parents)):
            kept[name] = dist
    return kept, {c: cond for c, cond in conditions.items() if c in kept}


def _declared_space(space: Mapping[str, BaseDistribution] | SearchSpace
                    ) -> dict[str, BaseDistribution]:
    """``search_space`` as ``{name: optuna distribution}`` in the given order (every parameter
    of a conditional space); clear errors for anything else."""
    if isinstance(space, SearchSpace):
        return space_to_optuna(space)
    if not isinstance(space, Mapping) or not space:
        raise MetaHPOError("search_space must be a non-empty dict of Optuna distributions "
                           f"or a metahpo SearchSpace, got {space!r}")
    for name, dist in space.items():
        if not isinstance(dist, BaseDistribution):
            raise MetaHPOError(f"search_space[{name!r}] must be an Optuna distribution such as "
                               f"optuna.distributions.FloatDistribution(0, 1), got {dist!r}")
    return dict(space)


def _derived_seed(seed: int, *parts: Any) -> int:
    """A seed for one trial (and parameter) of a study sampled with ``seed``. Random values
    drawn from it differ between trials however the trials are spread over workers: a random
    stream per process would hand workers that share a seed the same values."""
    return zlib.crc32(":".join(map(str, (seed, *parts))).encode()) & 0x7FFFFFFF


def _to_python(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value
