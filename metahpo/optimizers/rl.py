"""Per-task reinforcement learning: the same kind of LSTM policy, trained from scratch by
REINFORCE on the target task's own trials (no meta-learning).

This is the classic RL approach to hyperparameter search (a controller that samples
configurations and is rewarded by their scores). The controller has the meta-learned policies'
structure and starts as the ``default`` policy did before meta-training: the space's middle and a
Latin hypercube drawn from the seed (``random_design``), then a search around the incumbent with
the spread of the best trials (``local_start``). Both were chosen on validation tasks
(``benchmarks/results/rl_start_validation``): with free proposals from trial 1, regret at 20 /
50 trials was 0.182 / 0.178 on the four lcbench validation instances and 0.223 / 0.205 on
synthetic functions in 5 dimensions; with the design alone 0.164 / 0.136 and 0.209 / 0.192;
with both 0.166 / 0.159 and 0.200 / 0.162 (random search 0.151 / 0.119 and 0.247 / 0.197), the
lowest mean over both sets.

After every ``update_every`` finished trials, one policy-gradient step is taken over the last
``update_window`` trials (all of them in a search of up to that many): each trial's logit-space
point is re-scored under the current policy given the trials before it, and weighted by its
advantage, the standardized loss improvement over the window's mean (higher for better trials).
The policy reads the trials before the window without gradients, as it does to propose, so an
update costs the same however long the search; over the whole history it grew with the search's
length, which made the whole search's cost grow with its cube (400 trials of a 5-dimensional
function took 22 s, 19 of them in updates; 2000 did not finish in 10 minutes). With the window,
most of the rest went into reading the history again under each update's new weights to
propose, which recomputed every trial's score features though they do not depend on the
weights; kept once per trial (:meth:`PerTaskRL._score`), 400 / 1000 / 2000 trials take
5.4 / 17.8 / 49.1 s, against 7.4 / 31.3 / 104.4 s with the window alone (timed by hand on one
core; the proposals are the same to the bit). A window of recent trials is also the classic
controller's batch: trials drawn by much older weights are off-policy for REINFORCE. On
synthetic functions in 5 dimensions (12 tasks, 5 seeds, ``benchmarks/results/rl_update_window``)
regret at 200 trials was 0.093 with a window of 50 trials, 0.099 with 100 and 0.106 over the
whole history (standard errors 0.018; random search 0.136), so 50, the cheapest, is the default
(searches of up to 50 trials are unchanged). The update depends on the history alone, so
replaying a history rebuilds the same weights.
"""

from __future__ import annotations

from typing import Any

import torch

from metahpo.optimizers.policy_driven import PolicyDrivenOptimizer, follow_process_threads
from metahpo.policy import LSTMPolicy, PolicyConfig
from metahpo.policy_inputs import context_features, score_features
from metahpo.space import SearchSpace


class PerTaskRL(PolicyDrivenOptimizer):
    """REINFORCE on the target task only.

    Options:
        hidden: LSTM units, default 32.
        lr: Adam learning rate, default 0.01.
        update_every: finished trials between policy updates, default 5.
        update_window: the most recent trials each update learns from, default 50.
        entropy_coef: entropy bonus, default 0.01.
        greedy_first: as for every policy-driven optimizer, but off by default: an untrained
            policy's mean is no informed default.
        random_design: points of the random initial design (the space's middle, then a Latin
            hypercube), default 5; 0: the policy proposes from the first trial.
        local_start: start from a search around the incumbent (default) rather than free
            proposals.
        (and the other options of :class:`PolicyDrivenOptimizer`)
    """

    name = "rl"

    def __init__(self, space: SearchSpace, *, hidden: int = 32, lr: float = 0.01,
                 update_every: int = 5, update_window: int = 50, entropy_coef: float = 0.01,
                 greedy_first: bool = False, random_design: int = 5, local_start: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(space, greedy_first=greedy_first, **kwargs)
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(0 if self.seed is None else int(self.seed))
        self._policy = LSTMPolicy(PolicyConfig(hidden=hidden, embed=hidden, dim_ids=space.dim,
                                               random_design=random_design, local_start=local_start))
        torch.random.set_rng_state(gen_state)
        self._optim = torch.optim.Adam(self._policy.parameters(), lr=lr)
        self._scores: list[torch.Tensor] = []
        self.update_every = max(1, int(update_every))
        self.update_window = max(2, int(update_window))
        self.entropy_coef = float(entropy_coef)

    @property
    def can_rewind(self) -> bool:
        """No: every ``update_every`` told trials change the weights."""
        return False

    def _score(self, losses: torch.Tensor, failed: torch.Tensor, t: int) -> torch.Tensor:
        """Trial ``t``'s score features, computed once: they depend on the told trials alone,
        not on the weights, and after every update the policy reads the whole history again
        (recomputing them was 40% of that). Made outside inference mode, so that an update
        may read the ones a proposal made."""
        scores = self._scores
        if t >= len(scores):
            with torch.inference_mode(False), torch.no_grad():
                _, told_losses, told_failed = self._told.tensors()
                for k in range(len(scores), t + 1):
                    scores.append(score_features(told_losses, told_failed, k))
        return scores[t]

    def _observe(self, record: Any) -> None:
        super()._observe(record)
        _, _, failed = self._tensors()
        window = failed[0, -self.update_window:]
        if failed.shape[1] % self.update_every == 0 and int((~window).sum()) >= 2:
            self._update()

    def _update(self) -> None:
        follow_process_threads()
        policy = self._policy
        points, losses, failed = self._tensors()
        n = points.shape[1]
        start = max(0, n - self.update_window)
        ok = ~failed[0, start:]
        y = losses[0, start:]
        mean, std = y[ok].mean(), y[ok].std().clamp(min=1e-8)
        advantage = torch.where(ok, (mean - y) / std, torch.full_like(y, -1.0))
        z = torch.logit(points[0, start:].clamp(1e-3, 1 - 1e-3))
        if start == 0:
            state = policy.initial_state(1)
        else:
            with torch.no_grad():
                h, c = self._read_states()[start - 1]
            state = (h.clone(), c.clone())
        log_probs, entropies = [], []
        for t in range(start, n):
            ctx = context_features(points, losses, failed, t, policy.config)
            m, log_std = policy.distribution(state[0], ctx, self._descriptors)
            dist = torch.distributions.Normal(m[0], log_std.exp()[0])
            log_probs.append(dist.log_prob(z[t - start]).sum())
            entropies.append(dist.entropy().sum())
            state = policy.observe(state, points[:, t], self._score(losses, failed, t),
                                   policy.step_feature(t, 1), self._descriptors)
        loss = -(advantage * torch.stack(log_probs)).mean() - self.entropy_coef * torch.stack(entropies).mean()
        self._optim.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        self._optim.step()
        self._reset_reader()
