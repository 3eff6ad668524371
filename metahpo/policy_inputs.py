"""What the policy reads from a search history: per-trial score features and per-dimension
context.

Both are scale-free (ranks, z-scores, unit-cube and logit-space statistics), so a policy never
sees an objective's units. They are computed the same way for a batch of training episodes
(:mod:`metahpo.meta.rollout`) and for one search at meta-test
(:mod:`metahpo.optimizers.policy_driven`), shapes ``(B, ...)`` with ``B = 1`` there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from metahpo.policy import PolicyConfig

N_SCORE = 4
N_CONTEXT = 6
UNKNOWN_SPREAD = 3.0
_BIG = torch.finfo(torch.float32).max


def score_features(losses: torch.Tensor, failed: torch.Tensor, t: int) -> torch.Tensor:
    """Scale-free encoding of trial ``t`` within the history ``0..t``, shape ``(B, 4)``.

    Args:
        losses: ``(B, T)`` losses so far (lower is better; failed trials hold any finite number).
        failed: ``(B, T)`` bool, trials that failed.
        t: index of the trial to encode (``losses[:, t]``).
    """
    y = losses[:, : t + 1]
    bad = failed[:, : t + 1]
    ok = ~bad
    ok_t, bad_t = ok[:, t], bad[:, t]
    y_ok = y.masked_fill(bad, _BIG)
    current = y_ok[:, t]
    n_ok = ok.sum(dim=1).clamp(min=1)
    worse = ((y_ok > current.unsqueeze(1)) & ok).sum(dim=1)
    rank = (worse + (n_ok == 1)) / (n_ok - 1).clamp(min=1) * ok_t
    yz = y.masked_fill(bad, 0.0)
    mean = yz.sum(dim=1) / n_ok
    var = (yz - mean.unsqueeze(1)).masked_fill(bad, 0.0).pow(2).sum(dim=1) / n_ok
    z = (-(y[:, t] - mean) / (var.sqrt() + 1e-8)).clamp(-3, 3)
    z = torch.where(ok_t & (n_ok > 1), z, torch.where(bad_t, -3.0, 0.0))
    improved = ok_t if t == 0 else ok_t & (current < y_ok[:, :t].min(dim=1).values)
    return torch.stack([rank, z / 3.0, improved.to(y.dtype), bad_t.to(y.dtype)], dim=1)


def context_features(points: torch.Tensor, losses: torch.Tensor, failed: torch.Tensor, n: int,
                     config: PolicyConfig) -> torch.Tensor:
    """Per-dimension context after ``n`` finished trials, shape ``(B, D, 6)``.

    Channels: has-incumbent flag, incumbent value, mean and standard deviation of the top-k
    trials, value of the last trial (0.5 / 0 where there is no trial yet), and the standard
    deviation of the top-k trials in logit space (points clipped to ``[clip, 1 - clip]``;
    ``UNKNOWN_SPREAD`` while fewer than two trials are known).

    Args:
        points: ``(B, T, D)`` unit-cube points of the trials (only the first ``n`` are read).
        losses, failed: ``(B, T)``.
        n: number of finished trials.
        config: the policy's config (``top_k`` and ``incumbent_clip``).
    """
    b, _, d = points.shape
    if n == 0:
        ctx = torch.zeros(b, d, N_CONTEXT)
        ctx[..., 1] = 0.5
        ctx[..., 2] = 0.5
        ctx[..., 4] = 0.5
        ctx[..., 5] = UNKNOWN_SPREAD
        return ctx
    top_k, clip = config.top_k, config.incumbent_clip
    y = losses[:, :n].masked_fill(failed[:, :n], float("inf"))
    has = torch.isfinite(y).any(dim=1).to(points.dtype)
    k = min(top_k, n)
    idx = torch.topk(-y, k, dim=1).indices
    top = torch.gather(points[:, :n], 1, idx.unsqueeze(-1).expand(b, k, d))
    inc = top[:, 0]
    mean = top.mean(dim=1)
    if k > 1:
        std = top.std(dim=1, unbiased=False)
        logit_std = torch.logit(top.clamp(clip, 1.0 - clip)).std(dim=1, unbiased=False)
    else:
        std = torch.full_like(mean, 0.5)
        logit_std = torch.full_like(mean, UNKNOWN_SPREAD)
    last = points[:, n - 1]
    flag = has.unsqueeze(1).expand(b, d)
    inc = torch.where(flag > 0, inc, 0.5)
    return torch.stack([flag, inc, mean, std, last, logit_std], dim=-1)
