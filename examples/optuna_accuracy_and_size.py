"""Two objectives in an Optuna study: the most accurate model for each size (about 15 s on a CPU).

Deploying a model often means choosing between accuracy and size (or latency). An Optuna study
with two directions finds the trade-offs no configuration beats on both (the Pareto front,
``study.best_trials``); ``MetaHPOSampler`` proposes each trial for one trade-off, drawn afresh
per trial, so the front fills in along its length.

The objective is written the way Optuna users write theirs (define-by-run: a width per layer,
for as many layers as the trial draws) and trains an MLP on scikit-learn's 8x8 digits (shipped
with scikit-learn: nothing to download). It returns the validation accuracy and the number of
weights.

Run it with:  .venv/bin/python examples/optuna_accuracy_and_size.py [--trials 30]
"""

from __future__ import annotations

import argparse

import optuna
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from metahpo.integrations.optuna import MetaHPOSampler

EPOCHS = 8


def load_data() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.3, random_state=0,
                                                      stratify=y)
    scaler = StandardScaler().fit(x_train)
    return {"train": (torch.tensor(scaler.transform(x_train), dtype=torch.float32),
                      torch.tensor(y_train)),
            "val": (torch.tensor(scaler.transform(x_val), dtype=torch.float32),
                    torch.tensor(y_val))}


DATA = load_data()


def objective(trial: optuna.Trial) -> tuple[float, int]:
    """Validation accuracy and weight count of an MLP with the trial's depth and widths."""
    torch.manual_seed(0)
    (x, y), (x_val, y_val) = DATA["train"], DATA["val"]
    layers: list[torch.nn.Module] = []
    width = x.shape[1]
    for i in range(trial.suggest_int("n_layers", 1, 3)):
        out = trial.suggest_int(f"width_{i}", 2, 128, log=True)
        layers += [torch.nn.Linear(width, out), torch.nn.ReLU()]
        width = out
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, 10))
    opt = torch.optim.Adam(model.parameters(), lr=trial.suggest_float("lr", 1e-4, 1e-1, log=True))
    for _ in range(EPOCHS):
        for batch in torch.randperm(len(y)).split(32):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            opt.step()
    with torch.no_grad():
        accuracy = float((model(x_val).argmax(1) == y_val).float().mean())
    return accuracy, sum(p.numel() for p in model.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=MetaHPOSampler("meta", seed=0))
    study.optimize(objective, n_trials=args.trials)
    print(f"{len(study.trials)} trials; the Pareto front, smallest model first:")
    print(f"{'weights':>8}  {'accuracy':>8}  configuration")
    for t in sorted(study.best_trials, key=lambda t: t.values[1]):
        print(f"{int(t.values[1]):>8}  {t.values[0]:>8.4f}  {t.params}")


if __name__ == "__main__":
    main()
