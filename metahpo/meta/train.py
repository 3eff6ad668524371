"""The outer meta-training loop: sample tasks, roll out, REINFORCE update, repeat.

``meta_train`` returns the trained policy and its training curve; ``save_training_curve``
writes the curve as JSON and PNG. With a validation distribution, the policy is scored every
``validate_every`` iterations on fixed validation tasks (held out from the training tasks) and
the best weights are kept: training-seed variance is large, so selection must happen on data
the gradient never saw — and never on the test split.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, cast

import numpy as np
import torch

from metahpo.errors import MetaHPOError
from metahpo.meta.distributions import TaskDistribution, TrainingTask
from metahpo.meta.rollout import REWARDS, reinforce_loss, rollout
from metahpo.policy import LSTMPolicy, PolicyConfig
from metahpo.progress import Count, open_count


@dataclass(frozen=True)
class TrainConfig:
    """Meta-training settings.

    Attributes:
        iterations: policy updates.
        tasks_per_batch, episodes_per_task: batch = tasks × episodes per task.
        horizon: trials per episode.
        lr: Adam learning rate.
        entropy_coef: weight of the entropy bonus.
        grad_clip: gradient-norm clip.
        seed: seeds task sampling, sampling noise and the initial weights.
        time_limit_s: stop early after this many seconds (``None``: no limit).
        validate_every: iterations between validations (with a validation set).
        reward: per-step reward, ``"regret"`` or ``"log_regret"`` (see ``rollout.step_rewards``).
    """

    iterations: int = 300
    tasks_per_batch: int = 16
    episodes_per_task: int = 16
    horizon: int = 50
    lr: float = 1e-3
    entropy_coef: float = 1e-3
    grad_clip: float = 1.0
    seed: int = 0
    time_limit_s: float | None = None
    validate_every: int = 25
    reward: str = "regret"

    def __post_init__(self) -> None:
        for name in ("iterations", "tasks_per_batch", "episodes_per_task", "horizon",
                     "validate_every"):
            if getattr(self, name) < 1:
                raise MetaHPOError(f"meta-training: {name} must be >= 1")
        for name in ("lr", "grad_clip"):
            if not getattr(self, name) > 0:
                raise MetaHPOError(f"meta-training: {name} must be > 0, got {getattr(self, name)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**64:
            raise MetaHPOError(f"meta-training: seed must be a whole number in [0, 2**64), got "
                               f"{self.seed!r}")
        if not self.entropy_coef >= 0:
            raise MetaHPOError(f"meta-training: entropy_coef must be >= 0, got {self.entropy_coef}")
        if self.time_limit_s is not None and not self.time_limit_s > 0:
            raise MetaHPOError(f"meta-training: time_limit_s must be > 0 seconds (or None), got "
                               f"{self.time_limit_s}")
        if self.reward not in REWARDS:
            raise MetaHPOError(f"meta-training: reward must be one of {REWARDS}, got {self.reward!r}")


def evaluate_policy(policy: LSTMPolicy, tasks: Sequence[TrainingTask], *, episodes_per_task: int,
                    horizon: int, seed: int, fake_feedback: bool = False) -> np.ndarray:
    """Mean normalized regret of the best-so-far per trial, ``(horizon,)``, over all episodes."""
    gen = torch.Generator().manual_seed(seed)
    by_dim: dict[int, list[TrainingTask]] = {}
    for t in tasks:
        by_dim.setdefault(t.task.space.dim, []).append(t)
    curves = []
    with torch.no_grad():
        for group in by_dim.values():
            ep = rollout(policy, group, episodes_per_task=episodes_per_task, horizon=horizon,
                         generator=gen, fake_feedback=fake_feedback)
            curves.append(ep.regret)
    return np.concatenate(curves).mean(axis=0)


def meta_train(
    distribution: TaskDistribution,
    *,
    policy_config: PolicyConfig = PolicyConfig(),
    config: TrainConfig = TrainConfig(),
    validation: Sequence[TrainingTask] | None = None,
    progress: bool = True,
    on_iteration: Callable[[dict[str, Any]], None] | None = None,
    remote: Any = None,
    initial_design: np.ndarray | None = None,
) -> tuple[LSTMPolicy, list[dict[str, Any]]]:
    """Meta-train a policy with REINFORCE over ``distribution``.

    With ``remote`` (a :class:`metahpo.meta.distributed.RayRollouts`), the episodes of each batch
    run on Ray workers, which sample their own tasks; ``distribution`` is then unused.
    ``initial_design`` ``(policy_config.initial_design, D)`` unit-cube points are stored in the
    policy and played first in every episode (the weights never change them).

    Returns:
        The policy (the best validated weights when ``validation`` is given) and the curve: one
        dict per iteration with ``iteration``, ``loss``, ``regret_final`` (mean regret after
        ``horizon`` trials), ``regret_mean`` (mean over trials), ``seconds`` and, at validation
        iterations, ``val_regret`` (mean over trials on the validation tasks).
    """
    planned = max(policy_config.initial_design, policy_config.random_design)
    if planned >= config.horizon:
        raise MetaHPOError(
            f"meta-training: an initial design of {planned} points fills the whole horizon of "
            f"{config.horizon} trials, which leaves the policy nothing to learn: give a design "
            f"shorter than the horizon")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    policy = LSTMPolicy(policy_config)
    if policy_config.initial_design > 0 or initial_design is not None:
        expected = (policy_config.initial_design, policy_config.dim_ids)
        design = None if initial_design is None else np.asarray(initial_design, dtype=float)
        if policy_config.initial_design == 0 or design is None or design.shape != expected:
            raise MetaHPOError(
                f"meta-training: initial_design must be an array of shape {expected} matching "
                f"PolicyConfig.initial_design, got {None if design is None else design.shape}")
        cast(torch.Tensor, policy.design).copy_(torch.as_tensor(design, dtype=torch.float32))
    opt = torch.optim.Adam(policy.parameters(), lr=config.lr)
    curve: list[dict[str, Any]] = []
    best_val, best_state = np.inf, None
    start = time.monotonic()
    bar: Count | None = None
    if progress:
        bar = open_count(config.iterations, "meta-train", "iterations")
    try:
        for it in range(config.iterations):
            policy.train()
            opt.zero_grad()
            if remote is not None:
                stats = remote.step(policy, config.tasks_per_batch, config.episodes_per_task,
                                    config.horizon, config.entropy_coef, config.reward)
            else:
                tasks = distribution.sample(rng, config.tasks_per_batch)
                episodes = rollout(policy, tasks, episodes_per_task=config.episodes_per_task,
                                   horizon=config.horizon, generator=gen)
                loss = reinforce_loss(episodes, entropy_coef=config.entropy_coef,
                                      reward=config.reward)
                loss.backward()
                stats = {"loss": float(loss.detach()),
                         "regret_final": float(episodes.regret[:, -1].mean()),
                         "regret_mean": float(episodes.regret.mean())}
            torch.nn.utils.clip_grad_norm_(policy.parameters(), config.grad_clip)
            opt.step()
            row = {"iteration": it + 1, **stats, "seconds": round(time.monotonic() - start, 3)}
            last = it + 1 == config.iterations or (
                config.time_limit_s is not None and time.monotonic() - start >= config.time_limit_s)
            if validation and ((it + 1) % config.validate_every == 0 or last):
                policy.eval()
                val = float(evaluate_policy(policy, validation, episodes_per_task=8,
                                            horizon=config.horizon, seed=12345).mean())
                row["val_regret"] = val
                if val < best_val:
                    best_val, best_state = val, copy.deepcopy(policy.state_dict())
            curve.append(row)
            if on_iteration is not None:
                on_iteration(row)
            if bar is not None:
                bar.update(1, regret=f"{row['regret_mean']:.4f}")
            if last:
                break
    finally:
        if bar is not None:
            bar.close()
    if best_state is not None:
        policy.load_state_dict(best_state)
    policy.eval()
    return policy, curve


def save_training_curve(curve: list[dict[str, Any]], path_prefix: str | Path,
                        config: TrainConfig | None = None) -> tuple[Path, Path]:
    """Write ``PREFIX.curve.json`` and ``PREFIX.curve.png``; return both paths."""
    prefix = Path(path_prefix)
    json_path = prefix.with_name(prefix.name + ".curve.json")
    png_path = prefix.with_name(prefix.name + ".curve.png")
    json_path.write_text(json.dumps({"config": asdict(config) if config else None, "curve": curve},
                                    indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    its = [r["iteration"] for r in curve]
    fig, ax = plt.subplots(figsize=(6, 4))
    mean = np.array([r["regret_mean"] for r in curve])
    window = max(1, len(mean) // 30)
    smooth = np.convolve(mean, np.ones(window) / window, mode="valid")
    ax.plot(its, mean, alpha=0.3, color="C0")
    ax.plot(its[window - 1:], smooth, color="C0", label="train: mean regret over trials")
    ax.plot(its, [r["regret_final"] for r in curve], alpha=0.3, color="C1",
            label="train: regret after last trial")
    val = [(r["iteration"], r["val_regret"]) for r in curve if "val_regret" in r]
    if val:
        ax.plot(*zip(*val), "o-", color="C2", label="validation: mean regret over trials")
    ax.set_xlabel("iteration")
    ax.set_ylabel("normalized regret")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return json_path, png_path
