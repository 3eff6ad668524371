"""Meta-training rollouts spread over Ray workers (``metahpo meta-train --backend ray``).

Each iteration, the driver sends the current weights to ``n_workers`` Ray actors; each actor
samples its share of the task batch from its own copy of the task distribution (built from a
picklable factory, seeded with the run seed and the worker index), runs the episodes, and
returns the REINFORCE gradient and statistics. The driver averages the gradients and takes the
Adam step. Baselines are per task, so splitting the batch by tasks leaves the estimator
unchanged up to the advantage scaling, which each worker computes on its share.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from metahpo.meta.distributions import TaskDistribution
from metahpo.meta.rollout import reinforce_loss, rollout
from metahpo.policy import LSTMPolicy, PolicyConfig
from metahpo.ray_backend import connect_ray


class RolloutWorker:
    """Computes REINFORCE gradients for a share of each batch (runs inside a Ray actor)."""

    def __init__(self, make_distribution: Callable[[], TaskDistribution], policy_config: PolicyConfig,
                 seed: int, index: int) -> None:
        torch.set_num_threads(1)
        self.distribution = make_distribution()
        self.policy = LSTMPolicy(policy_config)
        self.rng = np.random.default_rng([seed, index])
        self.gen = torch.Generator().manual_seed(seed * 1000 + index + 1)

    def gradient(self, weights: dict[str, torch.Tensor], n_tasks: int, episodes_per_task: int,
                 horizon: int, entropy_coef: float, reward: str
                 ) -> tuple[list[torch.Tensor], dict[str, float]]:
        self.policy.load_state_dict(weights)
        self.policy.zero_grad()
        tasks = self.distribution.sample(self.rng, n_tasks)
        episodes = rollout(self.policy, tasks, episodes_per_task=episodes_per_task, horizon=horizon,
                           generator=self.gen)
        loss = reinforce_loss(episodes, entropy_coef=entropy_coef, reward=reward)
        loss.backward()
        grads = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
                 for p in self.policy.parameters()]
        stats = {"loss": float(loss.detach()), "regret_final": float(episodes.regret[:, -1].mean()),
                 "regret_mean": float(episodes.regret.mean())}
        return grads, stats


class RayRollouts:
    """Driver side: a pool of :class:`RolloutWorker` actors.

    Args:
        make_distribution: picklable zero-argument factory of the training distribution.
        policy_config: architecture of the policy.
        seed: run seed.
        n_workers: actors (each one CPU).
        address: Ray cluster address (``None``: start a local Ray on demand).
    """

    def __init__(self, make_distribution: Callable[[], TaskDistribution], policy_config: PolicyConfig,
                 seed: int, n_workers: int, address: str | None = None) -> None:
        ray = connect_ray(address)
        actor = ray.remote(num_cpus=1)(RolloutWorker)
        self._ray = ray
        self.workers = [actor.remote(make_distribution, policy_config, seed, i) for i in range(n_workers)]

    def step(self, policy: LSTMPolicy, tasks_per_batch: int, episodes_per_task: int, horizon: int,
             entropy_coef: float, reward: str = "regret") -> dict[str, Any]:
        """Set ``policy``'s gradients to the workers' average; return the batch statistics."""
        weights = {k: v.detach().clone() for k, v in policy.state_dict().items()}
        share = [tasks_per_batch // len(self.workers) + (i < tasks_per_batch % len(self.workers))
                 for i in range(len(self.workers))]
        futures = [w.gradient.remote(weights, n, episodes_per_task, horizon, entropy_coef, reward)
                   for w, n in zip(self.workers, share) if n > 0]
        results = self._ray.get(futures)
        total = sum(n for n in share if n > 0)
        weights_of = [n / total for n in share if n > 0]
        for i, p in enumerate(policy.parameters()):
            p.grad = sum(w * r[0][i] for w, r in zip(weights_of, results))
        return {k: float(sum(w * r[1][k] for w, r in zip(weights_of, results)))
                for k in results[0][1]}
