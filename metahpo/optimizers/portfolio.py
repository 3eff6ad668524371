"""Zero-shot transfer: propose a fixed, ordered portfolio of configurations.

A greedy portfolio (built by ``metahpo portfolio build`` on training tasks) lists
configurations in the order that most lowers the mean normalized regret of the portfolio so far
across the training tasks. On a new task it is proposed in that order, ignoring feedback; after
the last entry, proposals are uniform random. It is the strongest simple meta-learning baseline:
a learned optimizer that does not beat it has not earned its complexity.

Portfolio files are JSON: ``{"space": {...}, "configs": [{name: value}, ...], "built_from":
[task names], "command": "..."}``. ``portfolio`` is a path or a shipped name (``"lcbench"``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from metahpo.errors import MetaHPOError
from metahpo.optimizers.base import Optimizer
from metahpo.space import SearchSpace


def shipped_portfolio_path(name: str) -> Path:
    folder = Path(__file__).resolve().parents[1] / "portfolios"
    return folder / f"{name}.json"


def load_portfolio(ref: str | Path) -> dict[str, Any]:
    """Read a portfolio file by path or shipped name."""
    path = Path(ref)
    if not path.exists() and not str(ref).endswith(".json"):
        path = shipped_portfolio_path(str(ref))
    if not path.is_file():
        raise MetaHPOError(f"portfolio {str(ref)!r} not found (a .json path or a shipped name)")
    try:
        data = json.loads(path.read_text())
        data["space"], data["configs"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise MetaHPOError(f"{str(path)!r} is not a portfolio file: {exc}") from None
    return data


class Portfolio(Optimizer):
    """Propose a greedy portfolio in order, then random configurations.

    Options:
        portfolio: path of a portfolio JSON file or a shipped name; required.
    """

    name = "portfolio"

    def __init__(self, space: SearchSpace, *, portfolio: str | None = None, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        if portfolio is None:
            raise MetaHPOError("the portfolio optimizer needs portfolio=PATH (see 'metahpo portfolio build')")
        data = load_portfolio(portfolio)
        if SearchSpace.from_dict(data["space"]) != space:
            raise MetaHPOError(f"portfolio {portfolio!r} was built for another search space")
        self.configs = [dict(c) for c in data["configs"]]
        for c in self.configs:
            space.validate(c)
        self.configs = [c for c in self.configs if space.forbids(c) is None]

    def _propose(self) -> dict[str, Any]:
        used = self._next_number
        if used < len(self.configs):
            return dict(self.configs[used])
        return self.space.decode(self.space.sample_unit(self._rng, 1)[0])
