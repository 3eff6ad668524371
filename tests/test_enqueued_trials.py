"""Configurations queued in a study, by metahpo or by Optuna, run next in every worker."""

import inspect
import subprocess
import sys

import optuna
import pytest

import metahpo
from metahpo import Categorical, Float, Int, MetaHPOError, SearchSpace, TrialState

SPACE = SearchSpace([Float("lr", 1e-4, 1e-1, log=True), Int("layers", 1, 4),
                     Categorical("act", ["relu", "tanh"])])


def loss(params):
    return abs(params["lr"] - 0.01) + params["layers"] * 0.1


def test_queued_configurations_run_first_in_order_and_a_bad_one_fails_alone(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    metahpo.tune(loss, SPACE, n_trials=2, storage=url, study_name="s", seed=0,
                 show_progress=False)
    study = metahpo.load_study("s", url)
    assert study.enqueue_trial({"lr": 0.02, "layers": 1, "act": "tanh"}) == 2
    optuna.load_study(study_name="s", storage=url).enqueue_trial({"layers": 4})
    optuna.load_study(study_name="s", storage=url).enqueue_trial({"layers": 9})
    waiting = [t for t in study.trials if t.state is TrialState.WAITING]
    assert [t.params for t in waiting] == [{"lr": 0.02, "layers": 1, "act": "tanh"},
                                           {"layers": 4}, {"layers": 9}]
    done = metahpo.tune(loss, SPACE, n_trials=7, storage=url, study_name="s", seed=0,
                        show_progress=False)
    trials = done.trials
    assert len(trials) == 7 and all(t.state is not TrialState.WAITING for t in trials)
    assert trials[2].params == {"lr": 0.02, "layers": 1, "act": "tanh"}
    assert trials[3].state is TrialState.COMPLETE and trials[3].params["layers"] == 4
    assert set(trials[3].params) == {"lr", "layers", "act"}
    assert trials[4].state is TrialState.FAILED
    assert "values outside the space: layers=9" in trials[4].error
    assert all(t.state is TrialState.COMPLETE for t in trials[5:])
    study.enqueue_trial({"layers": 3.0})
    full = metahpo.tune(loss, SPACE, n_trials=8, storage=url, study_name="s", seed=0,
                        show_progress=False)
    assert len(full.trials) == 8 and full.trials[7].params["layers"] == 3
    assert type(full.trials[7].params["layers"]) is int, "a JSON-style 3.0 of an Int runs as 3"


def test_ask_takes_a_queued_configuration_and_workers_run_each_once(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = metahpo.create_study(SPACE, storage=url, study_name="s")
    study.enqueue_trial({"lr": 0.001, "layers": 2, "act": "relu"})
    with pytest.raises(MetaHPOError, match="trial 0 of study 's' is waiting, not running: it "
                                           "has not started"):
        study.tell(0, 1.0)
    asked = study.ask("random", seed=0)
    assert (asked.number, dict(asked.params)) == (0, {"lr": 0.001, "layers": 2, "act": "relu"})
    study.tell(0, 1.0)
    queued = [{"lr": 10.0 ** -k, "layers": 1 + k % 4, "act": "relu"} for k in range(1, 5)]
    for params in queued:
        study.enqueue_trial(params)
    done = metahpo.tune(loss, SPACE, n_trials=8, storage=url, study_name="s", seed=1,
                        n_jobs=2, show_progress=False)
    ran = [t.params for t in done.trials[1:5]]
    assert sorted(map(str, ran)) == sorted(map(str, queued))
    # two jobs may both start a last trial, as with any trials (see test_tuning)
    assert 8 <= len(done.trials) <= 9
    assert all(t.state is TrialState.COMPLETE for t in done.trials)


def test_a_configuration_outside_the_space_is_refused_when_queued():
    study = metahpo.create_study(SPACE)
    with pytest.raises(MetaHPOError, match=r"unknown parameters \['depth'\]"):
        study.enqueue_trial({"depth": 3})
    with pytest.raises(MetaHPOError, match="values outside the space: act='gelu'"):
        study.enqueue_trial({"act": "gelu"})
    with pytest.raises(MetaHPOError, match=r"\{'lr': an int of 16610 bits\} does not fit the "
                                           "search space: values outside the space: lr=an int"):
        study.enqueue_trial({"lr": 10**5000})


def test_a_long_run_of_bad_queued_configurations_fails_each_and_goes_on():
    """Configurations Optuna queued outside the space (it checks none) fail one by one, however
    many lie in a row: the worker's stack does not grow with them."""
    storage = optuna.storages.InMemoryStorage()
    metahpo.tune(loss, SPACE, optimizer="random", n_trials=1, storage=storage, study_name="s",
                 seed=0, show_progress=False)
    queue = optuna.load_study(study_name="s", storage=storage)
    for _ in range(300):
        queue.enqueue_trial({"layers": 9}, skip_if_exists=False)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 150)
    try:
        done = metahpo.tune(loss, SPACE, optimizer="random", n_trials=3, storage=storage,
                            study_name="s", seed=0, show_progress=False)
    finally:
        sys.setrecursionlimit(limit)
    states = [t.state for t in done.trials]
    assert states == [TrialState.COMPLETE] + [TrialState.FAILED] * 300 + [TrialState.COMPLETE]
    assert all("layers=9" in t.error for t in done.trials[1:301])


WORKER = """
import sys
import metahpo
from metahpo import Float, SearchSpace

def objective(params):
    with open(sys.argv[2], "a") as log:
        log.write(f"{params['x']}\\n")
    return params["x"]

metahpo.tune(objective, SearchSpace([Float("x", 0.0, 100.0)]), optimizer="random",
             n_trials=int(sys.argv[3]), storage=sys.argv[1], study_name="s", seed=int(sys.argv[4]),
             show_progress=False)
"""


def test_processes_sharing_a_sqlite_file_run_each_queued_configuration_once(tmp_path):
    """Four worker processes on one SQLite file claim 24 queued trials; before their claims
    took turns, about one configuration per such run ran twice (SQLite lets two processes read a
    trial as waiting and both start it)."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = metahpo.create_study(SearchSpace([Float("x", 0.0, 100.0)]), storage=url,
                                 study_name="s")
    for k in range(24):
        study.enqueue_trial({"x": float(k)})
    script, log = tmp_path / "worker.py", tmp_path / "ran.txt"
    script.write_text(WORKER)
    workers = [subprocess.Popen([sys.executable, str(script), url, str(log), "24", str(seed)])
               for seed in range(4)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0, 0, 0]
    ran = [float(line) for line in log.read_text().split()]
    queued_runs = sorted(x for x in ran if x.is_integer())
    assert queued_runs == [float(k) for k in range(24)]
    assert all(t.state is TrialState.COMPLETE for t in metahpo.load_study("s", url).trials)


def test_a_configuration_queued_while_a_search_runs_is_counted_and_run_once():
    """A running tune call reads the study's finished first trials once: a configuration
    queued mid-search (by a callback here, by another process in practice) for the study's
    last places still run, once each (a queued trial is no finished one: counted as one, the
    second would have lost its place unrun)."""
    queued = [{"lr": 0.05, "layers": 2, "act": "tanh"}, {"lr": 0.002, "layers": 3, "act": "relu"}]

    def enqueue_for_the_last_places(study, record):
        if record.number == 4:
            for params in queued:
                study.enqueue_trial(params)

    study = metahpo.tune(loss, SPACE, n_trials=7, seed=0, show_progress=True,
                         callbacks=[enqueue_for_the_last_places])
    trials = study.trials
    assert len(trials) == 7 and all(t.state is TrialState.COMPLETE for t in trials)
    assert [t.params for t in trials[5:]] == queued
    resumed = metahpo.tune(loss, SPACE, n_trials=9, seed=0, show_progress=False,
                           storage=study.storage, study_name=study.name)
    assert len(resumed.trials) == 9
    assert all([t.params for t in resumed.trials].count(params) == 1 for params in queued)
