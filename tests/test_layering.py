"""The import direction of DESIGN.md, checked so that the layering cannot rot silently.

A module may import metahpo modules of its own layer or of lower layers only. Optimizers never
see storage, tasks or studies; the policy knows nothing about tasks.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "metahpo"

# (module name prefix, layer); the longest matching prefix wins.
LAYERS = [
    ("metahpo.errors", 0),
    ("metahpo.version", 0),
    ("metahpo.ray_backend", 0),
    ("metahpo.imports", 0),
    ("metahpo.scalars", 0),
    ("metahpo.loss_range", 0),
    ("metahpo.optuna_habits", 0),
    ("metahpo.parameters", 1),
    ("metahpo.space", 1),
    ("metahpo.conditions", 1),
    ("metahpo.forbidden", 1),
    ("metahpo.space_formats", 1),
    ("metahpo.trial", 1),
    ("metahpo.distributions", 1),
    ("metahpo.scalarization", 1),
    ("metahpo.optimizers.base", 2),
    ("metahpo.policy", 2),
    ("metahpo.screening", 2),
    ("metahpo.policy_inputs", 2),
    ("metahpo.tasks", 2),
    ("metahpo.storage", 2),
    ("metahpo.optimizers", 3),
    ("metahpo.study", 4),
    ("metahpo.study_optimizer", 4),
    ("metahpo.tuning", 4),
    ("metahpo.progress", 4),
    ("metahpo.tune_arguments", 4),
    ("metahpo.running_trial", 4),
    ("metahpo.shared_study", 4),
    ("metahpo.asked_trials", 4),
    ("metahpo.enqueued_trials", 4),
    ("metahpo.testing", 4),
    ("metahpo.warm_start", 4),
    ("metahpo.meta", 5),
    ("metahpo.benchmarks", 5),
    ("metahpo.reports", 5),
    ("metahpo.integrations", 6),
    ("metahpo.cli", 6),
    ("metahpo.__main__", 6),
    ("metahpo", 7),
]

# Pairs that are forbidden even though the layers would allow them.
FORBIDDEN = [
    ("metahpo.optimizers", "metahpo.storage"),
    ("metahpo.optimizers", "metahpo.tasks"),
    ("metahpo.policy", "metahpo.tasks"),
]


def layer_of(module: str) -> int:
    best = max((p for p, _ in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return dict(LAYERS)[best]


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {m for m in found if m == "metahpo" or m.startswith("metahpo.")}


def test_every_import_points_down_the_layers():
    violations = []
    for path in PACKAGE.rglob("*.py"):
        mod = module_name(path)
        for imported in imports_of(path):
            if imported == "metahpo" and mod != "metahpo":
                violations.append(f"{mod} imports the top-level package")
            elif layer_of(imported) > layer_of(mod):
                violations.append(f"{mod} (layer {layer_of(mod)}) imports {imported} "
                                  f"(layer {layer_of(imported)})")
            for low, high in FORBIDDEN:
                if (mod == low or mod.startswith(low + ".")) and imported.startswith(high):
                    violations.append(f"{mod} must not import {imported}")
    assert not violations, "\n".join(violations)


def test_the_checker_sees_imports():
    assert "metahpo.space" in imports_of(PACKAGE / "optimizers" / "base.py")
    assert layer_of("metahpo.optimizers.grid") == 3 and layer_of("metahpo.optimizers.base") == 2
