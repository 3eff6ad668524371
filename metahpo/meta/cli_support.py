"""``metahpo meta-train``: meta-training runs built from command-line arguments."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, cast

from metahpo.errors import MetaHPOError
from metahpo.meta.distributions import FixedTasks, Mixture, SyntheticFamily, TaskDistribution, TrainingTask
from metahpo.tasks.bounds import task_bounds
from metahpo.tasks.registry import HELD_OUT_SEED, make_tasks, parse_dims
from metahpo.tasks.synthetic import FAMILIES, SyntheticTask

if TYPE_CHECKING:
    import numpy as np

SYNTHETIC_VALIDATION_SEED = HELD_OUT_SEED - 1


def build_distribution(specs: Sequence[str], *, instances: str | None, dims: Sequence[int],
                       validation_instances: str | None, data_path: str | os.PathLike | None,
                       n_random: int = 200_000
                       ) -> tuple[TaskDistribution, list[TrainingTask], dict | None]:
    """Training distribution, validation tasks and the space of dimension identities (or None).

    YAHPO specs draw from their instances minus the validation instances; synthetic specs draw
    fresh functions of their families in ``dims``. Several specs make an equal-weight mixture.
    A single YAHPO spec gives a space-specific policy (learned dimension identities).

    Validation: the YAHPO validation instances and, for synthetic specs, one function per family
    and dimension with a seed just below the held-out range (:data:`SYNTHETIC_VALIDATION_SEED`;
    training draws seeds uniformly below the held-out range, so it meets one of them with
    probability about 1e-6 per draw), so that a space-agnostic policy is selected for what it is
    for — any space — and not for the one YAHPO scenario of its mixture.
    """
    components: list[TaskDistribution] = []
    validation: list[TrainingTask] = []
    fixed_space = None
    chosen = [flag for flag, value in (("--instances", instances),
                                       ("--validation-instances", validation_instances)) if value]
    if chosen and not any(spec.startswith("yahpo:") for spec in specs):
        raise MetaHPOError(f"{' and '.join(chosen)} choose instances of yahpo: tasks, and these "
                           f"tasks ({', '.join(specs)}) have none; synthetic tasks are drawn "
                           "afresh (set their dimensions with --dims)")
    for spec in specs:
        kind, _, name = spec.partition(":")
        if kind == "yahpo":
            tasks = make_tasks(spec, instances=instances or "train", data_path=data_path)
            held = set()
            if validation_instances:
                val_tasks = make_tasks(spec, instances=validation_instances, data_path=data_path)
                held = {t.name for t in val_tasks}
                kwargs: dict[str, Any] = ({} if n_random >= 200_000
                                          else {"n_random": n_random, "rounds": 10})
                validation += [TrainingTask(t, task_bounds(t, **kwargs)) for t in val_tasks]
            train = [t for t in tasks if t.name not in held]
            if not train:
                raise MetaHPOError(f"{spec}: no training instances left after the validation fold")
            components.append(FixedTasks(train, n_random=n_random))
            fixed_space = train[0].space.to_dict()
        elif kind == "synthetic":
            families = name.split(",") if name else None
            family = SyntheticFamily(families or FAMILIES, dims)
            components.append(family)
            for f in family.families:
                for d in family.dims:
                    task = SyntheticTask(f, d, SYNTHETIC_VALIDATION_SEED)
                    validation.append(TrainingTask(task, task_bounds(task, n_random=4096, rounds=10,
                                                                     samples=50, use_cache=False)))
        else:
            raise MetaHPOError(f"meta-train: unsupported task spec {spec!r}; use yahpo:NAME or synthetic:FAMILIES")
    space_specific = len(specs) == 1 and specs[0].startswith("yahpo:")
    dist = components[0] if len(components) == 1 else Mixture(components)
    return dist, validation, fixed_space if space_specific else None


def default_out(path: str) -> Path:
    out = Path(path)
    if out.suffix != ".safetensors":
        raise MetaHPOError(f"--out must end in .safetensors, got {path!r}")
    if not out.parent.is_dir():
        problem = "is a file, not a folder" if out.parent.exists() else "does not exist"
        raise MetaHPOError(f"--out: {str(out.parent)!r} {problem}")
    return out


def run_meta_train(args: argparse.Namespace) -> None:
    """``metahpo meta-train``: build the task distribution, train, save the policy with its
    command and notes (and, with ``--choose-screen``, its screen) and the training curve."""
    import torch

    from metahpo.meta.train import TrainConfig, meta_train, save_training_curve
    from metahpo.policy import PolicyConfig, PolicyInfo, save_policy
    from metahpo.version import __version__

    started = time.monotonic()
    if args.local_spread is not None and not args.local_start:
        raise MetaHPOError("--local-spread sets where a --local-start begins: add --local-start")
    for option, value in (("--threads", args.threads), ("--workers", args.workers),
                          ("--bounds-samples", args.bounds_samples)):
        if value < 1:
            raise MetaHPOError(f"{option} must be >= 1, got {value}")
    if args.time_limit is not None and not args.time_limit > 0:
        raise MetaHPOError(f"--time-limit must be a number of seconds > 0, got {args.time_limit:g}")
    torch.set_num_threads(args.threads)
    out = default_out(args.out)
    dims = parse_dims(args.dims)
    build = functools.partial(
        build_distribution, args.tasks, instances=args.instances, dims=dims,
        validation_instances=args.validation_instances, data_path=args.yahpo_data,
        n_random=args.bounds_samples,
    )
    dist, validation, space = build()
    if args.choose_screen and not validation:
        raise MetaHPOError("--choose-screen compares searches on validation tasks: give "
                           "--validation-instances (or train on a synthetic spec)")
    design: np.ndarray | None = None
    design_notes: dict[str, Any] = {}
    if args.initial_design > 0:
        if space is None:
            raise MetaHPOError("--initial-design needs a single yahpo:SCENARIO training spec "
                               "(a design belongs to one search space)")
        from metahpo.meta.portfolio import choose_design

        design, design_notes = choose_design(cast(FixedTasks, dist).tasks, validation,
                                             size=args.initial_design)
    policy_config = PolicyConfig(hidden=args.hidden, embed=args.embed, horizon=args.horizon,
                                 dim_ids=len(space) if space else 0,
                                 incumbent_clip=args.incumbent_clip,
                                 initial_design=args.initial_design,
                                 random_design=args.random_design, local_start=args.local_start,
                                 **({} if args.local_spread is None else {"local_spread": args.local_spread}))
    config = TrainConfig(iterations=args.iterations, tasks_per_batch=args.tasks_per_batch,
                         episodes_per_task=args.episodes, horizon=args.horizon, lr=args.lr,
                         entropy_coef=args.entropy, seed=args.seed,
                         time_limit_s=None if args.time_limit is None
                         else max(1.0, args.time_limit - (time.monotonic() - started)),
                         validate_every=args.validate_every, reward=args.reward)
    remote = None
    if args.backend == "ray":
        from metahpo.meta.distributed import RayRollouts

        remote = RayRollouts(functools.partial(_first, build), policy_config, args.seed,
                             args.workers, args.address)
    policy, curve = meta_train(dist, policy_config=policy_config, config=config,
                               validation=validation or None, progress=not args.quiet,
                               remote=remote, initial_design=design)
    command = "metahpo " + shlex.join(sys.argv[1:] if args.argv is None else args.argv)
    info = PolicyInfo(config=policy_config, space=space, training_tasks=dist.describe(),
                      command=command, metahpo_version=__version__,
                      notes={"iterations_run": len(curve), "seconds": curve[-1]["seconds"],
                             "final_train_regret_mean": curve[-1]["regret_mean"],
                             **design_notes})
    save_policy(policy, info, out)
    if args.choose_screen:
        from metahpo.meta.screen_choice import choose_screen

        screen, scores = choose_screen(out, validation, horizon=args.horizon)
        info = dataclasses.replace(info, screen=screen, notes={**info.notes, "screen_validation": scores})
        save_policy(policy, info, out)
        print(f"screen {screen} (validation regret by screen: "
              + ", ".join(f"{k}: {v:.4f}" for k, v in scores.items()) + ")")
    json_path, png_path = save_training_curve(curve, out.with_suffix(""), config)
    print(f"wrote {out} ({len(curve)} iterations, {curve[-1]['seconds']:.0f} s), "
          f"training curve {png_path}")


def _first(build: Callable[[], tuple]) -> Any:
    return build()[0]
