"""The tune loop and persistent studies: failures, resume after SIGKILL, concurrent workers."""

import csv
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import time

import optuna
import pytest

import metahpo
from metahpo import Categorical, Float, Int, MetaHPOError, SearchSpace, TrialState, load_study, tune

SPACE = SearchSpace([Float("x", -5.0, 5.0), Int("n", 1, 8)])
POINTS = [{"x": 1.0, "n": 1}, {"x": -2.5, "n": 8}, {"x": 0.0, "n": 3}]

OBJECTIVE_MODULE = '''
import os, time
CALLS = 0
def objective(params):
    global CALLS
    CALLS += 1
    if os.environ.get("HOLD_FIRST_UNTIL") and CALLS == 1:
        deadline = time.time() + 120
        while not os.path.exists(os.environ["HOLD_FIRST_UNTIL"]) and time.time() < deadline:
            time.sleep(0.05)
    if os.environ.get("HANG_AT") and CALLS == int(os.environ["HANG_AT"]):
        open(os.environ["READY_FILE"], "w").close()
        time.sleep(120)
    time.sleep(float(os.environ.get("SLEEP", "0")))
    return (params["x"] - 1.0) ** 2 + params["n"]
'''


def quadratic(params):
    return (params["x"] - 1.0) ** 2 + params["n"]


def test_tune_in_memory_records_every_trial():
    study = tune(quadratic, SPACE, optimizer="random", n_trials=25, seed=0, show_progress=False)
    assert len(study.trials) == 25
    assert [t.number for t in study.trials] == list(range(25))
    assert all(t.state is TrialState.COMPLETE for t in study.trials)
    assert study.best_value == min(t.value for t in study.trials)
    assert study.best_value == quadratic(study.best_params)
    assert all(t.started_at <= t.finished_at for t in study.trials)


def test_the_command_lines_memory_storage_points_python_users_to_none():
    with pytest.raises(MetaHPOError, match="got 'memory'; storage=None keeps a study in memory"):
        tune(quadratic, SPACE, n_trials=1, storage="memory")


@pytest.mark.filterwarnings("error")
def test_tensor_and_numpy_results_are_recorded_as_their_numbers():
    import numpy as np
    import torch

    def loss_tensor(params):
        x = torch.tensor(params["x"], requires_grad=True)
        return (x - 1.0) ** 2 + params["n"]

    study = tune(loss_tensor, SPACE, n_trials=4, seed=0, show_progress=False)
    assert all(t.state is TrialState.COMPLETE for t in study.trials)
    assert [t.value for t in study.trials] == pytest.approx([quadratic(t.params) for t in study.trials])
    study = tune(lambda p: np.float32(quadratic(p)), SPACE, n_trials=2, seed=0, show_progress=False)
    assert all(isinstance(t.value, float) for t in study.trials)
    study = tune(lambda p: np.array([quadratic(p)]), SPACE, n_trials=2, seed=0, show_progress=False)
    assert [t.value for t in study.trials] == pytest.approx([quadratic(t.params) for t in study.trials])
    study = tune(lambda p: np.array([1.0, 2.0]), SPACE, n_trials=1, show_progress=False)
    assert study.trials[0].error == "objective returned ndarray, not a number"
    study = tune(lambda p: 10**400, SPACE, n_trials=1, show_progress=False)
    assert study.trials[0].error == "objective returned int beyond the range of a float (±1.8e308)"


def test_a_dict_of_metrics_fails_its_trial_with_a_hint_to_user_attrs():
    study = tune(lambda p: {"loss": quadratic(p)}, SPACE, n_trials=1, show_progress=False)
    assert study.trials[0].error.startswith("objective returned dict, not a number; return the "
                                            "one value to optimize")
    assert "trial.set_user_attr" in study.trials[0].error


def test_maximize_picks_the_largest_value():
    study = tune(quadratic, SPACE, n_trials=15, direction="maximize", seed=1, show_progress=False)
    assert study.best_value == max(t.value for t in study.trials)


def test_failed_trials_are_recorded_and_tuning_goes_on(caplog):
    def flaky(params):
        if params["n"] % 3 == 0:
            raise RuntimeError("out of memory")
        if params["n"] == 4:
            return float("nan")
        if params["n"] == 5:
            return None
        return quadratic(params)

    study = tune(flaky, SPACE, optimizer="random", n_trials=40, seed=2, show_progress=False)
    assert len(study.trials) == 40
    errors = {t.error for t in study.trials if t.state is TrialState.FAILED}
    assert errors == {"RuntimeError: out of memory", "objective returned nan", "objective returned None"}
    assert all(t.value is not None for t in study.trials if t.state is TrialState.COMPLETE)
    assert study.best_params["n"] in (1, 2, 7, 8)
    warned = {r.getMessage().split(": ", 1)[1].split("\n")[0] for r in caplog.records
              if r.levelname == "WARNING" and "failed" in r.getMessage()}
    assert warned == errors
    raised = [r.getMessage() for r in caplog.records if "out of memory" in r.getMessage()]
    assert raised and all("Traceback" in m and "in flaky" in m for m in raised)


def test_timeout_stops_starting_trials():
    study = tune(lambda p: time.sleep(0.05) or 1.0, SPACE, n_trials=1000, timeout=0.3,
                 show_progress=False)
    assert 1 <= len(study.trials) < 50


def test_without_n_trials_tuning_goes_on_until_the_timeout_or_a_stop():
    study = tune(lambda p: time.sleep(0.05) or 1.0, SPACE, n_trials=None, timeout=0.3,
                 show_progress=True)
    assert 1 <= len(study.trials) < 50

    def stop_at_seven(study, record):
        if len(study.trials) == 7:
            study.stop()

    stopped = tune(quadratic, SPACE, optimizer="random", n_trials=None, callbacks=[stop_at_seven],
                   show_progress=False)
    assert len(stopped.trials) == 7
    with pytest.raises(MetaHPOError, match="n_trials must be a non-negative int or None"):
        tune(quadratic, SPACE, n_trials=-1)


def test_sqlite_study_outlives_the_process_and_resumes(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    tune(quadratic, SPACE, optimizer="grid", n_trials=10, storage=url, study_name="s", seed=0,
         show_progress=False)
    study = tune(quadratic, SPACE, optimizer="grid", n_trials=25, storage=url, study_name="s",
                 seed=0, show_progress=False)
    trials = load_study("s", url).trials
    assert len(trials) == 25 and [t.number for t in trials] == list(range(25))
    points = {tuple(t.params.values()) for t in trials}
    assert len(points) == 25, "the resumed grid repeated points it had been told about"
    assert study.best_value == min(t.value for t in trials)
    again = tune(quadratic, SPACE, n_trials=25, storage=url, study_name="s", show_progress=False)
    assert len(again.trials) == 25, "re-running a finished study ran more trials"


def test_a_journal_storage_on_a_shared_file_system_holds_and_resumes_a_study(tmp_path):
    """Opened by hand or by its URL, journal:///PATH, as the command line opens it."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = str(tmp_path / "studies.log")
    tune(quadratic, SPACE, n_trials=4, seed=0, storage=f"journal:///{path}",
         study_name="s", points_to_evaluate=POINTS[:1], show_progress=False)
    storage = JournalStorage(JournalFileBackend(path))
    study = tune(quadratic, SPACE, n_trials=7, seed=0, storage=storage, study_name="s",
                 points_to_evaluate=POINTS[:1], show_progress=False)
    trials = load_study("s", storage).trials
    assert len(trials) == 7 and trials[0].params == POINTS[0]
    assert len({tuple(t.params.values()) for t in trials}) == 7
    assert [s.name for s in metahpo.list_studies(JournalStorage(JournalFileBackend(path)))] == ["s"]
    assert study.best_value == min(t.value for t in trials)


def test_resume_with_another_space_or_direction_is_refused_with_reordered_parameters_not(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    tune(quadratic, SPACE, n_trials=2, storage=url, study_name="s", show_progress=False)
    other = SearchSpace([Float("x", -5.0, 5.0), Int("n", 1, 9)])
    with pytest.raises(MetaHPOError, match=r"another search space \(changed: n\)"):
        tune(quadratic, other, n_trials=3, storage=url, study_name="s", show_progress=False)
    reordered = SearchSpace([Int("n", 1, 8), Float("x", -5.0, 5.0)])
    study = tune(quadratic, reordered, n_trials=3, storage=url, study_name="s", show_progress=False)
    assert len(study.trials) == 3 and all(set(t.params) == {"x", "n"} for t in study.trials)
    with pytest.raises(MetaHPOError, match="created to minimize"):
        tune(quadratic, SPACE, n_trials=3, storage=url, study_name="s", direction="maximize",
             show_progress=False)


def test_points_to_evaluate_come_first_and_the_optimizer_reads_them():
    opt = metahpo.create_optimizer("meta", SPACE, seed=0)
    study = tune(quadratic, SPACE, optimizer=opt, n_trials=6, points_to_evaluate=POINTS,
                 show_progress=False)
    assert [t.params for t in study.trials[:3]] == POINTS
    assert len(study.trials) == 6 and study.best_params == POINTS[0]
    assert [r.params for r in opt.history[:3]] == POINTS and len(opt.history) == 6
    few = tune(quadratic, SPACE, n_trials=2, points_to_evaluate=POINTS, show_progress=False)
    assert [t.params for t in few.trials] == POINTS[:2], "points count towards n_trials"


def test_points_typed_as_json_and_numpy_write_them_take_the_space_types():
    import numpy as np

    typed = tune(quadratic, SPACE, n_trials=2, show_progress=False,
                 points_to_evaluate=[{"x": 1, "n": 2.0}, {"x": np.float32(0.5), "n": np.int64(3)}])
    assert [t.params for t in typed.trials] == [{"x": 1.0, "n": 2}, {"x": 0.5, "n": 3}]
    assert [type(t.params["n"]) for t in typed.trials] == [int, int]
    assert [type(t.params["x"]) for t in typed.trials] == [float, float]
    choice = SearchSpace([Categorical("width", [32, 64]), Float("x", -5.0, 5.0)])
    chosen = tune(lambda p: p["x"], choice, n_trials=1, show_progress=False,
                  points_to_evaluate=[{"width": 64.0, "x": 0}])
    assert chosen.trials[0].params == {"width": 64, "x": 0.0}
    assert type(chosen.trials[0].params["width"]) is int
    with pytest.raises(MetaHPOError, match="parameter 'n': value 2.5 is outside"):
        tune(quadratic, SPACE, n_trials=1, points_to_evaluate=[{"x": 0.0, "n": 2.5}],
             show_progress=False)


def test_points_to_evaluate_are_evaluated_once_across_resumes_and_jobs(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    tune(quadratic, SPACE, n_trials=2, storage=url, study_name="s", seed=0,
         points_to_evaluate=POINTS, show_progress=False)
    tune(quadratic, SPACE, n_trials=8, storage=url, study_name="s", seed=0, n_jobs=2,
         points_to_evaluate=POINTS, show_progress=False)
    params = [t.params for t in load_study("s", url).trials]
    assert 8 <= len(params) <= 9
    assert [params.count(p) for p in POINTS] == [1, 1, 1]
    assert POINTS[2] in params[2:4], "the resumed run did not start with the point left"


@pytest.mark.parametrize("points, message", [
    ([{"x": 1.0}], r"points_to_evaluate\[0\]: parameters do not match the search space: "
                   r"missing \['n'\] \(the space has x, n\)$"),
    ([{"x": 1.0, "n": 1, "lr": 0.1}], r"search space: unexpected \['lr'\] \(the space has x, n\)$"),
    ([{"x": 1.0, "n": "2"}], r"parameter 'n': value '2' \(str, not a number\) is outside"),
    ([POINTS[0], {"x": 9.0, "n": 1}], r"points_to_evaluate\[1\]: parameter 'x': value 9.0 is outside"),
    ({"x": 1.0, "n": 1}, "must be a list of parameter dicts"),
])
def test_bad_points_to_evaluate_are_refused_before_anything_is_stored(tmp_path, points, message):
    db = tmp_path / "studies.db"
    with pytest.raises(MetaHPOError, match=message):
        tune(quadratic, SPACE, n_trials=3, storage=f"sqlite:///{db}", points_to_evaluate=points,
             show_progress=False)
    assert not db.exists()


def test_callbacks_see_every_finished_trial_and_can_stop_the_study(tmp_path):
    seen = []

    def flaky(params):
        if params["n"] == 2:
            raise RuntimeError("diverged")
        return quadratic(params)

    def stop_at_target(study, trial):
        seen.append((trial.number, trial.state))
        if trial.value is not None and trial.value < 2.0:
            study.stop()

    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = tune(flaky, SPACE, optimizer="random", n_trials=200, seed=0, storage=url,
                 study_name="s", callbacks=[stop_at_target], show_progress=False)
    trials = study.trials
    assert seen == [(t.number, t.state) for t in trials]
    assert TrialState.FAILED in [state for _, state in seen]
    assert len(trials) < 200 and trials[-1].value < 2.0
    assert all(t.value is None or t.value >= 2.0 for t in trials[:-1])
    again = tune(flaky, SPACE, optimizer="random", n_trials=len(trials) + 2, seed=0, storage=url,
                 study_name="s", show_progress=False)
    assert len(again.trials) == len(trials) + 2, "a stopped study did not resume"


def test_a_failing_callback_stops_tuning_with_its_trial_recorded():
    def broken(study, trial):
        raise ValueError("tracker offline")

    with pytest.raises(ValueError, match="tracker offline"):
        tune(quadratic, SPACE, n_trials=5, study_name="s", callbacks=[broken], show_progress=False)
    with pytest.raises(MetaHPOError, match="callbacks must be callables"):
        tune(quadratic, SPACE, n_trials=5, callbacks=["log"], show_progress=False)
    with pytest.raises(MetaHPOError, match=r"a list of callables .*; pass \[callback\] for one"):
        tune(quadratic, SPACE, n_trials=5, callbacks=broken, show_progress=False)
    # Optuna's own callbacks read Optuna's objects (MaxTrialsCallback failed after the first
    # trial with "'Study' object has no attribute 'get_trials'"): refused before any trial
    with pytest.raises(MetaHPOError, match="callback MaxTrialsCallback is Optuna's: it reads an "
                                           "optuna.Study and a FrozenTrial"):
        tune(quadratic, SPACE, n_trials=5, show_progress=False,
             callbacks=[optuna.study.MaxTrialsCallback(3)])


def test_stop_from_a_callback_stops_every_job():
    def slow(params):
        time.sleep(0.02)
        return quadratic(params)

    study = tune(slow, SPACE, optimizer="random", n_trials=100, seed=0, n_jobs=3,
                 callbacks=[lambda study, trial: trial.number >= 5 and study.stop()],
                 show_progress=False)
    assert 6 <= len(study.trials) <= 9


def learning_curve(params, trial):
    """A training whose loss falls over 10 epochs towards ``quadratic(params)``."""
    for epoch in range(10):
        loss = quadratic(params) * (1.0 + 1.0 / (epoch + 1))
        trial.report(epoch, loss)
        if trial.should_prune():
            raise metahpo.TrialPruned()
    return loss


def test_a_pruner_stops_unpromising_trials_early_and_the_optimizer_learns_of_them(tmp_path):
    import optuna

    url = f"sqlite:///{tmp_path / 'studies.db'}"
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    study = tune(learning_curve, SPACE, optimizer="random", n_trials=20, seed=0, storage=url,
                 study_name="s", pruner=pruner, show_progress=False)
    frozen = optuna.load_study(study_name="s", storage=url).trials
    pruned = [t for t in frozen if t.state == optuna.trial.TrialState.PRUNED]
    complete = [t for t in frozen if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(pruned) >= 5 and len(complete) >= 5 and len(frozen) == 20
    assert all(len(t.intermediate_values) == 10 for t in complete)
    assert all(2 <= len(t.intermediate_values) < 10 for t in pruned)
    records = {t.number: t for t in study.trials}
    assert all(records[t.number].state is TrialState.FAILED
               and records[t.number].error == f"pruned at step {max(t.intermediate_values)}"
               for t in pruned)
    assert study.best_value == min(t.value for t in complete)
    resumed = metahpo.create_optimizer("random", SPACE, seed=1)
    tune(learning_curve, SPACE, optimizer=resumed, n_trials=21, storage=url, study_name="s",
         pruner=pruner, show_progress=False)
    told = [r for r in resumed.history if r.pruned]
    assert len(told) >= len(pruned), "a resumed optimizer did not read the pruned trials"
    last = {t.number: max(t.intermediate_values.items()) for t in pruned}
    assert all(records[n].last_report == report for n, report in last.items())
    assert all(r.last_report == last[r.number] for r in told if r.number in last)
    own = metahpo.create_optimizer("random", SPACE, seed=2)
    in_memory = tune(learning_curve, SPACE, optimizer=own, n_trials=20, pruner=pruner,
                     show_progress=False)
    stopped = {r.number: r.last_report for r in in_memory.trials if r.pruned}
    assert stopped and all(report is not None for report in stopped.values())
    assert {r.number: r.last_report for r in own.history if r.pruned} == stopped


def test_the_meta_optimizer_reads_a_pruned_trial_as_the_median_of_the_completed_ones():
    """The policy and its screen read a pruned trial as an ordinary trial that scored the median
    of the trials completed before it: not as a failure, nor as its last report (an early
    epoch's score, which looks worse than any final one)."""
    def after(tell):
        opt = metahpo.create_optimizer("meta", SPACE, seed=0)
        values = []
        for i in range(8):
            trial = opt.ask()
            value = quadratic(trial.params)
            if i == 6:
                tell(opt, trial, value, statistics.median(values))
            else:
                opt.tell(trial, value)
                values.append(value)
        return opt.ask().params

    pruned = after(lambda opt, t, v, median: opt.tell(t, error="pruned at step 4",
                                                      last_report=(4, v)))
    as_median = after(lambda opt, t, v, median: opt.tell(t, median))
    as_report = after(lambda opt, t, v, median: opt.tell(t, v))
    failed = after(lambda opt, t, v, median: opt.tell(t, error="pruned at step 4"))
    assert pruned == as_median
    assert pruned != as_report and pruned != failed


@pytest.mark.parametrize("error, report, message", [
    ("boom", (2, 1.0), "only a pruned trial has a last report"),
    (None, (2, 1.0), "only a pruned trial has a last report"),
    ("pruned at step 2", (-1, 1.0), "a last report is"),
    ("pruned at step 2", (2, float("nan")), "a last report is"),
    ("pruned at step 2", "2, 1.0", "a last report is"),
])
def test_a_bad_last_report_is_refused_and_the_trial_stays_pending(error, report, message):
    opt = metahpo.create_optimizer("random", SPACE, seed=0)
    trial = opt.ask()
    with pytest.raises(MetaHPOError, match=message):
        opt.tell(trial, 1.0 if error is None else None, error=error, last_report=report)
    assert opt.pending == [trial]


def test_an_objective_that_takes_the_trial_reports_without_a_pruner():
    study = tune(learning_curve, SPACE, n_trials=3, seed=0, show_progress=False)
    assert all(t.state is TrialState.COMPLETE for t in study.trials)
    frozen = study.storage.get_all_trials(study.study_id)
    assert all(sorted(t.intermediate_values) == list(range(10)) for t in frozen)


@pytest.mark.parametrize("objective, pruner, message", [
    (quadratic, "median", "pruner must be an Optuna pruner"),
    (quadratic, None, "a pruner needs an objective that takes the running trial"),
])
def test_pruner_mistakes_are_named(objective, pruner, message):
    import optuna

    pruner = pruner or optuna.pruners.MedianPruner()
    with pytest.raises(MetaHPOError, match=message):
        tune(objective, SPACE, n_trials=2, pruner=pruner, show_progress=False)


def test_report_refuses_what_is_not_a_step_and_a_number():
    def bad(params, trial):
        trial.report(-1, 0.5)

    def optuna_order(params, trial):
        trial.report(0.93, 3)

    def nan(params, trial):
        trial.report(0, float("nan"))

    def no_value(params, trial):
        trial.report(3)

    for objective, message in ((bad, "step must be a whole number >= 0"),
                               (optuna_order, "got 0.93 (the step comes first: "
                                              "trial.report(step, value); Optuna's"),
                               (nan, "the value at step 0 is not a number"),
                               (no_value, "trial.report takes a step and a value")):
        study = tune(objective, SPACE, n_trials=1, show_progress=False)
        assert message in study.trials[0].error


def test_report_reads_optunas_keyword_form_as_it_means():
    """``trial.report(value, step=epoch)``, as Optuna users write it, and both keywords."""
    def objective(params, trial):
        trial.report(0.25, step=1)
        trial.report(value=0.5, step=2)
        trial.report(step=3, value=0.75)
        trial.report(4, 1.0)
        return 1.0

    study = tune(objective, SPACE, n_trials=1, show_progress=False)
    ft = study.storage.get_all_trials(study.study_id)[0]
    assert ft.intermediate_values == {1: 0.25, 2: 0.5, 3: 0.75, 4: 1.0}


def test_report_takes_numpy_steps():
    """``for epoch in np.arange(3)`` gives NumPy integers (they were refused as no step)."""
    import numpy as np

    def objective(params, trial):
        for epoch in np.arange(3):
            trial.report(epoch, float(epoch) / 10)
        return 1.0

    study = tune(objective, SPACE, n_trials=1, show_progress=False)
    assert study.trials[0].state is TrialState.COMPLETE
    frozen = study.storage.get_all_trials(study.study_id)[0]
    assert frozen.intermediate_values == {0: 0.0, 1: 0.1, 2: 0.2}
    assert all(type(step) is int for step in frozen.intermediate_values)


@pytest.mark.parametrize("storage", ["memory", "sqlite"])
@pytest.mark.parametrize("optimizer", ["random", "meta"])
def test_n_jobs_runs_trials_at_once_without_repeating_one(tmp_path, storage, optimizer):
    url = None if storage == "memory" else f"sqlite:///{tmp_path / 'studies.db'}"

    def slow(params):
        time.sleep(0.05)
        return quadratic(params)

    study = tune(slow, SPACE, optimizer=optimizer, n_trials=12, seed=0, storage=url,
                 show_progress=False, n_jobs=3)
    trials = study.trials
    assert len(trials) == 12 and all(t.state is TrialState.COMPLETE for t in trials)
    assert len({tuple(t.params.values()) for t in trials}) == len(trials)
    overlapping = [(a.number, b.number) for a in trials for b in trials if a.number < b.number
                   and a.started_at < b.finished_at and b.started_at < a.finished_at]
    assert overlapping, "no two trials ran at the same time"


def test_jobs_that_count_the_last_free_place_do_not_both_fill_it():
    """Jobs whose trials take no time count the study at once: before the count and the
    reservation were one step, one call in two of these ran 11 trials."""
    sizes = [len(tune(lambda p: p["x"], SPACE, optimizer="random", n_trials=10, seed=seed,
                      show_progress=False, n_jobs=4).trials) for seed in range(20)]
    assert sizes == [10] * 20


def test_devices_give_each_job_its_own_and_running_trials_never_share_one():
    import threading

    lock, running, shared = threading.Lock(), {}, []

    def objective(params, trial):
        with lock:
            if trial.device in running.values():
                shared.append(trial.device)
            running[trial.number] = trial.device
        trial.set_user_attr("job", threading.current_thread().name)
        trial.set_user_attr("device", trial.device)
        time.sleep(0.03)
        with lock:
            del running[trial.number]
        return quadratic(params)

    study = tune(objective, SPACE, optimizer="random", n_trials=12, seed=0, show_progress=False,
                 n_jobs=3, devices=["cuda:0", "cuda:1", "cuda:2"])
    trials = study.trials
    assert len(trials) >= 12 and not shared
    device_of_job = {(t.user_attrs["job"], t.user_attrs["device"]) for t in trials}
    assert sorted(d for _, d in device_of_job) == ["cuda:0", "cuda:1", "cuda:2"], device_of_job
    assert len({job for job, _ in device_of_job}) == 3, "a job changed devices"
    paired = tune(lambda params, trial: float(trial.device == "mps"), SPACE, optimizer="random",
                  n_trials=2, show_progress=False, devices=["mps"])
    assert [t.value for t in paired.trials] == [1.0, 1.0]
    assert tune(lambda params, trial: float(trial.device is None), SPACE, optimizer="random",
                n_trials=1, show_progress=False).best_value == 1.0
    for devices, message in [(["cuda:0", "cuda:0"], "distinct"), ([], "distinct"),
                             ("cuda:0", "a list of device names")]:
        with pytest.raises(MetaHPOError, match=message):
            tune(objective, SPACE, n_trials=1, show_progress=False, devices=devices)
    with pytest.raises(MetaHPOError, match="devices need an objective that takes the running trial"):
        tune(quadratic, SPACE, n_trials=1, show_progress=False, devices=["cuda:0"])
    command = metahpo.CommandObjective("echo 1", SPACE)
    with pytest.raises(MetaHPOError, match="a training command takes its devices itself"):
        tune(command, SPACE, n_trials=1, show_progress=False, devices=["cuda:0"])


def test_user_attrs_are_stored_at_once_kept_on_failure_and_exported(tmp_path):
    import numpy as np
    import optuna

    url = f"sqlite:///{tmp_path / 'studies.db'}"

    def objective(params, trial):
        trial.set_user_attr("train_s", np.float32(1.5))
        trial.set_user_attr("curve", [1, 2.5])
        trial.set_user_attr("best_epoch", np.array(7))
        trial.set_user_attr("per_class", {"acc": np.array([0.5, 0.75]), "n": np.int64(2)})
        if trial.number == 1:
            raise RuntimeError("diverged")
        if trial.number == 2:
            trial.set_user_attr("model", object())
        if trial.number == 3:
            trial.set_user_attr("metahpo:pid", 1)
        return quadratic(params)

    study = tune(objective, SPACE, optimizer="random", n_trials=4, seed=0, storage=url,
                 study_name="attrs", show_progress=False)
    expected = {"train_s": 1.5, "curve": [1, 2.5], "best_epoch": 7,
                "per_class": {"acc": [0.5, 0.75], "n": 2}}
    assert [t.user_attrs for t in study.trials] == [expected] * 4
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] + [TrialState.FAILED] * 3
    assert study.trials[1].error == "RuntimeError: diverged"
    assert "'model': object value" in study.trials[2].error
    assert "names that begin with 'metahpo:' are metahpo's own" in study.trials[3].error
    assert optuna.load_study(study_name="attrs", storage=url).trials[0].user_attrs["train_s"] == 1.5
    study.to_csv(str(tmp_path / "trials.csv"))
    with open(tmp_path / "trials.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(list(rows[0])[-4:]) == ["user_attrs_best_epoch", "user_attrs_curve",
                                          "user_attrs_per_class", "user_attrs_train_s"]
    assert json.loads(rows[0]["user_attrs_per_class"]) == {"acc": [0.5, 0.75], "n": 2}
    assert json.loads(rows[0]["user_attrs_curve"]) == [1, 2.5]


def test_an_interrupted_trial_runs_again_first_when_the_study_resumes(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    seen = []

    def objective(params, trial):
        seen.append((trial.number, trial.retry_of, params))
        if trial.number == 2:
            raise KeyboardInterrupt
        return quadratic(params)

    with pytest.raises(KeyboardInterrupt):
        tune(objective, SPACE, n_trials=5, seed=0, storage=url, study_name="s",
             show_progress=False)
    study = tune(objective, SPACE, n_trials=5, seed=0, storage=url, study_name="s",
                 show_progress=False)
    assert seen[3] == (3, 2, seen[2][2])
    assert [t.retry_of for t in study.trials] == [None, None, None, 2, None, None]
    assert [t.state for t in study.trials].count(TrialState.COMPLETE) == 5
    assert study.trials[2].error == "interrupted: KeyboardInterrupt"


def test_on_start_sees_the_opened_study_before_the_first_trial_and_not_after_a_mistake():
    events = []

    def objective(params):
        events.append("trial")
        return quadratic(params)

    study = tune(objective, SPACE, optimizer="random", n_trials=2, study_name="s",
                 show_progress=False, on_start=lambda s: events.append(("start", s.name)))
    assert events == [("start", "s"), "trial", "trial"] and study.name == "s"
    with pytest.raises(MetaHPOError, match="unknown optimizer"):
        tune(objective, SPACE, optimizer="nope", n_trials=2, show_progress=False,
             on_start=lambda s: events.append("too early"))
    assert "too early" not in events


def test_runs_stopped_by_ctrl_c_do_not_count_towards_max_retries_lost_runs_do(tmp_path):
    """A user who stops and resumes a study often does not see a configuration given up; a
    configuration whose run escapes the objective with an error is, after max_retries."""
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    seen = []

    def stopped_three_times(params):
        seen.append(params)
        if len(seen) <= 3:
            raise KeyboardInterrupt
        return quadratic(params)

    for _ in range(3):
        with pytest.raises(KeyboardInterrupt):
            tune(stopped_three_times, SPACE, n_trials=1, seed=0, storage=url, study_name="ctrl-c",
                 max_retries=1, show_progress=False)
    study = tune(stopped_three_times, SPACE, n_trials=1, seed=0, storage=url,
                 study_name="ctrl-c", max_retries=1, show_progress=False)
    assert seen == [seen[0]] * 4
    assert [(t.state, t.retry_of) for t in study.trials] == [
        (TrialState.FAILED, None), (TrialState.FAILED, 0), (TrialState.FAILED, 0),
        (TrialState.COMPLETE, 0)]

    lost = []

    def breaks_twice(params):
        lost.append(params)
        if len(lost) <= 2:
            raise KeyError("boom")
        return quadratic(params)

    for _ in range(2):
        with pytest.raises(KeyError):
            tune(breaks_twice, SPACE, n_trials=1, seed=0, storage=url, study_name="lost",
                 max_retries=1, catch=(), show_progress=False)
    study = tune(breaks_twice, SPACE, n_trials=1, seed=0, storage=url, study_name="lost",
                 max_retries=1, show_progress=False)
    assert lost[1] == lost[0] and lost[2] != lost[0]
    assert study.trials[-1].retry_of is None and study.trials[-1].state is TrialState.COMPLETE


def test_jobs_that_resume_together_run_an_interrupted_configuration_again_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    study = metahpo.create_study(SPACE, storage=url, study_name="s")
    lost = [study.ask(seed=0) for _ in range(2)]
    study.fail_stale(0)

    def slow(params):
        time.sleep(0.05)
        return quadratic(params)

    study = tune(slow, SPACE, n_trials=6, seed=0, storage=url, study_name="s", n_jobs=3,
                 show_progress=False)
    retries = [t for t in study.trials if t.retry_of is not None]
    assert sorted(t.retry_of for t in retries) == [0, 1]
    assert [t.params for t in sorted(retries, key=lambda t: t.retry_of)] == [t.params for t in lost]


@pytest.mark.parametrize("terminal", [True, False], ids=["bar", "lines"])
def test_the_progress_shows_the_best_value_of_every_job(capsys, monkeypatch, terminal):
    import re
    import threading

    monkeypatch.setattr("metahpo.progress._is_terminal", lambda stream: terminal)

    second_started, first_done = threading.Event(), threading.Event()

    def objective(params, trial):
        if trial.number == 0:
            second_started.wait(10)
            first_done.set()
            return 0.5
        second_started.set()
        first_done.wait(10)
        time.sleep(0.05)
        return 7.0 + trial.number

    tune(objective, SPACE, optimizer="random", n_trials=4, seed=0, n_jobs=2)
    err = capsys.readouterr().err
    if terminal:
        shown = [float(v) for v in re.findall(r"best=([-\d.e+]+)", err)]
        assert shown and set(shown) == {0.5}
    else:
        lines = re.findall(r"trial (\d) complete .*; best ([-\d.e+]+) \(trial (\d)\)", err)
        assert sorted(n for n, _, _ in lines) == ["0", "1", "2", "3"]
        assert {(best, of) for _, best, of in lines} == {("0.5", "0")}


def test_a_count_without_a_terminal_says_where_it_is_every_so_often_and_at_the_end():
    """Benchmarks and meta-training count runs by the hundred: a line every ``every_s``
    seconds, and the final count once."""
    import io

    from metahpo.progress import CountLines

    for every_s, said in ((0.0, 4), (3600.0, 1)):
        out = io.StringIO()
        count = CountLines(4, "bench", "runs", every_s=every_s, stream=out)
        for _ in range(4):
            count.update(1, regret=0.5)
        count.close()
        lines = out.getvalue().splitlines()
        assert len(lines) == said and lines[-1].endswith("bench: 4/4 runs after 0.0 s; regret=0.5")


def test_without_a_terminal_every_finished_trial_gets_a_line(capsys):
    """Where standard error is a file (a cluster job's log), a line per trial replaces the
    progress bar: its outcome, the count, the best so far and its configuration."""
    import re

    def objective(params, trial):
        if trial.number == 1:
            raise ValueError("diverged")
        if trial.number == 2:
            trial.report(3, 9.0)
            raise metahpo.TrialPruned()
        return params["x"] ** 2

    study = tune(objective, SPACE, optimizer="random", n_trials=4, seed=0)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[")]
    t0, t3 = study.trial(0), study.trial(3)
    best = min((t0, t3), key=lambda t: t.value)
    stamp, took = r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\]", r"in [\d.e+-]+ s"
    expected = [
        rf"{stamp} trial 0 complete {took} \(1/4\): {t0.value:.6g}; best {t0.value:.6g} "
        rf"\(trial 0\); x={t0.params['x']:.6g}, n={t0.params['n']}",
        rf"{stamp} trial 1 failed {took} \(2/4\): ValueError: diverged; best {t0.value:.6g} "
        rf"\(trial 0\); x=",
        rf"{stamp} trial 2 pruned at step 3 {took} \(3/4\); best",
        rf"{stamp} trial 3 complete {took} \(4/4\): {t3.value:.6g}; best {best.value:.6g} "
        rf"\(trial {best.number}\)",
    ]
    assert len(lines) == 4
    for line, pattern in zip(lines, expected):
        assert re.match(pattern, line), (line, pattern)


def test_an_uncaught_error_in_one_job_stops_all_and_is_raised(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    calls = itertools.count()

    def breaks(params):
        call = next(calls)
        time.sleep(0.02)
        if call == 4:
            raise KeyError("boom")
        return quadratic(params)

    with pytest.raises(KeyError, match="boom"):
        tune(breaks, SPACE, n_trials=40, seed=0, storage=url, study_name="s",
             show_progress=False, catch=(), n_jobs=3)
    trials = load_study("s", url).trials
    assert len(trials) < 40 and not any(t.state is TrialState.RUNNING for t in trials)
    assert sum("interrupted: KeyError" in (t.error or "") for t in trials) == 1
    with pytest.raises(MetaHPOError, match="n_jobs must be an int >= 1, or -1 for one job per "
                                           "CPU, got -2"):
        tune(quadratic, SPACE, n_trials=1, n_jobs=-2)
    every_cpu = tune(quadratic, SPACE, optimizer="random", n_trials=4, n_jobs=-1,
                     show_progress=False)
    assert len(every_cpu.trials) >= 4
    assert all(t.state is TrialState.COMPLETE for t in every_cpu.trials)
    with pytest.raises(MetaHPOError, match="timeout must be a number of seconds > 0"):
        tune(quadratic, SPACE, n_trials=1, timeout=-1)
    with pytest.raises(MetaHPOError, match="serves one job"):
        tune(quadratic, SPACE, optimizer=metahpo.create_optimizer("random", SPACE), n_trials=1,
             n_jobs=2)


def test_counts_seeds_and_times_from_numpy_are_taken_as_their_numbers():
    """``n_trials=np.int64(4)`` (a data frame's column, a config array) and a seed drawn with
    NumPy were refused as no int; NumPy's bool stays no count."""
    import numpy as np

    study = tune(quadratic, SPACE, optimizer="random", n_trials=np.int64(4), seed=np.int64(3),
                 timeout=np.float32(60), n_jobs=np.int64(1), max_retries=np.int64(1),
                 show_progress=False)
    again = tune(quadratic, SPACE, optimizer="random", n_trials=4, seed=3, show_progress=False)
    assert [t.params for t in study.trials] == [t.params for t in again.trials]
    with pytest.raises(MetaHPOError, match="n_trials must be a non-negative int or None, got "
                                           "True"):
        tune(quadratic, SPACE, n_trials=np.bool_(True))
    asked = metahpo.create_study(SPACE)
    assert asked.ask("random", seed=np.int64(3)).params == again.trials[0].params
    assert asked.fail_stale(np.float64(0)) == [0]
    assert len(metahpo.warm_start_points([again], SPACE, n=np.int64(2),
                                         candidates=np.int64(0), seed=np.int64(0))) == 2
    grid = metahpo.create_optimizer("grid", SPACE, resolution=np.int64(3), seed=np.int64(0))
    meta = metahpo.create_optimizer("meta", SPACE, screen=np.int64(4))
    for opt in (grid, meta):
        trial = opt.ask()
        opt.tell(trial, 1.0)
        json.dumps(opt.state_dict())  # an option stored as np.int64 was no JSON


def test_an_optimizer_instance_is_checked_before_anything_is_stored(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    opt = metahpo.create_optimizer("random", SPACE, seed=0)
    with pytest.raises(MetaHPOError, match="instance already has its own"):
        tune(quadratic, SPACE, optimizer=opt, n_trials=3, seed=1, storage=url, study_name="s",
             show_progress=False)
    with pytest.raises(MetaHPOError, match="another space or direction"):
        tune(quadratic, SPACE, optimizer=opt, n_trials=3, direction="maximize", storage=url,
             study_name="s", show_progress=False)
    with pytest.raises(MetaHPOError, match="has no option 'resolutoin'"):
        tune(quadratic, SPACE, optimizer="grid", n_trials=3, storage=url, study_name="s",
             show_progress=False, resolutoin=3)
    with pytest.raises(MetaHPOError, match="tune\\(\\) has no argument 'show_progress_bar'; did "
                       "you mean 'show_progress'"):
        tune(quadratic, SPACE, n_trials=3, storage=url, study_name="s", show_progress_bar=False)
    with pytest.raises(MetaHPOError, match="tune\\(\\) has no argument 'sampler'; it takes "
                       "optimizer="):
        tune(quadratic, SPACE, n_trials=3, storage=url, study_name="s", sampler="tpe")
    assert not (tmp_path / "studies.db").exists(), "a refused call created the storage"
    study = tune(quadratic, SPACE, optimizer=opt, n_trials=3, storage=url, study_name="s",
                 show_progress=False)
    assert len(study.trials) == 3 and len(opt.history) == 3


def _cli(tmp_path, *args, env=None):
    (tmp_path / "space.yaml").write_text(SPACE.to_yaml())
    (tmp_path / "objective_mod.py").write_text(OBJECTIVE_MODULE)
    cmd = [sys.executable, "-m", "metahpo", "tune", "objective_mod:objective", "--space",
           "space.yaml", "--quiet", *args]
    return subprocess.Popen(cmd, cwd=tmp_path, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_mid_run_loses_nothing_and_counts_nothing_twice(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    args = ["--trials", "12", "--storage", url, "--study", "k", "--seed", "0"]
    ready = tmp_path / "ready"
    proc = _cli(tmp_path, *args, env={"HANG_AT": "6", "READY_FILE": str(ready)})
    deadline = time.time() + 120
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "the objective never reached its 6th call"
        time.sleep(0.05)
    before = {t.number: t for t in load_study("k", url).trials}
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    completed_before = {n: t for n, t in before.items() if t.state is TrialState.COMPLETE}
    assert len(completed_before) == 5
    assert before[5].state is TrialState.RUNNING

    resumed = _cli(tmp_path, *args)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err

    trials = load_study("k", url).trials
    assert [t.number for t in trials] == list(range(len(trials)))
    for n, t in completed_before.items():
        assert trials[n] == t, "a trial completed before the kill changed"
    assert trials[5].state is TrialState.FAILED and "died" in trials[5].error
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    assert len(complete) == 12 and len(trials) == 13
    assert not any(t.state is TrialState.RUNNING for t in trials)


@pytest.mark.parametrize("optimizer", ["random", "meta"])
def test_two_processes_with_one_seed_share_one_sqlite_study(tmp_path, optimizer):
    """The second worker starts while the first one's first trial runs: it must neither repeat
    the random draws of the same seed nor propose the configuration being evaluated."""
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    args = ["--trials", "24", "--storage", url, "--study", "shared", "--seed", "0",
            "--optimizer", optimizer]
    release = tmp_path / "release"
    first = _cli(tmp_path, *args, env={"SLEEP": "0.05", "HOLD_FIRST_UNTIL": str(release)})
    _wait_for_trials(url, 1, first)
    second = _cli(tmp_path, *args, env={"SLEEP": "0.05"})
    _wait_for_trials(url, 2, second)
    release.touch()
    for p in (first, second):
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    trials = load_study("shared", url).trials
    numbers = [t.number for t in trials]
    assert numbers == list(range(len(trials))), "trial numbers are not unique and contiguous"
    assert 24 <= len(trials) <= 25
    assert all(t.state is TrialState.COMPLETE for t in trials)
    assert len({tuple(t.params.values()) for t in trials}) == len(trials), "a configuration ran twice"


def test_workers_started_at_the_same_moment_with_one_seed_never_repeat_a_configuration(tmp_path):
    """Trials are reserved before they are proposed and each worker waits for the proposals of
    the lower-numbered trials in flight, so even random search with one seed in three processes
    started together proposes every configuration once."""
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    args = ["--trials", "30", "--storage", url, "--study", "shared", "--seed", "0",
            "--optimizer", "random"]
    procs = [_cli(tmp_path, *args, env={"SLEEP": "0.01"}) for _ in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    trials = load_study("shared", url).trials
    assert 30 <= len(trials) <= 32 and all(t.state is TrialState.COMPLETE for t in trials)
    assert len({tuple(t.params.values()) for t in trials}) == len(trials), "a configuration ran twice"


def test_a_worker_that_dies_does_not_hold_its_trial_while_another_goes_on(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    args = ["--trials", "8", "--storage", url, "--study", "shared"]
    release, ready = tmp_path / "release", tmp_path / "ready"
    survivor = _cli(tmp_path, *args, "--seed", "0", env={"HOLD_FIRST_UNTIL": str(release)})
    _wait_for_trials(url, 1, survivor)
    doomed = _cli(tmp_path, *args, "--seed", "1", env={"HANG_AT": "1", "READY_FILE": str(ready)})
    deadline = time.time() + 120
    while not ready.exists():
        assert doomed.poll() is None, doomed.communicate()
        assert time.time() < deadline, "the second worker never started its trial"
        time.sleep(0.05)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    release.touch()
    out, err = survivor.communicate(timeout=300)
    assert survivor.returncode == 0, err
    assert "left running by a dead process" in err
    trials = load_study("shared", url).trials
    assert not any(t.state is TrialState.RUNNING for t in trials)
    failed = [t for t in trials if t.state is TrialState.FAILED]
    assert len(failed) == 1 and "died" in failed[0].error
    assert sum(t.state is TrialState.COMPLETE for t in trials) == 8


def test_a_peer_that_died_during_the_last_trial_does_not_end_the_study_short(tmp_path):
    """A trial left running by a process that died while this one ran its last trial is
    failed before the study is counted: its configuration runs again instead of the study
    ending with a dead trial counted as running."""
    import socket
    from datetime import datetime

    from optuna.trial import FrozenTrial
    from optuna.trial import TrialState as OptunaState

    from metahpo.distributions import space_to_optuna
    from metahpo.storage import HOST_ATTR, PID_ATTR, open_storage

    url = f"sqlite:///{tmp_path / 'studies.db'}"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    peer_params = {"x": 0.5, "n": 2}

    def objective(params):
        storage = open_storage(url)
        study_id = storage.get_study_id_from_name("s")
        if len(storage.get_all_trials(study_id)) == 1:
            dists = space_to_optuna(SPACE)
            storage.create_new_trial(study_id, template_trial=FrozenTrial(
                number=-1, state=OptunaState.RUNNING, value=None, datetime_start=datetime.now(),
                datetime_complete=None, params=peer_params, distributions=dists,
                user_attrs={}, system_attrs={HOST_ATTR: socket.gethostname(), PID_ATTR: gone.pid},
                intermediate_values={}, trial_id=-1))
        return quadratic(params)

    study = tune(objective, SPACE, optimizer="random", n_trials=2, seed=0, storage=url,
                 study_name="s", show_progress=False)
    states = [(t.state, t.interrupted, t.retry_of) for t in study.trials]
    assert states == [(TrialState.COMPLETE, False, None), (TrialState.FAILED, True, None),
                      (TrialState.COMPLETE, False, 1)]
    assert study.trials[2].params == peer_params


def _wait_for_trials(url, n, proc):
    deadline = time.time() + 120
    while True:
        try:
            if len(load_study("shared", url).trials) >= n:
                return
        except MetaHPOError:
            pass
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, f"the study never reached {n} trials"
        time.sleep(0.05)


def test_a_result_is_kept_when_another_process_failed_its_trial_meanwhile(tmp_path):
    """A worker paused past the heartbeat grace period finds its trial failed as dead by a peer
    when it resumes: its result is recorded as a new trial, with its user attributes, instead of
    crashing the worker, as a run of the failed trial's configuration, which then does not run
    a third time."""
    from optuna.trial import TrialState as OptunaState

    from metahpo.storage import open_storage

    url = f"sqlite:///{tmp_path / 'studies.db'}"
    peer = open_storage(url)

    def objective(params, trial):
        trial.set_user_attr("train_s", 3.5)
        study_id = peer.get_study_id_from_name("s")
        if len(peer.get_all_trials(study_id)) == 2:
            running = peer.get_all_trials(study_id, states=(OptunaState.RUNNING,))[0]
            peer.set_trial_user_attr(running._trial_id, "error", "the process running it died")
            peer.set_trial_user_attr(running._trial_id, "metahpo:interrupted", True)
            peer.set_trial_state_values(running._trial_id, OptunaState.FAIL)
        return quadratic(params)

    study = tune(objective, SPACE, optimizer="random", n_trials=4, seed=0, storage=url,
                 study_name="s", show_progress=False)
    trials = study.trials
    assert [t.state for t in trials].count(TrialState.FAILED) == 1
    lost = next(t for t in trials if t.state is TrialState.FAILED)
    assert lost.interrupted and len(trials) == 5
    kept = [t for t in trials if t.params == lost.params and t is not lost]
    assert len(kept) == 1 and kept[0].value == quadratic(lost.params)
    assert kept[0].user_attrs == {"train_s": 3.5} and kept[0].retry_of == lost.number


def test_a_resumed_seeded_search_does_not_repeat_its_trials(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    for n in (5, 10):
        study = tune(quadratic, SPACE, optimizer="random", n_trials=n, seed=0, storage=url,
                     study_name="s", show_progress=False)
    configs = [tuple(t.params.values()) for t in study.trials]
    assert len(configs) == 10 and len(set(configs)) == 10


def test_a_resumed_grid_of_an_optuna_sampler_goes_on_with_its_unvisited_points(tmp_path):
    """GridSampler names the point a trial takes by its place in the grid's order, which the
    sampler's seed shuffles: one seed serves the whole search, so each point is taken once
    across resumes (with a new seed for each proposal, 8 trials in one call repeated 3
    points)."""
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    grid = {"x": [-4.0, -2.0, 0.0, 2.0], "n": [1, 8]}
    for n in (3, 6, 8):
        study = tune(quadratic, SPACE, optimizer="optuna.samplers:GridSampler", n_trials=n,
                     seed=0, storage=url, study_name="s", show_progress=False, search_space=grid)
    configs = {tuple(t.params.values()) for t in study.trials}
    assert configs == {(x, n) for x in grid["x"] for n in grid["n"]}


def test_public_api_names():
    for name in ("Float", "Int", "Categorical", "SearchSpace", "create_optimizer", "tune",
                 "available_optimizers", "Study", "Trial", "MetaHPOError"):
        assert hasattr(metahpo, name)


def test_an_optuna_objective_that_suggests_its_own_parameters_is_told_what_to_do():
    """An Optuna objective passed to ``tune``: ``trial.suggest_*`` on the params dict or on the
    running trial names metahpo's way and Optuna's with metahpo's sampler."""
    def optuna_objective(trial):
        return trial.suggest_float("x", 0.0, 1.0)

    def with_trial(params, trial):
        return trial.suggest_int("n", 1, 3)

    for objective in (optuna_objective, with_trial):
        study = tune(objective, SPACE, n_trials=1, show_progress=False)
        error = study.trials[0].error
        assert "(): metahpo.tune proposes the parameters of a space declared up front" in error
        assert "MetaHPOSampler()).optimize(objective)" in error
