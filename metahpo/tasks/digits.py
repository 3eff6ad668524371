"""A small CNN on scikit-learn's 8x8 handwritten digits: a real deep-learning task in seconds.

The 1,797 images (shipped with scikit-learn, no download) are split 60/20/20 into train,
validation and test with a fixed seed. A configuration trains a small CNN for a fixed number of
epochs on one CPU thread; the objective is validation accuracy (maximize), and
:meth:`DigitsCNN.test_score` gives the test accuracy of a configuration.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import cached_property
from typing import Any, Iterator, Mapping

import numpy as np

from metahpo.space import Categorical, Float, Int, SearchSpace
from metahpo.tasks.base import Task

DIGITS_SPACE = SearchSpace([
    Float("learning_rate", 1e-4, 1e-1, log=True),
    Int("batch_size", 16, 256, log=True),
    Int("depth", 1, 3),
    Int("width", 8, 64, log=True),
    Float("dropout", 0.0, 0.5),
    Float("weight_decay", 1e-6, 1e-2, log=True),
    Categorical("optimizer", ["adam", "sgd"]),
])


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with ``n`` torch threads: small trainings run fastest on one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class DigitsCNN(Task):
    """Tune a small CNN on the 8x8 digits.

    Args:
        epochs: training epochs per configuration.
        seed: seed of the data split and of the network's initialisation and batches.
    """

    direction = "maximize"
    space = DIGITS_SPACE

    def __init__(self, *, epochs: int = 10, seed: int = 0) -> None:
        self.epochs = epochs
        self.seed = seed
        self.name = "digits-cnn"

    @cached_property
    def _splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        from sklearn.datasets import load_digits

        data = load_digits()
        x = (data.images / 16.0).astype(np.float32)[:, None, :, :]
        y = data.target.astype(np.int64)
        order = np.random.default_rng(self.seed).permutation(len(y))
        n_train, n_val = int(0.6 * len(y)), int(0.2 * len(y))
        idx = {"train": order[:n_train], "val": order[n_train:n_train + n_val],
               "test": order[n_train + n_val:]}
        return {k: (x[v], y[v]) for k, v in idx.items()}

    def _build(self, params: Mapping[str, Any]) -> Any:
        from torch import nn

        layers: list[nn.Module] = []
        channels = 1
        for i in range(params["depth"]):
            layers += [nn.Conv2d(channels, params["width"], 3, padding=1), nn.ReLU()]
            if i < 2:
                layers.append(nn.MaxPool2d(2))
            channels = params["width"]
        side = 8 // (2 ** min(params["depth"], 2))
        layers += [nn.Flatten(), nn.Dropout(params["dropout"]),
                   nn.Linear(channels * side * side, 10)]
        return nn.Sequential(*layers)

    def _train(self, params: Mapping[str, Any]) -> Any:
        import torch

        torch.manual_seed(self.seed)
        model = self._build(params)
        if params["optimizer"] == "adam":
            opt = torch.optim.Adam(model.parameters(), lr=params["learning_rate"],
                                   weight_decay=params["weight_decay"])
        else:
            opt = torch.optim.SGD(model.parameters(), lr=params["learning_rate"], momentum=0.9,
                                  weight_decay=params["weight_decay"])
        x, y = (torch.from_numpy(a) for a in self._splits["train"])
        gen = torch.Generator().manual_seed(self.seed)
        loss_fn = torch.nn.CrossEntropyLoss()
        model.train()
        for _ in range(self.epochs):
            perm = torch.randperm(len(y), generator=gen)
            for start in range(0, len(y), params["batch_size"]):
                batch = perm[start:start + params["batch_size"]]
                opt.zero_grad()
                loss = loss_fn(model(x[batch]), y[batch])
                if not torch.isfinite(loss):
                    return None
                loss.backward()
                opt.step()
        return model

    def _accuracy(self, model: Any, split: str) -> float:
        import torch

        if model is None:
            return 0.1  # a diverged training predicts at chance level
        x, y = (torch.from_numpy(a) for a in self._splits[split])
        model.eval()
        with torch.no_grad():
            return float((model(x).argmax(dim=1) == y).float().mean())

    def evaluate(self, params: Mapping[str, Any]) -> float:
        self.space.validate(params)
        with torch_threads(1):
            return self._accuracy(self._train(params), "val")

    def test_score(self, params: Mapping[str, Any]) -> float:
        with torch_threads(1):
            return self._accuracy(self._train(params), "test")


def objective(params: Mapping[str, Any]) -> float:
    """Validation accuracy of the digits CNN; ``metahpo tune metahpo.tasks.digits:objective``."""
    return _default_task().evaluate(params)


_TASK: DigitsCNN | None = None


def _default_task() -> DigitsCNN:
    global _TASK
    if _TASK is None:
        _TASK = DigitsCNN()
    return _TASK
