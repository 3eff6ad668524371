"""Several objectives in metahpo's own studies: tune, ask / tell and the command line."""

import json
import sys

import pareto
import pytest
from command_line import run

import metahpo
from metahpo import Float, SearchSpace, restore_optimizer, tune
from metahpo.errors import MetaHPOError
from metahpo.optimizers.multi_objective import MultiObjective, optimizer_for
from metahpo.trial import TrialState

SPACE = SearchSpace([Float("x0", 0.0, 1.0), Float("x1", 0.0, 1.0), Float("x2", 0.0, 1.0)])
BOTH_MIN = ["minimize", "minimize"]


def zdt1(params):
    """ZDT1 (:func:`pareto.zdt1`) of a configuration."""
    return pareto.zdt1(params["x0"], params["x1"], params["x2"])


def test_tune_finds_the_front_along_its_length_and_records_every_value(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    for seed in range(3):
        meta = tune(zdt1, SPACE, n_trials=30, directions=BOTH_MIN, seed=seed, storage=url,
                    study_name=f"meta{seed}", show_progress=False)
        random = tune(zdt1, SPACE, optimizer="random", n_trials=30, directions=BOTH_MIN,
                      seed=seed, show_progress=False)
        assert meta.directions == BOTH_MIN
        values = [t.values for t in meta.trials]
        assert all(v == pytest.approx(zdt1(t.params)) for v, t in zip(values, meta.trials))
        baseline = pareto.hypervolume([t.values for t in random.trials])
        assert pareto.hypervolume(values) > baseline + 0.5, seed
        front = meta.best_trials
        near = [t for t in front if t.params["x1"] + t.params["x2"] < 0.1]
        assert len(near) >= len(front) - 2, "off the front (the ends of a finite front may be)"
        assert max(t.params["x0"] for t in near) - min(t.params["x0"] for t in near) > 0.5
    assert meta.trials[0].params == {"x0": 0.5, "x1": 0.5, "x2": 0.5}, "the design's start"
    with pytest.raises(MetaHPOError, match="best_trials"):
        meta.best_trial


def test_a_study_of_several_objectives_resumes_and_runs_jobs_in_parallel(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    tune(zdt1, SPACE, n_trials=8, directions=BOTH_MIN, seed=0, storage=url, study_name="s",
         show_progress=False)
    study = tune(zdt1, SPACE, n_trials=20, directions=BOTH_MIN, seed=0, storage=url,
                 study_name="s", n_jobs=2, show_progress=False)
    configs = [tuple(t.params.values()) for t in study.trials]
    assert len(configs) == 20 and len(set(configs)) == 20
    assert all(t.state is TrialState.COMPLETE for t in study.trials)
    with pytest.raises(MetaHPOError, match="created to minimize, minimize, not to maximize"):
        tune(zdt1, SPACE, n_trials=21, direction="maximize", storage=url, study_name="s")


def test_a_trial_without_one_finite_value_per_objective_fails_and_tuning_goes_on():
    outcomes = iter([0.5, (0.5,), (0.5, float("nan")), (0.5, 1.0, 2.0), "0.5 1.0"])

    def objective(params):
        return next(outcomes, None) or zdt1(params)

    study = tune(objective, SPACE, n_trials=8, directions=BOTH_MIN, seed=0,
                 show_progress=False)
    errors = [t.error for t in study.trials[:5]]
    assert errors == [
        "objective returned float, not a sequence of 2 numbers (one per direction)",
        "objective returned 1 values for 2 objectives",
        "objective returned nan as objective 1",
        "objective returned 3 values for 2 objectives",
        "objective returned str, not a sequence of 2 numbers (one per direction)",
    ]
    assert [t.state for t in study.trials[5:]] == [TrialState.COMPLETE] * 3


def test_arguments_that_do_not_fit_several_objectives_are_refused_clearly():
    import optuna

    def with_trial(params, trial):
        return zdt1(params)

    with pytest.raises(MetaHPOError, match="direction .* or directions .*not both"):
        tune(zdt1, SPACE, n_trials=2, direction="maximize", directions=BOTH_MIN)
    with pytest.raises(MetaHPOError, match="directions must be a non-empty list"):
        tune(zdt1, SPACE, n_trials=2, directions="minimize")
    with pytest.raises(MetaHPOError, match="direction must be 'minimize' or 'maximize'"):
        tune(zdt1, SPACE, n_trials=2, directions=["minimize", "fastest"])
    with pytest.raises(MetaHPOError, match="a pruner judges trials by one reported value"):
        tune(with_trial, SPACE, n_trials=2, directions=BOTH_MIN,
             pruner=optuna.pruners.MedianPruner())
    single = metahpo.create_optimizer("random", SPACE)
    with pytest.raises(MetaHPOError, match="pass the optimizer's name"):
        tune(zdt1, SPACE, n_trials=2, directions=BOTH_MIN, optimizer=single)
    with pytest.raises(MetaHPOError, match="at least two directions"):
        MultiObjective(SPACE, directions=["minimize"])
    with pytest.raises(MetaHPOError, match="optimizer 'tpe' has no option 'resolution'"):
        tune(zdt1, SPACE, n_trials=2, directions=BOTH_MIN, optimizer="tpe", resolution=3)


def test_any_optimizer_proposes_for_several_objectives_and_restores_from_its_state():
    instance = MultiObjective(SPACE, directions=["maximize", "minimize"], optimizer="tpe", seed=3)
    study = tune(lambda p: (-zdt1(p)[0], zdt1(p)[1]), SPACE, n_trials=12, optimizer=instance,
                 directions=["maximize", "minimize"], show_progress=False)
    losses = {t.number: (-t.values[0], t.values[1]) for t in study.trials}
    undominated = {n for n, a in losses.items()
                   if not any(b != a and b[0] <= a[0] and b[1] <= a[1] for b in losses.values())}
    assert {t.number for t in study.best_trials} == {t.number for t in instance.front} == undominated
    assert instance.best is None and instance.directions == ["maximize", "minimize"]
    again = restore_optimizer(instance.state_dict())
    assert again.ask().params == instance.ask().params
    unseeded = optimizer_for("cmaes", SPACE, BOTH_MIN)
    for _ in range(6):
        trial = unseeded.ask()
        unseeded.tell(trial, zdt1(trial.params))
    assert len(unseeded.history) == 6


def test_a_sampler_with_a_state_goes_on_though_it_is_built_again_for_each_proposal():
    """The wrapped optimizer is rebuilt from the trials for each proposal, each trial with
    what the sampler kept with it: QMC goes on along its sequence (it proposed its first point
    at every trial)."""
    from scipy.stats import qmc

    space = SearchSpace([Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)])
    study = tune(lambda p: (p["x"], p["y"]), space, optimizer="optuna.samplers:QMCSampler",
                 directions=["minimize", "maximize"], n_trials=9, seed=0, show_progress=False)
    points = [[t.params["x"], t.params["y"]] for t in study.trials]
    assert points[1:] == qmc.Sobol(2, scramble=False).random(8).tolist()


def test_ask_and_tell_record_several_values():
    study = metahpo.create_study(SPACE, directions=["maximize", "minimize"])
    for _ in range(6):
        trial = study.ask(seed=0)
        f1, f2 = zdt1(trial.params)
        record = study.tell(trial.number, [-f1, f2])
        assert record.values == (-f1, f2) and record.value is None
    assert study.best_trials and study.directions == ["maximize", "minimize"]


def test_the_command_line_tunes_asks_and_tells_several_objectives(tmp_path):
    (tmp_path / "space.yaml").write_text(SPACE.to_yaml())
    (tmp_path / "train.py").write_text(
        "import json, os\n"
        "p = json.loads(os.environ['METAHPO_PARAMS'])\n"
        "g = 1.0 + 4.5 * (p['x1'] + p['x2'])\n"
        "print('epoch 1 done')\n"
        "print(p['x0'], g * (1.0 - (p['x0'] / g) ** 0.5))\n")
    url = f"sqlite:///{tmp_path / 's.db'}"
    tuned = run(tmp_path, "tune", "--command", f"{sys.executable} train.py", "--space",
                "space.yaml", "--trials", "8", "--direction", "minimize", "--direction",
                "minimize", "--storage", url, "--study", "cmd", "--seed", "0", "--quiet")
    assert tuned.returncode == 0, tuned.stderr
    study = metahpo.load_study("cmd", url)
    front = study.best_trials
    assert f"\nPareto front (minimize, minimize): {len(front)} trials\n" in tuned.stdout
    assert f"  trial {front[0].number}: {front[0].values[0]:.6g}, " in tuned.stdout
    assert all(t.values == pytest.approx(zdt1(t.params)) for t in study.trials)

    asked = run(tmp_path, "ask", "--storage", url, "--study", "cmd", "--seed", "1")
    number = json.loads(asked.stdout)["number"]
    wrong = run(tmp_path, "tell", "--storage", url, "--study", "cmd", "--trial", str(number),
                "--value", "0.3")
    assert wrong.returncode == 2
    assert "has 2 objectives (minimize, minimize): give --value once per objective" in wrong.stderr
    assert study.trial(number).state is TrialState.RUNNING, "a mistaken tell records nothing"
    told = run(tmp_path, "tell", "--storage", url, "--study", "cmd", "--trial", str(number),
               "--value", "0.3", "--value", "2.5")
    assert told.stdout.strip() == f"trial {number}: complete 0.3, 2.5"

    created = run(tmp_path, "ask", "--storage", url, "--study", "new", "--space", "space.yaml",
                  "--direction", "maximize", "--direction", "minimize")
    assert created.returncode == 0, created.stderr
    assert metahpo.load_study("new", url).directions == ["maximize", "minimize"]
    again = run(tmp_path, "ask", "--storage", url, "--study", "new", "--space", "space.yaml")
    assert again.returncode == 0, again.stderr
