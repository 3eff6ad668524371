"""The public API as README.md uses it, written the way a user's type-checked code would be.

Not run: ``tests/test_typing.py`` type-checks it with mypy, so that the annotations metahpo ships
(``py.typed``) accept every documented use. Keep it in step with the README's examples.
"""

from __future__ import annotations

from typing import Any

import optuna
from ray import tune as ray_tune

import metahpo
from metahpo import Categorical, Condition, Float, Int, SearchSpace
from metahpo.integrations.optuna import MetaHPOSampler
from metahpo.integrations.ray import MetaHPOSearcher

space = SearchSpace([
    Float("learning_rate", 1e-4, 1e-1, log=True),
    Int("batch_size", 16, 256, log=True),
    Float("dropout", 0.0, 0.5),
    Categorical("optimizer", ["adam", "sgd"]),
])
conditional = SearchSpace(
    [Categorical("optimizer", ["adam", "sgd"]), Float("momentum", 0.0, 0.99),
     Int("layers", 1, 3), Int("width3", 16, 256, log=True), Float("lr", 1e-4, 1e-1, log=True)],
    conditions={"momentum": Condition("optimizer", "sgd"), "width3": Condition("layers", 3)},
)
decoded: dict[str, Any] = conditional.decode([0.2, 0.9, 0.5, 0.5, 0.5])
restricted = SearchSpace(
    [Categorical("model", ["mlp", "cnn"]), Int("layers", 1, 4),
     Categorical("batch_size", [64, 128, 256]), Int("units_3", 16, 256, log=True)],
    conditions={"units_3": Condition({"model": "mlp", "layers": [3, 4]})},
    forbidden=[{"model": "cnn", "batch_size": [128, 256]}],
)
forbidden_by: str | None = restricted.forbids({"model": "cnn", "layers": 1, "batch_size": 64})
deep_or_cnn = Condition([{"model": "mlp", "layers": [3, 4]}, {"model": "cnn"}])
from_file: SearchSpace = SearchSpace.from_file("space.yaml")


def objective(params: dict[str, Any]) -> float:
    return float(params["dropout"])


def objective_with_trial(params: dict[str, Any], trial: metahpo.RunningTrial) -> float:
    accuracy = 0.0
    for epoch in range(20):
        accuracy = 1.0 - 1.0 / (epoch + 2)
        trial.report(epoch, accuracy)
        if trial.should_prune():
            raise metahpo.TrialPruned()
    trial.set_user_attr("best_epoch", 19)
    trial.set_constraint("latency", 7.5 - 10.0)
    return accuracy


def stop_at_target(study: metahpo.Study, trial: metahpo.TrialRecord) -> None:
    if trial.value is not None and trial.value > 0.99:
        study.stop()


study = metahpo.tune(objective, space, optimizer="meta", n_trials=30, direction="maximize",
                     storage="sqlite:///studies.db", study_name="my-model", seed=0,
                     points_to_evaluate=[{"learning_rate": 1e-3, "batch_size": 64,
                                          "dropout": 0.1, "optimizer": "adam"}],
                     callbacks=[stop_at_target], n_jobs=2)
best_value: float = study.best_value
best_params: dict[str, Any] = study.best_params
queued: int = study.enqueue_trial({"learning_rate": 3e-4}, user_attrs={"source": "paper"})


def accuracy_and_seconds(params: dict[str, Any]) -> tuple[float, float]:
    return 1.0 - float(params["dropout"]), float(params["batch_size"]) / 10.0


trade_offs = metahpo.tune(accuracy_and_seconds, space, directions=["maximize", "minimize"],
                          n_trials=40, storage="sqlite:///studies.db", study_name="acc-vs-time",
                          seed=0)
front: list[metahpo.TrialRecord] = trade_offs.best_trials
front_values: tuple[float, ...] | None = front[0].values
study.to_csv("trials.csv")
metahpo.tune(objective_with_trial, space, n_trials=50, direction="maximize",
             pruner=optuna.pruners.MedianPruner())
metahpo.tune(objective, space, n_trials=30, optimizer="meta", policy="lcbench", screen=0)
script = metahpo.CommandObjective("python train.py --lr {learning_rate} --out runs/{trial_number}",
                                  space, timeout=3600)
metahpo.tune(script, space, n_trials=30, direction="maximize", n_jobs=2)


def objective_on_device(params: dict[str, Any], trial: metahpo.RunningTrial) -> float:
    device: str | None = trial.device
    return 0.0 if device is None else 1.0


metahpo.tune(objective_on_device, space, n_trials=None, timeout=3600.0, n_jobs=2,
             devices=["cuda:0", "cuda:1"], max_retries=5)
metahpo.tune(objective, space, n_trials=30, optimizer="examples/custom_optimizer.py:OnePlusOne",
             initial_step=0.3)
metahpo.tune(objective, space, n_trials=30, on_start=lambda study: print(study.name))

past = [metahpo.load_study("cifar", "sqlite:///studies.db"),
        metahpo.load_study("svhn", "sqlite:///studies.db")]
metahpo.tune(objective, space, n_trials=30, points_to_evaluate=metahpo.warm_start_points(past, space))

opt: metahpo.Optimizer = metahpo.create_optimizer("gp", space, direction="maximize", seed=0)
for _ in range(20):
    trial = opt.ask()
    number: int = trial.number
    try:
        opt.tell(trial, objective(trial.params))
    except RuntimeError as exc:
        opt.tell(trial, error=str(exc))
incumbent: metahpo.TrialRecord | None = opt.best
rebuilt = metahpo.create_optimizer("cmaes", space, direction="maximize", seed=0)
for record in opt.history:
    rebuilt.add_trial(record.params, record.value, optimizer_attrs=record.optimizer_attrs)
kept: dict[str, Any] = rebuilt.ask().optimizer_attrs
names: list[str] = metahpo.available_optimizers()
options: dict[str, Any] = metahpo.optimizer_options("grid")

queue = metahpo.create_study(space, storage="sqlite:///studies.db", study_name="queue",
                             direction="maximize")
asked = queue.ask(seed=0)
queue.tell(asked.number, 0.934, user_attrs={"test_accuracy": 0.92})
queue.fail_stale(86400)
studies: list[metahpo.Study] = metahpo.list_studies("sqlite:///studies.db")
metahpo.delete_study("queue", "sqlite:///studies.db")

optuna_study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0), direction="maximize")
MetaHPOSampler("meta", seed=0, search_space={
    "lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True),
    "layers": optuna.distributions.IntDistribution(1, 5)})
MetaHPOSampler("meta", seed=0, search_space=conditional)

ray_config = ray_tune.TuneConfig(search_alg=MetaHPOSearcher(optimizer="meta", seed=0),
                                 metric="score", mode="max", num_samples=16)
MetaHPOSearcher(space=conditional, points_to_evaluate=[{"lr": 0.01, "layers": 2}])
