"""Every registered optimizer passes the conformance suite of metahpo.testing."""

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest

from metahpo import available_optimizers
from metahpo.optimizers import registry
from metahpo.optimizers.random import RandomSearch
from metahpo.testing import (
    CONFORMANCE_CHECKS,
    check_pending_trials,
    check_same_seed_same_sequence,
    check_trials_from_elsewhere,
)

# Options that make an optimizer leave its random start-up phase within the suite's small budgets
# (or that it needs to run at all): one entry per optimizer that needs any.
OPTIONS: dict[str, dict] = {
    "tpe": {"n_startup_trials": 3},
    "gp": {"n_startup_trials": 6},
    "cmaes": {"n_startup_trials": 2},
    "evolution": {"population_size": 4, "tournament_size": 2},
    "rl": {"update_every": 3, "update_window": 4, "random_design": 2},
    "portfolio": {"portfolio": lambda space: _portfolio_file(space)},
}


def _portfolio_file(space):
    """A three-entry portfolio for ``space`` in a temporary file."""
    folder = Path(tempfile.mkdtemp(prefix="metahpo-portfolio-"))
    rng = np.random.default_rng(0)
    configs = [space.decode(u) for u in rng.random((3, space.dim))]
    path = folder / "portfolio.json"
    path.write_text(json.dumps({"space": space.to_dict(), "configs": configs}))
    return str(path)


def test_foundation_optimizers_are_registered():
    assert {"random", "grid"} <= set(available_optimizers())


@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", available_optimizers())
def test_conformance(name, check):
    check(name, **OPTIONS.get(name, {}))


@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("inner", ["meta", "tpe"])
def test_the_fixed_parameters_wrapper_keeps_the_contract(inner, check):
    """The wrapper that keeps fixed parameters from the optimizer of a study passes the suite
    itself, whatever the optimizer it wraps."""
    check("metahpo.optimizers.fixed_parameters:FixedParameters", optimizer=inner,
          options=OPTIONS.get(inner, {}))


class _IgnoresSeed(RandomSearch):
    def _propose(self):
        return self.space.decode(np.random.default_rng().random(self.space.dim))


class _RepeatsPending(RandomSearch):
    def _propose(self):
        return self.space.decode(np.full(self.space.dim, 0.5))


class _ReplaysDraws(RandomSearch):
    def restart_draws(self, key):
        pass


@pytest.mark.parametrize(
    "cls, check",
    [(_IgnoresSeed, check_same_seed_same_sequence), (_RepeatsPending, check_pending_trials),
     (_ReplaysDraws, check_trials_from_elsewhere)],
)
def test_the_suite_catches_broken_optimizers(monkeypatch, cls, check):
    monkeypatch.setattr(registry, "optimizer_class", lambda name: cls)
    with pytest.raises(AssertionError):
        check("broken")
