"""Run any metahpo optimizer as a Ray Tune searcher (``pip install metahpo[ray]``).

``MetaHPOSearcher`` is a ``ray.tune.search.Searcher``: Ray Tune runs its trials in parallel on
one machine or a cluster while the metahpo optimizer proposes. The space is a metahpo
``SearchSpace`` or is taken from Ray Tune's ``param_space`` (``tune.uniform``, ``loguniform``,
``quniform``, ``randint``, ``lograndint``, ``qrandint``, ``choice``; nested dicts become
``"outer/inner"`` names; a choice among lists or tuples is searched by their literals, a choice
among dicts with domains of their own as a conditional space, a domain inside a list by its
place, see :mod:`metahpo.integrations.ray_space`). ``save``/``restore`` write the optimizer's
state as JSON (no pickle).

A trial that a scheduler (ASHA, Hyperband, the median stopping rule) stops early is handed to
the searcher as finished, with the metric of its last report: an early epoch's score, on another
scale than final ones. Told with ``max_t`` (the scheduler's), the searcher tells the optimizer
such a trial as pruned at its last report, which metahpo's optimizers read as they read the
trials an Optuna pruner stops (see :mod:`metahpo.optimizers.policy_driven`). Under Ray Tune's
``ASHAScheduler`` on the held-out lcbench instances, ``meta``'s regret after 30 trainings' worth
of epochs was 0.149 read so, against 0.172 read as finished
(``benchmarks/results/ray_schedulers/``). A trial was stopped early when Ray Tune stopped it at
a result it did not let it continue after (a trainable that returns gets its last result passed
on first) and before ``max_t`` of ``time_attr``; trials stopped at ``max_t``, and trainables
that end on their own earlier, are finished. A trial stopped while paused (a synchronous
``HyperBandScheduler`` pauses trials at its milestones, then stops some) reaches the searcher
without a result: it ended at the last result it reported.

Example::

    from ray import tune
    from metahpo.integrations.ray import MetaHPOSearcher

    tuner = tune.Tuner(
        trainable,
        param_space={"lr": tune.loguniform(1e-4, 1e-1), "layers": tune.randint(1, 5)},
        tune_config=tune.TuneConfig(search_alg=MetaHPOSearcher(optimizer="meta", seed=0),
                                    metric="accuracy", mode="max", num_samples=20),
    )
    tuner.fit()
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Any, Dict, Optional, cast

from ray.tune.search import Searcher

from metahpo.errors import MetaHPOError
from metahpo.integrations.ray_space import RaySpace, has_domains, ray_space, space_from_ray
from metahpo.optimizers.base import Optimizer
from metahpo.optimizers.multi_objective import optimizer_for
from metahpo.optimizers.registry import check_options, restore_optimizer
from metahpo.shared_study import check_points
from metahpo.space import SearchSpace
from metahpo.trial import PRUNED, outcome

__all__ = ["MetaHPOSearcher", "space_from_ray"]


def _check_metrics(metric: Any, mode: Any) -> None:
    """A clear error unless ``metric`` and ``mode`` name one metric (strings) or several
    (lists of the same length, modes ``"min"`` / ``"max"``); either may still be ``None``."""
    several = isinstance(metric, list) or isinstance(mode, list)
    if not several:
        if mode not in (None, "min", "max"):
            raise MetaHPOError(f"mode must be 'min' or 'max', got {mode!r}")
        return
    if not (isinstance(metric, list) and isinstance(mode, list) and len(metric) == len(mode)
            and len(metric) >= 2 and all(isinstance(m, str) for m in metric)
            and all(m in ("min", "max") for m in mode)):
        raise MetaHPOError(f"several metrics need a list of names and a list of as many modes "
                           f"('min' or 'max'), such as metric=['acc', 'time'], mode=['max', "
                           f"'min']; got metric={metric!r}, mode={mode!r}")


class MetaHPOSearcher(Searcher):
    """A Ray Tune searcher backed by a metahpo optimizer.

    Args:
        space: a metahpo ``SearchSpace``, or a Ray Tune search space (a dict of ``tune.uniform``
            and such, as Ray Tune's other searchers take it); ``None`` takes it from the
            Tuner's ``param_space``.
        optimizer: a metahpo optimizer name, default ``"meta"``, or ``MODULE:CLASS`` naming an
            optimizer of your own (see ``metahpo.create_optimizer``).
        metric, mode: the reported metric and ``"min"`` / ``"max"`` (or set by ``TuneConfig``);
            lists of several (``metric=["acc", "time"], mode=["max", "min"]``) to tune their
            trade-offs, as Ray Tune's ``OptunaSearch`` takes them: each trial is proposed for
            one trade-off, drawn at random (see ``metahpo.tune``'s ``directions``).
        seed: the optimizer's seed.
        points_to_evaluate: configurations to suggest first, in order, as with Ray Tune's other
            searchers: complete configurations (nested like ``param_space``). The optimizer
            reads their results like its own trials.
        evaluated_rewards: the metric values of ``points_to_evaluate`` where they were
            evaluated before (one each, in order; a list of one per metric for several), as
            Ray Tune's ``OptunaSearch`` takes them: the optimizer is told them, and the points
            are not suggested again.
        max_t, time_attr: the ``max_t`` and ``time_attr`` of the scheduler that stops trials
            early (``ASHAScheduler(max_t=...)``), so that a trial stopped before ``max_t`` is
            read as pruned, not finished (see the module docstring; without ``max_t`` every
            trial is read as finished, and a warning says when trials ended at different
            ``time_attr`` values at a scheduler's decision).
        **options: keyword options of the optimizer.

    Results from elsewhere (an earlier experiment's trials) are told with Ray Tune's
    ``add_evaluated_point`` / ``add_evaluated_trials``.
    """

    def __init__(self, space: SearchSpace | Dict[str, Any] | None = None,
                 optimizer: str = "meta", *, metric: str | list[str] | None = None,
                 mode: str | list[str] | None = None,
                 seed: int | None = None, points_to_evaluate: list[Dict] | None = None,
                 evaluated_rewards: list[Any] | None = None, max_t: float | None = None,
                 time_attr: str = "training_iteration", **options: Any) -> None:
        _check_metrics(metric, mode)
        if max_t is not None and (isinstance(max_t, bool) or not isinstance(max_t, (int, float))
                                  or not max_t > 0):
            raise MetaHPOError(f"max_t must be a positive number (the scheduler's), got {max_t!r}")
        if not isinstance(time_attr, str) or not time_attr:
            raise MetaHPOError(f"time_attr must name a result entry, got {time_attr!r}")
        # Ray's Searcher takes lists (OptunaSearch passes them); its annotations say str.
        super().__init__(metric=metric, mode=mode)  # type: ignore[arg-type]
        check_options(optimizer, options)
        if points_to_evaluate is not None and (
                not isinstance(points_to_evaluate, list)
                or not all(isinstance(p, dict) for p in points_to_evaluate)):
            raise MetaHPOError("points_to_evaluate must be a list of configuration dicts")
        if evaluated_rewards is not None and (
                not isinstance(evaluated_rewards, list)
                or len(evaluated_rewards) != len(points_to_evaluate or [])):
            raise MetaHPOError("evaluated_rewards must be a list of one metric value per point "
                               "of points_to_evaluate")
        if space is not None and not isinstance(space, (dict, SearchSpace)):
            raise MetaHPOError(f"space must be a metahpo SearchSpace or a Ray Tune search space "
                               f"(a dict of tune.uniform and such), got {type(space).__name__}")
        self._space: RaySpace | None = (
            ray_space(space) if isinstance(space, dict)
            else None if space is None else RaySpace(space))
        self._optimizer_name = optimizer
        self._seed = seed
        self._options = dict(options)
        self._points = [dict(p) for p in points_to_evaluate or []]
        self._rewards = list(evaluated_rewards or [])
        self._opt: Optimizer | None = None
        self._live: dict[str, Any] = {}
        self._max_t = max_t
        self._time_attr = time_attr
        self._continued: dict[str, Any] = {}
        self._ended: set[str] = set()
        self._max_concurrent: int | None = None
        self._restored: set[str] = set()
        self._longest, self._shortest_stop = -math.inf, math.inf
        self._warned_stops = False

    def set_search_properties(self, metric: Optional[str], mode: Optional[str], config: Dict,
                              **spec: Any) -> bool:
        """Take the experiment's metric, mode and ``param_space`` (Ray Tune calls this when a
        Tuner starts). A searcher already under way (results told with
        ``add_evaluated_trials``, a restored state) accepts only what it has: the same space,
        metric and mode. A searcher given its space accepts a ``param_space`` of the same space
        or of constants only: Ray Tune refuses other search spaces there, by name (accepted,
        their domains reached the trainable unresolved, as ``Float`` objects)."""
        searched = bool(config) and has_domains(config)
        if self._opt is not None:
            return ((not searched or ray_space(config).space == self._opt.space)
                    and metric in (None, self._metric) and mode in (None, self._mode))
        _check_metrics(metric, mode)
        if metric:
            self._metric = metric
        if mode:
            self._mode = mode
        if self._space is None and searched:
            self._space = ray_space(config)
            return True
        return not searched or (self._space is not None
                                and ray_space(config).space == self._space.space)

    def _optimizer(self) -> Optimizer:
        if self._opt is None:
            if self._space is None:
                raise MetaHPOError("MetaHPOSearcher needs a space or a Ray Tune param_space")
            if not self._mode or not self._metric:
                raise MetaHPOError("MetaHPOSearcher needs metric and mode ('min' or 'max')")
            _check_metrics(self._metric, self._mode)
            points = []
            for i, point in enumerate(self._points):
                try:
                    points.append(self._space.params(point))
                except MetaHPOError as exc:
                    raise MetaHPOError(f"points_to_evaluate[{i}]: {exc}") from None
            self._points = check_points(points, self._space.space)
            modes = self._mode if isinstance(self._mode, list) else [self._mode]
            directions = ["maximize" if m == "max" else "minimize" for m in modes]
            self._opt = optimizer_for(self._optimizer_name, self._space.space, directions,
                                      seed=self._seed, **self._options)
            if self._rewards:
                for params, reward in zip(self._points, self._rewards):
                    self._opt.add_trial(params, reward)
                self._points = []
        return self._opt

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        """Take Ray Tune's ``max_concurrent_trials``: the searcher proposes no more trials
        while that many run (Ray Tune's own limiter would pass on only the trials it started,
        and not the errored trials a restored experiment runs again). A trial that was running
        when the searcher's state was saved counts once it reports after the restore: Ray Tune
        tells nothing of the ones it does not run again (``Tuner.restore(...,
        resume_unfinished=False)``), which would otherwise hold their places for good."""
        self._max_concurrent = max_concurrent
        return True

    def suggest(self, trial_id: str) -> Optional[Dict]:
        running = len(self._live) - len(self._restored)
        if self._max_concurrent and running >= self._max_concurrent:
            return None
        opt = self._optimizer()
        trial = opt.add_pending(self._points.pop(0)) if self._points else opt.ask()
        self._live[trial_id] = trial
        return cast(RaySpace, self._space).config(trial.params)

    def on_trial_result(self, trial_id: str, result: Dict) -> None:
        """Keep a running trial's latest result that Ray Tune let it continue after (a result
        it stops a trial at never comes here)."""
        self._continued[trial_id] = result
        self._restored.discard(trial_id)

    def on_trial_complete(self, trial_id: str, result: Optional[Dict] = None,
                          error: bool = False) -> None:
        """Tell the optimizer how a trial ended: failed where it errored, pruned where a
        scheduler stopped it early (see the module docstring), finished otherwise. A trial
        stopped while paused (a synchronous ``HyperBandScheduler`` stops the worse trials of a
        bracket so) comes without a result: it ended at its last. A trial this searcher did not
        propose is told as a trial from elsewhere, with the configuration of its result: Ray
        Tune runs errored trials again as new trials (``Tuner.restore(...,
        restart_errored=True)``, after a fix), and an experiment restored after a crash runs
        the trials it started after the searcher's last checkpoint. A trial is told once."""
        trial = self._live.pop(trial_id, None)
        continued = self._continued.pop(trial_id, None)
        self._restored.discard(trial_id)
        if trial_id in self._ended:
            return
        self._ended.add(trial_id)
        if trial is not None:
            value, told_error, report = self._ending(result, error, continued)
            self._optimizer().tell(trial, value, error=told_error, last_report=report)
        elif self._opt is not None and result is not None:
            config = {k[len("config/"):]: v for k, v in result.items() if k.startswith("config/")}
            try:
                params = self._params_of(result.get("config") or config)
            except MetaHPOError as exc:
                warnings.warn(f"Ray Tune's trial {trial_id} is not told: {exc}", stacklevel=2)
                return
            value, told_error, report = self._ending(result, error, continued)
            self._opt.add_trial(params, value, error=told_error, last_report=report)

    def _ending(self, result: Optional[Dict], error: bool, continued: Optional[Dict]
                ) -> tuple[Any, str | None, tuple[int, float] | None]:
        """How a trial ended, as ``tell`` takes it: ``(value, error, last_report)``, from its
        ``result`` at the end and the latest it was let ``continued`` after."""
        if error:
            return None, "the Ray Tune trial errored", None
        last = result if result is not None else continued
        if last is None:
            return self._stopped(None)
        metrics = self._metric if isinstance(self._metric, list) else [self._metric]
        missing = [m for m in metrics if m not in last]
        if missing:
            return None, f"the Ray Tune trial reported no {missing[0]!r}", None
        end = last.get(self._time_attr)
        stopped = result is None or continued is None or end != continued.get(self._time_attr)
        if self._stopped_early(end, stopped):
            return self._stopped(last)
        values = [last[m] for m in metrics]
        return (values if len(values) > 1 else values[0]), None, None

    def _stopped(self, result: Optional[Dict], metric: Any = None
                 ) -> tuple[None, str, tuple[int, float] | None]:
        """The ending of a trial a scheduler stopped early, ``result`` its last (``None`` where
        it reported none): pruned, its ``metric`` (the searcher's) the last report, with one
        metric."""
        result = result or {}
        metric = metric or self._metric
        step = result.get("training_iteration")
        value = outcome(result.get(metric), None)[1] if isinstance(metric, str) else None
        report = ((step, value) if isinstance(step, int) and not isinstance(step, bool)
                  and value is not None else None)
        where = (f" at {self._time_attr} {result[self._time_attr]}"
                 if self._time_attr in result else "")
        return None, f"{PRUNED} by a Ray Tune scheduler{where}", report

    def _stopped_early(self, end: Any, stopped: bool) -> bool:
        """Whether a trial that ended at ``time_attr`` value ``end``, ``stopped`` by Ray Tune
        (not by returning), was stopped early by a scheduler (see the module docstring);
        without ``max_t``, a warning once trials stopped so ended before others."""
        if isinstance(end, bool) or not isinstance(end, (int, float)):
            return False
        if self._max_t is not None:
            return stopped and end < self._max_t
        self._longest = max(self._longest, end)
        if stopped:
            self._shortest_stop = min(self._shortest_stop, end)
        if self._shortest_stop < self._longest and not self._warned_stops:
            self._warned_stops = True
            warnings.warn(
                f"Ray Tune stopped a trial at {self._time_attr} {self._shortest_stop} while "
                f"another reached {self._longest}: a scheduler stops trials early, and "
                "MetaHPOSearcher reads them as finished with their last metric; pass it the "
                "scheduler's max_t (MetaHPOSearcher(max_t=...)) to read them as stopped early",
                stacklevel=2)
        return False

    def add_evaluated_trials(self, trials_or_analysis: Any, metric: str) -> None:
        """Tell the optimizer of an earlier experiment's trials (an ``ExperimentAnalysis``, a
        Ray Tune ``Trial`` or a list of them), as Ray Tune's searchers take them, with
        ``max_t``: a trial that ended before it was stopped early by a scheduler, and is
        pruned at its last result (Ray Tune's own reading takes it as finished, as a stopped
        trial's last result says ``done``). Trials that never reported ``metric`` are left
        out, unless they errored."""
        from ray.tune.experiment import Trial as RayTrial

        trials = getattr(trials_or_analysis, "trials", trials_or_analysis)
        for trial in [trials] if isinstance(trials, RayTrial) else list(trials):
            last = trial.last_result or {}
            if trial.status == RayTrial.ERROR:
                self.add_evaluated_point(trial.config, None, error=True)
            elif metric in last:
                end = last.get(self._time_attr)
                if (self._max_t is not None and isinstance(end, (int, float))
                        and not isinstance(end, bool) and end < self._max_t):
                    self._add_stopped(trial.config, last, metric)
                else:
                    self.add_evaluated_point(trial.config, last[metric])

    def _add_stopped(self, config: Dict, last: Dict, metric: str) -> None:
        """Tell the optimizer of an earlier trial with ``config`` that a scheduler stopped at
        result ``last``: pruned, ``metric`` its last report."""
        try:
            params = self._params_of(config)
        except MetaHPOError as exc:
            raise MetaHPOError(f"add_evaluated_trials: {exc}") from None
        _, error, report = self._stopped(last, metric)
        self._optimizer().add_trial(params, error=error, last_report=report)

    def add_evaluated_point(self, parameters: Dict, value: Any, error: bool = False,
                            pruned: bool = False,
                            intermediate_values: Optional[list[float]] = None) -> None:
        """Tell the optimizer of a configuration evaluated outside this searcher (Ray Tune's
        ``add_evaluated_trials`` passes an earlier experiment's trials here): ``parameters`` as
        a trial's ``config`` (nested like ``param_space``; its constant entries, and parameters
        the configuration leaves inactive, are left out),
        ``value`` its metric (a list of one per metric for several), ``error`` / ``pruned`` as
        Ray Tune reports them (a pruned trial is read with its last intermediate value, as
        the optimizers read a pruned trial)."""
        opt = self._optimizer()
        try:
            params = self._params_of(parameters)
        except MetaHPOError as exc:
            raise MetaHPOError(f"add_evaluated_point: {exc}") from None
        reports = [(step, v) for step, v in enumerate(outcome(x, None)[1]
                                                      for x in intermediate_values or [])
                   if v is not None]
        if pruned:
            opt.add_trial(params, error=f"{PRUNED} by a Ray Tune scheduler",
                          last_report=reports[-1] if reports else None)
        elif error:
            opt.add_trial(params, error="the Ray Tune trial errored")
        else:
            opt.add_trial(params, value)

    def _params_of(self, config: Dict) -> Dict[str, Any]:
        """The optimizer's parameters of a trial's ``config`` (nested like ``param_space``):
        its constant entries, and parameters the configuration leaves inactive, left out."""
        space = self._optimizer().space
        typed = space.cast(cast(RaySpace, self._space).params(config))
        params = {k: typed[k] for k in space.active_names(typed) if k in typed}
        space.validate(params)
        return params

    def get_state(self) -> Dict:
        return {
            "optimizer": self._optimizer().state_dict(),
            "live": {k: t.number for k, t in self._live.items()},
            "points_to_evaluate": self._points,
            "metric": self._metric,
            "mode": self._mode,
            **cast(RaySpace, self._space).state(),
            "ended": sorted(self._ended),
        }

    def set_state(self, state: Dict) -> None:
        opt = restore_optimizer(state["optimizer"])
        self._opt, self._space = opt, RaySpace.from_state(opt.space, state)
        self._metric, self._mode = state["metric"], state["mode"]
        self._points = list(state.get("points_to_evaluate", []))
        pending = {t.number: t for t in opt.pending}
        self._live = {k: pending[n] for k, n in state["live"].items() if n in pending}
        self._restored = set(self._live)
        self._ended = set(state.get("ended", []))

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "w") as fh:
            json.dump(self.get_state(), fh)

    def restore(self, checkpoint_path: str) -> None:
        try:
            with open(checkpoint_path) as fh:
                state = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise MetaHPOError(
                f"cannot restore MetaHPOSearcher from {checkpoint_path!r}: {exc}") from None
        self.set_state(state)
