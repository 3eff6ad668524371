"""A training script tuned by its command line (a few seconds a run on a CPU, mostly imports).

metahpo runs it once per trial with the configuration in its arguments and reads the trial's
value from the last line it prints; ``METAHPO_REPORT EPOCH VALUE`` lines report the validation
accuracy after each epoch, so that a pruner can stop unpromising runs, and ``METAHPO_ATTR NAME
VALUE`` lines store what else the run measured with its trial (its best epoch, its training
time). Any script works the same way: change the arguments, print the score last.

    metahpo tune --command "python examples/train_script.py --lr {learning_rate} --width {width} \\
        --dropout {dropout} --optimizer {optimizer} --out runs/{first_trial_number}" \\
        --space examples/train_script_space.yaml --trials 20 --direction maximize \\
        --pruner median --study script

With ``--out``, the run saves a checkpoint after every epoch and, started again with a folder
that holds one, goes on from it: a run stopped by Ctrl-C or a preempted machine runs again first
when the study resumes, with ``{first_trial_number}`` naming the stopped run's folder, and
finishes as it would have without the stop.

An MLP on scikit-learn's 8x8 digits (shipped with scikit-learn: nothing to download).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--dropout", type=float, required=True)
    parser.add_argument("--optimizer", choices=["adam", "sgd"], required=True)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", help="folder for this run's checkpoint and metrics (optional)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)

    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(x_train)
    x_train, x_val = (torch.tensor(scaler.transform(a), dtype=torch.float32)
                      for a in (x_train, x_val))
    y_train, y_val = torch.tensor(y_train), torch.tensor(y_val)

    model = torch.nn.Sequential(torch.nn.Linear(64, args.width), torch.nn.ReLU(),
                                torch.nn.Dropout(args.dropout), torch.nn.Linear(args.width, 10))
    optim = (torch.optim.Adam(model.parameters(), lr=args.lr) if args.optimizer == "adam"
             else torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9))
    progress: dict[str, Any] = {"epoch": -1, "accuracy": 0.0, "best_epoch": 0, "best": -1.0,
                                "train_s": 0.0}
    checkpoint = Path(args.out, "checkpoint.pt") if args.out else None
    if checkpoint is not None and checkpoint.exists():
        saved = torch.load(checkpoint)
        model.load_state_dict(saved["model"])
        optim.load_state_dict(saved["optim"])
        torch.set_rng_state(saved["rng"])
        progress = saved["progress"]
        print(f"resumed after epoch {progress['epoch']}", flush=True)
    start = time.perf_counter() - progress["train_s"]
    for epoch in range(progress["epoch"] + 1, args.epochs):
        model.train()
        for batch in torch.randperm(len(x_train)).split(64):
            optim.zero_grad()
            torch.nn.functional.cross_entropy(model(x_train[batch]), y_train[batch]).backward()
            optim.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(x_val).argmax(1) == y_val).float().mean().item()
        print(f"METAHPO_REPORT {epoch} {accuracy}", flush=True)
        progress.update(epoch=epoch, accuracy=accuracy, train_s=time.perf_counter() - start)
        if accuracy > progress["best"]:
            progress.update(best_epoch=epoch, best=accuracy)
        if checkpoint is not None:
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"model": model.state_dict(), "optim": optim.state_dict(),
                        "rng": torch.get_rng_state(), "progress": progress}, checkpoint)
    print(f"METAHPO_ATTR best_epoch {progress['best_epoch']}")
    print(f"METAHPO_ATTR train_s {progress['train_s']:.3f}")
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        metrics = {"val_accuracy": progress["accuracy"]}
        Path(args.out, "metrics.json").write_text(json.dumps(metrics))
    print(progress["accuracy"])


if __name__ == "__main__":
    main()
