"""Building meta-training runs from command-line arguments (used by ``metahpo meta-train``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from metahpo.errors import MetaHPOError
from metahpo.meta.distributions import FixedTasks, Mixture, SyntheticFamily, TaskDistribution, TrainingTask
from metahpo.tasks.bounds import task_bounds
from metahpo.tasks.registry import HELD_OUT_SEED, make_tasks
from metahpo.tasks.synthetic import FAMILIES, SyntheticTask

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
    for spec in specs:
        kind, _, name = spec.partition(":")
        if kind == "yahpo":
            tasks = make_tasks(spec, instances=instances or "train", data_path=data_path)
            held = set()
            if validation_instances:
                val_tasks = make_tasks(spec, instances=validation_instances, data_path=data_path)
                held = {t.name for t in val_tasks}
                kwargs = {} if n_random >= 200_000 else {"n_random": n_random, "rounds": 10}
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
    if not out.parent.exists():
        raise MetaHPOError(f"--out: folder {str(out.parent)!r} does not exist")
    return out
