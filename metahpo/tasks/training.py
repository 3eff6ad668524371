"""Real deep-learning tasks: a small PyTorch classifier trained on CPU in seconds.

A :class:`TorchClassificationTask` owns a data set split into train / validation / test with a
fixed seed and a model family built from the hyperparameters. A configuration is trained for a
fixed number of epochs on one CPU thread (far faster than two on a 2-core machine); the
objective is validation accuracy (maximize) and :meth:`test_score` is the test accuracy of a
configuration. A training that diverges (non-finite loss) scores chance level.

Every task shares the standard space below, so that optimizers and policies see the usual
deep-learning hyperparameters: learning rate (log), batch size (log), depth, width (log),
dropout, weight decay (log) and the optimizer (Adam, or SGD with momentum 0.9).
"""

from __future__ import annotations

import abc
from contextlib import contextmanager
from functools import cached_property
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from metahpo.errors import MetaHPOError
from metahpo.space import Categorical, Float, Int, SearchSpace
from metahpo.tasks.base import Task


def standard_space(max_depth: int = 3, max_width: int = 128) -> SearchSpace:
    return SearchSpace([
        Float("learning_rate", 1e-4, 1e-1, log=True),
        Int("batch_size", 16, 256, log=True),
        Int("depth", 1, max_depth),
        Int("width", 8, max_width, log=True),
        Float("dropout", 0.0, 0.5),
        Float("weight_decay", 1e-6, 1e-2, log=True),
        Categorical("optimizer", ["adam", "sgd"]),
    ])


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with ``n`` torch threads."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def split_indices(n: int, seed: int, fractions: tuple[float, float] = (0.6, 0.2)) -> dict[str, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    a, b = int(fractions[0] * n), int((fractions[0] + fractions[1]) * n)
    return {"train": order[:a], "val": order[a:b], "test": order[b:]}


class TorchClassificationTask(Task):
    """Base of the real training tasks (see the module docstring).

    Subclasses implement :meth:`_load` (arrays for train, val and test) and :meth:`_build`.

    Args:
        epochs: training epochs per configuration.
        seed: seed of the split, the initial weights and the batch order.
    """

    direction = "maximize"

    def __init__(self, *, epochs: int, seed: int = 0) -> None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise MetaHPOError(f"epochs must be a whole number >= 1, got {epochs!r}")
        self.epochs = epochs
        self.seed = seed

    @abc.abstractmethod
    def _load(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{"train"|"val"|"test": (x float32, y int64)}``."""

    @abc.abstractmethod
    def _build(self, params: Mapping[str, Any], n_classes: int) -> Any:
        """The ``torch.nn.Module`` for a configuration."""

    @cached_property
    def _splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return self._load()

    def _train(self, params: Mapping[str, Any],
               after_epoch: Callable[[int, Any], None] | None = None) -> Any:
        """The trained model, or ``None`` if training diverged. ``after_epoch(epoch, model)``
        is called after every epoch (it may evaluate the model, and raise to stop training);
        the model is put back in training mode after it, so the training is the same."""
        import torch

        torch.manual_seed(self.seed)
        x, y = (torch.from_numpy(a) for a in self._splits["train"])
        model = self._build(params, int(self._splits["train"][1].max()) + 1)
        opt: torch.optim.Optimizer
        if params["optimizer"] == "adam":
            opt = torch.optim.Adam(model.parameters(), lr=params["learning_rate"],
                                   weight_decay=params["weight_decay"])
        else:
            opt = torch.optim.SGD(model.parameters(), lr=params["learning_rate"], momentum=0.9,
                                  weight_decay=params["weight_decay"])
        gen = torch.Generator().manual_seed(self.seed)
        loss_fn = torch.nn.CrossEntropyLoss()
        model.train()
        for epoch in range(self.epochs):
            perm = torch.randperm(len(y), generator=gen)
            for start in range(0, len(y), params["batch_size"]):
                batch = perm[start:start + params["batch_size"]]
                opt.zero_grad()
                loss = loss_fn(model(x[batch]), y[batch])
                if not torch.isfinite(loss):
                    return None
                loss.backward()
                opt.step()
            if after_epoch is not None:
                after_epoch(epoch, model)
                model.train()
        return model

    def _accuracy(self, model: Any, split: str) -> float:
        import torch

        x, y = (torch.from_numpy(a) for a in self._splits[split])
        if model is None:
            return float(np.bincount(y.numpy()).max() / len(y))
        model.eval()
        with torch.no_grad():
            return float((model(x).argmax(dim=1) == y).float().mean())

    def evaluate(self, params: Mapping[str, Any]) -> float:
        return self._validation_accuracy(params)

    def evaluate_reporting(self, params: Mapping[str, Any], trial: Any) -> float:
        """:meth:`evaluate` for a tune call with a pruner: reports the validation accuracy after
        every epoch to ``trial`` (a :class:`metahpo.RunningTrial`) and stops the training when
        the pruner says so. The accuracy after the last epoch is :meth:`evaluate`'s."""
        from metahpo.trial import TrialPruned

        def report(epoch: int, model: Any) -> None:
            trial.report(epoch, self._accuracy(model, "val"))
            if trial.should_prune():
                raise TrialPruned()

        return self._validation_accuracy(params, report)

    def _validation_accuracy(self, params: Mapping[str, Any],
                             after_epoch: Callable[[int, Any], None] | None = None) -> float:
        self.space.validate(params)
        with torch_threads(1):
            return self._accuracy(self._train(params, after_epoch), "val")

    def test_score(self, params: Mapping[str, Any]) -> float:
        with torch_threads(1):
            return self._accuracy(self._train(params), "test")


def mlp(in_features: int, params: Mapping[str, Any], n_classes: int) -> Any:
    """``depth`` hidden layers of ``width`` ReLU units with dropout."""
    from torch import nn

    layers: list[nn.Module] = []
    width = in_features
    for _ in range(params["depth"]):
        layers += [nn.Linear(width, params["width"]), nn.ReLU(), nn.Dropout(params["dropout"])]
        width = params["width"]
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)
