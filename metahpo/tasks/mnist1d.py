"""A 1-D CNN on MNIST-1D (Greydanus, 2020), generated offline by the ``mnist1d`` package:
5,000 sequences of length 40 in 10 classes (its default arguments, seed 42). The package's
4,000 training sequences are split 75/25 into train and validation; its 1,000 test sequences
are the test split. Generation takes a few seconds; nothing is downloaded."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from metahpo.errors import MetaHPOError
from metahpo.tasks.training import TorchClassificationTask, standard_space


class MNIST1DCNN(TorchClassificationTask):
    """Tune a 1-D CNN (``depth`` conv layers of ``width`` channels, kernel 5, stride-2 pooling)
    on MNIST-1D; ``epochs`` per configuration (default 8)."""

    space = standard_space(max_depth=3, max_width=64)

    def __init__(self, *, epochs: int = 8, seed: int = 0) -> None:
        super().__init__(epochs=epochs, seed=seed)
        self.name = "mnist1d-cnn"

    def _load(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        try:
            from mnist1d.data import get_dataset, get_dataset_args
        except ImportError:
            raise MetaHPOError("the MNIST-1D task needs the mnist1d package: pip install mnist1d") from None
        with tempfile.TemporaryDirectory() as tmp:
            data = get_dataset(get_dataset_args(), path=str(Path(tmp) / "mnist1d.pkl"),
                               download=False, regenerate=True, verbose=False)
        x = np.asarray(data["x"], dtype=np.float32)[:, None, :]
        y = np.asarray(data["y"], dtype=np.int64)
        order = np.random.default_rng(self.seed).permutation(len(y))
        cut = int(0.75 * len(y))
        x_test = np.asarray(data["x_test"], dtype=np.float32)[:, None, :]
        y_test = np.asarray(data["y_test"], dtype=np.int64)
        return {"train": (x[order[:cut]], y[order[:cut]]), "val": (x[order[cut:]], y[order[cut:]]),
                "test": (x_test, y_test)}

    def _build(self, params: Mapping[str, Any], n_classes: int) -> Any:
        from torch import nn

        layers: list[nn.Module] = []
        channels, length = 1, 40
        for _ in range(params["depth"]):
            layers += [nn.Conv1d(channels, params["width"], 5, padding=2), nn.ReLU(), nn.MaxPool1d(2)]
            channels, length = params["width"], length // 2
        layers += [nn.Flatten(), nn.Dropout(params["dropout"]), nn.Linear(channels * length, n_classes)]
        return nn.Sequential(*layers)
