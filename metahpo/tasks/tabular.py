"""An MLP on a generated tabular classification data set (scikit-learn's
``make_classification``: 3,000 rows, 20 features of which 8 informative, 3 classes, fixed
seed; standardized), split 60/20/20."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from metahpo.tasks.training import TorchClassificationTask, mlp, split_indices, standard_space


class TabularMLP(TorchClassificationTask):
    """Tune an MLP on generated tabular data; ``epochs`` per configuration (default 10)."""

    space = standard_space(max_depth=4, max_width=256)

    def __init__(self, *, epochs: int = 10, seed: int = 0) -> None:
        super().__init__(epochs=epochs, seed=seed)
        self.name = "tabular-mlp"

    def _load(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        from sklearn.datasets import make_classification

        x, y = make_classification(n_samples=3000, n_features=20, n_informative=8, n_redundant=4,
                                   n_classes=3, n_clusters_per_class=2, flip_y=0.03,
                                   random_state=self.seed)
        idx = split_indices(len(y), self.seed)
        mean, std = x[idx["train"]].mean(axis=0), x[idx["train"]].std(axis=0) + 1e-8
        x = ((x - mean) / std).astype(np.float32)
        return {k: (x[i], y[i].astype(np.int64)) for k, i in idx.items()}

    def _build(self, params: Mapping[str, Any], n_classes: int) -> Any:
        return mlp(20, params, n_classes)
