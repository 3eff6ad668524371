"""Conditional parameters: the space's rules and files, and every layer that carries a
configuration (optimizers, tune with a SQLite study, the CLI) keeping only active parameters."""

import json
import subprocess
import sys

import numpy as np
import pytest

import metahpo
from metahpo import Categorical, Condition, Float, Int, MetaHPOError, SearchSpace, create_optimizer
from metahpo.testing import conditional_space


def _space() -> SearchSpace:
    return SearchSpace(
        [Categorical("optimizer", ["adam", "sgd"]), Float("momentum", 0.0, 0.99),
         Float("lr", 1e-4, 1e-1, log=True)],
        conditions={"momentum": Condition("optimizer", "sgd")},
    )


def test_decode_leaves_inactive_parameters_out_and_encode_puts_the_middle_there():
    space = _space()
    assert space.decode([0.2, 0.7, 0.5]) == {"optimizer": "adam", "lr": pytest.approx(10 ** -2.5)}
    sgd = space.decode([0.8, 0.7, 0.5])
    assert list(sgd) == ["optimizer", "momentum", "lr"]
    np.testing.assert_allclose(space.encode({"optimizer": "adam", "lr": 0.01}),
                               [0.25, 0.5, space.encode({"optimizer": "adam", "lr": 0.01})[2]])
    assert space.active_names({"optimizer": "sgd"}) == ["optimizer", "momentum", "lr"]
    assert space.missing({"optimizer": "sgd", "lr": 0.01}) == ["momentum"]
    assert space.missing({"optimizer": "adam", "lr": 0.01}) == []


def test_snap_is_encode_of_decode_with_nested_conditions():
    space = conditional_space()
    u = np.random.default_rng(0).random((300, space.dim))
    expected = np.stack([space.encode(space.decode(row)) for row in u])
    np.testing.assert_allclose(space.snap(u), expected, atol=1e-9)
    decoded = [space.decode(row) for row in u]
    assert any("warmup_epochs" in d for d in decoded)
    for d in decoded:
        assert ("warmup_epochs" in d) == (d["optimizer"] == "sgd" and d["warmup"] is True)
        assert ("width3" in d) == (d["layers"] == 3)


def test_validate_names_missing_and_inactive_parameters():
    space = _space()
    space.validate({"optimizer": "sgd", "momentum": 0.9, "lr": 0.01})
    with pytest.raises(MetaHPOError, match=r"missing \['momentum'\]"):
        space.validate({"optimizer": "sgd", "lr": 0.01})
    with pytest.raises(MetaHPOError, match=r"\['momentum'\] are inactive.*'optimizer' is one of \['sgd'\]"):
        space.validate({"optimizer": "adam", "momentum": 0.9, "lr": 0.01})
    with pytest.raises(MetaHPOError, match="outside"):
        space.validate({"optimizer": "nadam", "momentum": 0.9, "lr": 0.01})


@pytest.mark.parametrize("conditions, message", [
    ({"lr": Condition("momentum", 0.5)}, "continuous"),
    ({"optimizer": Condition("lr", 0.01)}, "listed before"),
    ({"momentum": Condition("solver", "sgd")}, "unknown parent 'solver'"),
    ({"momentum": Condition("optimizer", ["sgd", "nadam"])}, r"\['nadam'\] are not values"),
    ({"width": Condition("optimizer", "sgd")}, "no parameter of that name"),
    ({"momentum": {"optimizer": "sgd", "lr": 0.1}}, "its parent 'lr' must be listed before"),
    ({"momentum": {}}, "active_if must name its parents and their values"),
])
def test_bad_conditions_name_the_problem(conditions, message):
    params = [Categorical("optimizer", ["adam", "sgd"]), Float("momentum", 0.0, 0.99),
              Float("lr", 1e-4, 1e-1, log=True)]
    with pytest.raises(MetaHPOError, match=message):
        SearchSpace(params, conditions=conditions)


def test_space_files_round_trip_active_if(tmp_path):
    space = conditional_space()
    for name in ("space.yaml", "space.json"):
        space.save(tmp_path / name)
        assert SearchSpace.from_file(tmp_path / name) == space
    (tmp_path / "hand.yaml").write_text(
        "optimizer: {type: categorical, choices: [adam, sgd]}\n"
        "momentum: {type: float, low: 0.0, high: 0.99, active_if: {optimizer: sgd}}\n")
    assert SearchSpace.from_file(tmp_path / "hand.yaml").conditions == {
        "momentum": Condition("optimizer", ["sgd"])}
    assert SearchSpace.from_file(tmp_path / "hand.yaml") != SearchSpace(
        [Categorical("optimizer", ["adam", "sgd"]), Float("momentum", 0.0, 0.99)])


def test_configspace_eq_and_in_conditions_are_read_with_parents_first():
    document = {
        "hyperparameters": [
            {"name": "gamma", "type": "uniform_float", "lower": 1e-4, "upper": 1.0, "log": True},
            {"name": "degree", "type": "uniform_int", "lower": 2, "upper": 5},
            {"name": "kernel", "type": "categorical", "choices": ["linear", "poly", "rbf"]},
        ],
        "conditions": [
            {"child": "gamma", "parent": "kernel", "type": "IN", "values": ["poly", "rbf"]},
            {"child": "degree", "parent": "kernel", "type": "EQ", "value": "poly"},
        ],
    }
    space = SearchSpace.from_configspace(document)
    assert space.names == ["kernel", "gamma", "degree"]
    assert SearchSpace.from_configspace(json.dumps(document)) == space, "a JSON text, however long"
    assert space.decode([0.1, 0.5, 0.5]) == {"kernel": "linear"}
    assert SearchSpace.from_configspace(document, ignore_conditions=True).names == [
        "gamma", "degree", "kernel"]
    document["conditions"].append({"child": "gamma", "parent": "kernel", "type": "NEQ",
                                   "value": "rbf"})
    assert SearchSpace.from_configspace(document).conditions["gamma"] == Condition(
        "kernel", ["poly"]), "two conditions on one child must both hold"
    document["conditions"][-1] = {"child": "gamma", "parent": "degree", "type": "GT", "value": 2}
    assert SearchSpace.from_configspace(document).conditions["gamma"] == Condition(
        {"kernel": ["poly", "rbf"], "degree": [3, 4, 5]})
    document["conditions"].pop()
    document["forbiddens"] = [{"name": "degree", "type": "EQUALS", "value": 5}]
    assert SearchSpace.from_configspace(document).forbidden == [{"degree": [5]}]


def test_configspace_conditions_on_one_parent_become_the_values_they_allow():
    """ConfigSpace's other condition types and its conjunctions, as scikit-learn SVM and
    network-depth spaces write them, read as the parent values under which the child is active."""
    hyperparameters = [
        {"name": "kernel", "type": "categorical", "choices": ["linear", "poly", "rbf", "sigmoid"]},
        {"name": "depth", "type": "ordinal", "sequence": ["shallow", "medium", "deep"]},
        {"name": "layers", "type": "uniform_int", "lower": 1, "upper": 64, "log": True},
        {"name": "coef0", "type": "uniform_float", "lower": 0.0, "upper": 1.0},
        {"name": "gamma", "type": "uniform_float", "lower": 1e-4, "upper": 1.0, "log": True},
        {"name": "skip", "type": "categorical", "choices": [True, False]},
        {"name": "width_3", "type": "uniform_int", "lower": 8, "upper": 64},
        {"name": "lr", "type": "uniform_float", "lower": 1e-4, "upper": 1.0, "log": True},
    ]
    conditions = [
        {"child": "coef0", "type": "OR", "conditions": [
            {"child": "coef0", "parent": "kernel", "type": "EQ", "value": "poly"},
            {"child": "coef0", "parent": "kernel", "type": "EQ", "value": "sigmoid"}]},
        {"child": "gamma", "parent": "kernel", "type": "NEQ", "value": "linear"},
        {"child": "skip", "parent": "depth", "type": "GT", "value": "shallow"},
        {"child": "width_3", "type": "AND", "conditions": [
            {"child": "width_3", "parent": "layers", "type": "GT", "value": 2},
            {"child": "width_3", "parent": "layers", "type": "LT", "value": 5}]},
    ]
    space = SearchSpace.from_configspace({"hyperparameters": hyperparameters,
                                          "conditions": conditions})
    assert space.conditions == {
        "coef0": Condition("kernel", ["poly", "sigmoid"]),
        "gamma": Condition("kernel", ["poly", "rbf", "sigmoid"]),
        "skip": Condition("depth", ["medium", "deep"]),
        "width_3": Condition("layers", [3, 4]),
    }
    assert set(space.active_names({"kernel": "rbf", "depth": "shallow", "layers": 4})) == {
        "kernel", "depth", "layers", "gamma", "width_3", "lr"}

    def refusal(condition: dict) -> str:
        with pytest.raises(MetaHPOError) as caught:
            SearchSpace.from_configspace({"hyperparameters": hyperparameters,
                                          "conditions": [condition]})
        return str(caught.value)

    either = SearchSpace.from_configspace({"hyperparameters": hyperparameters, "conditions": [
        {"child": "lr", "type": "OR", "conditions": [
            {"child": "lr", "parent": "kernel", "type": "EQ", "value": "poly"},
            {"child": "lr", "type": "AND", "conditions": [
                {"child": "lr", "parent": "depth", "type": "EQ", "value": "deep"},
                {"child": "lr", "parent": "layers", "type": "LT", "value": 3}]}]}]})
    assert either.conditions == {"lr": Condition([{"kernel": "poly"},
                                                  {"depth": "deep", "layers": [1, 2]}])}
    on_two = SearchSpace.from_configspace({"hyperparameters": hyperparameters, "conditions": [
        {"child": "lr", "type": "AND", "conditions": [
            {"child": "lr", "parent": "kernel", "type": "NEQ", "value": "linear"},
            {"child": "lr", "parent": "depth", "type": "EQ", "value": "deep"}]}]})
    assert on_two.conditions == {"lr": Condition({"kernel": ["poly", "rbf", "sigmoid"],
                                                  "depth": ["deep"]})}
    assert "its parent 'coef0' is continuous" in refusal(
        {"child": "lr", "parent": "coef0", "type": "GT", "value": 0.5})
    assert "'huge' is not a value of its parent 'depth'" in refusal(
        {"child": "lr", "parent": "depth", "type": "LT", "value": "huge"})
    assert "no value of 'layers' meets it, so the parameter would never be active" in refusal(
        {"child": "lr", "parent": "layers", "type": "LT", "value": 1})
    assert "conditions on 'kernel' share no value, so it would never be active" in refusal(
        {"child": "lr", "type": "AND", "conditions": [
            {"child": "lr", "parent": "kernel", "type": "EQ", "value": "poly"},
            {"child": "lr", "parent": "kernel", "type": "EQ", "value": "rbf"}]})
    assert "unknown parent 'optimizer'" in refusal(
        {"child": "lr", "parent": "optimizer", "type": "NEQ", "value": "sgd"})
    assert "'XOR' on 'lr' is not supported" in refusal({"child": "lr", "type": "XOR"})


def _mlp_or_cnn() -> SearchSpace:
    """``units_3``: the width of an MLP's third layer, so active only for an MLP of 3 or more
    layers; ``kernel``: a CNN's."""
    return SearchSpace(
        [Categorical("model", ["mlp", "cnn"]), Int("layers", 1, 4),
         Categorical("units_3", [64, 128, 256]), Categorical("kernel", [3, 5])],
        conditions={"units_3": Condition({"model": "mlp", "layers": [3, 4]}),
                    "kernel": Condition("model", "cnn")})


def test_a_condition_on_several_parents_holds_where_all_of_them_do(tmp_path):
    space = _mlp_or_cnn()
    assert space.active_names({"model": "mlp", "layers": 3}) == ["model", "layers", "units_3"]
    assert space.active_names({"model": "mlp", "layers": 2}) == ["model", "layers"]
    assert space.active_names({"model": "cnn", "layers": 4}) == ["model", "layers", "kernel"]
    assert len(space.all_configurations(1000)) == 2 + 2 * 3 + 4 * 2
    with pytest.raises(MetaHPOError, match=r"\['units_3'\] are inactive in this configuration "
                                           r"\(active 'units_3' only when 'model' is one of "
                                           r"\['mlp'\] and 'layers' is one of \[3, 4\]\)"):
        space.validate({"model": "mlp", "layers": 2, "units_3": 64})
    (tmp_path / "space.yaml").write_text(space.to_yaml())
    assert "  active_if:\n    model: [mlp]\n    layers: [3, 4]\n" in space.to_yaml()
    assert SearchSpace.from_file(tmp_path / "space.yaml") == space
    assert repr(space.conditions["units_3"]) == "Condition({'model': ['mlp'], 'layers': [3, 4]})"
    with pytest.raises(MetaHPOError, match="has several parents; read its terms"):
        space.conditions["units_3"].parent
    with pytest.raises(MetaHPOError, match="its parent 'layers' must be listed before it"):
        SearchSpace([Categorical("model", ["mlp", "cnn"]), Categorical("units_3", [64, 128]),
                     Int("layers", 1, 4)],
                    conditions={"units_3": {"model": "mlp", "layers": [3, 4]}})
    with pytest.raises(MetaHPOError, match="either a parent and its values or a mapping"):
        Condition({"model": "mlp"}, "cnn")


@pytest.mark.parametrize("name", ["grid", "meta", "tpe", "random"])
def test_optimizers_propose_the_children_of_several_parents_where_all_hold(name):
    space = _mlp_or_cnn()
    opt = create_optimizer(name, space, seed=0)
    for _ in range(16):
        trial = opt.ask()
        space.validate(trial.params)
        opt.tell(trial, -trial.params.get("units_3", 0) - trial.params["layers"])
    assert any("units_3" in r.params for r in opt.history)
    fixed = SearchSpace([Categorical("model", ["mlp"]), *list(space.parameters)[1:3]],
                        conditions={"units_3": {"model": "mlp", "layers": [3, 4]}})
    study = metahpo.tune(lambda p: -p.get("units_3", 0), fixed, optimizer=name, n_trials=6,
                         seed=0, show_progress=False)
    assert all(("units_3" in t.params) == (t.params["layers"] >= 3) for t in study.trials)


def _deep_or_wide() -> SearchSpace:
    """``units_3``: the width of a third layer, which an MLP has from 3 layers on and the wide
    model always has."""
    return SearchSpace(
        [Categorical("model", ["mlp", "wide"]), Int("layers", 1, 4),
         Categorical("units_3", [64, 128, 256])],
        conditions={"units_3": Condition([{"model": "mlp", "layers": [3, 4]},
                                          {"model": "wide"}])})


def test_an_either_or_condition_holds_where_one_of_its_alternatives_does(tmp_path):
    space = _deep_or_wide()
    assert space.active_names({"model": "mlp", "layers": 3}) == ["model", "layers", "units_3"]
    assert space.active_names({"model": "mlp", "layers": 2}) == ["model", "layers"]
    assert space.active_names({"model": "wide", "layers": 1}) == ["model", "layers", "units_3"]
    assert len(space.all_configurations(1000)) == 2 + 2 * 3 + 4 * 3
    with pytest.raises(MetaHPOError, match=r"only when \('model' is one of \['mlp'\] and "
                                           r"'layers' is one of \[3, 4\]\) or \('model' is one "
                                           r"of \['wide'\]\)"):
        space.validate({"model": "mlp", "layers": 2, "units_3": 64})
    assert ("  active_if:\n  - model: [mlp]\n    layers: [3, 4]\n  - model: [wide]\n"
            in space.to_yaml())
    (tmp_path / "space.yaml").write_text(space.to_yaml())
    assert SearchSpace.from_file(tmp_path / "space.yaml") == space
    assert repr(space.conditions["units_3"]) == (
        "Condition([{'model': ['mlp'], 'layers': [3, 4]}, {'model': ['wide']}])")
    with pytest.raises(MetaHPOError, match="is an either-or; read its alternatives"):
        space.conditions["units_3"].terms
    with pytest.raises(MetaHPOError, match="parameter 'units_3': an either-or condition lists "
                                           "mappings \\{parent: values\\}, one per "
                                           "alternative; got 'wide'"):
        SearchSpace.from_dict({**space.to_dict(), "units_3": {
            "type": "categorical", "choices": [64], "active_if": [{"model": "mlp"}, "wide"]}})
    both = SearchSpace.from_configspace({"hyperparameters": [
            {"name": "model", "type": "categorical", "choices": ["mlp", "wide"]},
            {"name": "layers", "type": "uniform_int", "lower": 1, "upper": 4},
            {"name": "units_3", "type": "categorical", "choices": [64, 128, 256]}],
        "conditions": [
            {"child": "units_3", "type": "OR", "conditions": [
                {"child": "units_3", "parent": "model", "type": "EQ", "value": "mlp"},
                {"child": "units_3", "parent": "layers", "type": "GT", "value": 3}]},
            {"child": "units_3", "parent": "model", "type": "EQ", "value": "wide"}]})
    assert both.conditions["units_3"] == Condition({"layers": [4], "model": "wide"}), (
        "two conditions on one child both hold: the alternatives each shares with the other")


@pytest.mark.parametrize("name", ["grid", "meta", "tpe", "cmaes"])
def test_optimizers_propose_the_children_of_either_or_conditions_where_one_holds(name):
    space = _deep_or_wide()
    opt = create_optimizer(name, space, seed=0)
    for _ in range(12):
        trial = opt.ask()
        space.validate(trial.params)
        opt.tell(trial, -trial.params.get("units_3", 0) - trial.params["layers"])
    assert any("units_3" in r.params for r in opt.history)
    fixed = SearchSpace([Categorical("model", ["mlp"]), *list(space.parameters)[1:]],
                        conditions={"units_3": [{"model": "mlp", "layers": [3, 4]},
                                                {"layers": 1}]})
    study = metahpo.tune(lambda p: -p.get("units_3", 0), fixed, optimizer=name, n_trials=8,
                         seed=0, show_progress=False)
    assert all(("units_3" in t.params) == (t.params["layers"] != 2) for t in study.trials)
    assert len({t.params["layers"] for t in study.trials}) >= 2


def test_a_parent_cannot_be_removed_from_its_children():
    space = _space()
    with pytest.raises(MetaHPOError, match=r"\['momentum'\] depend on them"):
        space.without("optimizer")
    assert not space.without("optimizer", "momentum").is_conditional


def _discrete_space() -> SearchSpace:
    """24 configurations in 36 combinations of values (momentum matters for sgd only)."""
    return SearchSpace(
        [Categorical("optimizer", ["adam", "sgd"]), Categorical("momentum", [0.0, 0.5, 0.9]),
         Int("layers", 1, 3), Categorical("act", ["relu", "tanh"])],
        conditions={"momentum": Condition("optimizer", "sgd")},
    )


@pytest.mark.parametrize("name, options", [("grid", {}), ("meta", {}), ("meta", {"screen": 0})])
def test_configurations_that_differ_only_in_inactive_parameters_are_proposed_once(name, options):
    """adam: 3 layers x 2 activations = 6 configurations; sgd: 3 momenta x 6 = 18; 24 in all,
    out of 36 combinations of values."""
    space = _discrete_space()
    assert len(space.all_configurations(100)) == 24
    opt = create_optimizer(name, space, seed=0, **options)
    seen = []
    for _ in range(24):
        trial = opt.ask()
        seen.append(json.dumps(trial.params, sort_keys=True))
        opt.tell(trial, float(trial.params["layers"]) + (trial.params["act"] == "tanh"))
    assert len(set(seen)) == 24


def _objective(params):
    assert ("momentum" in params) == (params["optimizer"] == "sgd"), params
    return (np.log10(params["lr"]) + 2.5) ** 2 + (0.9 - params.get("momentum", 0.5)) ** 2


def test_tune_stores_only_active_parameters_and_resumes_with_two_jobs(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = metahpo.tune(_objective, _space(), n_trials=8, storage=url, study_name="c", seed=0)
    study = metahpo.tune(_objective, _space(), n_trials=20, storage=url, study_name="c", seed=0,
                         n_jobs=2)
    trials = metahpo.load_study("c", storage=url).trials
    # two jobs may both start the last trial (as in test_tuning's n_jobs test)
    assert 20 <= len(trials) <= 21
    assert all(t.state is metahpo.TrialState.COMPLETE for t in trials)
    for t in trials:
        assert list(t.params) == _space().active_names(t.params)
    assert {t.params["optimizer"] for t in trials} == {"adam", "sgd"}
    assert metahpo.load_study("c", storage=url).space == _space()
    assert study.best_value < 1.0
    asked = metahpo.load_study("c", storage=url)
    for _ in range(4):
        trial = asked.ask(seed=0)
        asked.tell(trial.number, _objective(trial.params))
    assert len(metahpo.load_study("c", storage=url).trials) == len(trials) + 4


def test_cli_tunes_a_conditional_space_file(tmp_path):
    (tmp_path / "space.yaml").write_text(
        "optimizer: {type: categorical, choices: [adam, sgd]}\n"
        "momentum: {type: float, low: 0.0, high: 0.99, active_if: {optimizer: [sgd]}}\n"
        "lr: {type: float, low: 1.0e-4, high: 0.1, log: true}\n")
    (tmp_path / "objective_module.py").write_text(
        "import math\n"
        "def objective(p):\n"
        "    assert ('momentum' in p) == (p['optimizer'] == 'sgd'), p\n"
        "    return (math.log10(p['lr']) + 2.5) ** 2 + (0.9 - p.get('momentum', 0.5)) ** 2\n")
    url = f"sqlite:///{tmp_path / 's.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "metahpo", "tune", "objective_module:objective", "--space",
         "space.yaml", "--trials", "6", "--storage", url, "--study", "c", "--seed", "0"],
        cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    best = subprocess.run([sys.executable, "-m", "metahpo", "studies", "best", "c", "--storage", url],
                          cwd=tmp_path, capture_output=True, text=True)
    params = json.loads(best.stdout)["params"]
    assert ("momentum" in params) == (params["optimizer"] == "sgd")


def _suggest_active(trial, space: SearchSpace) -> dict:
    """An Optuna define-by-run objective's suggestions: each parameter of ``space`` in order,
    where the values suggested before it make it active."""
    values: dict = {}
    for p in space.parameters:
        if p.name not in space.active_names(values):
            continue
        if isinstance(p, Categorical):
            values[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif isinstance(p, Int):
            values[p.name] = trial.suggest_int(p.name, p.low, p.high, log=p.log)
        else:
            values[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
    return values


def test_the_optuna_sampler_samples_a_declared_conditional_space_jointly(tmp_path):
    """With a conditional SearchSpace as its search_space, the sampler proposes every trial's
    active parameters jointly (the first trial is the optimizer's own first proposal), shows the
    optimizer every finished trial (a fresh sampler for each trial proposes the same), and names
    an objective that suggests a parameter its declared conditions leave inactive."""
    import warnings

    import optuna

    from metahpo.integrations.optuna import MetaHPOSampler

    space = conditional_space()

    def objective(trial):
        return float(np.log10(_suggest_active(trial, space)["lr"]) + 2.5) ** 2

    def run(fresh: bool) -> list[dict]:
        url = f"sqlite:///{tmp_path / f'fresh{fresh}.db'}"
        study = optuna.create_study(sampler=MetaHPOSampler("meta", seed=0, search_space=space),
                                    storage=url, study_name="c")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no trial left out of the optimizer's history
            for _ in range(14):
                if fresh:
                    study = optuna.load_study(study_name="c", storage=url,
                                              sampler=MetaHPOSampler("meta", seed=0,
                                                                     search_space=space))
                study.optimize(objective, n_trials=1)
        return [t.params for t in study.trials]

    kept = run(fresh=False)
    assert kept[0] == create_optimizer("meta", space, seed=0).ask().params
    assert all(list(p) == space.active_names(p) for p in kept)
    assert len({json.dumps(p, sort_keys=True) for p in kept}) == 14
    assert {p["optimizer"] for p in kept} == {"adam", "sgd", "rmsprop"}
    assert kept == run(fresh=True)

    def ignores_the_condition(trial):
        values = _suggest_active(trial, space)
        trial.suggest_float("momentum", 0.0, 0.99)
        return objective(trial) + (values["optimizer"] == "adam")

    study = optuna.create_study(sampler=MetaHPOSampler("random", seed=0, search_space=space))
    with pytest.raises(MetaHPOError, match="suggests parameter 'momentum', which the sampler's "
                       "search_space declares active only when 'optimizer' is one of "
                       r"\['sgd', 'rmsprop'\], but this trial's 'optimizer' is 'adam'"):
        study.optimize(ignores_the_condition, n_trials=20)


@pytest.mark.parametrize("name, options", [("tpe", {"n_startup_trials": 3}), ("cmaes", {}),
                                           ("gp", {"n_startup_trials": 3})])
def test_optuna_samplers_run_long_conditional_searches_with_trials_from_elsewhere(name, options):
    """Optuna's CMA-ES fails when the parameters its trials hold change within a generation; the
    adapter keeps them fixed for it (and for the GP), and asks TPE define-by-run."""
    space = conditional_space()
    rng = np.random.default_rng(0)
    opt = create_optimizer(name, space, seed=0, **options)
    for t in range(30):
        if t % 6 == 5:
            params = space.decode(rng.random(space.dim))
            opt.add_trial(params, float(np.log10(params["lr"]) ** 2))
        trial = opt.ask()
        assert list(trial.params) == space.active_names(trial.params)
        opt.tell(trial, float(np.log10(trial.params["lr"]) ** 2) + trial.params.get("momentum", 0.0))
