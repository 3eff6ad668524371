"""Ray: a real Tune run with MetaHPOSearcher, searcher save/restore, and the Ray benchmark backend."""

import json
import os

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
import ray  # noqa: E402
from ray import tune  # noqa: E402

from metahpo.benchmarks.runner import Suite, load_records, run_suite  # noqa: E402
from metahpo.integrations.ray import MetaHPOSearcher, space_from_ray  # noqa: E402
from metahpo.space import Categorical, Condition, Float, Int, SearchSpace  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    tests = os.path.dirname(os.path.abspath(__file__))
    path = os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH", "")) if p)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": path}})
    yield
    ray.shutdown()


#: Whether this Ray has Tune's own run configuration and report (its newer releases); the older
#: ones metahpo supports take both from ``ray.train``.
TUNE_OWN_API = hasattr(tune, "RunConfig")


def run_config(path):
    """A quiet run configuration under ``path``."""
    if TUNE_OWN_API:
        return tune.RunConfig(storage_path=str(path), verbose=0)
    from ray.train import RunConfig
    return RunConfig(storage_path=str(path), verbose=0)


def report(metrics):
    """Report a trial's ``metrics`` to Ray Tune."""
    if TUNE_OWN_API:
        tune.report(metrics)
    else:
        ray.train.report(metrics)


def trainable(config):
    score = -((config["lr"] - 0.01) ** 2) - 0.01 * config["layers"]
    report({"score": score})


def test_tune_run_with_the_meta_searcher(local_ray, tmp_path):
    start = {"lr": 0.01, "layers": 1, "act": "tanh", "widths": (64, 64),
             "model": {"type": "cnn", "kernel": 5}, "hidden": [12, 16]}
    searcher = MetaHPOSearcher(optimizer="meta", seed=0, points_to_evaluate=[start])
    tuner = tune.Tuner(
        trainable,
        param_space={"lr": tune.loguniform(1e-4, 1e-1), "layers": tune.randint(1, 5),
                     "act": tune.choice(["relu", "tanh"]),
                     "widths": tune.choice([[32], (64, 64), [128, 64, 32]]),
                     "model": tune.choice([{"type": "mlp", "depth": tune.randint(1, 3)},
                                           {"type": "cnn", "kernel": tune.choice([3, 5])}]),
                     "hidden": [tune.randint(8, 64), 16]},
        tune_config=tune.TuneConfig(search_alg=searcher, metric="score", mode="max",
                                    num_samples=8, max_concurrent_trials=2),
        run_config=run_config(tmp_path),
    )
    results = tuner.fit()
    assert len(results) == 8 and not results.errors
    configs = [r.config for r in results]
    assert all(1e-4 <= c["lr"] <= 1e-1 and c["layers"] in (1, 2, 3, 4) for c in configs)
    assert all(c["widths"] in ([32], (64, 64), [128, 64, 32]) for c in configs)
    assert all(c["model"] in ({"type": "mlp", "depth": 1}, {"type": "mlp", "depth": 2},
                              {"type": "cnn", "kernel": 3}, {"type": "cnn", "kernel": 5})
               for c in configs)
    assert all(len(c["hidden"]) == 2 and 8 <= c["hidden"][0] < 64 and c["hidden"][1] == 16
               for c in configs)
    assert len(searcher._opt.history) == 8
    # a choice among tuples by its literal, a choice among dicts by its number, a domain in a
    # list by its place
    recorded = {**{k: v for k, v in start.items() if k != "hidden"}, "widths": "(64, 64)",
                "model": 1, "model/1/kernel": 5, "hidden/0": 12}
    assert recorded in [r.params for r in searcher._opt.history]  # in the order trials ended
    assert results.get_best_result().config == start


def test_an_earlier_experiments_trials_start_the_next_one(local_ray, tmp_path):
    """``add_evaluated_trials`` with a first Tuner's results, then a second Tuner on the same
    ``param_space`` (refused by Ray Tune before: the searcher said it had a space already)."""
    param_space = {"lr": tune.loguniform(1e-4, 1e-1), "layers": tune.randint(1, 5), "seed": 3}

    def fit(searcher, **metric):
        return tune.Tuner(trainable, param_space=param_space,
                          tune_config=tune.TuneConfig(search_alg=searcher, num_samples=4,
                                                      max_concurrent_trials=2, **metric),
                          run_config=run_config(tmp_path)).fit()

    first = fit(MetaHPOSearcher(optimizer="random", seed=0), metric="score", mode="max")
    searcher = MetaHPOSearcher(optimizer="meta", seed=1)
    searcher.set_search_properties("score", "max", param_space)
    searcher.add_evaluated_trials(first._experiment_analysis, "score")
    told = sorted(r.value for r in searcher._opt.history)
    assert told == sorted(r.metrics["score"] for r in first)
    second = fit(searcher, metric="score", mode="max")
    assert len(second) == 4 and not second.errors and len(searcher._opt.history) == 8
    assert not searcher.set_search_properties("score", "max", {"lr": tune.uniform(0, 1)})


def two_metrics(config):
    report({"acc": 1 - (config["x"] - 0.3) ** 2 - config["y"],
                 "time": config["x"] + config["y"]})


def fit_two_metrics(search, n, tmp_path):
    """A real Tuner run of :func:`two_metrics` with ``search`` (which holds the metrics and
    modes), ``n`` trials two at a time; its results, checked free of errors."""
    tuner = tune.Tuner(
        two_metrics, param_space={"x": tune.uniform(0, 1), "y": tune.uniform(0, 1)},
        tune_config=tune.TuneConfig(search_alg=search, num_samples=n, max_concurrent_trials=2),
        run_config=run_config(tmp_path))
    results = tuner.fit()
    assert len(results) == n and not results.errors
    return results


def test_several_metrics_through_ray_tunes_optuna_search_with_the_meta_sampler(local_ray,
                                                                                tmp_path):
    from ray.tune.search.optuna import OptunaSearch

    from metahpo.integrations.optuna import MetaHPOSampler

    search = OptunaSearch(sampler=MetaHPOSampler("meta", seed=0), metric=["acc", "time"],
                          mode=["max", "min"])
    results = fit_two_metrics(search, 12, tmp_path)
    assert results[0].config == {"x": 0.5, "y": 0.5}, "the default policy's design starts"
    assert len(search._ot_study.best_trials) >= 2  # how good: tests/test_optuna_sampler.py


def test_several_metrics_with_the_meta_searcher(local_ray, tmp_path):
    search = MetaHPOSearcher(optimizer="meta", seed=0, metric=["acc", "time"],
                             mode=["max", "min"])
    fit_two_metrics(search, 8, tmp_path)
    history = search._opt.history
    assert len(history) == 8 and all(r.values is not None for r in history)
    assert all(r.values == (1 - (r.params["x"] - 0.3) ** 2 - r.params["y"],
                            r.params["x"] + r.params["y"]) for r in history)
    assert len(search._opt.front) >= 2
    restored = MetaHPOSearcher()
    restored.set_state(json.loads(json.dumps(search.get_state())))
    assert restored._opt.directions == ["maximize", "minimize"]


def test_metrics_and_modes_that_do_not_match_are_refused_clearly():
    from metahpo import MetaHPOError

    for metric, mode in [(["acc", "time"], "max"), (["acc", "time"], ["max"]),
                         (["acc"], ["max"]), (["acc", "time"], ["max", "fastest"])]:
        with pytest.raises(MetaHPOError, match="several metrics need a list of names"):
            MetaHPOSearcher(metric=metric, mode=mode)
    with pytest.raises(MetaHPOError, match="mode must be 'min' or 'max'"):
        MetaHPOSearcher(metric="acc", mode="best")


def test_searcher_state_round_trip(tmp_path):
    space = space_from_ray({"lr": tune.loguniform(1e-4, 1e-1), "n": tune.randint(1, 5),
                            "nested": {"q": tune.quniform(0.0, 1.0, 0.25)},
                            "act": tune.choice(["a", "b"])})
    assert space["lr"] == Float("lr", 1e-4, 1e-1, log=True)
    assert space["n"] == Int("n", 1, 4) and space["act"] == Categorical("act", ["a", "b"])
    assert space["nested/q"] == Float("nested/q", 0.0, 1.0, step=0.25)
    a = MetaHPOSearcher(space, optimizer="random", metric="m", mode="min", seed=3)
    for i in range(4):
        a.suggest(str(i))
        a.on_trial_complete(str(i), {"m": float(i)})
    a.suggest("pending")
    path = tmp_path / "searcher.json"
    a.save(str(path))
    b = MetaHPOSearcher(optimizer="random")
    b.restore(str(path))
    assert json.loads(path.read_text())["live"] == {"pending": 4}
    assert a.suggest("next") == b.suggest("next")


def test_points_to_evaluate_are_suggested_first_and_survive_a_restore(tmp_path):
    from metahpo import MetaHPOError

    param_space = {"lr": tune.loguniform(1e-4, 1e-1), "net": {"layers": tune.randint(1, 5)}}
    points = [{"lr": 0.01, "net": {"layers": 2}}, {"lr": 0.001, "net": {"layers": 4}}]
    a = MetaHPOSearcher(optimizer="meta", seed=0, points_to_evaluate=points)
    a.set_search_properties("m", "max", param_space)
    assert a.suggest("0") == points[0]
    a.on_trial_complete("0", {"m": 1.0})
    a.save(str(tmp_path / "searcher.json"))
    b = MetaHPOSearcher(optimizer="meta")
    b.restore(str(tmp_path / "searcher.json"))
    assert b.suggest("1") == points[1]
    assert b.suggest("2") not in points
    assert [r.params for r in b._opt.history] == [{"lr": 0.01, "net/layers": 2}]
    bad = MetaHPOSearcher(points_to_evaluate=[{"lr": 0.5, "net": {"layers": 2}}])
    bad.set_search_properties("m", "max", param_space)
    with pytest.raises(MetaHPOError, match=r"points_to_evaluate\[0\]: parameter 'lr': value 0.5"):
        bad.suggest("0")


def test_ray_backend_gives_the_same_records_as_local(local_ray, tmp_path):
    suite = Suite(tasks="synthetic:gp", instances="2", dims=(2,), optimizers=("random", "evolution"),
                  options={"evolution": {"population_size": 3, "tournament_size": 2}},
                  budget=6, seeds=2)
    run_suite(suite, tmp_path / "local", progress=False)
    run_suite(suite, tmp_path / "ray", progress=False, backend="ray")
    key = lambda r: (r["label"], r["task"], r["seed"])  # noqa: E731
    local = sorted(load_records(tmp_path / "local"), key=key)
    remote = sorted(load_records(tmp_path / "ray"), key=key)
    assert len(local) == len(remote) == 8
    for a, b in zip(local, remote):
        assert (a["values"], a["params"]) == (b["values"], b["params"])


def test_meta_train_on_ray_workers(local_ray, tmp_path):
    import functools

    from metahpo.meta.distributed import RayRollouts
    from metahpo.meta.distributions import SyntheticFamily
    from metahpo.meta.train import TrainConfig, meta_train
    from metahpo.policy import PolicyConfig

    cfg = PolicyConfig(hidden=8, embed=8, horizon=5)
    make = functools.partial(SyntheticFamily, ["sphere"], [2])
    remote = RayRollouts(make, cfg, seed=0, n_workers=2)
    policy, curve = meta_train(make(), policy_config=cfg, remote=remote, progress=False,
                               config=TrainConfig(iterations=3, tasks_per_batch=4,
                                                  episodes_per_task=2, horizon=5))
    assert len(curve) == 3 and all(0.0 <= r["regret_mean"] <= 1.0 for r in curve)
    import torch

    torch.manual_seed(0)  # what meta_train seeds before building its initial policy
    initial = type(policy)(cfg)
    assert any(not torch_equal(a, b) for a, b in zip(policy.parameters(), initial.parameters()))


def torch_equal(a, b):
    import torch

    return torch.equal(a.detach(), b.detach())


def test_a_misspelt_option_is_refused_when_the_searcher_is_made():
    from metahpo import MetaHPOError

    with pytest.raises(MetaHPOError, match="'grid' has no option 'resolutoin'; its options: resolution"):
        MetaHPOSearcher(optimizer="grid", resolutoin=3)


def test_a_conditional_space_suggests_active_parameters_and_survives_a_restore(tmp_path):
    from metahpo.testing import conditional_space

    space = conditional_space()
    a = MetaHPOSearcher(space, optimizer="meta", metric="m", mode="min", seed=0)
    for i in range(6):
        config = a.suggest(str(i))
        assert list(config) == space.active_names(config)
        a.on_trial_complete(str(i), {"m": config["lr"] + config.get("momentum", 0.5)})
    a.save(str(tmp_path / "searcher.json"))
    b = MetaHPOSearcher(optimizer="meta")
    b.restore(str(tmp_path / "searcher.json"))
    assert b._opt.space == space
    assert a.suggest("next") == b.suggest("next")


def test_a_sample_function_in_param_space_is_refused_with_what_to_do_instead():
    from metahpo import MetaHPOError

    def momentum(spec):
        return 0.9 if spec.config.optimizer == "sgd" else None

    param_space = {"optimizer": tune.choice(["adam", "sgd"]), "momentum": tune.sample_from(momentum)}
    with pytest.raises(MetaHPOError, match="'momentum': tune.sample_from is not supported.*"
                                           r"MetaHPOSearcher\(space=SearchSpace"):
        space_from_ray(param_space)


def _suggested(param_space, first, n):
    """A random searcher over ``param_space`` that suggested ``first``, then ``n - 1`` more, each
    told as it came; and the ``n`` configurations."""
    searcher = MetaHPOSearcher(optimizer="random", seed=0, points_to_evaluate=[first])
    searcher.set_search_properties("m", "max", param_space)
    configs = []
    for i in range(n):
        configs.append(searcher.suggest(str(i)))
        searcher.on_trial_complete(str(i), {"m": float(i)})
    return searcher, configs


def test_a_choice_among_dicts_is_a_conditional_space_suggesting_the_dicts(tmp_path):
    """Ray Tune's conditional space (HyperOpt's nested choice): each choice's domains are
    parameters active where the choice is made; suggestions, points to evaluate, results from
    elsewhere and a restored state all speak of the dicts."""
    from metahpo import MetaHPOError

    optimizers = [{"name": "sgd", "momentum": tune.uniform(0.0, 0.99)}, {"name": "adam"}]
    param_space = {"lr": tune.loguniform(1e-4, 1e-1), "seed": 7,
                   "model": tune.choice([
                       {"type": "mlp", "layers": tune.randint(1, 4),
                        "opt": tune.choice(optimizers)},
                       {"type": "cnn", "kernel": tune.choice([3, 5]),
                        "widths": tune.choice([[8], [16, 16]])},
                       None])}
    space = space_from_ray(param_space)
    assert space == SearchSpace(
        [Float("lr", 1e-4, 1e-1, log=True), Categorical("model", [0, 1, 2]),
         Int("model/0/layers", 1, 3), Categorical("model/0/opt", [0, 1]),
         Float("model/0/opt/0/momentum", 0.0, 0.99), Categorical("model/1/kernel", [3, 5]),
         Categorical("model/1/widths", ["[8]", "[16, 16]"])],
        conditions={"model/0/layers": Condition("model", 0),
                    "model/0/opt": Condition("model", 0),
                    "model/0/opt/0/momentum": Condition("model/0/opt", 0),
                    "model/1/kernel": Condition("model", 1),
                    "model/1/widths": Condition("model", 1)})
    first = {"lr": 0.01, "seed": 7, "model": {"type": "mlp", "layers": 2,
                                              "opt": {"name": "sgd", "momentum": 0.9}}}
    a, configs = _suggested(param_space, first, 30)
    assert configs[0] == {"lr": 0.01, "model": first["model"]}
    kinds = {repr(sorted(c["model"])) if c["model"] else "None" for c in configs}
    assert kinds == {"['layers', 'opt', 'type']", "['kernel', 'type', 'widths']", "None"}
    for c in configs:
        model = c["model"]
        if model and model["type"] == "mlp":
            assert model["layers"] in (1, 2, 3) and model["opt"] in (
                {"name": "adam"}, {"name": "sgd", "momentum": model["opt"].get("momentum")})
        elif model:
            assert model["kernel"] in (3, 5) and model["widths"] in ([8], [16, 16])
    assert a._opt.history[0].params == {"lr": 0.01, "model": 0, "model/0/layers": 2,
                                        "model/0/opt": 0, "model/0/opt/0/momentum": 0.9}
    a.add_evaluated_point(
        {"lr": 0.02, "model": {"type": "cnn", "kernel": 3, "widths": [16, 16]}}, 0.5)
    assert a._opt.history[-1].params == {"lr": 0.02, "model": 1, "model/1/kernel": 3,
                                         "model/1/widths": "[16, 16]"}
    with pytest.raises(MetaHPOError, match="parameter 'model': the configuration's 'model' is "
                                           "none of its tune.choice's choices"):
        a.add_evaluated_point({"lr": 0.02, "model": {"type": "rnn", "kernel": 3}}, 0.5)
    a.save(str(tmp_path / "searcher.json"))
    b = MetaHPOSearcher(optimizer="random")
    b.restore(str(tmp_path / "searcher.json"))
    assert a.suggest("next") == b.suggest("next")
    with pytest.raises(MetaHPOError, match="'model/0/act': the choice <built-in function abs>"):
        space_from_ray({"model": tune.choice([{"act": abs, "n": tune.randint(1, 3)}, None])})


@pytest.mark.parametrize("param_space, message", [
    ({"lr": tune.loguniform(1e-4, 1e-1), "seed": tune.grid_search([0, 1])},
     "cannot take tune.grid_search entries"),
    ({"opt": {"lr": tune.loguniform(1e-4, 1e-1), "wd": tune.grid_search([0.0, 0.1])}},
     "cannot take tune.grid_search entries"),
    ({"noise": tune.randn(0.0, 1.0)},
     "'noise': Ray Tune's Normal sampling of a Float is not supported; metahpo takes"),
    ({"m": tune.choice([{"widths": [tune.randint(8, 64), 32]}, None])},
     "'m/0/widths/0': a domain inside a list is supported outside a tune.choice among dicts"),
])
def test_domains_a_searcher_cannot_propose_are_refused_by_name(param_space, message):
    """A grid (nested too: it was passed to the trainable as the literal dict before) and a
    normal distribution."""
    from metahpo import MetaHPOError

    with pytest.raises(MetaHPOError, match=message):
        space_from_ray(param_space)


def test_domains_inside_lists_are_suggested_in_their_lists(tmp_path):
    """``[tune.randint(8, 64), 32]``, as Ray Tune's variant generator resolves it: each domain
    is a parameter named by its place, and suggestions, points, results read back and a
    restored state keep the list's constants."""
    param_space = {"net": {"hidden": [tune.randint(8, 64), 32, {"p": tune.uniform(0.0, 0.5),
                                                                 "act": "relu"}]}}
    assert space_from_ray(param_space) == SearchSpace(
        [Int("net/hidden/0", 8, 63), Float("net/hidden/2/p", 0.0, 0.5)])
    first = {"net": {"hidden": [10, 32, {"p": 0.25, "act": "relu"}]}}
    a, configs = _suggested(param_space, first, 6)
    assert configs[0] == first
    assert all(h[1] == 32 and h[2]["act"] == "relu" and 8 <= h[0] < 64 and 0 <= h[2]["p"] <= 0.5
               for h in (c["net"]["hidden"] for c in configs))
    assert a._opt.history[0].params == {"net/hidden/0": 10, "net/hidden/2/p": 0.25}
    a.on_trial_complete("elsewhere", {"m": 9.0, "config/net/hidden": [20, 32, {"p": 0.1,
                                                                               "act": "relu"}]})
    assert a._opt.history[-1].params == {"net/hidden/0": 20, "net/hidden/2/p": 0.1}
    a.save(str(tmp_path / "searcher.json"))
    b = MetaHPOSearcher(optimizer="random")
    b.restore(str(tmp_path / "searcher.json"))
    assert a.suggest("next") == b.suggest("next")


def test_a_choice_among_lists_suggests_the_lists_and_survives_a_restore(tmp_path):
    """Layer widths as ``tune.choice([[64, 64], ...])``: the searcher's choices are their
    literals, and it suggests the values themselves (tuples as tuples, NumPy numbers as the
    Python numbers they hold), also after a restore; a point to evaluate names the value."""
    import numpy as np

    from metahpo import MetaHPOError

    widths = [[32], (64, 64), None, [np.int64(128), 64]]
    param_space = {"net": {"widths": tune.choice(widths)}, "lr": tune.uniform(0.0, 1.0)}
    assert space_from_ray(param_space)["net/widths"] == Categorical(
        "net/widths", ["[32]", "(64, 64)", "None", "[128, 64]"])
    a = MetaHPOSearcher(optimizer="random", seed=0,
                        points_to_evaluate=[{"net": {"widths": (64, 64)}, "lr": 0.5}])
    a.set_search_properties("m", "max", param_space)
    seen = []
    for i in range(12):
        config = a.suggest(str(i))
        seen.append(config["net"]["widths"])
        a.on_trial_complete(str(i), {"m": float(i)})
    assert seen[0] == (64, 64) and type(seen[0]) is tuple
    assert {repr(w) for w in seen} == {"[32]", "(64, 64)", "None", "[128, 64]"}
    a.save(str(tmp_path / "searcher.json"))
    b = MetaHPOSearcher(optimizer="random")
    b.restore(str(tmp_path / "searcher.json"))
    assert a.suggest("next") == b.suggest("next")
    with pytest.raises(MetaHPOError, match=r"'w': the choice array\(\[1, 2\]\) \(ndarray\) "
                                           "cannot be proposed: tune.choice takes plain values"):
        space_from_ray({"w": tune.choice([np.array([1, 2]), [3]])})
    c = MetaHPOSearcher(optimizer="random", points_to_evaluate=[{"net": {"widths": [64, 64]},
                                                                 "lr": 0.5}])
    c.set_search_properties("m", "max", param_space)
    with pytest.raises(MetaHPOError, match=r"points_to_evaluate\[0\]: parameter 'net/widths'"):
        c.suggest("0")


def test_results_evaluated_elsewhere_are_told_as_ray_tunes_other_searchers_take_them():
    """``evaluated_rewards`` beside ``points_to_evaluate`` and ``add_evaluated_point`` (what
    Ray Tune's ``add_evaluated_trials`` calls): told, not suggested again; a trial's
    ``config`` with constants and nested dicts; errored and pruned trials as failures."""
    from metahpo import MetaHPOError, TrialState

    param_space = {"lr": tune.loguniform(1e-4, 1e-1), "net": {"widths": tune.choice([[8], [8, 8]])},
                   "epochs": 10}
    known = [{"lr": 0.01, "net": {"widths": [8]}}, {"lr": 0.001, "net": {"widths": [8, 8]}}]
    searcher = MetaHPOSearcher(optimizer="random", seed=0, points_to_evaluate=known,
                               evaluated_rewards=[0.9, 0.7])
    searcher.set_search_properties("acc", "max", param_space)
    first = searcher.suggest("0")
    assert first["lr"] not in (0.01, 0.001)
    searcher.add_evaluated_point({"lr": 0.02, "net": {"widths": [8, 8]}, "epochs": 10}, 0.8)
    searcher.add_evaluated_point({"lr": 0.03, "net": {"widths": [8]}, "epochs": 10}, None,
                                 error=True)
    searcher.add_evaluated_point({"lr": 0.04, "net": {"widths": [8]}, "epochs": 10}, 0.1,
                                 pruned=True, intermediate_values=[0.05, 0.1, float("nan"), 10**400])
    history = searcher._opt.history
    assert [(r.params["lr"], r.state, r.value) for r in history] == [
        (0.01, TrialState.COMPLETE, 0.9), (0.001, TrialState.COMPLETE, 0.7),
        (0.02, TrialState.COMPLETE, 0.8), (0.03, TrialState.FAILED, None),
        (0.04, TrialState.FAILED, None)]
    assert history[4].pruned and history[4].last_report == (1, 0.1)
    with pytest.raises(MetaHPOError, match="add_evaluated_point: .*parameter 'lr'"):
        searcher.add_evaluated_point({"lr": 5.0, "net": {"widths": [8]}}, 0.5)
    conditional = MetaHPOSearcher(SearchSpace([Categorical("k", ["lin", "rbf"]),
                                               Float("g", 0.01, 1.0, log=True)],
                                              conditions={"g": Condition("k", ["rbf"])}),
                                  optimizer="random", metric="m", mode="max")
    conditional.add_evaluated_point({"k": "lin", "g": 0.1}, 0.5)  # g inactive: left out
    assert [r.params for r in conditional._opt.history] == [{"k": "lin"}]
    with pytest.raises(MetaHPOError, match="evaluated_rewards must be a list of one metric "
                                           "value per point"):
        MetaHPOSearcher(points_to_evaluate=known, evaluated_rewards=[0.9])


def test_a_ray_tune_search_space_is_taken_where_a_space_is_as_ray_tunes_searchers_take_it():
    from metahpo import MetaHPOError

    searcher = MetaHPOSearcher({"lr": tune.loguniform(1e-4, 1e-1),
                                "net": {"widths": tune.choice([[8], [8, 8]])}},
                               optimizer="random", metric="m", mode="max", seed=0)
    config = searcher.suggest("0")
    assert 1e-4 <= config["lr"] <= 1e-1 and config["net"]["widths"] in ([8], [8, 8])
    assert searcher._opt.space.names == ["lr", "net/widths"]
    with pytest.raises(MetaHPOError, match="space must be a metahpo SearchSpace or a Ray Tune "
                                           "search space .*got list"):
        MetaHPOSearcher([Float("x", 0.0, 1.0)])
    # a param_space of other domains beside it is declined (Ray Tune then says so by name: the
    # trainable got them unresolved); one of constants, or of the same space, is taken
    for param_space, taken in [({"y": tune.uniform(0, 1)}, False), ({"epochs": 10}, True),
                               ({"x": tune.uniform(0.0, 1.0)}, True)]:
        given = MetaHPOSearcher(SearchSpace([Float("x", 0.0, 1.0)]), optimizer="random")
        assert given.set_search_properties("m", "max", param_space) is taken
        assert (given.metric, given.mode) == ("m", "max")


def test_a_quantized_log_domain_says_its_step_is_not_kept():
    with pytest.warns(UserWarning, match="'n': a log scale takes no quantization step"):
        space = space_from_ray({"n": tune.qlograndint(2, 64, 2)})
    assert space["n"] == Int("n", 2, 64, log=True)


def epochs(config):
    """Four epochs of a training whose loss falls with each; best near ``x = 0.3``."""
    for epoch in range(1, 5):
        report({"loss": (config["x"] - 0.3) ** 2 + 1.0 / epoch})


def test_trials_a_scheduler_stops_early_are_read_as_pruned_at_their_last_report(local_ray,
                                                                                tmp_path):
    from ray.tune.schedulers import ASHAScheduler

    from metahpo import TrialState

    searcher = MetaHPOSearcher(optimizer="meta", seed=0, max_t=4)
    results = tune.Tuner(
        epochs, param_space={"x": tune.uniform(0, 1)},
        tune_config=tune.TuneConfig(search_alg=searcher, metric="loss", mode="min",
                                    scheduler=ASHAScheduler(max_t=4, grace_period=1),
                                    num_samples=8, max_concurrent_trials=2),
        run_config=run_config(tmp_path)).fit()
    assert len(results) == 8 and not results.errors
    history = searcher._opt.history
    loss = lambda r, epoch: (r.params["x"] - 0.3) ** 2 + 1.0 / epoch  # noqa: E731
    finished = [r for r in history if r.state is TrialState.COMPLETE]
    stopped = [r for r in history if r.pruned]
    assert finished and stopped and len(finished) + len(stopped) == 8
    assert all(r.value == loss(r, 4) for r in finished)
    assert all(r.last_report[0] < 4 and r.last_report[1] == loss(r, r.last_report[0])
               and "at training_iteration" in r.error for r in stopped)
    # the experiment read again by a new searcher, as Ray Tune's searchers take one
    again = MetaHPOSearcher(optimizer="meta", seed=1, max_t=4)
    again.set_search_properties("loss", "min", {"x": tune.uniform(0, 1)})
    again.add_evaluated_trials(results._experiment_analysis, "loss")
    key = lambda r: (r.params["x"], r.state, r.value, r.last_report)  # noqa: E731
    assert sorted(map(key, again._opt.history)) == sorted(map(key, history))


def end_trial(searcher, let_continue, end, **ending):
    """One trial through the Searcher calls Ray Tune makes: suggested, let continue after the
    results of steps ``let_continue``, ended at step ``end`` (``None``: without a result, as a
    paused trial stopped); the record it left."""
    trial_id = str(len(searcher._opt.history) if searcher._opt else 0)
    searcher.suggest(trial_id)
    for step in let_continue:
        searcher.on_trial_result(trial_id, {"loss": 1.0 / step, "training_iteration": step})
    result = {"loss": 1.0 / end, "training_iteration": end, "done": True} if end else None
    searcher.on_trial_complete(trial_id, result, **ending)
    return searcher._opt.history[-1]


LINE = SearchSpace([Float("x", 0.0, 1.0)])


def test_which_trials_a_scheduler_stopped_is_read_from_where_ray_tune_let_them_continue():
    """A trial stopped at a result it was not let continue after, before ``max_t``, is pruned;
    one that returns on its own, or at ``max_t``, finished; a paused one stopped (no result)
    ended at its last; without ``max_t`` all are finished, with a warning once trials end at
    different steps."""
    from metahpo import MetaHPOError

    searcher = MetaHPOSearcher(LINE, optimizer="random", metric="loss", mode="min", max_t=3)
    assert end_trial(searcher, [1, 2], 3).value == 1 / 3  # stopped at max_t
    assert end_trial(searcher, [1, 2], 2).value == 1 / 2  # returned on its own, before max_t
    stopped = end_trial(searcher, [], 1)
    assert stopped.pruned and stopped.last_report == (1, 1.0)
    paused = end_trial(searcher, [1, 2], None)  # a paused trial stopped: no result
    assert paused.pruned and paused.last_report == (2, 0.5)
    assert end_trial(searcher, [1, 2, 3], None).value == 1 / 3  # paused at max_t, then stopped
    never = end_trial(searcher, [], None)
    assert never.pruned and never.last_report is None
    assert end_trial(searcher, [1], None, error=True).error == "the Ray Tune trial errored"
    plain = MetaHPOSearcher(LINE, optimizer="random", metric="loss", mode="min")
    assert end_trial(plain, [1, 2], 3).value == 1 / 3
    with pytest.warns(UserWarning, match="stopped a trial at training_iteration 1 while another "
                                         r"reached 3.*MetaHPOSearcher\(max_t=...\)"):
        assert end_trial(plain, [], 1).value == 1.0
    two = MetaHPOSearcher(LINE, optimizer="random", metric=["loss", "t"], mode=["min", "min"],
                          max_t=3)
    two.suggest("a")
    two.on_trial_complete("a", {"loss": 1.0, "t": 2.0, "training_iteration": 1})
    assert two._opt.history[-1].pruned and two._opt.history[-1].last_report is None
    with pytest.raises(MetaHPOError, match="max_t must be a positive number"):
        MetaHPOSearcher(max_t=0)


def test_a_trial_ray_tune_runs_again_is_read_from_its_result_and_each_trial_once():
    """Ray Tune runs an errored trial again as a new one (``Tuner.restore(...,
    restart_errored=True)``): its result, flattened, holds its configuration."""
    searcher = MetaHPOSearcher(LINE, optimizer="random", metric="loss", mode="min", max_t=3)
    assert end_trial(searcher, [1], None, error=True).error == "the Ray Tune trial errored"
    searcher.on_trial_result("again", {"loss": 0.9, "training_iteration": 1})
    searcher.on_trial_complete("again", {"loss": 0.8, "training_iteration": 2, "config/x": 0.25})
    assert (searcher._opt.history[-1].params, searcher._opt.history[-1].pruned) == ({"x": 0.25},
                                                                                    True)
    with pytest.warns(UserWarning, match="trial elsewhere is not told: .*'x'"):
        searcher.on_trial_complete("elsewhere", {"loss": 0.8, "training_iteration": 3,
                                                 "config/x": 7.0})
    told = len(searcher._opt.history)
    searcher.on_trial_complete("again", {"loss": 0.8, "training_iteration": 2, "config/x": 0.25})
    assert len(searcher._opt.history) == told  # a trial is told once


def test_the_searcher_keeps_to_max_concurrent_trials_also_after_a_restore():
    """Ray Tune leaves the limiting to a searcher that takes it; a trial restored as running
    holds its place once it reports (one Ray Tune does not run again,
    ``Tuner.restore(resume_unfinished=False)``, says nothing and holds none)."""
    searcher = MetaHPOSearcher(LINE, optimizer="random", metric="loss", mode="min")
    assert searcher.set_max_concurrency(1)
    assert searcher.suggest("one") is not None and searcher.suggest("two") is None
    searcher.on_trial_complete("one", {"loss": 0.5, "training_iteration": 3})
    assert searcher.suggest("two") is not None
    restored = MetaHPOSearcher()
    restored.set_state(json.loads(json.dumps(searcher.get_state())))
    assert restored.set_max_concurrency(1) and restored.suggest("three") is not None
    restored.on_trial_complete("three", {"loss": 0.5, "training_iteration": 3})
    restored.on_trial_result("two", {"loss": 0.9, "training_iteration": 1})
    assert restored.suggest("four") is None
