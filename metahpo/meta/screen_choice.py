"""Choosing a trained policy's GP screen on its validation tasks (``meta-train --choose-screen``).

Whether screening the policy's draws (:mod:`metahpo.screening`) helps depends on the policy: it
lowered the space-agnostic ``default`` policy's regret on every validation set, and raised the
``lcbench`` policy's, whose learned prior already fits its one space. So the choice is made per
policy, like the choice of its weights: run real searches (the ``"meta"`` optimizer, as users
run it) on the validation tasks with and without the screen, keep the setting with the lower
mean regret, and record it in the checkpoint, where the ``"meta"`` optimizer reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from metahpo.meta.distributions import TrainingTask
from metahpo.optimizers.registry import create_optimizer

SCREEN_CHOICES = (0, 64)


def search_regret(policy: str | Path, task: TrainingTask, *, screen: int, seed: int,
                  horizon: int) -> float:
    """Mean normalized regret of the best-so-far over ``horizon`` trials of one search."""
    space = task.task.space
    opt = create_optimizer("meta", space, policy=str(policy), screen=screen, seed=seed)
    best = np.empty(horizon)
    for t in range(horizon):
        trial = opt.ask()
        loss = float(task.losses(space.encode(trial.params)[None, :])[0])
        opt.tell(trial, loss)
        best[t] = loss if t == 0 else min(best[t - 1], loss)
    return float(task.regret_of_losses(best).mean())


def choose_screen(policy: str | Path, tasks: Sequence[TrainingTask], *, searches: int = 8,
                  horizon: int = 50) -> tuple[int, dict[str, float]]:
    """The screen (one of ``SCREEN_CHOICES``) with the lowest mean regret over ``searches``
    seeded searches of ``horizon`` trials on each task, and every choice's mean regret (ties go
    to the cheaper, smaller screen)."""
    scores = {
        k: float(np.mean([search_regret(policy, task, screen=k, seed=s, horizon=horizon)
                          for task in tasks for s in range(searches)]))
        for k in SCREEN_CHOICES
    }
    return min(scores, key=lambda k: (scores[k], k)), {str(k): v for k, v in scores.items()}
