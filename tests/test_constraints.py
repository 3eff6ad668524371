"""Constraints in metahpo's own studies: set by the objective, a training script or a tell."""

import json
import sys

import pytest
from command_line import run

import metahpo
from metahpo import Float, SearchSpace, tune
from metahpo.errors import MetaHPOError
from metahpo.trial import TrialState

SPACE = SearchSpace([Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)])


def loss(params):
    return (params["x"] - 1.0) ** 2 + (params["y"] - 0.5) ** 2


def bounded(params, trial):
    """Best at x = 1, but only x <= 0.5 is allowed: the feasible optimum (0.25) lies on the
    boundary."""
    trial.set_constraint("x_max", params["x"] - 0.5)
    return loss(params)


def test_the_search_steers_away_from_infeasible_trials_and_the_best_is_feasible(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    for seed in range(3):
        constrained = tune(bounded, SPACE, n_trials=30, seed=seed, storage=url,
                           study_name=f"c{seed}", show_progress=False)
        free = tune(lambda p: loss(p), SPACE, n_trials=30, seed=seed, show_progress=False)
        late = constrained.trials[10:]
        assert sum(not t.feasible for t in late) <= 4, seed  # 2 in each seed
        assert sum(t.params["x"] > 0.5 for t in free.trials[10:]) >= 15, seed  # 19-20
        assert constrained.best_trial.feasible
        assert constrained.best_value == pytest.approx(0.25, abs=0.01)
        infeasible = [t for t in constrained.trials if not t.feasible]
        assert infeasible and all(t.state is TrialState.COMPLETE and t.value is not None
                                  and t.constraints["x_max"] > 0 for t in infeasible)


def test_a_resumed_study_tells_its_infeasible_trials_as_failed():
    study = metahpo.create_study(SPACE)
    tune(bounded, SPACE, optimizer="random", n_trials=12, seed=0, storage=study.storage,
         study_name=study.name, show_progress=False)
    opt = metahpo.create_optimizer("random", SPACE, seed=1)
    tune(bounded, SPACE, optimizer=opt, n_trials=14, storage=study.storage,
         study_name=study.name, show_progress=False)
    assert len(opt.history) == 14
    for t, record in zip(study.trials[:12], opt.history):  # replayed in the study's order
        if t.feasible:
            assert record.state is TrialState.COMPLETE and record.value == t.value
        else:
            assert record.state is TrialState.FAILED
            assert record.error == f"infeasible: x_max = {t.constraints['x_max']:.4g} > 0"
    own = opt.history[12:]
    assert len(own) == 2
    assert all((r.state is TrialState.FAILED) == (r.params["x"] > 0.5) for r in own)


def test_several_objectives_take_their_front_among_the_feasible_trials():
    def two(params, trial):
        trial.set_constraint("x_max", params["x"] - 0.6)
        return params["x"], 1.0 - params["x"] ** 0.5 + params["y"]

    study = tune(two, SPACE, n_trials=20, directions=["minimize", "minimize"], seed=0,
                 show_progress=False)
    front = study.best_trials
    assert front and all(t.feasible for t in front)
    assert any(not t.feasible for t in study.trials)


def test_constraints_of_the_wrong_kind_are_refused_clearly():
    def named(params, trial):
        trial.set_constraint("", 1.0)
        return 0.0

    def text(params, trial):
        trial.set_constraint("latency", "fast")
        return 0.0

    def numbered(params, trial):
        trial.set_constraint(3, 1.0)
        return 0.0

    assert tune(named, SPACE, n_trials=1, show_progress=False).trials[0].error == (
        "MetaHPOError: a constraint's name must be a non-empty string, got ''")
    assert tune(numbered, SPACE, n_trials=1, show_progress=False).trials[0].error == (
        "MetaHPOError: a constraint's name must be a non-empty string, got 3")
    assert "constraint 'latency': the value must be a number" in tune(
        text, SPACE, n_trials=1, show_progress=False).trials[0].error
    study = metahpo.create_study(SPACE)
    trial = study.ask("random", seed=0)
    with pytest.raises(MetaHPOError, match="constraints must be a dict"):
        study.tell(trial.number, 1.0, constraints=[0.5])
    with pytest.raises(MetaHPOError, match="the value must be a number"):
        study.tell(trial.number, 1.0, constraints={"latency": float("nan")})
    assert study.trial(trial.number).state is TrialState.RUNNING, "a refused tell records nothing"
    record = study.tell(trial.number, 1.0, constraints={"latency": 2.0, "memory": -1})
    assert record.constraints == {"latency": 2.0, "memory": -1.0} and not record.feasible


def test_training_scripts_and_job_queues_report_constraints(tmp_path):
    (tmp_path / "space.yaml").write_text(SPACE.to_yaml())
    (tmp_path / "train.py").write_text(
        "import json, os\n"
        "p = json.loads(os.environ['METAHPO_PARAMS'])\n"
        "print('METAHPO_CONSTRAINT x_max', p['x'] - 0.5)\n"
        "print((p['x'] - 1.0) ** 2 + (p['y'] - 0.5) ** 2)\n")
    url = f"sqlite:///{tmp_path / 's.db'}"
    tuned = run(tmp_path, "tune", "--command", f"{sys.executable} train.py", "--space",
                "space.yaml", "--trials", "8", "--storage", url, "--study", "cmd", "--seed",
                "0", "--quiet")
    assert tuned.returncode == 0, tuned.stderr
    study = metahpo.load_study("cmd", url)
    infeasible = [t for t in study.trials if not t.feasible]
    assert all(t.constraints["x_max"] == pytest.approx(t.params["x"] - 0.5) for t in study.trials)
    assert infeasible, "the design's first trials reach past x = 0.5"
    assert f"(8 complete, of which {len(infeasible)} broke a constraint, 0 failed)" in tuned.stdout
    assert f"best value {study.best_value:.6g} (trial {study.best_trial.number})" in tuned.stdout
    assert study.best_trial.feasible
    run(tmp_path, "studies", "show", "cmd", "--storage", url, "--csv", "trials.csv")
    assert (tmp_path / "trials.csv").read_text().splitlines()[0].endswith(
        "params_x,params_y,constraints_x_max")

    (tmp_path / "bad.py").write_text("print('METAHPO_CONSTRAINT x_max')\nprint(1.0)\n")
    bad = run(tmp_path, "tune", "--command", f"{sys.executable} bad.py", "--space",
              "space.yaml", "--trials", "1", "--storage", url, "--study", "bad", "--quiet")
    assert bad.returncode == 1, bad.stderr
    assert "malformed constraint 'METAHPO_CONSTRAINT x_max'" in (
        metahpo.load_study("bad", url).trials[0].error)

    asked = json.loads(run(tmp_path, "ask", "--storage", url, "--study", "cmd").stdout)
    told = run(tmp_path, "tell", "--storage", url, "--study", "cmd", "--trial",
               str(asked["number"]), "--value", "0.1", "--constraint", "x_max=0.3")
    assert told.returncode == 0, told.stderr
    record = study.trial(asked["number"])
    assert record.constraints == {"x_max": 0.3} and not record.feasible
    again = json.loads(run(tmp_path, "ask", "--storage", url, "--study", "cmd").stdout)
    wrong = run(tmp_path, "tell", "--storage", url, "--study", "cmd", "--trial",
                str(again["number"]), "--value", "0.1", "--constraint", "x_max=low")
    assert wrong.returncode == 2 and "constraint 'x_max': the value must be a number" in wrong.stderr
