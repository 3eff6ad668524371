"""Batched episodes of the policy on training tasks, and the REINFORCE estimator.

An episode is one search of ``horizon`` trials on one task: the policy proposes, the task scores,
the history grows. Trials fixed by the policy's initial design, or drawn by its random design
(the space's middle, then a fresh Latin hypercube per episode), are played as they are (they
add no log-probability: the policy made no choice to credit). ``B = n_tasks *
episodes_per_task`` episodes run side by side as tensors.

REINFORCE (Williams, 1992): with per-step reward ``r_t = 1 - regret_t`` (regret of the best
configuration found up to trial ``t``, normalized per task), the return-to-go
``G_t = Σ_{s >= t} r_s`` credits each proposal with the quality of every later best-so-far, which
rewards finding good configurations early. The baseline ``b_t`` is the mean ``G_t`` over the
episodes of the same task (per task, per step), and

    ∇J ≈ mean_{b,t} [ (G_t - b_t) / std(G - b) · ∇_φ log π_φ(z_t | H_{t-1}) ] + β ∇H[π].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from metahpo.meta.distributions import TrainingTask
from metahpo.policy import LSTMPolicy
from metahpo.policy_inputs import context_features, score_features


@dataclass
class Episodes:
    """The record of a batch of episodes.

    Attributes:
        points: ``(B, T, D)`` unit-cube points (snapped to the parameter grid).
        losses: ``(B, T)`` losses (lower is better).
        regret: ``(B, T)`` normalized regret of the best-so-far, in ``[0, 1]``.
        log_prob: ``(B, T)`` log-density of each proposal (keeps the autograd graph).
        entropy: ``(B, T)`` entropy of each proposal distribution.
        task_index: ``(B,)`` which task each episode ran on.
    """

    points: torch.Tensor
    losses: torch.Tensor
    regret: np.ndarray
    log_prob: torch.Tensor
    entropy: torch.Tensor
    task_index: np.ndarray


def rollout(policy: LSTMPolicy, tasks: Sequence[TrainingTask], *, episodes_per_task: int,
            horizon: int, generator: torch.Generator, fake_feedback: bool = False) -> Episodes:
    """Run ``len(tasks) * episodes_per_task`` episodes of ``horizon`` trials in parallel.

    Args:
        policy: the policy (gradients flow through its outputs).
        tasks: tasks of one dimension ``D``.
        episodes_per_task: episodes per task.
        horizon: trials per episode ``T``.
        generator: torch generator for the sampling noise.
        fake_feedback: replace the losses the policy sees by random numbers (ablation).
    """
    space = tasks[0].task.space
    dim = space.dim
    n_tasks = len(tasks)
    b = n_tasks * episodes_per_task
    task_index = np.repeat(np.arange(n_tasks), episodes_per_task)
    descriptors = torch.as_tensor(space.descriptors(), dtype=torch.float32).expand(b, dim)
    points = torch.zeros(b, horizon, dim)
    losses = torch.zeros(b, horizon)
    seen_losses = torch.zeros(b, horizon)
    failed = torch.zeros(b, horizon, dtype=torch.bool)
    log_probs, entropies = [], []
    best = np.full(b, np.inf)
    regret = np.zeros((b, horizon))
    h, c = policy.initial_state(b)
    design_rng = None
    if policy.config.random_design > 0:
        design_rng = np.random.default_rng(int(torch.randint(2**31 - 1, (1,), generator=generator)))
    middle = space.middle()
    planned = np.stack([policy.planned_points(middle, design_rng) for _ in range(b)])
    for t in range(horizon):
        if t < planned.shape[1]:
            u = space.snap(planned[:, t])
            log_probs.append(torch.zeros(b))
            entropies.append(torch.zeros(b))
        else:
            ctx = context_features(points, seen_losses, failed, t, policy.config)
            mean, log_std = policy.distribution(h, ctx, descriptors)
            std = log_std.exp()
            noise = torch.randn(mean.shape, generator=generator)
            z = (mean + std * noise).detach()
            dist = torch.distributions.Normal(mean, std)
            log_probs.append(dist.log_prob(z).sum(dim=-1))
            entropies.append(dist.entropy().sum(dim=-1))
            u = space.snap(torch.sigmoid(z).numpy().astype(float))
        y = np.empty(b)
        for k, task in enumerate(tasks):
            rows = slice(k * episodes_per_task, (k + 1) * episodes_per_task)
            y[rows] = task.losses(u[rows])
            best[rows] = np.minimum(best[rows], y[rows])
            regret[rows, t] = task.regret_of_losses(best[rows])
        points[:, t] = torch.as_tensor(u, dtype=torch.float32)
        losses[:, t] = torch.as_tensor(y, dtype=torch.float32)
        if fake_feedback:
            seen_losses[:, t] = torch.rand(b, generator=generator)
        else:
            seen_losses[:, t] = losses[:, t]
        score = score_features(seen_losses, failed, t)
        step = policy.step_feature(t, b)
        h, c = policy.observe((h, c), points[:, t], score, step, descriptors)
    return Episodes(points=points, losses=losses, regret=regret,
                    log_prob=torch.stack(log_probs, dim=1), entropy=torch.stack(entropies, dim=1),
                    task_index=task_index)


REWARDS = ("regret", "log_regret")


def step_rewards(regret: np.ndarray, kind: str = "regret") -> np.ndarray:
    """Per-step rewards from best-so-far regrets ``(B, T)``.

    ``"regret"``: ``1 - regret_t``. ``"log_regret"``: ``-log10(regret_t + 1e-3)``, which keeps
    rewarding refinement once the regret is already small (going from 0.01 to 0.001 counts as
    much as from 0.1 to 0.01), so that late, local improvements still carry a gradient.
    """
    if kind == "regret":
        return 1.0 - regret
    if kind == "log_regret":
        return -np.log10(regret + 1e-3)
    raise ValueError(f"unknown reward {kind!r}; use one of {REWARDS}")


def reinforce_loss(episodes: Episodes, *, entropy_coef: float = 1e-3,
                   reward: str = "regret") -> torch.Tensor:
    """The REINFORCE surrogate loss of a batch of episodes (see the module docstring)."""
    rewards = step_rewards(episodes.regret, reward)
    returns = np.flip(np.cumsum(np.flip(rewards, axis=1), axis=1), axis=1).copy()
    baseline = np.zeros_like(returns)
    for k in np.unique(episodes.task_index):
        rows = episodes.task_index == k
        baseline[rows] = returns[rows].mean(axis=0, keepdims=True)
    advantage = returns - baseline
    advantage = advantage / (advantage.std() + 1e-8)
    adv = torch.as_tensor(advantage, dtype=torch.float32)
    return -(adv * episodes.log_prob).mean() - entropy_coef * episodes.entropy.mean()
