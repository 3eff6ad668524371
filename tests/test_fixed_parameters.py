"""Parameters with one possible value: every trial gets it, and no optimizer searches it."""

import json
import shlex
import sys

import pytest

import metahpo
from metahpo import Categorical, Condition, Float, Int, MetaHPOError, SearchSpace
from metahpo.optimizers.fixed_parameters import split_fixed
from tests.command_line import run

PYTHON = shlex.quote(sys.executable)
FREE = [Float("lr", 1e-4, 1e-1, log=True), Int("layers", 1, 4), Float("dropout", 0.0, 0.5)]
PINNED = [Int("epochs", 10, 10), Float("momentum", 0.9, 0.9), Categorical("opt", ["adam"]),
          Float("wd", 1e-4, 1e-4, log=True)]


def loss(params):
    return ((params["lr"] - 0.01) ** 2 * 1e4 + (params["layers"] - 3) ** 2
            + (params["dropout"] - 0.2) ** 2)


@pytest.mark.parametrize("optimizer", ["meta", "tpe", "random"])
def test_a_fixed_parameter_changes_no_proposal_of_the_others(optimizer):
    """The optimizer searches the free parameters alone: the same seed proposes the same
    values for them as in the space without the fixed ones, and each trial gets the fixed
    values (in the space's order)."""
    pinned = SearchSpace(PINNED[:2] + FREE[:2] + PINNED[2:] + FREE[2:])
    plain = metahpo.tune(loss, SearchSpace(FREE), optimizer=optimizer, n_trials=12, seed=3,
                         show_progress=False)
    fixed = metahpo.tune(loss, pinned, optimizer=optimizer, n_trials=12, seed=3,
                         show_progress=False)
    for a, b in zip(plain.trials, fixed.trials):
        assert list(b.params) == pinned.names
        assert {k: b.params[k] for k in a.params} == a.params
        assert (b.params["epochs"], b.params["momentum"], b.params["opt"], b.params["wd"]) == (
            10, 0.9, "adam", 1e-4)
        assert isinstance(b.params["epochs"], int)


def test_the_children_of_a_fixed_parent_are_always_active():
    space = SearchSpace([Categorical("model", ["mlp"]), Int("units", 16, 256, log=True),
                         Int("depth", 1, 4), Int("width", 8, 8),
                         Float("lr", 1e-4, 1e-1, log=True)],
                        conditions={"units": Condition("model", "mlp"),
                                    "width": Condition("depth", [3, 4])})
    free, fixed = split_fixed(space)
    assert free == SearchSpace([Int("units", 16, 256, log=True), Int("depth", 1, 4),
                                Float("lr", 1e-4, 1e-1, log=True)])
    assert fixed == {"model": "mlp", "width": 8}
    study = metahpo.tune(lambda p: p["lr"] * p["units"], space, optimizer="random",
                         n_trials=12, seed=0, show_progress=False)
    for t in study.trials:
        assert list(t.params) == [n for n in space.names
                                  if n != "width" or t.params["depth"] >= 3]


def test_a_space_of_fixed_parameters_only_runs_its_one_configuration():
    study = metahpo.tune(lambda p: float(p["epochs"]), SearchSpace(PINNED), n_trials=3, seed=0,
                         show_progress=False)
    assert [t.params for t in study.trials] == [
        {"epochs": 10, "momentum": 0.9, "opt": "adam", "wd": 1e-4}] * 3


def test_a_space_of_fixed_parameters_only_still_checks_the_optimizer_and_its_options():
    space = SearchSpace(PINNED)
    with pytest.raises(MetaHPOError, match="unknown optimizer 'nope'"):
        metahpo.tune(lambda p: 1.0, space, optimizer="nope", n_trials=1, show_progress=False)
    with pytest.raises(MetaHPOError, match="optimizer 'grid' has no option 'resolutoin'"):
        metahpo.tune(lambda p: 1.0, space, optimizer="grid", n_trials=1, show_progress=False,
                     resolutoin=3)


def test_several_objectives_resume_and_parallel_jobs_with_fixed_parameters(tmp_path):
    """The wrapper keeps an optimizer in step with a stored study: a resumed run reads the
    first run's trials, threads propose around each other's pending trials."""
    space = SearchSpace(FREE + PINNED)
    url = f"sqlite:///{tmp_path / 's.db'}"
    for n_trials in (6, 12):
        study = metahpo.tune(lambda p: (loss(p), p["layers"] * 1.0), space, n_trials=n_trials,
                             directions=["minimize", "minimize"], storage=url, study_name="mo",
                             seed=0, show_progress=False, n_jobs=2)
    # two jobs may both start a last trial, as with any trials (see test_tuning)
    assert 12 <= len(study.trials) <= 13 and study.best_trials
    assert all(t.params["epochs"] == 10 for t in study.trials)
    assert len({(t.params["lr"], t.params["layers"]) for t in study.trials}) == len(study.trials)


def test_equal_bounds_fix_a_parameter_and_greater_ones_are_refused():
    assert Float("x", 1.0, 1.0).decode(0.7) == 1.0 and Float("x", 1.0, 1.0).encode(1.0) == 0.5
    assert Int("n", 4, 4, log=True).decode(0.2) == 4
    with pytest.raises(MetaHPOError, match="low must not exceed high, got low=2.0 high=1.0"):
        Float("x", 2.0, 1.0)


def test_a_space_file_pins_a_parameter_for_the_command_line(tmp_path):
    (tmp_path / "space.yaml").write_text(
        "lr: {type: float, low: 1.0e-4, high: 0.1, log: true}\n"
        "epochs: {type: int, low: 5, high: 5}\n")
    (tmp_path / "train.py").write_text(
        "import sys\nassert sys.argv[2] == '5', sys.argv\nprint(float(sys.argv[1]))\n")
    out = run(tmp_path, "tune", "--command", f"{PYTHON} train.py {{lr}} {{epochs}}", "--space",
              "space.yaml", "--trials", "4", "--study", "pinned", "--quiet")
    assert out.returncode == 0, out.stderr
    assert "4 complete" in out.stdout
    asked = run(tmp_path, "ask", "--study", "pinned")
    assert json.loads(asked.stdout)["params"]["epochs"] == 5
