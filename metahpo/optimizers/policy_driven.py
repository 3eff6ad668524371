"""The part that the meta-learned and the per-task RL optimizers share: proposing with an
:class:`~metahpo.policy.LSTMPolicy` from the optimizer's history.

The history the policy reads is every finished trial in the order it was told (failed ones
flagged). Losses are the objective values turned into "lower is better"; the policy sees them
only through scale-free encodings (ranks, z-scores). The LSTM state is carried forward
incrementally, so a proposal costs one LSTM step and one head evaluation, whatever the trial
number; subclasses that change the weights call :meth:`_reset_reader`. The state after each
trial is kept, so the optimizer can :meth:`~metahpo.optimizers.base.Optimizer.rewind` to any
trial at the cost of the trials read again (the Optuna sampler does when parallel workers'
trials finish out of order).

A trial stopped by a pruner is read as a successful trial with the median final loss of the
trials completed before it (with the last value it reported,
:attr:`~metahpo.trial.TrialRecord.last_report`, while none has). Read as failed, the many pruned
trials near a good configuration (the policy searches around its incumbent) drove the search
away from it: on the lcbench validation instances, regret after 30 trainings' worth of epochs
was 0.146 with Hyperband and 0.148 with the median pruner, and 0.082 and 0.129 read with the
last report (``benchmarks/pruning.py`` at commit 31b46462; 0.067 without a pruner). The last
report still looks bad: it is an early epoch's score, on another scale than final ones. Read as
the median (a pruned trial says little more than that it was not clearly better), the default
policy's regret after 20 / 30 trainings' worth was 0.088 / 0.076 with the median pruner and
0.093 / 0.082 with Hyperband, against 0.106 / 0.092 and 0.116 / 0.103 with the last report and
0.092 / 0.079 without a pruner (20 seeds on the validation instances,
``benchmarks/results/pruned_trials``); on the test instances, after 30 trainings' worth,
Hyperband went from 0.159 to 0.132 and the median pruner stayed (0.165, 0.163; 0.110 without a
pruner, ``benchmarks/results/pruning``). The other optimizers read pruned trials as failed: for
TPE that did better than Optuna's own ranking of pruned trials by their last report (0.085 /
0.073 against 0.109 / 0.111).

A policy with an initial design proposes its design points first: trial ``i`` (counting finished
and pending trials) gets design point ``i`` while the design lasts. A policy with a random design
draws it (the space's middle, then a Latin hypercube) once per optimizer, from the optimizer's
seed, so that a resumed seeded search replays it, and plays it the same way.

Pending trials (asked, not yet told: parallel workers) are not read by the policy (see
:meth:`PolicyDrivenOptimizer._distribution`).

With ``screen = k > 0``, each sampled proposal is the best of ``k`` draws from the policy's
distribution by the expected improvement under a small GP of the finished trials, in which the
pending trials stand at the GP's own prediction (:func:`metahpo.screening.pick`), so that the
screen does not propose them again.

A meta-trained policy knows searches of its ``horizon`` (50 trials); past it, it reads the last
step it knows and keeps its narrowest spread around the incumbent, and the default policy
stalled on lcbench (validation regret 0.058 at 50 trials and at 150; TPE 0.057 at 150). So a
search past its horizon whose incumbent is ``STALL_TRIALS`` told trials old also screens
``GLOBAL_CANDIDATES`` uniform draws (:meth:`PolicyDrivenOptimizer._stalled`): regret at 150
trials 0.058 -> 0.032 on the lcbench validation instances, 0.063 -> 0.065 (within noise) on
held-out synthetic functions (``benchmarks/results/long_searches_validation*``). The window was
chosen in exploratory validation runs of 3 seeds (lcbench / synthetic at 150 trials): none 0.069
/ 0.063, 30 trials 0.034 / 0.066, 20: 0.029 / 0.070, 10: 0.042 / 0.091, uniform draws in every
trial past the horizon 0.036 / 0.099 (local refinement on the synthetic functions suffered).
Runs of 20 / 10 seeds confirmed it (``benchmarks/results/long_searches_validation/stall_window``,
paired differences from a window of 30 at 150 trials, lcbench / synthetic): 20 trials -0.0045
± 0.0027 / +0.0082 ± 0.0023, 45 trials +0.0045 ± 0.0027 / -0.0026 ± 0.0017, no rescue +0.030 ±
0.005 / -0.002 ± 0.002. The meta optimizer's ``stall_trials`` option sets the window (``None``:
no rescue).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch

from metahpo.conditions import active_mask
from metahpo.errors import MetaHPOError
from metahpo.loss_range import representable_loss
from metahpo.optimizers.base import Optimizer
from metahpo.policy import LSTMPolicy
from metahpo.policy_inputs import context_features, score_features
from metahpo.screening import GramFactors, pick
from metahpo.space import Categorical, SearchSpace
from metahpo.trial import TrialState

#: Draws an unscreened proposal in an all-discrete space takes from the policy when its first
#: repeats an evaluated or pending configuration.
REDRAWS = 16
#: Largest all-discrete space whose untried configurations are enumerated when every draw of the
#: policy repeats a trial.
ENUMERATE_LIMIT = 4096
#: Told trials without a new incumbent after which a search longer than its policy's training
#: horizon is stalled (see :meth:`PolicyDrivenOptimizer._stalled`); the meta optimizer's default.
STALL_TRIALS = 30
#: Share of the screen's candidates switched to a categorical choice only failed trials hold.
RETRY_SHARE = 0.5
#: Failed trials after which a categorical choice without a successful one is left to the policy.
RETRY_FAILURES = 3
#: Uniform candidates a stalled search screens beside the policy's draws.
GLOBAL_CANDIDATES = 64


class PolicyDrivenOptimizer(Optimizer):
    """Base of optimizers whose proposals come from an LSTM policy.

    Options (both subclasses):
        sample: sample proposals from the policy (default) or take its mean (lower variance,
            but repeats itself once the history stops changing). A mean that is the
            configuration of a trial still running is sampled instead: the policy does not read
            pending trials, so a trial proposed while another runs would repeat it.
        greedy_first: take the mean for the very first trial (the most likely good default).
        fake_feedback: feed the policy random numbers instead of the real losses (ablation:
            how much the policy adapts to what it observes; the screen reads the same numbers).
        screen: draws from the policy per sampled proposal, of which the one with the highest
            expected improvement under a GP of the history is played (0: play one draw).
        switch_choices: with a screen, let each draw switch a categorical to another choice with
            probability ``1 / D`` (:meth:`_switch_choices`), for spaces whose choices each need
            their own settings. Default (``None``): on where a categorical parameter is the
            parent of a condition (its choices have parameters of their own, so they need their
            own settings by construction) and the optimizer screens; off elsewhere.
    """

    #: The policy that proposes; each subclass's constructor sets it.
    _policy: LSTMPolicy

    def __init__(self, space: SearchSpace, *, sample: bool = True, greedy_first: bool = True,
                 fake_feedback: bool = False, screen: int = 0,
                 switch_choices: bool | None = None, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        if isinstance(screen, bool) or not isinstance(screen, (int, np.integer)) or screen < 0:
            raise MetaHPOError(f"screen must be a whole number of draws >= 0, got {screen!r}")
        self.screen = int(screen)
        self.sample = bool(sample)
        self.greedy_first = bool(greedy_first)
        self.fake_feedback = bool(fake_feedback)
        self._descriptors = torch.as_tensor(space.descriptors(), dtype=torch.float32)[None, :]
        self.switch_choices = switch_choices
        switching = (_choices_gate_parameters(space) and self.screen > 0
                     if switch_choices is None else bool(switch_choices))
        if switching and self.screen == 0:
            raise MetaHPOError("switch_choices acts on the screen's candidates: it needs screen > 0 "
                               "(e.g. screen=64)")
        #: Told trials without a new incumbent after which a search past its policy's horizon is
        #: stalled (:meth:`_stalled`); ``None``: never. Set by optimizers whose policies were
        #: meta-trained on searches of a fixed length.
        self.stall_trials: int | None = None
        self._categoricals = [(j, p.n_values) for j, p in enumerate(space.parameters)
                              if isinstance(p, Categorical) and p.n_values > 1]
        self._choices = self._categoricals if switching else []
        self._told = _TensorHistory(space.dim)
        self._gram = GramFactors()
        self._fake_rng = np.random.default_rng(None if self.seed is None else [self.seed, 7])
        self._planned: np.ndarray | None = None
        self._reset_reader()

    @property
    def seed_plan_length(self) -> int:
        """The policy's random design (drawn from the seed); a learned design is the same for
        every seed."""
        config = self._policy.config
        return config.random_design if config.initial_design == 0 else 0

    @property
    def can_rewind(self) -> bool:
        """Unless fake scores are drawn (their random stream would not rewind)."""
        return not self.fake_feedback

    def _forget_after(self, n: int) -> None:
        self._told.truncate(n)
        del self._states[n:]

    def _reset_reader(self) -> None:
        self._states: list[tuple[torch.Tensor, torch.Tensor]] = []

    def _observe(self, record: Any) -> None:
        ok = record.state is TrialState.COMPLETE
        loss = self._loss(record.value) if ok else 0.0
        if not ok and record.last_report is not None:
            ok, loss = True, self._pruned_loss(record)
        if self.fake_feedback:
            loss = float(self._fake_rng.random())
        self._told.append(self.space.encode(record.params), representable_loss(loss), not ok)

    def _pruned_loss(self, record: Any) -> float:
        """The loss a pruned trial is read with (see the module docstring): the median final
        loss of the trials completed before it, or its last report while none has."""
        done = [self._loss(cast(float, r.value)) for r in self._history
                if r.state is TrialState.COMPLETE]
        return float(np.median(done)) if done else self._loss(record.last_report[1])

    def _score(self, losses: torch.Tensor, failed: torch.Tensor, t: int) -> torch.Tensor:
        """:func:`~metahpo.policy_inputs.score_features` of told trial ``t`` of ``losses`` and
        ``failed`` (the told trials, ``(1, n)``), ``(1, 4)`` (per-task RL keeps them, as it reads
        every trial again after each update)."""
        return score_features(losses, failed, t)

    def _read_states(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The policy's LSTM state ``(h, c)``, each ``(1, hidden)``, after each told trial under
        the current weights: the kept states, extended by the trials told since (call it without
        gradients: the states are kept across calls)."""
        policy = self._policy
        points, losses, failed = self._tensors()
        states = self._states
        for t in range(len(states), points.shape[1]):
            score = self._score(losses, failed, t)
            step = policy.step_feature(t, 1)
            before = states[-1] if states else policy.initial_state(1)
            states.append(policy.observe(before, points[:, t], score, step, self._descriptors))
        return states

    def _tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The told trials: points ``(1, n, D)``, losses and failed flags ``(1, n)``."""
        return self._told.tensors()

    def _distribution(self) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
        """Mean and log-std ``(1, D)`` of the next proposal given the told trials, and those
        trials: points ``(1, n, D)``, losses and failed flags ``(1, n)``.

        Pending trials (parallel workers) are not read: the policy was meta-trained on searches
        of one trial at a time, and any loss made up for a trial still running is one it never
        saw. Each lie tried moved it: the worst loss so far (the usual pessimistic constant
        liar) told it that its incumbent's neighbourhood, where pending trials sit, was bad; the
        median was better. Read by neither, on the validation tasks with three trials at a time
        (regret at 20 / 50 / 150 completed trials; ``benchmarks/results/parallel_lies``), the
        default policy did better on the lcbench instances (0.104 / 0.057 / 0.042 against the
        median lie's 0.115 / 0.069 / 0.045) and as well on the synthetic functions (0.207 /
        0.125 / 0.075 against 0.205 / 0.121 / 0.071, paired differences within a standard
        error), and the unscreened ``lcbench`` policy with four at a time as well (0.0022 /
        0.0012 / 0.0009 against 0.0025 / 0.0015 / 0.0008). Parallel proposals part ways through
        the sampling and, with a screen, through the GP, which takes the pending trials at its
        own prediction (:func:`metahpo.screening.pick`); a pending trial's design point is
        skipped too."""
        policy = self._policy
        points, losses, failed = self._tensors()
        states = self._read_states()
        state = states[-1] if states else policy.initial_state(1)
        ctx = context_features(points, losses, failed, points.shape[1], policy.config)
        mean, log_std = policy.distribution(state[0], ctx, self._descriptors)
        return mean, log_std, (points, losses, failed)

    def _propose(self) -> dict[str, Any]:
        if self._planned is None:
            rng = np.random.default_rng(None if self.seed is None else [self.seed, 11])
            allowed = self._allowed_points if self.space.forbidden else None
            self._planned = self._policy.planned_points(self.space.middle(), rng, allowed)
        i = len(self._told) + len(self._pending)
        if i < len(self._planned) and self._design_point_usable(self._planned[i]):
            return self.space.decode(self._planned[i])
        follow_process_threads()
        with torch.inference_mode():
            mean_t, log_std, history = self._distribution()
        mean, std = mean_t[0].numpy().astype(float), log_std.exp()[0].numpy().astype(float)
        points, losses, failed = (h[0].numpy().astype(float) for h in history)
        pending = self.pending_unit()
        held = np.concatenate([points, pending]) if len(pending) else points
        first = self._next_number == 0 and not self._history
        if not self.sample or (first and self.greedy_first):
            greedy = _sigmoid(mean)
            if _fresh(self.space.snap(greedy[None, :]), pending)[0]:
                return self.space.decode(greedy)
        if self.screen == 0:
            draw = _sigmoid(mean + std * self._rng.normal(size=mean.shape))
            if self.space.is_discrete and not _fresh(self.space.snap(draw[None, :]), held)[0]:
                more = _sigmoid(mean + std * self._rng.normal(size=(REDRAWS,) + mean.shape))
                draw = self._new_candidates(self.space.snap(more), held)[0]
            return self.space.decode(draw)
        draws = self.space.snap(_sigmoid(mean + std * self._rng.normal(size=(self.screen,) + mean.shape)))
        if self._choices:
            draws = self._switch_choices(draws)
        elif self._categoricals and failed.any():
            draws = self._retry_failed_choices(draws, points, failed != 0)
        if self._stalled(i):
            uniform = self.space.snap(self._rng.random((GLOBAL_CANDIDATES, len(mean))))
            draws = np.concatenate([draws, uniform])
        if self.space.is_discrete:
            draws = self._new_candidates(draws, held)
        draws = self._allowed(draws)
        best = pick(points, losses, failed != 0, draws, pending=pending, factors=self._gram)
        return self.space.decode(draws[best])

    def _switch_choices(self, draws: np.ndarray) -> np.ndarray:
        """Snapped ``draws`` ``(k, D)`` in which each categorical parameter switches to another
        choice, drawn uniformly, with probability ``1 / D`` (as evolution mutates), snapped
        again (a switched parent can change which parameters are active); with the
        ``switch_choices`` option.

        A categorical choice has no neighbours: the policy's Gaussian around the incumbent's
        choice, whose spread follows the best trials, collapses onto that choice once they all
        share it, and the search never tries another. On a conditional function where SGD with
        its own learning rate beats Adam (``benchmarks/conditional_space.py``), the default
        policy without the switch stays on the choice its design found best and ends on Adam in
        12 of 20 searches (median best loss 0.100, Adam's floor; 0.022 with it, TPE 0.039). Switched
        candidates let the GP screen weigh trying another choice against refining this one.

        The default only where a categorical is a condition's parent (its choices have
        parameters of their own, so they need their own settings by construction): there it
        took ``meta`` from 0.0698 to 0.0436 mean best loss on that conditional function, and on
        two families of define-by-run Optuna objectives it gained at every budget, -0.018 and
        -0.033 at 50 trials (``benchmarks/results/optuna_define_by_run/before_thresholds``,
        paired). Elsewhere it
        is an option, because it is a trade: on four validation families
        (``benchmarks/categorical_choices.py``, 150 functions each, paired differences at 20 / 30
        trials) it helps where the choices have their own optima (-0.005 / -0.014) or differ in
        what they reach (-0.020 / -0.036), makes no difference beyond noise where a binary choice
        shifts a learning rate's optimum (-0.002 / -0.002), and costs where the choice does not
        matter (+0.005 / +0.007, on regrets of 0.013 / 0.004: the GP reads trials with other
        choices as far away, so it learns less from them). On the deep-learning test tasks (Adam
        or SGD) regret at 20 trials rose on each task by less than a standard error and fell
        behind TPE's (``benchmarks/results/deep_learning/with_choice_switch``)."""
        for j, n in self._choices:
            switch = self._rng.random(len(draws)) < 1.0 / self.space.dim
            if switch.any():
                current = np.floor(draws[switch, j] * n)
                other = (current + 1 + self._rng.integers(n - 1, size=int(switch.sum()))) % n
                draws[switch, j] = (other + 0.5) / n
        return self.space.snap(draws) if self.space.is_conditional else draws

    def _retry_failed_choices(self, draws: np.ndarray, points: np.ndarray,
                              failed: np.ndarray) -> np.ndarray:
        """Snapped ``draws`` ``(k, D)`` in which each categorical parameter switches, with
        probability ``RETRY_SHARE``, to one of its choices that the told trials ``points``
        ``(n, D)`` hold only in failed ones (``failed`` ``(n,)``), fewer than
        ``RETRY_FAILURES`` of them, where it has such choices.

        A failure belongs to a configuration, not to one of its values: the large model that
        ran out of memory at batch 256 may be the best model at batch 64. The policy's spread
        around the incumbent holds a categorical at the incumbent's choice, so a choice whose
        first trials failed was not tried again: without clauses declaring which combinations
        fail, ``meta`` ended 9 of 20 searches of ``benchmarks/forbidden_combinations.py`` on the
        small model (regret 0.1121; TPE 0.0314), 3 with these candidates (0.0600), which let the
        GP screen weigh trying the choice elsewhere against refining. A choice that fails
        wherever it runs costs a trial more per search of 30 (4.5 -> 5.5 failed trials, with a
        third model that always fails added to that space); where each of three training
        optimizers diverges above a learning rate of its own, regret at 30 trials stayed
        within noise (0.0200 -> 0.0168 ± 0.004, 40 drawn functions). Once the choice has
        succeeded, or where no trial failed, nothing changes. Shares of 1 / D and 0.5 without
        the limit of failures were tried: 0.0657 and 0.0524 on the forbidden combinations, 6.5
        and 7.0 failed trials with the model that always fails."""
        snapped = self.space.snap(points)
        active = active_mask(self.space.parameters, self.space.conditions, snapped)
        for j, n in self._categoricals:
            chosen = np.minimum(np.floor(snapped[:, j] * n), n - 1).astype(int)
            tried = active[:, j]
            succeeded = np.bincount(chosen[tried & ~failed], minlength=n) > 0
            failures = np.bincount(chosen[tried & failed], minlength=n)
            only_failed = np.flatnonzero((failures > 0) & (failures < RETRY_FAILURES)
                                         & ~succeeded)
            if not len(only_failed):
                continue
            switch = self._rng.random(len(draws)) < RETRY_SHARE
            if switch.any():
                pick = only_failed[self._rng.integers(len(only_failed), size=int(switch.sum()))]
                draws[switch, j] = (pick + 0.5) / n
        return self.space.snap(draws) if self.space.is_conditional else draws

    def _stalled(self, i: int) -> bool:
        """Whether a search with ``i`` trials so far (told and pending) has outrun its policy's
        training and stopped improving: ``i`` is past the policy's ``horizon`` (the length of the
        searches it was meta-trained on) and the incumbent is ``stall_trials`` told trials old.
        Past its horizon a policy reads the last step it knows and keeps its narrowest spread
        around the incumbent; where that has stopped paying, the screen also draws
        ``GLOBAL_CANDIDATES`` uniform candidates, so that the GP's expected improvement can take
        the search elsewhere. Only for optimizers with a ``stall_trials`` that screen (a policy
        played unscreened, such as ``lcbench``, was better so on validation instances, and was
        so again here: validation regret at 150 trials 0.0016 without the rescue, 0.0018 with
        it)."""
        if self.stall_trials is None or self.screen == 0 or i < self._policy.config.horizon:
            return False
        _, losses, failed = self._tensors()
        ok = ~failed[0].numpy()
        if not ok.any():
            return True
        best_at = int(np.flatnonzero(ok)[np.argmin(losses[0].numpy()[ok])])
        return len(ok) - 1 - best_at >= self.stall_trials

    def _new_candidates(self, draws: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Of snapped ``draws`` ``(k, D)``, those no trial holds yet (see :func:`_fresh`); if the
        policy's draws all repeat a trial, the configurations no trial holds (all of them, in a
        space of up to ``ENUMERATE_LIMIT`` configurations; else ``k`` uniform draws that repeat
        none); if every configuration has been tried, ``draws`` as they are."""
        fresh = _fresh(draws, points)
        if fresh.any():
            return draws[fresh]
        others = self.space.all_configurations(ENUMERATE_LIMIT)
        if others is None:
            others = self.space.snap(self._rng.random(draws.shape))
        fresh = _fresh(others, points)
        return self._rng.permutation(others[fresh]) if fresh.any() else draws

    def _design_point_usable(self, point: np.ndarray) -> bool:
        """Whether design ``point`` ``(D,)`` is allowed (no forbidden clause forbids it) and not
        a configuration a told or pending trial holds; the policy proposes instead where it is
        not. In an all-discrete space a design's points can coincide, with each other or with
        trials taken in from elsewhere; in any space trial ``i``'s design point can be one an
        earlier trial ran where trials were withdrawn (interrupted: they leave the count) while
        others were told."""
        told = self._tensors()[0][0].numpy().astype(float)
        pending = self.pending_unit()
        held = np.concatenate([told, pending]) if len(pending) else told
        snapped = self.space.snap(point[None, :])
        return bool(_fresh(snapped, held)[0]) and not self.space.forbidden_mask(snapped)[0]

    def _allowed_points(self, points: np.ndarray) -> np.ndarray:
        """Which unit-cube ``points`` ``(k, D)`` no forbidden clause forbids, bool ``(k,)``."""
        return ~self.space.forbidden_mask(self.space.snap(points))

    def _allowed(self, draws: np.ndarray) -> np.ndarray:
        """Of snapped ``draws`` ``(k, D)``, those no forbidden clause forbids; all of them where
        each one is forbidden (``ask`` then has the policy propose again)."""
        if not self.space.forbidden:
            return draws
        keep = ~self.space.forbidden_mask(draws)
        return draws[keep] if keep.any() else draws


class _TensorHistory:
    """The told trials as float32 / bool tensors, grown in place (capacity doubles), so that a
    proposal reads views instead of rebuilding the tensors from lists every time."""

    def __init__(self, dim: int) -> None:
        self._n = 0
        self._points = torch.zeros(1, 16, dim)
        self._losses = torch.zeros(1, 16)
        self._failed = torch.zeros(1, 16, dtype=torch.bool)

    def __len__(self) -> int:
        return self._n

    def append(self, point: np.ndarray, loss: float, failed: bool) -> None:
        if self._n == self._losses.shape[1]:
            self._points = torch.cat([self._points, torch.zeros_like(self._points)], dim=1)
            self._losses = torch.cat([self._losses, torch.zeros_like(self._losses)], dim=1)
            self._failed = torch.cat([self._failed, torch.zeros_like(self._failed)], dim=1)
        self._points[0, self._n] = torch.from_numpy(np.asarray(point, dtype=float))
        self._losses[0, self._n] = loss
        self._failed[0, self._n] = failed
        self._n += 1

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` trials."""
        self._n = min(self._n, n)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = self._n
        return self._points[:, :n], self._losses[:, :n], self._failed[:, :n]


def follow_process_threads() -> None:
    """Make the calling thread compute with the process's PyTorch thread count.

    ``torch.set_num_threads(n)`` reaches OpenMP only in the thread that calls it; other threads
    (Optuna's ``n_jobs``, ``metahpo.tune``'s jobs, Ray Tune's searcher thread) keep OpenMP's
    default, one thread per core. There the policy's small matrix products are split over
    threads, which costs more than it saves, and summed in another order, so the same history
    gave proposals that differed in the last bits from one thread to another (the Optuna
    sampler's optimizer, kept between trials of ``n_jobs`` threads, then disagreed with one
    built afresh in the main thread: 1 of 11 studies in ``benchmarks/sampler_threads.py``).
    Re-applying the process's setting costs well under a microsecond."""
    torch.set_num_threads(torch.get_num_threads())


def _fresh(candidates: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Which snapped candidates ``(k, D)`` no told or pending trial holds yet, ``(k,)`` bool.
    ``points`` ``(n, D)`` are the history's encodings (stored as float32, hence the tolerance).

    Only a space whose every parameter is discrete is checked: there a policy concentrated on
    its incumbent proposes that very configuration again (3.5 of 12 trials in a space of 24
    configurations), whereas with a continuous parameter a repeat has probability zero."""
    fresh = np.ones(len(candidates), dtype=bool)
    if len(points) == 0:
        return fresh
    for start in range(0, len(candidates), 256):  # bounded memory when many are checked
        chunk = candidates[start:start + 256]
        same = np.abs(chunk[:, None, :] - points[None, :, :]).max(axis=2) <= 1e-6
        fresh[start:start + 256] = ~same.any(axis=1)
    return fresh


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _choices_gate_parameters(space: SearchSpace) -> bool:
    """Whether a categorical parameter of ``space`` with several choices is the parent of a
    condition (see the ``switch_choices`` option)."""
    parents = [space[p] for c in space.conditions.values() for p in c.parents]
    return any(isinstance(p, Categorical) and p.n_values > 1 for p in parents)
