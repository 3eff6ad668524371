"""Studies as records, and Study.ask / Study.tell for trials evaluated elsewhere."""

import json
import logging
import re
import subprocess
import sys

import numpy as np
import pytest

import metahpo
from metahpo import (
    Float,
    Int,
    MetaHPOError,
    SearchSpace,
    TrialRecord,
    TrialState,
    create_study,
    load_study,
    tune,
)
from metahpo.study_optimizer import searched_by

SPACE = SearchSpace([Float("x", -5.0, 5.0), Int("n", 1, 8)])


def quadratic(params):
    return (params["x"] - 1.0) ** 2 + params["n"]


def test_asked_trials_run_elsewhere_steer_apart_and_are_told_later():
    study = create_study(SPACE, study_name="jobs")
    asked = [study.ask(seed=0) for _ in range(4)]
    assert [t.number for t in asked] == [0, 1, 2, 3]
    assert len({tuple(t.params.values()) for t in asked}) == 4
    assert [t.state for t in study.trials] == [TrialState.RUNNING] * 4
    for trial in reversed(asked):
        study.tell(trial.number, quadratic(trial.params))
    assert [t.value for t in study.trials] == [quadratic(t.params) for t in asked]
    record = study.tell(study.ask(seed=0), None)  # the trial itself, as in Optuna
    assert record.state is TrialState.FAILED and record.error == "objective returned None"


def test_asked_trials_take_the_points_to_evaluate_first_each_once():
    study = create_study(SPACE, study_name="jobs")
    points = [study.space.decode([u] * study.space.dim) for u in (0.1, 0.9)]
    asked = [study.ask(seed=0, points_to_evaluate=points) for _ in range(3)]
    assert [dict(t.params) for t in asked[:2]] == points and dict(asked[2].params) not in points
    study.tell(asked[0].number, None)  # a failed point is not evaluated again
    assert dict(study.ask(seed=0, points_to_evaluate=points).params) not in points
    with pytest.raises(MetaHPOError, match=r"points_to_evaluate\[0\]: parameters do not match"):
        study.ask(seed=0, points_to_evaluate=[{"nope": 1}])


def test_asked_trials_left_without_a_result_are_failed_as_stale_and_their_points_come_back():
    study = create_study(SPACE, study_name="jobs")
    point = study.space.decode([0.1] * study.space.dim)
    lost = study.ask(seed=0, points_to_evaluate=[point])
    done = study.ask(seed=0)
    study.tell(done.number, quadratic(done.params))
    assert study.fail_stale(3600) == []
    assert study.fail_stale(0) == [lost.number]
    record = study.trials[lost.number]
    assert record.state is TrialState.FAILED and "failed as stale" in record.error
    assert dict(study.ask(seed=0, points_to_evaluate=[point]).params) == point
    with pytest.raises(MetaHPOError, match="older_than must be a number of seconds >= 0"):
        study.fail_stale(-1)


def test_a_job_array_past_the_design_asks_distinct_configurations():
    """The policy does not read pending trials; the asks of a job array still differ (draws
    restart from the seed and the trial count; the screen's GP believes the pending ones)."""
    from metahpo.tasks.registry import make_tasks

    task = make_tasks("yahpo:lcbench", instances="test")[0]
    for policy in ("lcbench", "default"):
        study = create_study(task.space, direction=task.direction)
        for _ in range(8):
            trial = study.ask(seed=0, policy=policy)
            study.tell(trial.number, task.evaluate(trial.params))
        batch = [study.ask(seed=0, policy=policy) for _ in range(4)]
        assert len({json.dumps(t.params, sort_keys=True) for t in batch}) == 4, policy


def test_a_stale_asked_trial_is_asked_again_first_at_most_twice_and_named_as_a_retry():
    from metahpo.shared_study import Peers

    study = create_study(SPACE, study_name="jobs")
    lost = study.ask(seed=0)
    done = study.ask(seed=0)
    study.tell(done.number, quadratic(done.params))
    chain = [lost.number]
    for _ in range(2):
        study.fail_stale(0)
        again = study.ask(seed=0)
        assert dict(again.params) == dict(lost.params)
        assert study.trial(again.number).retry_of == lost.number
        chain.append(again.number)
    study.fail_stale(0)
    opt = metahpo.create_optimizer("random", SPACE, seed=0)
    Peers(study, opt).sync()
    assert [(r.state, r.params) for r in opt.history if r.state is TrialState.FAILED] == [
        (TrialState.FAILED, lost.params)], "a configuration given up is read as a failure"
    fresh = study.ask(seed=0)
    assert dict(fresh.params) != dict(lost.params) and study.trial(fresh.number).retry_of is None
    assert [t.number for t in study.trials if t.retry_of == lost.number] == chain[1:]
    with pytest.raises(MetaHPOError, match="has no trial 99"):
        study.trial(99)


def test_trial_numbers_from_a_data_frame_name_trials_and_negative_ones_none():
    """A data frame's ``number`` column holds NumPy integers (refused before); in memory,
    ``tell(-1, ...)`` told the last trial (Optuna's list index) and ``trial(-1)`` of an empty
    study raised an IndexError."""
    study = create_study(SPACE, study_name="numbers")
    with pytest.raises(MetaHPOError, match="has no trial -1: trial numbers start at 0"):
        study.trial(-1)
    first, second = study.ask(seed=0), study.ask(seed=0)
    study.tell(np.int64(first.number), 1.0)
    assert study.trial(np.int32(0)).value == 1.0
    with pytest.raises(MetaHPOError, match="has no trial -1: trial numbers start at 0"):
        study.tell(-1, 2.0)
    assert study.trial(second.number).state is TrialState.RUNNING


@pytest.mark.parametrize("max_retries", [0, 3])
def test_max_retries_sets_how_often_an_interrupted_configuration_runs_again(max_retries):
    from metahpo.shared_study import Peers

    study = create_study(SPACE, study_name=f"retries{max_retries}")
    lost = study.ask(seed=0, max_retries=max_retries)
    for _ in range(max_retries):
        study.fail_stale(0)
        again = study.ask(seed=0, max_retries=max_retries)
        assert dict(again.params) == dict(lost.params)
    study.fail_stale(0)
    fresh = study.ask(seed=0, max_retries=max_retries)
    assert dict(fresh.params) != dict(lost.params) and study.trial(fresh.number).retry_of is None
    opt = metahpo.create_optimizer("random", SPACE, seed=0)
    Peers(study, opt, max_retries).sync()
    assert [r.params for r in opt.history if r.state is TrialState.FAILED] == [lost.params]
    with pytest.raises(MetaHPOError, match="max_retries must be an int >= 0, got -1"):
        study.ask(seed=0, max_retries=-1)
    with pytest.raises(MetaHPOError, match="max_retries must be an int >= 0, got 1.5"):
        metahpo.tune(quadratic, SPACE, n_trials=1, max_retries=1.5)


def test_a_point_to_evaluate_given_up_after_three_stops_is_not_evaluated_again():
    study = create_study(SPACE, study_name="jobs")
    point = study.space.decode([0.1] * study.space.dim)
    for attempt in range(3):
        trial = study.ask(seed=0, points_to_evaluate=[point])
        assert dict(trial.params) == point, attempt
        study.fail_stale(0)
    assert dict(study.ask(seed=0, points_to_evaluate=[point]).params) != point


def test_an_interrupted_trial_is_withdrawn_from_the_optimizer_not_told_as_failed():
    from metahpo.shared_study import Peers

    study = create_study(SPACE, study_name="jobs")
    for _ in range(3):
        trial = study.ask(seed=0)
        study.tell(trial.number, quadratic(trial.params))
    study.ask(seed=0)
    opt = metahpo.create_optimizer("random", SPACE, seed=0)
    peers = Peers(study, opt)
    peers.sync()
    assert len(opt.history) == 3 and len(opt.pending) == 1
    study.fail_stale(0)
    peers.sync()
    assert len(opt.history) == 3 and not opt.pending
    Peers(study, fresh := metahpo.create_optimizer("random", SPACE, seed=0)).sync()
    assert [r.state for r in fresh.history] == [TrialState.COMPLETE] * 3


def test_telling_a_trial_that_is_not_running_is_refused():
    study = create_study(SPACE)
    trial = study.ask("random", seed=1)
    study.tell(trial.number, 1.0)
    with pytest.raises(MetaHPOError, match="is complete, not running: its outcome is recorded"):
        study.tell(trial.number, 2.0)
    with pytest.raises(MetaHPOError, match="has no trial 5"):
        study.tell(5, 2.0)
    with pytest.raises(MetaHPOError, match="has no metahpo search space"):
        optuna_study = _foreign_optuna_study()
        load_study("foreign", optuna_study).ask()


def test_a_study_made_by_optuna_takes_the_space_metahpo_first_opens_it_with():
    """``create_study`` (``ask --space``, ``tune``) over an Optuna-made study records the space
    there, so that later calls that only name the study find it; its trials are read."""
    import optuna

    storage = _foreign_optuna_study()
    foreign = optuna.load_study(study_name="foreign", storage=storage)
    foreign.enqueue_trial({"x": 0.25, "n": 3})
    foreign.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("n", 1, 8), n_trials=1)
    create_study(SPACE, storage=storage, study_name="foreign")
    study = load_study("foreign", storage)
    assert study.space == SPACE
    trial = study.ask("random", seed=0)
    assert trial.number == 1 and study.best_trial.params == {"x": 0.25, "n": 3}


def _foreign_optuna_study():
    import optuna

    storage = optuna.storages.InMemoryStorage()
    optuna.create_study(storage=storage, study_name="foreign")
    return storage


def test_an_asked_trial_outlives_its_process_while_tune_workers_go_on(tmp_path):
    """The process that asked exits at once; workers of the same study must neither fail its
    trial as left by a dead process nor propose its configuration."""
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    create_study(SPACE, storage=url, study_name="s")
    code = ("import json, metahpo; s = metahpo.load_study('s', %r); t = s.ask(seed=0); "
            "print(json.dumps({'number': t.number, 'params': dict(t.params)}))" % url)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    asked = json.loads(out.stdout.strip().splitlines()[-1])
    study = tune(quadratic, SPACE, n_trials=6, seed=0, storage=url, study_name="s",
                 show_progress=False)
    trials = study.trials
    assert len(trials) == 6 and trials[asked["number"]].state is TrialState.RUNNING
    assert [t.params for t in trials].count(asked["params"]) == 1
    load_study("s", url).tell(asked["number"], error="the job was preempted")
    assert load_study("s", url).trials[asked["number"]].error == "the job was preempted"


def test_create_study_checks_what_it_resumes(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    create_study(SPACE, storage=url, study_name="s", direction="maximize")
    assert create_study(SPACE, storage=url, study_name="s", direction="maximize").direction == "maximize"
    with pytest.raises(MetaHPOError, match="created to maximize"):
        create_study(SPACE, storage=url, study_name="s")
    with pytest.raises(MetaHPOError, match="space must be a metahpo.SearchSpace, got dict: .*space_from_optuna"):
        create_study({"x": (0, 1)}, storage=url)
    assert metahpo.list_studies(url)[0].name == "s"


def test_a_sqlite_study_reads_each_finished_trial_once_and_sees_other_writers(tmp_path, monkeypatch):
    """Every proposal reads the study; a finished trial cannot change, so it comes from the
    database once (Optuna's trial cache), while trials another process adds or finishes are
    still seen. Read afresh each time, a study's overhead per trial grew with its size."""
    import optuna

    url = f"sqlite:///{tmp_path / 's.db'}"
    tune(quadratic, SPACE, optimizer="random", n_trials=12, storage=url, study_name="s", seed=0,
         show_progress=False)
    read: list[int] = []
    real = optuna.storages.RDBStorage._get_trials

    def counting(self, *args, **kwargs):
        trials = real(self, *args, **kwargs)
        read.extend(t.number for t in trials)
        return trials

    monkeypatch.setattr(optuna.storages.RDBStorage, "_get_trials", counting)
    reader = load_study("s", url)
    assert len(reader.trials) == 12 and sorted(read) == list(range(12))
    other = load_study("s", url)  # another handle on the database, as another process has
    asked = other.ask(optimizer="random", seed=1)
    read.clear()
    assert len(reader.trials) == 13 and read == [12]
    other.tell(asked.number, 0.5)
    read.clear()
    assert reader.trials[-1].value == 0.5 and read == [12]
    read.clear()
    assert len(reader.trials) == 13 and read == []


def test_an_in_memory_study_is_saved_with_pickle_and_tuned_on_after_loading():
    import pickle

    study = tune(lambda p: (p["x"] - 1.0) ** 2 + p["n"], SPACE, n_trials=4, seed=0,
                 show_progress=False)
    study.stop()
    loaded = pickle.loads(pickle.dumps(study))
    assert [t.params for t in loaded.trials] == [t.params for t in study.trials]
    assert not loaded.stop_requested
    again = tune(lambda p: (p["x"] - 1.0) ** 2 + p["n"], SPACE, n_trials=6, seed=0,
                 storage=loaded.storage, study_name=loaded.name, show_progress=False)
    assert len(again.trials) == 6 and again.trials[3].params == study.trials[3].params


def test_best_trials_of_one_objective_are_those_with_the_best_value():
    study = create_study(SearchSpace([Float("x", 0.0, 1.0)]), direction="maximize")
    for x, value in [(0.1, 1.0), (0.2, 3.0), (0.3, 3.0), (0.4, 2.0)]:
        study.tell(study.ask("random", points_to_evaluate=[{"x": x}]).number, value)
    assert [t.number for t in study.best_trials] == [1, 2]
    assert study.directions == ["maximize"]


def test_a_record_holds_several_values_only_as_a_complete_trial_without_a_value():
    record = TrialRecord(number=0, params={}, state=TrialState.COMPLETE, values=(1, 2.5))
    assert record.values == (1.0, 2.5) and record.value is None
    for bad in [dict(state=TrialState.FAILED, values=(1.0, 2.0)),
                dict(state=TrialState.COMPLETE, value=1.0, values=(1.0, 2.0)),
                dict(state=TrialState.COMPLETE, values=(1.0,))]:
        with pytest.raises(MetaHPOError, match="values are the objectives"):
            TrialRecord(number=0, params={}, **bad)


def test_an_optuna_study_with_constraints_reads_its_best_among_the_feasible(tmp_path):
    import optuna

    url = f"sqlite:///{tmp_path / 'c.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=url, study_name="c",
                                sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.set_constraint("x_max", x - 0.5)
        return -x

    study.optimize(objective, n_trials=20)
    loaded = load_study("c", url)
    assert loaded.best_trial.number == study.best_trial.number
    assert loaded.best_trial.params["x"] <= 0.5 < max(t.params["x"] for t in study.trials)
    infeasible = [t for t in loaded.trials if not t.feasible]
    assert infeasible and all(t.constraints["x_max"] > 0 for t in infeasible)
    shown = subprocess.run([sys.executable, "-m", "metahpo", "studies", "show", "c", "--storage",
                            url], capture_output=True, text=True, timeout=120).stdout
    assert shown.count("infeasible: x_max = ") == len(infeasible)
    top = subprocess.run([sys.executable, "-m", "metahpo", "studies", "show", "c", "--storage",
                          url, "--top", "2"], capture_output=True, text=True, timeout=120).stdout
    assert top.splitlines()[0] == (f"study c (minimize): the 2 best of {20 - len(infeasible)} "
                                   f"complete trials ({len(infeasible)} that broke a constraint "
                                   "left out)")
    assert f"{loaded.best_trial.number:5d}  complete" in top.splitlines()[1]


def test_an_optimizer_with_a_state_goes_on_from_ask_to_ask():
    """Each ask builds its optimizer afresh from the study; CMA-ES reads its generations back
    from what it kept with the trials (it started from its first one at every ask, and never
    left its initial distribution: the last ten losses' mean was 0.71 times the first ten's,
    0.28 now, 0.26 in one process)."""
    space = SearchSpace([Float("x", -5.0, 5.0), Float("y", -5.0, 5.0)])
    study = create_study(space, study_name="jobs")
    losses = []
    for _ in range(30):
        trial = study.ask("cmaes", seed=0)
        losses.append((trial.params["x"] - 1.3) ** 2 + (trial.params["y"] + 2.1) ** 2)
        study.tell(trial.number, losses[-1])
    generations = [r.optimizer_attrs.get("trial:cmawm:generation") for r in study.trials]
    assert max(g for g in generations if g is not None) >= 3
    assert all("optimizer_attrs" not in repr(record) for record in study.trials)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])


def test_a_call_that_searches_a_study_with_another_optimizer_says_so_once(caplog):
    """A job queue's ask that forgets its --optimizer searches the study with the default:
    the study keeps which optimizer searched it, and a call with another warns once."""
    study = create_study(SPACE, study_name="jobs")
    with caplog.at_level(logging.WARNING, logger="metahpo"):
        for optimizer in ("cmaes", "cmaes", "meta", "meta"):
            study.tell(study.ask(optimizer, seed=0).number, 1.0)
    warnings = [r.getMessage() for r in caplog.records if "until now" in r.getMessage()]
    assert warnings == ["study 'jobs' was searched by 'cmaes' until now; this call searches it "
                        "with 'meta' (give every call on a study the same optimizer and "
                        "options to go on with its search)"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="metahpo"):
        tune(quadratic, SPACE, optimizer="meta", n_trials=5, storage=study.storage,
             study_name="jobs", show_progress=False, screen=0)
    assert "searched by 'meta' until now; this call searches it with 'meta' with options " \
           "{'screen': 0}" in caplog.text
    instance = metahpo.create_optimizer("grid", SPACE, seed=0, resolution=3)
    tune(quadratic, SPACE, optimizer=instance, n_trials=7, storage=study.storage,
         study_name="jobs", show_progress=False)
    assert searched_by(study) == "'grid' with options {'resolution': 3}"
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="metahpo"):
        for retries in (2, 5, 5):
            study.tell(study.ask("grid", seed=0, resolution=3, max_retries=retries).number, 1.0)
    assert [r.getMessage() for r in caplog.records] == [
        "study 'jobs' ran with max_retries=2 until now; this call gives 5 (give every worker of "
        "a study the same max_retries, --max-retries: each retries the lost runs it finds by "
        "its own)"]


def test_optunas_study_and_trial_attributes_they_lack_say_where_they_are():
    """An Optuna user's ``study.optimize`` / ``trials_dataframe`` / ``trial.duration`` on a
    metahpo study and its trials: an AttributeError (``hasattr`` stays false) that names what to
    use."""
    import optuna

    study = metahpo.tune(lambda p: p["x"], SearchSpace([Float("x", 0.0, 1.0)]),
                         optimizer="random", n_trials=2, seed=0, show_progress=False)
    for name, hint in [("optimize", "metahpo.tune(objective, space, storage=study.storage"),
                       ("trials_dataframe", "study.to_dataframe()"),
                       ("study_name", "study.name is its name"),
                       ("set_user_attr", "the Optuna study of the same storage has it: "
                                         "optuna.load_study(study_name=study.name, "
                                         "storage=study.storage)")]:
        with pytest.raises(AttributeError, match=re.escape(hint)):
            getattr(study, name)
    assert not hasattr(study, "no_such_thing") and not hasattr(study, "_private")
    with pytest.raises(AttributeError, match=r"get_trials.*an Optuna function takes the Optuna "
                                             r"study of the same storage"):
        optuna.importance.get_param_importances(study)  # an Optuna function given this study
    record = study.trials[0]
    for name, hint in [("duration", "trial.duration_s is how long it ran, in seconds"),
                       ("intermediate_values", "the trials of the Optuna study of the same "
                                               "storage have it")]:
        with pytest.raises(AttributeError, match=re.escape(hint)):
            getattr(record, name)
    assert not hasattr(record, "no_such_thing")
    asked = create_study(SPACE).ask("random", seed=0)
    with pytest.raises(AttributeError, match=re.escape("suggest_float(): metahpo's ask proposes "
                                                       "every parameter of the space at once")):
        asked.suggest_float("x", -5.0, 5.0)
    assert not hasattr(asked, "suggest_int")
    optuna_study = optuna.load_study(study_name=study.name, storage=study.storage)
    optuna_study.set_user_attr("owner", "me")
    assert len(optuna_study.trials) == 2 and optuna_study.user_attrs["owner"] == "me"
