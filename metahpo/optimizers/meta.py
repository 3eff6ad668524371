"""The meta-learned optimizer: proposals from a policy trained over many tasks (meta-test).

The policy is frozen: on a new task it only reads the history and proposes, with no further
training. ``policy`` names a policy shipped with metahpo (``"default"``: space-agnostic, trained
on synthetic families and lcbench training instances; ``"lcbench"``: trained on lcbench training
instances, for the lcbench space only; see ``metahpo/policies/README.md``) or a checkpoint
path from ``metahpo meta-train``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from metahpo.errors import MetaHPOError
from metahpo.optimizers.policy_driven import STALL_TRIALS, PolicyDrivenOptimizer
from metahpo.policy import LSTMPolicy, PolicyInfo, resolve_policy
from metahpo.space import SearchSpace


@lru_cache(maxsize=16)
def _cached_policy(ref: str, mtime: float) -> tuple[LSTMPolicy, PolicyInfo]:
    return resolve_policy(ref)


def load_cached(ref: str | Path) -> tuple[LSTMPolicy, PolicyInfo]:
    """Load a policy once per process (keyed by reference and file time)."""
    path = Path(str(ref))
    mtime = path.stat().st_mtime if path.exists() else 0.0
    return _cached_policy(str(ref), mtime)


class MetaOptimizer(PolicyDrivenOptimizer):
    """Propose with a meta-trained LSTM policy.

    Options:
        policy: shipped policy name or checkpoint path, default ``"default"``.
        screen: draws from the policy screened per proposal (:mod:`metahpo.screening`; 0 plays
            the policy's draw as it is). Default: the value recorded with the policy, chosen on
            validation tasks (64 for ``"default"``, 0 for ``"lcbench"``).
        stall_trials: in a search longer than the policy's training horizon, told trials
            without a new incumbent after which a screened proposal also weighs uniform
            candidates (see :mod:`metahpo.optimizers.policy_driven`); ``None``: never.
        sample, greedy_first, fake_feedback, switch_choices: see :class:`PolicyDrivenOptimizer`.
    """

    name = "meta"

    def __init__(self, space: SearchSpace, *, policy: str = "default", screen: int | None = None,
                 stall_trials: int | None = STALL_TRIALS, **kwargs: Any) -> None:
        if stall_trials is not None and (isinstance(stall_trials, bool)
                                         or not isinstance(stall_trials, int) or stall_trials < 1):
            raise MetaHPOError("stall_trials must be a whole number of trials >= 1 or None, "
                               f"got {stall_trials!r}")
        loaded, info = load_cached(policy)
        if loaded.config.dim_ids > 0 and info.space is not None:
            space = _in_trained_order(space, info.space, policy)
        super().__init__(space, screen=info.screen if screen is None else screen, **kwargs)
        self._policy, self.policy_info = loaded, info
        self.stall_trials = stall_trials


def _in_trained_order(space: SearchSpace, trained: dict[str, Any], policy: str) -> SearchSpace:
    """``space`` with its parameters in the order a policy meta-trained for one space was
    trained with. Such a policy tells the parameters apart by position (learned dimension
    identities, a design of points), whereas users and Optuna (whose inferred search space is
    sorted by name) may list them in any order; proposals are by name, so the order is the
    optimizer's own business."""
    if trained != space.to_dict():
        raise MetaHPOError(
            f"policy {policy!r} was meta-trained for one search space "
            f"({', '.join(trained)}) and cannot serve this one; use policy='default' "
            "or meta-train a policy for this space"
        )
    return SearchSpace([space[name] for name in trained], conditions=space.conditions)
