"""A user's own optimizer, named by reference (MODULE:CLASS or FILE.py:CLASS), runs wherever a
shipped one does: the conformance suite, tune and ask, the benchmark harness beside the shipped
ones, the Optuna sampler."""

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

import metahpo
from metahpo import Float, Int, MetaHPOError, SearchSpace
from metahpo.benchmarks.runner import load_records
from metahpo.integrations.optuna import MetaHPOSampler
from metahpo.optimizers.random import RandomSearch
from metahpo.testing import CONFORMANCE_CHECKS

EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "custom_optimizer.py")
ONE_PLUS_ONE = f"{EXAMPLE}:OnePlusOne"
QMC = "optuna.samplers:QMCSampler"
NSGA2 = "optuna.samplers:NSGAIISampler"
SPACE = SearchSpace([Float("x", -5.0, 5.0), Int("n", 1, 8)])


@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=lambda c: c.__name__)
def test_the_example_optimizer_passes_the_conformance_suite(check):
    check(ONE_PLUS_ONE)


def test_a_reference_builds_saves_and_restores_like_a_name():
    opt = metahpo.create_optimizer(ONE_PLUS_ONE, SPACE, seed=0, initial_step=0.1)
    assert type(opt).__name__ == "OnePlusOne" and opt.reference == ONE_PLUS_ONE
    for _ in range(5):
        trial = opt.ask()
        opt.tell(trial, (trial.params["x"] - 1) ** 2 + trial.params["n"])
    clone = metahpo.restore_optimizer(json.loads(json.dumps(opt.state_dict())))
    assert clone.initial_step == 0.1 and clone.ask().params == opt.ask().params
    with pytest.raises(MetaHPOError, match="has no option 'step'; its options: initial_step"):
        metahpo.create_optimizer(ONE_PLUS_ONE, SPACE, step=0.1)
    with pytest.raises(MetaHPOError, match=r"cannot import optimizer .*: .* has no class 'Nope'"):
        metahpo.create_optimizer(f"{EXAMPLE}:Nope", SPACE)
    with pytest.raises(MetaHPOError, match="'os:path' is neither a subclass of "
                                           "metahpo.Optimizer nor an Optuna sampler"):
        metahpo.create_optimizer("os:path", SPACE)
    with pytest.raises(MetaHPOError, match="or MODULE:CLASS naming a metahpo.Optimizer subclass"):
        metahpo.create_optimizer("one_plus_one", SPACE)


@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("sampler, options", [(NSGA2, {"population_size": 4}), (QMC, {})],
                         ids=["nsga2", "qmc"])
def test_an_optuna_sampler_class_passes_the_conformance_suite(check, sampler, options):
    """QMC keeps its place in the sequence in the study's attributes: a search resumed from
    trials without them repeated the first run's points."""
    check(sampler, **options)


def test_an_optuna_sampler_class_is_an_optimizer_with_its_constructors_options():
    """QMCSampler keeps its position in the sequence in the study: built anew for every
    proposal, and restored from JSON, it goes on with the same Sobol sequence (after a random
    first point, as in Optuna: the first trial has no search space to sample relative to), and
    so do asks of a study, each with an optimizer built from the study's trials (each of them
    proposed the sequence's first point again)."""
    from scipy.stats import qmc

    space = SearchSpace([Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)])
    opt = metahpo.create_optimizer(QMC, space, seed=0)
    assert type(opt).__name__ == "QMCSampler" and opt.reference == QMC
    assert metahpo.optimizer_options(QMC)["qmc_type"] == "sobol"
    points = []
    for i in range(8):
        trial = opt.ask()
        points.append([trial.params["x"], trial.params["y"]])
        opt.tell(trial, sum(points[-1]))
        if i == 3:
            opt = metahpo.restore_optimizer(json.loads(json.dumps(opt.state_dict())))
    assert points[1:] == qmc.Sobol(2, scramble=False).random(8)[:7].tolist()
    with pytest.raises(MetaHPOError, match="has no option 'nope'; its options: qmc_type"):
        metahpo.create_optimizer(QMC, space, nope=1)
    with pytest.raises(MetaHPOError, match="the sampler refused its options {'qmc_type': 'x'}"):
        metahpo.create_optimizer(QMC, space, qmc_type="x")
    study = metahpo.create_study(space, study_name="qmc")
    asked = []
    for i in range(8):  # asked two at a time: the second reads the first as pending
        asked.append(study.ask(QMC, seed=0))
        if i % 2:
            for trial in asked[-2:]:
                study.tell(trial.number, sum(trial.params.values()))
    assert [[t.params["x"], t.params["y"]] for t in asked[1:]] == points[1:]
    scrambled = metahpo.create_optimizer(QMC, space, seed=0, scramble=True)
    study = metahpo.create_study(space, study_name="scrambled")
    for _ in range(6):
        trial, asked_trial = scrambled.ask(), study.ask(QMC, seed=0, scramble=True)
        assert trial.params == asked_trial.params
        scrambled.tell(trial, sum(trial.params.values()))
        study.tell(asked_trial.number, sum(asked_trial.params.values()))
    grid = metahpo.create_optimizer("optuna.samplers:GridSampler", space, seed=0,
                                    search_space={"x": [0.0, 1.0], "y": [0.5]})
    for _ in range(3):  # past the grid's end, where GridSampler calls study.stop()
        trial = grid.ask()
        grid.tell(trial, trial.params["x"])
    assert sorted(r.params["x"] for r in grid.history[:2]) == [0.0, 1.0]
    brute = metahpo.create_optimizer("optuna.samplers:BruteForceSampler", space, seed=0)
    with pytest.raises(MetaHPOError, match="'optuna.samplers:BruteForceSampler' failed to "
                                           "propose: ValueError: FloatDistribution.step"):
        brute.ask()


class Stepper(RandomSearch):
    """Keeps a counter that the trials' values cannot give back, with each trial."""

    def __init__(self, space, **kwargs):
        super().__init__(space, **kwargs)
        self.steps = 0
        self.extra = {}

    def _proposal_attrs(self):
        self.steps += 1
        return {"steps": self.steps, **self.extra}

    def _observe(self, record):
        self.steps = max(self.steps, record.optimizer_attrs.get("steps", 0))

    def _pending_added(self, trial):
        self.steps = max(self.steps, trial.optimizer_attrs.get("steps", 0))


def test_a_users_optimizer_keeps_what_it_needs_with_its_trials_in_a_study():
    """Each ask builds the optimizer again from the study: what ``_proposal_attrs`` returned
    comes back in ``_observe`` and ``_pending_added``; what a study cannot store is refused by
    name."""
    study = metahpo.create_study(SPACE, study_name="mine")
    reference = f"{__file__}:Stepper"
    asked = [study.ask(reference, seed=0) for _ in range(3)]
    study.tell(asked[0].number, 1.0)
    asked.append(study.ask(reference, seed=0))
    assert [study.trial(t.number).optimizer_attrs for t in asked] == [
        {"steps": k} for k in (1, 2, 3, 4)]
    opt = Stepper(SPACE, seed=0)
    opt.extra = {"bad": {1, 2}}
    with pytest.raises(MetaHPOError, match=r"optimizer_attrs\['bad'\] cannot be stored with a "
                                           r"trial \(Object of type set is not JSON"):
        opt.ask()


def test_the_optuna_sampler_runs_a_users_optimizer():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=MetaHPOSampler(ONE_PLUS_ONE, seed=0))
    study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2, n_trials=30)
    assert study.best_value < 0.05


def test_tune_ask_and_bench_take_a_module_or_a_file_reference(tmp_path):
    (tmp_path / "space.yaml").write_text(SPACE.to_yaml())
    (tmp_path / "objective_mod.py").write_text(
        "def objective(params):\n    return (params['x'] - 1.0) ** 2 + params['n']\n")
    (tmp_path / "my_optimizers.py").write_text(
        "from metahpo.optimizers.random import RandomSearch\n\n"
        "class FirstCorner(RandomSearch):\n"
        "    def _propose(self):\n"
        "        if not self.history:\n"
        "            return self.space.decode([0.0] * self.space.dim)\n"
        "        return super()._propose()\n")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "metahpo", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)

    tuned = run("tune", "objective_mod:objective", "--space", "space.yaml", "--trials", "6",
                "--optimizer", "my_optimizers:FirstCorner", "--study", "s", "--seed", "0", "--quiet")
    assert tuned.returncode == 0, tuned.stderr
    study = metahpo.load_study("s", f"sqlite:///{tmp_path / 'metahpo.db'}")
    assert study.trials[0].params == {"x": -5.0, "n": 1} and len(study.trials) == 6
    asked = run("ask", "--study", "s", "--optimizer", ONE_PLUS_ONE, "--seed", "0")
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["number"] == 6

    bench = run("bench", "--tasks", "synthetic:sphere", "--dims", "3", "--instances", "1",
                "--optimizers", f"random,{ONE_PLUS_ONE},corner=my_optimizers:FirstCorner",
                "--option", "OnePlusOne.initial_step=0.3", "--budget", "8", "--seeds", "2",
                "--workers", "2", "--out", "b", "--quiet")
    assert bench.returncode == 0, bench.stderr
    records = load_records(tmp_path / "b")
    assert {r["label"] for r in records} == {"random", "OnePlusOne", "corner"}
    assert len(records) == 6
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert set(summary["optimizers"]) == {"random", "OnePlusOne", "corner"}
    qmc = run("bench", "--tasks", "synthetic:sphere", "--dims", "3", "--instances", "1",
              "--optimizers", f"qmc={QMC}", "--option", "qmc.qmc_type=halton", "--budget", "4",
              "--seeds", "1", "--out", "q", "--quiet")
    assert qmc.returncode == 0, qmc.stderr
    assert [r["label"] for r in load_records(tmp_path / "q")] == ["qmc"]
    assert "| OnePlusOne |" in (tmp_path / "b" / "summary.md").read_text()
    refused = run("bench", "--tasks", "synthetic:sphere", "--optimizers", "random",
                  "--option", "random.step=1", "--out", "c")
    assert refused.returncode == 2 and "has no option 'step'" in refused.stderr


def test_a_file_reference_is_imported_once_like_a_module(tmp_path):
    """An optimizer is built for every ask: its file's top level must run once per process, not
    each time. A file whose dataclasses use postponed annotations (they look their module up in
    sys.modules) must import at all, and a file named like a module already loaded must not
    replace that module."""
    source = (
        "from __future__ import annotations\n"
        "import pathlib\n"
        "from dataclasses import dataclass\n"
        "from metahpo.optimizers.random import RandomSearch\n\n"
        "pathlib.Path(__file__).with_suffix('.log').open('a').write('imported\\n')\n\n"
        "@dataclass\n"
        "class Settings:\n"
        "    corner: float = 0.0\n\n"
        "class Corner(RandomSearch):\n"
        "    def _propose(self):\n"
        "        if not self.history:\n"
        "            return self.space.decode([Settings().corner] * self.space.dim)\n"
        "        return super()._propose()\n")
    for name in ("corner_optimizer", "json"):
        (tmp_path / f"{name}.py").write_text(source)
        study = metahpo.create_study(SPACE)
        for _ in range(3):
            trial = study.ask(f"{tmp_path / name}.py:Corner", seed=0)
            study.tell(trial.number, trial.params["x"] ** 2)
        assert study.trials[0].params == {"x": -5.0, "n": 1}
        assert (tmp_path / f"{name}.log").read_text() == "imported\n"
    assert sys.modules["json"] is json and json.loads("[1]") == [1]
