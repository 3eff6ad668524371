"""Tune your own PyTorch model with metahpo: the workflow an ML engineer runs (about 10 s on a CPU).

An MLP classifies scikit-learn's 8x8 digits (shipped with scikit-learn: nothing to download).
The objective trains it and returns the validation accuracy; on the way it

- reports the accuracy after every epoch, so that a pruner stops unpromising trainings early;
- starts from the configuration we would have used anyway (``points_to_evaluate``);
- logs every finished trial with a callback, and stops the study once a target is reached;
- records everything in a SQLite file: run the script again and the study resumes;
- on a machine with GPUs, trains one model per GPU at once (``devices``, ``trial.device``).

Run it with:  .venv/bin/python examples/tune_a_pytorch_model.py [--db studies.db]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import optuna
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import metahpo
from metahpo import Categorical, Float, Int, SearchSpace

SPACE = SearchSpace([
    Float("learning_rate", 1e-4, 1e-1, log=True),
    Int("width", 4, 64, log=True),
    Float("dropout", 0.0, 0.5),
    Float("weight_decay", 1e-6, 1e-2, log=True),
    Categorical("optimizer", ["adam", "sgd"]),
])
DEFAULTS = {"learning_rate": 1e-3, "width": 32, "dropout": 0.1, "weight_decay": 1e-4,
            "optimizer": "adam"}
EPOCHS = 10
TARGET = 0.99


def load_data() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    scaler = StandardScaler().fit(x_train)
    as_tensors = lambda a, b: (torch.tensor(scaler.transform(a), dtype=torch.float32),  # noqa: E731
                               torch.tensor(b))
    return {"train": as_tensors(x_train, y_train), "val": as_tensors(x_val, y_val)}


DATA = load_data()


def objective(params: dict, trial: metahpo.RunningTrial) -> float:
    """Validation accuracy of an MLP trained with ``params``."""
    torch.manual_seed(0)
    device = trial.device or "cpu"
    (x, y), (x_val, y_val) = ((a.to(device), b.to(device)) for a, b in (DATA["train"], DATA["val"]))
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], params["width"]), torch.nn.ReLU(),
                                torch.nn.Dropout(params["dropout"]),
                                torch.nn.Linear(params["width"], 10)).to(device)
    kind = torch.optim.Adam if params["optimizer"] == "adam" else torch.optim.SGD
    opt = kind(model.parameters(), lr=params["learning_rate"], weight_decay=params["weight_decay"])
    for epoch in range(EPOCHS):
        model.train()
        for batch in torch.randperm(len(y)).to(device).split(32):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            accuracy = float((model(x_val).argmax(1) == y_val).float().mean())
        trial.report(epoch, accuracy)
        if trial.should_prune():
            raise metahpo.TrialPruned()
    return accuracy


def log_trial(study: metahpo.Study, trial: metahpo.TrialRecord) -> None:
    outcome = f"{trial.value:.3f}" if trial.value is not None else trial.error
    print(f"trial {trial.number:2d}: {outcome}")
    if trial.value is not None and trial.value >= TARGET:
        study.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="SQLite file of the study (default: a temporary one)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    gpus = [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "studies.db"
        study = metahpo.tune(
            objective, SPACE, n_trials=20, direction="maximize", seed=0,
            n_jobs=max(len(gpus), 1), devices=gpus or None,
            storage=f"sqlite:///{db}", study_name="digits-mlp",
            points_to_evaluate=[DEFAULTS], callbacks=[log_trial],
            pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=5),
            show_progress=False,
        )
        trials = study.trials
        pruned = sum(t.pruned for t in trials)
        print(f"{len(trials)} trials, {pruned} pruned; defaults scored {trials[0].value:.3f}, "
              f"best {study.best_value:.3f} with {study.best_params}")


if __name__ == "__main__":
    main()
