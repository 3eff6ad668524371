"""Tasks: the YAHPO lcbench surrogate, synthetic families, real trainings, regret bounds."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from metahpo import MetaHPOError
from metahpo.tasks.bounds import task_bounds
from metahpo.tasks.registry import LCBENCH_TEST, make_tasks
from metahpo.tasks.synthetic import SyntheticTask
from metahpo.tasks.yahpo import ENV_VAR, YahpoScenario, yahpo_data_path
from metahpo.tasks.yahpo_conditions import ActiveRules


@pytest.fixture(scope="module")
def lcbench():
    return YahpoScenario("lcbench")


def test_lcbench_space_instances_and_split(lcbench):
    assert lcbench.space.names == ["batch_size", "learning_rate", "max_dropout", "max_units",
                                   "momentum", "num_layers", "weight_decay"]
    assert len(lcbench.instances) == 34
    tasks = make_tasks("yahpo:lcbench", instances="test")
    assert [t.instance for t in tasks] == [i for i in lcbench.instances if i in LCBENCH_TEST]
    assert len(make_tasks("yahpo:lcbench", instances="train")) == 23
    assert tasks[0].direction == "maximize" and tasks[0].target == "val_accuracy"


def test_lcbench_surrogate_is_batched_consistent_and_plausible(lcbench):
    task = lcbench.task("7593")
    u = np.random.default_rng(0).random((64, 7))
    batch = task.evaluate_unit(u)
    single = [task.evaluate(task.space.decode(row)) for row in u[:5]]
    np.testing.assert_allclose(batch[:5], single, rtol=1e-5)
    assert np.all((batch >= 0) & (batch <= 100)) and batch.std() > 1.0
    other = lcbench.task("189906").evaluate_unit(u)
    assert not np.allclose(batch, other), "the instance code does not reach the surrogate"
    lower_epoch = lcbench.predict(u, "7593", {"epoch": 5})[:, lcbench.meta.targets.index("val_accuracy")]
    assert not np.allclose(batch, lower_epoch), "the fidelity does not reach the surrogate"


def test_lcbench_learning_curve_is_the_surrogate_after_each_epoch(lcbench):
    task = lcbench.task("7593")
    params = task.space.decode(np.full(7, 0.4))
    curve = task.learning_curve(params)
    column = lcbench.meta.targets.index("val_accuracy")
    u = task.space.encode(params)[None, :]
    assert curve.shape == (52,)
    assert curve[-1] == pytest.approx(task.evaluate(params), rel=1e-6)
    assert curve[4] == pytest.approx(lcbench.predict(u, "7593", {"epoch": 5})[0, column], rel=1e-6)
    assert curve[:5].std() > 0.1, "the curve does not change with the epoch"


def test_yahpo_errors_name_the_problem(tmp_path, monkeypatch, lcbench):
    with pytest.raises(MetaHPOError, match="has no instance '42'"):
        lcbench.task("42")
    with pytest.raises(MetaHPOError, match="has no target 'f1'"):
        lcbench.task("7593", target="f1")
    with pytest.raises(MetaHPOError, match="unknown YAHPO scenario 'nope'"):
        YahpoScenario("nope")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(MetaHPOError, match="YAHPO data folder not found"):
        yahpo_data_path()
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(MetaHPOError, match="missing .*rbv2_xgboost"):
        YahpoScenario("rbv2_xgboost")


FAKE_YAHPO = Path(__file__).resolve().parent / "data" / "yahpo_fake"


def test_a_conditional_scenario_masks_inactive_parameters_as_yahpo_does():
    """The stand-in for rbv2_svm (tests/data/yahpo_fake): its surrogate penalizes a value
    passed for a parameter the kernel leaves inactive, as a model fitted on YAHPO's masked
    inputs answers arbitrarily there; the fidelities and the nine targets reach it."""
    svm = YahpoScenario("rbv2_svm", FAKE_YAHPO)
    assert sorted(svm.space.names) == ["cost", "degree", "gamma", "kernel",
                                       "num.impute.selected.cpo", "tolerance"]
    assert {c: (cond.parent, cond.values) for c, cond in svm.space.conditions.items()} == {
        "degree": ("kernel", ("polynomial",)), "gamma": ("kernel", ("radial",))}
    assert svm.fidelity_max() == {"trainsize": 1.0, "repl": 10}
    task = svm.task("37")
    names = svm.space.names
    base = {"cost": 20.0, "kernel": "linear", "num.impute.selected.cpo": "impute.mean",
            "tolerance": 0.01}

    def unit(kernel, gamma_u, degree_u):
        """A unit-cube point: ``kernel``'s configuration with values for every parameter."""
        params = dict(base, kernel=kernel)
        params.update({"gamma": 0.1} if kernel == "radial" else
                      {"degree": 3} if kernel == "polynomial" else {})
        u = svm.space.encode(params)
        u[names.index("gamma")], u[names.index("degree")] = gamma_u, degree_u
        return u

    linear = task.evaluate_unit(np.array([unit("linear", g, d) for g in (0.2, 0.9)
                                          for d in (0.1, 0.9)]))
    assert len(set(linear)) == 1 and linear[0] > 0.8, "gamma / degree reached a linear kernel"
    radial = task.evaluate_unit(np.array([unit("radial", g, d) for g in (0.4, 0.55)
                                          for d in (0.1, 0.9)]))
    assert radial[0] == radial[1] != radial[2] == radial[3] and max(radial) > 0.9
    assert task.evaluate(dict(base, kernel="radial", gamma=0.1)) == pytest.approx(
        task.evaluate_unit(svm.space.encode(dict(base, kernel="radial", gamma=0.1))[None])[0])
    assert svm.predict(task.space.encode(base)[None, :], "37").shape == (1, 9)
    assert svm.task("37", target="f1").direction == "maximize"
    assert svm.task("37", target="memory").direction == "minimize"


def test_a_surrogate_of_another_yahpo_release_is_refused_by_name(tmp_path):
    """rbv2_glmnet's surrogate takes 4 continuous inputs: one with 6 is of another release."""
    shutil.copytree(FAKE_YAHPO / "rbv2_svm", tmp_path / "rbv2_glmnet")
    glmnet = YahpoScenario("rbv2_glmnet", tmp_path)
    with pytest.raises(MetaHPOError, match="its surrogate .* has 6 continuous inputs, where "
                                           "metahpo's description of the scenario .* has 4: "
                                           "alpha, s, trainsize, repl; the data folder is of "
                                           "another YAHPO release"):
        glmnet.task("37").evaluate_unit(np.full((1, glmnet.space.dim), 0.5))


def test_condition_rules_read_nesting_conjunctions_and_comparisons():
    document = {"conditions": [
        {"child": "booster", "parent": "learner", "type": "EQ", "value": "xgboost"},
        {"child": "rate_drop", "parent": "booster", "type": "IN", "values": ["dart"]},
        {"type": "AND", "conditions": [
            {"child": "gamma", "parent": "learner", "type": "NEQ", "value": "ranger"},
            {"child": "gamma", "parent": "depth", "type": "GT", "value": 2}]},
        {"type": "OR", "conditions": [
            {"child": "eta", "parent": "depth", "type": "LT", "value": 2},
            {"child": "eta", "parent": "booster", "type": "EQ", "value": "gbtree"}]}]}
    rules = ActiveRules(document)
    assert rules.conditional.index("booster") < rules.conditional.index("rate_drop")
    values = {"learner": np.array(["xgboost", "xgboost", "ranger", "svm"]),
              "booster": np.array(["dart", "gbtree", "dart", "gbtree"]),
              "depth": np.array([1.0, 3.0, 3.0, 5.0])}
    active = rules.active(values, 4)
    assert active["booster"].tolist() == [True, True, False, False]
    assert active["rate_drop"].tolist() == [True, False, False, False], "its parent is inactive"
    assert active["gamma"].tolist() == [False, True, False, True]
    assert active["eta"].tolist() == [True, True, False, False]
    with pytest.raises(MetaHPOError, match="cycle through"):
        ActiveRules({"conditions": [{"child": "a", "parent": "b", "type": "EQ", "value": 1},
                                    {"child": "b", "parent": "a", "type": "EQ", "value": 1}]})
    with pytest.raises(MetaHPOError, match="condition type 'LIKE'"):
        ActiveRules({"conditions": [{"child": "a", "parent": "b", "type": "LIKE", "value": 1}]})


def test_synthetic_families_are_seeded_and_have_a_basin():
    for family in ("sphere", "gp", "rosenbrock"):
        a, b = SyntheticTask(family, 4, 7), SyntheticTask(family, 4, 7)
        u = np.random.default_rng(0).random((100, 4))
        np.testing.assert_array_equal(a.evaluate_unit(u), b.evaluate_unit(u))
        if family != "gp":  # the GP draw's own wiggles may dip below its bowl's centre
            assert a.evaluate_unit(a.optimum[None, :])[0] <= a.evaluate_unit(u).min()
    assert not np.allclose(SyntheticTask("gp", 4, 7).evaluate_unit(u), SyntheticTask("gp", 4, 8).evaluate_unit(u))


def test_bounds_beat_plain_random_sampling_and_are_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("METAHPO_CACHE", str(tmp_path))
    task = SyntheticTask("gp", 5, 3)
    strong = task_bounds(task, n_random=5000)
    u = np.random.default_rng(1).random((5000, 5))
    assert strong.best <= task.evaluate_unit(u).min()
    assert list(tmp_path.rglob("*.json"))
    assert task_bounds(task, n_random=5000) == strong
    assert strong.regret(np.array([strong.best, strong.worst, strong.worst + 1])).tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize("spec, epochs", [("tabular", 2), ("digits", 2), ("mnist1d", 1)])
def test_real_trainings_learn_something(spec, epochs):
    task = make_tasks(spec)[0]
    task.epochs = epochs
    params = {"learning_rate": 3e-3, "batch_size": 64, "depth": 1, "width": 32, "dropout": 0.0,
              "weight_decay": 1e-5, "optimizer": "adam"}
    val = task.evaluate(params)
    chance = {"tabular": 1 / 3, "digits": 0.1, "mnist1d": 0.1}[spec]
    assert val > chance + 0.15, f"{spec}: validation accuracy {val} is near chance"
    assert 0.0 <= task.test_score(params) <= 1.0
    diverged = dict(params, learning_rate=0.1, optimizer="sgd", weight_decay=1e-2)
    assert 0.0 <= task.evaluate(diverged) <= 1.0
