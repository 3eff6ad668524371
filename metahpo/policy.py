"""The LSTM policy π_φ(λ_{t+1} | H_t) and its checkpoint format.

The policy reads the search history one finished trial at a time and proposes the next
configuration λ in the unit cube ``[0, 1]^D``. It knows nothing about tasks: it sees unit-cube
points, losses (lower is better; scale-free encodings only) and per-dimension descriptors.

Architecture (all shapes for a batch of ``B`` searches in ``D`` dimensions):

* **Trial encoder** (DeepSets over dimensions, so one network serves any ``D``): for every
  dimension ``j`` an MLP reads ``[λ_tj, score features of trial t, descriptor_j]``; the mean
  over ``j`` plus the score features and ``min(t / horizon, 1)`` form the LSTM input ``(B, F_in)``.
  Score features: rank of the trial's loss within the history so far (1 = best), its z-score
  (clipped to ±3), whether it improved the best, whether it failed.
* **LSTM** (``LSTMCell``, ``hidden`` units) over trials: ``h_t, c_t = LSTM(x_t, h_{t-1}, c_{t-1})``.
* **Head**, per dimension with shared weights: an MLP reads ``[h_t, descriptor_j, context_j]``
  where the context is the incumbent's value, the mean and spread of the top-k trials, the last
  trial's value and the top-k spread in logit space ``σ_j`` in that dimension. It outputs a free
  mean ``μ_j``, a log-scale ``s_j`` and a gate ``g_j``. The proposal is Gaussian in logit space,
  ``z_j ~ N(g_j · logit(incumbent_j) + (1 - g_j) · μ_j, (σ_j + 0.05) · exp(3 tanh s_j))``
  (standard deviation clamped to [0.05, 3]), ``λ_j = sigmoid(z_j)``.
  The gate makes proposals relative to the incumbent, and the spread is *evidence-scaled*: it is
  the spread of the best trials so far, times a learned factor in ``[e^-3, e^3]``. As the best
  trials concentrate the proposals shrink around them (as in CMA-ES or a trust region), unless
  the policy learns to widen them. A freely learned spread never shrank (it sat at its cap
  whatever the history, see ``metahpo/policies/README.md``): feedback has to be part of the
  structure, not something REINFORCE must discover.
* **Learned initial design** (optional, ``initial_design = n0 > 0``, fixed-space policies only):
  the first ``n0`` proposals are fixed points stored with the weights, chosen at meta-training
  time as a greedy portfolio over the training tasks (diverse, each good on some tasks; see
  ``metahpo.meta.portfolio.choose_design``); the
  LSTM reads their scores and proposes from trial ``n0 + 1`` on, so it is trained to refine
  around whichever region the design found good on *this* task.
* **Random initial design** (optional, ``random_design = n0 > 0``, any space): the first ``n0``
  proposals are the middle of the space and then a Latin hypercube sample of ``n0 - 1`` points
  drawn afresh for every search (:func:`random_design_points`), which the LSTM reads before
  proposing. A space-agnostic policy treats every dimension alike, so from one starting point
  its proposals move all dimensions together (a walk along the diagonal, broken only by sampling
  noise); a stratified start gives each dimension its own incumbent and spread to refine from.
  The middle (numeric ranges at their midpoints, categoricals at their first choice) comes first
  because ranges are usually set around sensible values (SMAC likewise evaluates the default
  configuration first).
* **Dimension identities** (optional, ``dim_ids > 0``): a learned embedding per dimension index,
  for policies trained on one fixed space (e.g. lcbench), so that they can learn a prior over
  good values of each hyperparameter. A policy with ``dim_ids = 0`` is space-agnostic.

Descriptor of a dimension: ``1 / n_values`` for a discrete parameter (0 for a continuous one).

Checkpoints are safetensors files (no pickle) with JSON metadata under the ``"metahpo"`` key:
format version, architecture config, the space of the dimension identities, training tasks,
the exact training command and the metahpo version.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, cast

import numpy as np
import torch
from torch import nn

from metahpo.errors import MetaHPOError
from metahpo.policy_inputs import N_CONTEXT, N_SCORE

FORMAT_VERSION = 2
LOG_STD_MIN = math.log(0.05)
LOG_STD_MAX = math.log(3.0)
SPREAD_FLOOR = 0.05
SPREAD_RANGE = 3.0
FREE_START = (0.0, 0.0, -1.0)
LOCAL_GATE = 3.0
LOCAL_SPREAD = math.exp(SPREAD_RANGE * math.tanh(-0.2))


@dataclass(frozen=True)
class PolicyConfig:
    """Architecture of an :class:`LSTMPolicy`.

    Attributes:
        hidden: LSTM units.
        embed: width of the per-dimension MLPs.
        dim_ids: number of learned dimension identities (0: space-agnostic).
        top_k: how many of the best trials form the per-dimension top-k context.
        horizon: the episode length the step feature ``t / horizon`` is scaled by.
        incumbent_clip: the incumbent is clipped to ``[clip, 1 - clip]`` before its logit is
            taken, which bounds how close to a border proposals centred on it can be (the
            logit-space top-k spread uses the same clip).
        initial_design: number of fixed initial-design points stored with the weights
            (0: none; needs ``dim_ids > 0``, the design belongs to one space).
        random_design: number of first trials from :func:`random_design_points`, drawn afresh
            for every search (0: none; excludes ``initial_design``).
        local_start: initialise the head as a local search around the incumbent (gate
            ``sigmoid(3) = 0.95``, spread factor ``local_spread`` of the top-k spread) instead
            of free proposals (gate 0.27, factor 1). Only the starting point of meta-training:
            with a random design, REINFORCE from free proposals had not learned to refine in
            1000 iterations, while this start already does (numbers in
            ``metahpo/policies/README.md``).
        local_spread: the spread factor a local start begins with, in ``(e^-3, e^3)``
            (default ``exp(3 tanh(-0.2)) = 0.55``). Meta-training moves it little, so it sets
            how local the trained policy searches: narrow suits smooth single-basin functions,
            wide the plateaus of real trainings (``metahpo/policies/README.md``).
    """

    hidden: int = 64
    embed: int = 32
    dim_ids: int = 0
    top_k: int = 5
    horizon: int = 50
    incumbent_clip: float = 0.02
    initial_design: int = 0
    random_design: int = 0
    local_start: bool = False
    local_spread: float = LOCAL_SPREAD

    def __post_init__(self) -> None:
        for name in ("hidden", "embed", "top_k", "horizon"):
            if getattr(self, name) < 1:
                raise MetaHPOError(f"policy: {name} must be >= 1, got {getattr(self, name)}")
        if self.dim_ids < 0:
            raise MetaHPOError(f"policy: dim_ids must be >= 0, got {self.dim_ids}")
        if not 0.0 < self.incumbent_clip < 0.5:
            raise MetaHPOError(f"policy: incumbent_clip must lie in (0, 0.5), got "
                               f"{self.incumbent_clip}")
        if not 0.0 < self.local_spread or abs(math.log(self.local_spread)) >= SPREAD_RANGE:
            raise MetaHPOError(f"local_spread must lie in (e^-{SPREAD_RANGE:g}, e^{SPREAD_RANGE:g}), "
                               f"got {self.local_spread}")
        if self.initial_design < 0 or self.random_design < 0:
            raise MetaHPOError("initial_design and random_design must be >= 0")
        if self.initial_design > 0 and self.random_design > 0:
            raise MetaHPOError("a policy has either a fixed initial design or a random one, not both")
        if self.initial_design > 0 and self.dim_ids == 0:
            raise MetaHPOError("an initial design belongs to one search space: it needs dim_ids > 0")


class LSTMPolicy(nn.Module):
    """The meta-learned optimizer's policy network (see the module docstring)."""

    def __init__(self, config: PolicyConfig = PolicyConfig()) -> None:
        super().__init__()
        self.config = config
        e = config.embed
        self.id_width = 8 if config.dim_ids > 0 else 0
        if config.dim_ids > 0:
            self.dim_embedding = nn.Embedding(config.dim_ids, self.id_width)
        dim_in = 1 + N_SCORE + 1 + self.id_width
        self.trial_encoder = nn.Sequential(nn.Linear(dim_in, e), nn.Tanh(), nn.Linear(e, e), nn.Tanh())
        self.lstm = nn.LSTMCell(e + N_SCORE + 1, config.hidden)
        self.start = nn.Parameter(torch.zeros(e + N_SCORE + 1))
        head_in = config.hidden + 1 + self.id_width + N_CONTEXT
        self.head = nn.Sequential(nn.Linear(head_in, e), nn.Tanh(), nn.Linear(e, 3))
        with torch.no_grad():
            last = cast(nn.Linear, self.head[-1])
            last.weight.mul_(0.1)
            last.bias.copy_(torch.tensor(self._start_bias(config)))
        if config.initial_design > 0:
            self.register_buffer("design", torch.full((config.initial_design, config.dim_ids), 0.5))

    @staticmethod
    def _start_bias(config: PolicyConfig) -> tuple[float, float, float]:
        """Head output bias (free mean, log-spread, gate) meta-training starts from."""
        if not config.local_start:
            return FREE_START
        return (0.0, math.atanh(math.log(config.local_spread) / SPREAD_RANGE), LOCAL_GATE)

    def planned_points(self, middle: np.ndarray, rng: np.random.Generator | None,
                       allowed: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        """The unit-cube points ``(n0, D)`` one search plays before the LSTM proposes: the fixed
        initial design, or a random design drawn with ``rng`` (:func:`random_design_points`
        around the space's ``middle`` ``(D,)``, its points ``allowed`` where it can), or none
        (``(0, D)``)."""
        if self.config.initial_design > 0:
            return cast(torch.Tensor, self.design).detach().numpy().astype(float)
        if self.config.random_design > 0:
            if rng is None:
                raise ValueError("a policy with a random design needs an rng to draw it")
            return random_design_points(self.config.random_design, middle, rng, allowed)
        return np.zeros((0, len(middle)))

    def _dim_features(self, descriptors: torch.Tensor) -> torch.Tensor:
        """``(B, D, 1 + id_width)``: descriptors plus learned identities."""
        if self.config.dim_ids == 0:
            return descriptors.unsqueeze(-1)
        b, d = descriptors.shape
        if d != self.config.dim_ids:
            raise MetaHPOError(
                f"this policy was trained on a {self.config.dim_ids}-dimensional space and "
                f"cannot serve {d} dimensions; use a space-agnostic policy such as 'default'"
            )
        ids = self.dim_embedding.weight.unsqueeze(0).expand(b, d, self.id_width)
        return torch.cat([descriptors.unsqueeze(-1), ids], dim=-1)

    def initial_state(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """LSTM state ``(h, c)`` before any trial, each ``(B, hidden)``, after reading ``start``."""
        x = self.start.unsqueeze(0).expand(batch, -1)
        zeros = torch.zeros(batch, self.config.hidden)
        return _lstm_step(self.lstm, x, (zeros, zeros))

    def step_feature(self, t: int, batch: int) -> torch.Tensor:
        """The step input ``min(t / horizon, 1)`` for trial index ``t`` (0-based), ``(B,)``.

        Training never shows the LSTM a step past its episode length, so a search longer than
        ``horizon`` reads the last trained value instead of extrapolating beyond it."""
        return torch.full((batch,), min(t / self.config.horizon, 1.0))

    def observe(self, state: tuple[torch.Tensor, torch.Tensor], u: torch.Tensor,
                score: torch.Tensor, step: torch.Tensor, descriptors: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Read one finished trial per search.

        Args:
            state: ``(h, c)``, each ``(B, hidden)``.
            u: the trial's unit-cube point ``(B, D)``.
            score: score features ``(B, 4)`` (see :func:`metahpo.policy_inputs.score_features`).
            step: the trial's :meth:`step_feature`, ``(B,)``.
            descriptors: per-dimension descriptors ``(B, D)``.
        """
        b, d = u.shape
        per_dim = torch.cat(
            [u.unsqueeze(-1), score.unsqueeze(1).expand(b, d, N_SCORE), self._dim_features(descriptors)],
            dim=-1,
        )
        pooled = _mlp(self.trial_encoder, per_dim).mean(dim=1)
        x = torch.cat([pooled, score, step.unsqueeze(-1)], dim=-1)
        return _lstm_step(self.lstm, x, state)

    def distribution(self, h: torch.Tensor, context: torch.Tensor, descriptors: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-std ``(B, D)`` of the logit-space Gaussian over the next point.

        Args:
            h: LSTM output ``(B, hidden)``.
            context: per-dimension context ``(B, D, 6)`` (see :func:`metahpo.policy_inputs.context_features`).
            descriptors: ``(B, D)``.
        """
        b, d, _ = context.shape
        x = torch.cat([h.unsqueeze(1).expand(b, d, h.shape[-1]), self._dim_features(descriptors),
                       context], dim=-1)
        out = _mlp(self.head, x)
        free_mean, log_std, gate = out[..., 0], out[..., 1], torch.sigmoid(out[..., 2])
        has_inc = context[..., 0]
        clip = self.config.incumbent_clip
        inc_logit = torch.logit(context[..., 1].clamp(clip, 1.0 - clip))
        gate = gate * has_inc
        mean = gate * inc_logit + (1.0 - gate) * free_mean
        evidence = torch.log(context[..., 5] + SPREAD_FLOOR)
        log_std = (evidence + SPREAD_RANGE * torch.tanh(log_std)).clamp(LOG_STD_MIN, LOG_STD_MAX)
        return mean, log_std


def _mlp(layers: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``layers(x)`` for a stack of ``Linear`` and ``Tanh`` layers, called as the functions
    ``nn.Module.__call__`` would reach (the same kernels, so the same values to the last bit).
    A proposal runs the policy's small layers once each, where the module call machinery costs
    about as much as the products themselves: with :func:`_lstm_step`, 17 microseconds of the
    network's 130 per proposal."""
    for layer in layers:
        if isinstance(layer, nn.Tanh):
            x = torch.tanh(x)
        else:
            linear = cast(nn.Linear, layer)
            x = nn.functional.linear(x, linear.weight, linear.bias)
    return x


def _lstm_step(cell: nn.LSTMCell, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """``cell(x, state)`` for batched ``x`` ``(B, F_in)`` without the module's input checks
    (see :func:`_mlp`)."""
    return torch.lstm_cell(x, state, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)


def latin_hypercube(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points ``(n, dim)`` in the unit cube, one in each of the ``n`` equal strata of every
    dimension (strata paired at random across dimensions, uniform within a stratum)."""
    strata = rng.permuted(np.tile(np.arange(n), (dim, 1)), axis=1).T
    return (strata + rng.random((n, dim))) / n


#: Latin hypercubes a random design draws at most in a space with forbidden combinations.
DESIGN_DRAWS = 64


def random_design_points(n: int, middle: np.ndarray, rng: np.random.Generator,
                         allowed: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """A policy's random design ``(n, D)``: the space's middle ``(D,)`` (see
    :meth:`metahpo.space.SearchSpace.middle`), then a Latin hypercube of ``n - 1`` points.

    ``allowed`` (unit-cube points ``(k, D)`` -> bool ``(k,)``: those no forbidden clause of the
    space forbids) has the hypercube drawn again, up to ``DESIGN_DRAWS`` times, until every
    point is allowed, else the draw with the most allowed points is kept. A forbidden design
    point is skipped (the policy proposes in its place, around the incumbent), so it took its
    share of the design's coverage with it: with the large model forbidden at its larger
    batches, the design's points on the large model were forbidden ones in some searches, and
    the default policy then never tried that model (6 of 20 searches of 30 trials in
    ``benchmarks/forbidden_combinations.py``). The first draw is the one a space without
    clauses gets, so their designs are as before."""
    middle = np.asarray(middle, dtype=float)
    cube = latin_hypercube(n - 1, len(middle), rng)
    if allowed is not None and len(cube):
        most = int(allowed(cube).sum())
        for _ in range(DESIGN_DRAWS - 1):
            if most == len(cube):
                break
            other = latin_hypercube(n - 1, len(middle), rng)
            count = int(allowed(other).sum())
            if count > most:
                cube, most = other, count
    return np.concatenate([middle[None, :], cube])[:n]


# --- checkpoints ----------------------------------------------------------------------------


@dataclass
class PolicyInfo:
    """Metadata stored with a policy checkpoint.

    ``screen`` is how many draws the ``"meta"`` optimizer screens per proposal with this policy
    unless told otherwise (:mod:`metahpo.screening`; 0: none). It is a meta-test setting, chosen
    on validation tasks after training, so it is not part of the training command.
    """

    config: PolicyConfig
    space: dict[str, Any] | None = None
    training_tasks: list[str] = field(default_factory=list)
    command: str = ""
    metahpo_version: str = ""
    notes: dict[str, Any] = field(default_factory=dict)
    screen: int = 0


def save_policy(policy: LSTMPolicy, info: PolicyInfo, path: str | Path) -> None:
    """Write ``policy`` and its metadata to a safetensors file.

    The file appears whole or not at all (written beside ``path``, then moved over it), so a
    training killed while it saves keeps the checkpoint it had; and with the permissions of
    any file the user creates (safetensors' own writer makes files only their owner can read,
    which a teammate or a job running as another user could not load)."""
    from safetensors.torch import save

    meta = {
        "format_version": FORMAT_VERSION,
        "config": asdict(info.config),
        "space": info.space,
        "training_tasks": info.training_tasks,
        "command": info.command,
        "metahpo_version": info.metahpo_version,
        "notes": info.notes,
        "screen": info.screen,
    }
    tensors = {k: v.detach().contiguous().clone() for k, v in policy.state_dict().items()}
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(save(tensors, metadata={"metahpo": json.dumps(meta)}))
    os.replace(tmp, path)


def load_policy(path: str | Path) -> tuple[LSTMPolicy, PolicyInfo]:
    """Read a checkpoint written by :func:`save_policy`; clear errors for anything else."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise MetaHPOError(f"policy checkpoint {str(path)!r} does not exist")
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = (fh.metadata() or {}).get("metahpo")
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:
        raise MetaHPOError(
            f"{str(path)!r} is not a readable policy checkpoint (corrupt or truncated "
            f"safetensors file: {type(exc).__name__}: {exc})"
        ) from None
    if raw is None:
        raise MetaHPOError(f"{str(path)!r} is a safetensors file but not a metahpo policy")
    try:
        meta = json.loads(raw)
        if meta.get("format_version") != FORMAT_VERSION:
            raise MetaHPOError(
                f"{str(path)!r} has policy format {meta.get('format_version')!r}; this metahpo "
                f"reads format {FORMAT_VERSION}"
            )
        config = PolicyConfig(**meta["config"])
    except (json.JSONDecodeError, TypeError, KeyError) as exc:
        raise MetaHPOError(f"{str(path)!r} has unreadable policy metadata: {exc}") from None
    policy = LSTMPolicy(config)
    try:
        policy.load_state_dict(tensors)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise MetaHPOError(f"{str(path)!r}: weights do not fit the policy: {first}") from None
    policy.eval()
    info = PolicyInfo(config=config, space=meta.get("space"),
                      training_tasks=list(meta.get("training_tasks", [])),
                      command=meta.get("command", ""),
                      metahpo_version=meta.get("metahpo_version", ""),
                      notes=dict(meta.get("notes", {})), screen=meta.get("screen", 0))
    if isinstance(info.screen, bool) or not isinstance(info.screen, int) or info.screen < 0:
        raise MetaHPOError(f"{str(path)!r}: 'screen' must be a whole number >= 0, got {info.screen!r}")
    return policy, info


def shipped_policy_path(name: str) -> Path:
    """Path of a policy shipped inside the package (``"lcbench"``, ``"default"``)."""
    folder = Path(__file__).resolve().parent / "policies"
    path = folder / f"{name}.safetensors"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.safetensors"))
        raise MetaHPOError(
            f"no shipped policy named {name!r}; shipped: {', '.join(known) or 'none'}; "
            "or pass a checkpoint path"
        )
    return path


def resolve_policy(policy: str | Path) -> tuple[LSTMPolicy, PolicyInfo]:
    """Load a policy by shipped name or checkpoint path."""
    text = str(policy)
    if text.endswith(".safetensors") or "/" in text or Path(text).exists():
        return load_policy(text)
    return load_policy(shipped_policy_path(text))
