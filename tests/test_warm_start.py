"""Warm starting a new study from past studies of related tasks (the Python API and the CLI),
with real SQLite studies."""

import json
import math
import subprocess
import sys

import pytest

import metahpo
from metahpo import Categorical, Float, Int, MetaHPOError, SearchSpace

from command_line import run_here

SPACE = SearchSpace([Float("lr", 1e-5, 1.0, log=True), Int("layers", 1, 8),
                     Categorical("act", ["relu", "tanh"])])


def related(shift: float):
    """A task of a family whose tasks share most of their good region: the best learning rate
    moves by ``shift`` decades."""
    def loss(p):
        return ((math.log10(p["lr"]) + 3 + shift) ** 2 + 0.1 * (p["layers"] - 4) ** 2
                + 0.3 * (p["act"] == "tanh"))
    return loss


def past_studies(url, optimizer="random"):
    return [metahpo.tune(related(shift), SPACE, optimizer=optimizer, n_trials=25, seed=i,
                         storage=url, study_name=f"past{i}", show_progress=False)
            for i, shift in enumerate([-0.4, 0.0, 0.3])]


def test_points_serve_a_related_new_task_better_than_what_the_past_studies_tried(tmp_path):
    past = past_studies(f"sqlite:///{tmp_path / 'past.db'}")
    points = metahpo.warm_start_points(past, SPACE, n=4)
    assert len({json.dumps(p, sort_keys=True) for p in points}) == 4
    for p in points:
        SPACE.validate(p)
    held = [t.params for s in past for t in s.trials]
    new = related(0.1)
    losses = sorted(new(p) for p in held)
    assert new(points[0]) <= losses[len(losses) // 10]  # among the best tenth for the new task
    own = metahpo.warm_start_points(past, SPACE, n=4, candidates=0)
    assert all(p in held for p in own)  # without uniform candidates: configurations tried
    study = metahpo.tune(new, SPACE, n_trials=6, seed=0, points_to_evaluate=points,
                         show_progress=False)
    assert [t.params for t in study.trials[:4]] == points


def test_a_study_of_several_objectives_offers_configurations_near_its_front(tmp_path):
    """Two objectives that trade the learning rate against depth: the front holds act=relu
    (tanh costs on both) and a learning rate near 1e-3, at every depth."""
    def two(p):
        base = (math.log10(p["lr"]) + 3) ** 2 + 0.3 * (p["act"] == "tanh")
        return base + 0.1 * p["layers"], base + 0.1 * (8 - p["layers"])

    url = f"sqlite:///{tmp_path / 'past.db'}"
    trade_offs = metahpo.tune(two, SPACE, optimizer="random", n_trials=40, seed=0,
                              directions=["minimize", "minimize"], storage=url,
                              study_name="two", show_progress=False)
    # One study: its best point first; the later ones cover other studies, here none.
    points = metahpo.warm_start_points([trade_offs], SPACE, n=1, candidates=0)
    assert points[0] in [t.params for t in trade_offs.best_trials]
    flipped = metahpo.tune(lambda p: (-two(p)[0], two(p)[1]), SPACE, optimizer="random",
                           n_trials=40, seed=0, directions=["maximize", "minimize"],
                           storage=url, study_name="flipped", show_progress=False)
    assert metahpo.warm_start_points([flipped], SPACE, n=1, candidates=0) == points
    uniform = metahpo.warm_start_points([trade_offs], SPACE, n=1)[0]
    assert uniform["act"] == "relu" and 1e-4 < uniform["lr"] < 1e-2


def test_one_past_study_gives_its_best_configurations_first(tmp_path):
    """Past the first point, no candidate serves one study better than the best one does:
    the points are then its next best, not its first trials."""
    past = past_studies(f"sqlite:///{tmp_path / 'past.db'}")[1]
    points = metahpo.warm_start_points([past], SPACE, n=4, candidates=0)
    ranked = sorted(past.trials, key=lambda t: t.value)
    best_quarter = [t.params for t in ranked[:len(ranked) // 4]]
    assert all(p in best_quarter for p in points), (points, best_quarter)


def test_no_configuration_is_offered_twice():
    """A past study of random search drawn from the seed of the uniform candidates holds them
    to a rounding (a log scale's encoding and decoding): each is offered once."""
    past = metahpo.tune(related(0.0), SPACE, optimizer="random", n_trials=25, seed=0,
                        show_progress=False)
    points = metahpo.warm_start_points([past], SPACE, n=10, candidates=25, seed=0)
    assert len(points) == 10
    assert len({tuple(p.items()) for p in points}) == 10, points


def test_studies_weigh_the_same_whatever_their_units_and_direction(tmp_path):
    url = f"sqlite:///{tmp_path / 'past.db'}"
    past = past_studies(url)
    flipped = metahpo.tune(lambda p: -1000.0 * related(0.0)(p), SPACE, optimizer="random",
                           n_trials=25, seed=1, direction="maximize", storage=url,
                           study_name="flipped", show_progress=False)
    assert [t.params for t in flipped.trials] == [t.params for t in past[1].trials]
    assert (metahpo.warm_start_points([past[0], flipped, past[2]], SPACE)
            == metahpo.warm_start_points(past, SPACE))


def test_only_trials_that_fit_the_new_space_are_taken_and_mistakes_are_named(tmp_path):
    url = f"sqlite:///{tmp_path / 'past.db'}"
    past = past_studies(url)
    narrower = SearchSpace([Float("lr", 1e-3, 1.0, log=True), Int("layers", 1, 8),
                            Categorical("act", ["relu", "tanh"])])
    points = metahpo.warm_start_points(past, narrower, n=5)
    assert all(p["lr"] >= 1e-3 for p in points)
    other = SearchSpace([Float("x", 0.0, 1.0)])
    with pytest.raises(MetaHPOError, match=r"no past study holds 3 completed trials that fit.*"
                                           r"'past0': 0, 'past1': 0, 'past2': 0"):
        metahpo.warm_start_points(past, other)
    with pytest.raises(MetaHPOError, match="n must be an int >= 1"):
        metahpo.warm_start_points(past, SPACE, n=0)
    with pytest.raises(MetaHPOError, match="candidates must be an int >= 0"):
        metahpo.warm_start_points(past, SPACE, candidates=-1)
    with pytest.raises(MetaHPOError, match="list of metahpo Study objects"):
        metahpo.warm_start_points(past[0], SPACE)


def test_a_grown_search_space_warm_starts_from_the_parameters_it_shares(tmp_path):
    """The model tuned again with weight decay added and the activation fixed: the past studies
    still place the learning rate and the depth; their configurations come with the new
    parameter at its middle."""
    past = past_studies(f"sqlite:///{tmp_path / 'past.db'}")
    grown = SearchSpace([Float("lr", 1e-5, 1.0, log=True), Int("layers", 1, 8),
                         Float("wd", 0.0, 0.1)])
    points = metahpo.warm_start_points(past, grown, n=3)
    for p in points:
        grown.validate(p)
    best = points[0]
    assert abs(math.log10(best["lr"]) + 3) < 0.6 and 3 <= best["layers"] <= 5, best
    own = metahpo.warm_start_points(past, grown, n=3, candidates=0)
    held = [{"lr": t.params["lr"], "layers": t.params["layers"], "wd": 0.05}
            for s in past for t in s.trials]
    assert all(p in held for p in own)
    losses = sorted(related(0.0)({**p, "act": "relu"}) for p in held)
    assert related(0.0)({**own[0], "act": "relu"}) <= losses[len(losses) // 10]


def test_cli_tune_warm_starts_from_named_studies_of_its_storage(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    past = past_studies(url)
    (tmp_path / "space.yaml").write_text(
        "lr: {type: float, low: 1.0e-5, high: 1.0, log: true}\n"
        "layers: {type: int, low: 1, high: 8}\n"
        "act: {type: categorical, choices: [relu, tanh]}\n")
    (tmp_path / "objective_module.py").write_text(
        "import math\n"
        "def objective(p):\n"
        "    return (math.log10(p['lr']) + 3.1) ** 2 + 0.1 * (p['layers'] - 4) ** 2 "
        "+ 0.3 * (p['act'] == 'tanh')\n")

    def tune(*extra):
        return subprocess.run(
            [sys.executable, "-m", "metahpo", "tune", "objective_module:objective", "--space",
             "space.yaml", "--trials", "4", "--seed", "0", "--quiet", *extra],
            cwd=tmp_path, capture_output=True, text=True)

    done = tune("--storage", url, "--study", "new", "--warm-start", "past0", "--warm-start",
                "past1", "--warm-start", "past2", "--warm-start-points", "3")
    assert done.returncode == 0, done.stderr
    assert "warm start: 3 configurations from past0, past1, past2 first" in done.stdout
    expected = metahpo.warm_start_points(past, SPACE, n=3)
    assert [t.params for t in metahpo.load_study("new", url).trials[:3]] == expected
    asked = subprocess.run(
        [sys.executable, "-m", "metahpo", "ask", "--storage", url, "--study", "queue", "--space",
         "space.yaml", "--seed", "0", "--count", "3", "--warm-start", "past0", "--warm-start",
         "past1", "--warm-start", "past2", "--warm-start-points", "2"],
        cwd=tmp_path, capture_output=True, text=True)
    assert asked.returncode == 0, asked.stderr
    proposals = [json.loads(line)["params"] for line in asked.stdout.splitlines()]
    assert proposals[:2] == expected[:2] and proposals[2] not in expected[:2]
    assert "warm start: 2 configurations" in asked.stderr
    queue = metahpo.load_study("queue", url)
    queue.tell(0, 1.0)
    assert queue.fail_stale(0) == [1, 2]  # jobs the queue killed
    import optuna  # a past study gone: the queue's warm start was chosen when it started

    optuna.delete_study(study_name="past2", storage=url)
    again = subprocess.run(
        [sys.executable, "-m", "metahpo", "ask", "--storage", url, "--study", "queue", "--seed",
         "0", "--warm-start", "past0", "--warm-start", "past1", "--warm-start", "past2",
         "--warm-start-points", "2"], cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["params"] == expected[1]  # the killed job's point, again
    assert "(chosen when the study started)" in again.stderr
    other_count = run_here(tmp_path, "ask", "--storage", url, "--study", "queue",
                           "--warm-start", "past0", "--warm-start", "past2")
    assert other_count.returncode == 2 and "no study named 'past2'" in other_count.stderr
    tune_here = ("tune", "objective_module:objective", "--space", "space.yaml", "--trials", "4",
                 "--quiet")
    refused = run_here(tmp_path, *tune_here, "--warm-start", "past0")  # not in ./metahpo.db
    assert refused.returncode == 2
    assert "no metahpo.db in" in refused.stderr and "give --storage URL" in refused.stderr
    missing = run_here(tmp_path, *tune_here, "--storage", url, "--study", "other",
                       "--warm-start", "nope")
    assert missing.returncode == 2 and "no study named 'nope'" in missing.stderr


def test_warm_start_needs_no_more_than_the_trials_it_reads():
    """A study of three completed trials is enough; fewer is named."""
    few = metahpo.tune(related(0.0), SPACE, optimizer="random", n_trials=2, seed=0,
                       show_progress=False)
    enough = metahpo.tune(related(0.0), SPACE, optimizer="random", n_trials=3, seed=0,
                          show_progress=False)
    assert len(metahpo.warm_start_points([few, enough], SPACE, n=10, candidates=0)) == 3
    with pytest.raises(MetaHPOError, match=r"per study: \{'.*': 2\}"):
        metahpo.warm_start_points([few], SPACE)


def test_past_optuna_studies_warm_start_a_new_optuna_study(tmp_path):
    import optuna

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    space = SearchSpace([Float("lr", 1e-5, 1.0, log=True), Int("layers", 1, 8)])

    def objective(shift):
        return lambda t: ((math.log10(t.suggest_float("lr", 1e-5, 1.0, log=True)) + 3 + shift) ** 2
                          + 0.1 * (t.suggest_int("layers", 1, 8) - 4) ** 2)

    for i, shift in enumerate([-0.3, 0.2]):
        old = optuna.create_study(storage=url, study_name=f"old{i}",
                                  sampler=optuna.samplers.RandomSampler(seed=i))
        old.optimize(objective(shift), n_trials=15)
    points = metahpo.warm_start_points([metahpo.load_study(f"old{i}", url) for i in range(2)],
                                       space, n=3)
    new = optuna.create_study(storage=url, study_name="new")
    for p in points:
        new.enqueue_trial(p)
    new.optimize(objective(0.0), n_trials=4)
    assert [t.params for t in new.trials[:3]] == points


def test_trials_that_broke_their_constraints_are_not_warm_start_points(tmp_path):
    import optuna

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    space = SearchSpace([Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)])

    def objective(trial):
        x, y = trial.suggest_float("x", 0.0, 1.0), trial.suggest_float("y", 0.0, 1.0)
        trial.set_constraint("x_max", x - 0.5)
        return (x - 1.0) ** 2 + (y - 0.5) ** 2  # best where x > 0.5 is not allowed

    old = optuna.create_study(storage=url, study_name="old",
                              sampler=optuna.samplers.RandomSampler(seed=0))
    old.optimize(objective, n_trials=30)
    points = metahpo.warm_start_points([metahpo.load_study("old", url)], space, n=3)
    assert len(points) == 3 and all(p["x"] <= 0.5 for p in points)


def test_points_in_a_conditional_space_hold_their_active_parameters():
    from metahpo.testing import conditional_space

    space = conditional_space()

    def loss(p, shift):
        return (math.log10(p["lr"]) + 2.5 + shift) ** 2 + p.get("momentum", 0.5)

    past = [metahpo.tune(lambda p, s=s: loss(p, s), space, optimizer="random", n_trials=15, seed=i,
                         show_progress=False) for i, s in enumerate([0.0, 0.3])]
    points = metahpo.warm_start_points(past, space, n=4)
    assert len(points) == 4
    for p in points:
        space.validate(p)  # exactly the active parameters, in range
