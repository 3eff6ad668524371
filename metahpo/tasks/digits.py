"""A small CNN on scikit-learn's 8x8 handwritten digits (1,797 images shipped with
scikit-learn: no download), split 60/20/20 with a fixed seed."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from metahpo.tasks.training import TorchClassificationTask, split_indices, standard_space


class DigitsCNN(TorchClassificationTask):
    """Tune a CNN of ``depth`` conv layers (3x3, ``width`` channels, max-pooling after the
    first two) on the 8x8 digits; ``epochs`` per configuration (default 10)."""

    space = standard_space(max_depth=3, max_width=64)

    def __init__(self, *, epochs: int = 10, seed: int = 0) -> None:
        super().__init__(epochs=epochs, seed=seed)
        self.name = "digits-cnn"

    def _load(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        from sklearn.datasets import load_digits

        data = load_digits()
        x = (data.images / 16.0).astype(np.float32)[:, None, :, :]
        y = data.target.astype(np.int64)
        return {k: (x[i], y[i]) for k, i in split_indices(len(y), self.seed).items()}

    def _build(self, params: Mapping[str, Any], n_classes: int) -> Any:
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
                   nn.Linear(channels * side * side, n_classes)]
        return nn.Sequential(*layers)


def objective(params: Mapping[str, Any]) -> float:
    """Validation accuracy of the digits CNN; ``metahpo tune metahpo.tasks.digits:objective``."""
    global _TASK
    if _TASK is None:
        _TASK = DigitsCNN()
    return _TASK.evaluate(params)


_TASK: DigitsCNN | None = None
