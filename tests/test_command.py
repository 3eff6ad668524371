"""Training scripts as objectives: ``CommandObjective`` and ``metahpo tune --command``, with real
processes."""

import json
import logging
import shlex
import signal
import subprocess
import sys
import time

import optuna
import pytest

import metahpo
from metahpo import Categorical, CommandObjective, Condition, Float, Int, MetaHPOError, SearchSpace

SPACE = SearchSpace([Float("lr", 1e-4, 1e-1, log=True), Int("layers", 1, 4)])
PYTHON = shlex.quote(sys.executable)

TRAIN = '''
import argparse, json, math, os, sys
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--layers", type=int, required=True)
parser.add_argument("--momentum", type=float)
parser.add_argument("--out", required=True)
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)
with open(os.path.join(args.out, "seen.json"), "w") as f:
    json.dump({"args": vars(args), "env": json.loads(os.environ["METAHPO_PARAMS"]),
               "number": os.environ["METAHPO_TRIAL_NUMBER"]}, f)
print("epoch 1 done", file=sys.stderr)
print("some log line")
print((math.log10(args.lr) + 2.5) ** 2 + 0.1 * args.layers)
print("METAHPO_ATTR layers_seen", args.layers)
print("METAHPO_ATTR note a short run")
'''


@pytest.fixture
def train(tmp_path):
    (tmp_path / "train.py").write_text(TRAIN)
    return f"{PYTHON} train.py --lr {{lr}} --layers={{layers}} --out runs/{{trial_number}}"


def test_a_training_script_is_tuned_and_sees_its_configuration(tmp_path, train, capfd):
    objective = CommandObjective(train, SPACE, cwd=tmp_path)
    study = metahpo.tune(objective, SPACE, optimizer="random", n_trials=4, seed=0,
                         show_progress=False)
    assert [t.state for t in study.trials] == [metahpo.TrialState.COMPLETE] * 4
    for t in study.trials:
        seen = json.loads((tmp_path / "runs" / str(t.number) / "seen.json").read_text())
        assert seen["args"]["lr"] == pytest.approx(t.params["lr"])
        assert seen["args"]["layers"] == t.params["layers"]
        assert seen["env"] == t.params and seen["number"] == str(t.number)
        assert t.value == pytest.approx((__import__("math").log10(t.params["lr"]) + 2.5) ** 2
                                        + 0.1 * t.params["layers"])
    shown = capfd.readouterr()
    assert shown.err.count("epoch 1 done") == 4 and shown.out.count("some log line") == 4


def test_labelled_output_of_concurrent_runs_names_each_line_s_trial(tmp_path, train, capfd):
    objective = CommandObjective(train, SPACE, cwd=tmp_path, label=True)
    study = metahpo.tune(objective, SPACE, optimizer="random", n_trials=4, seed=0, n_jobs=2,
                         show_progress=False)
    shown = capfd.readouterr()
    for t in study.trials:
        assert f"[trial {t.number}] some log line\n" in shown.out
        assert f"[trial {t.number}] epoch 1 done\n" in shown.err
        assert f"[trial {t.number}] {t.value!r}" in shown.out


def test_a_value_line_gives_the_value_whatever_the_script_prints_after_it(tmp_path):
    """A framework's or logger's closing lines after the score; the last value line counts."""
    (tmp_path / "job.py").write_text(
        "print('METAHPO_VALUE 0.5')\nprint('METAHPO_VALUE 0.25', flush=True)\n"
        "print('wandb: synced run 3')\nprint(7)\n")
    objective = CommandObjective(f"{PYTHON} job.py --lr {{lr}}", SPACE, cwd=tmp_path)
    study = metahpo.tune(objective, SPACE, optimizer="random", n_trials=2, seed=0,
                         show_progress=False)
    assert [t.value for t in study.trials] == [0.25, 0.25]


def test_an_argument_of_an_inactive_parameter_is_left_out(tmp_path):
    space = SearchSpace([Categorical("opt", ["adam", "sgd"]), Float("momentum", 0.0, 0.9)],
                        conditions={"momentum": Condition("opt", "sgd")})
    objective = CommandObjective(
        "prog --opt {opt} --momentum={momentum:.2f} --out run{trial_number}", space)
    assert objective.argv({"opt": "adam"}, 3) == ["prog", "--opt", "adam", "--out", "run3"]
    assert objective.argv({"opt": "sgd", "momentum": 0.5}, 4) == [
        "prog", "--opt", "sgd", "--momentum=0.50", "--out", "run4"]


@pytest.mark.parametrize("script, error", [
    ("import sys; print('diverged', file=sys.stderr); sys.exit(3)",
     "the command exited with status 3; end of its standard error: 'diverged'"),
    ("print('accuracy: 0.9')", "must be the trial's value (a number), got 'accuracy: 0.9'"),
    ("pass", "the command printed nothing on standard output"),
    ("print(0.9, 12.5)", "holds 2 numbers, and the study has one objective: print its value "
                         "alone (other metrics as 'METAHPO_ATTR NAME VALUE' lines)"),
    ("print(0.9); print('done.')", "got 'done.'; print the value last, or 'METAHPO_VALUE VALUE' "
                                   "on a line of its own"),
    ("print('METAHPO_VALUE acc=0.9'); print(0.5)",
     "the command's METAHPO_VALUE line must be the trial's value (a number), got 'acc=0.9'"),
])
def test_a_failing_command_fails_its_trial_with_the_cause(tmp_path, caplog, script, error):
    """The trial's error and the log say the cause; the log without metahpo's call stack,
    which says nothing about the command's run."""
    (tmp_path / "job.py").write_text(script)
    objective = CommandObjective(f"{PYTHON} job.py --lr {{lr}}", SPACE, cwd=tmp_path)
    with caplog.at_level(logging.WARNING, logger="metahpo"):
        study = metahpo.tune(objective, SPACE, optimizer="random", n_trials=2, seed=0,
                             show_progress=False)
    assert all(t.state is metahpo.TrialState.FAILED for t in study.trials)
    assert error in study.trials[0].error
    assert error in caplog.text and "Traceback" not in caplog.text


def test_a_command_past_its_timeout_is_killed_with_its_children(tmp_path):
    (tmp_path / "hang.py").write_text(
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "open('child.pid', 'w').write(str(child.pid))\n"
        "time.sleep(60)\n")
    objective = CommandObjective(f"{PYTHON} hang.py", SPACE, timeout=1.0, cwd=tmp_path)
    start = time.monotonic()
    study = metahpo.tune(objective, SPACE, optimizer="random", n_trials=1, seed=0,
                         show_progress=False)
    assert time.monotonic() - start < 20
    assert "ran past its timeout of 1 s and was killed" in study.trials[0].error
    child = int((tmp_path / "child.pid").read_text())
    assert subprocess.run(["ps", "-p", str(child), "-o", "stat="], capture_output=True,
                          text=True).stdout.strip() in ("", "Z")


@pytest.mark.parametrize("template, message", [
    ("train --lr {learning_rate}", "names ['learning_rate'], which are not parameters"),
    ("train --lr {}", "placeholder {} must name a parameter"),
    ("train --lr '{lr}", "No closing quotation"),
    ("  ", "must be a non-empty string"),
])
def test_a_bad_template_is_refused_before_any_trial(template, message):
    with pytest.raises(MetaHPOError, match=message.replace("[", r"\[").replace("{", r"\{")):
        CommandObjective(template, SPACE)


def test_a_bad_timeout_or_a_clashing_parameter_is_refused():
    with pytest.raises(MetaHPOError, match="timeout must be a number of seconds > 0, got '5'"):
        CommandObjective("train", SPACE, timeout="5")
    for name in ("trial_number", "first_trial_number"):
        with pytest.raises(MetaHPOError, match=f"would clash with the {{{name}}} placeholder"):
            CommandObjective("train", SearchSpace([Int(name, 0, 3)]))
    with pytest.raises(MetaHPOError, match="cannot use {first_trial_number}"):
        metahpo.tasks.command.CommandTask("train runs/{first_trial_number}", SPACE, "minimize")


def test_tune_command_on_the_command_line(tmp_path, train):
    (tmp_path / "space.yaml").write_text(SPACE.to_yaml())
    out = subprocess.run(
        [sys.executable, "-m", "metahpo", "tune", "--command", train, "--space", "space.yaml",
         "--trials", "3", "--optimizer", "random", "--seed", "0", "--quiet",
         "--storage", "sqlite:///s.db", "--study", "script"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "3 trials (3 complete, 0 failed)" in out.stdout
    assert "| layers_seen=" in out.stdout and "note='a short run'" in out.stdout
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["0", "1", "2"]
    for t in metahpo.load_study("script", "sqlite:///" + str(tmp_path / "s.db")).trials:
        assert t.user_attrs == {"layers_seen": t.params["layers"], "note": "a short run"}


def _two_sleeping_commands(tmp_path):
    """``metahpo tune`` running two commands that sleep for a minute in two jobs, once both
    have written their process ids (``pid0``, ``pid1``); the ids."""
    (tmp_path / "space.yaml").write_text(SPACE.to_yaml())
    (tmp_path / "sleepy.py").write_text(
        "import os, sys, time\n"
        "open(f'pid{sys.argv[1]}', 'w').write(str(os.getpid()))\n"
        "time.sleep(60)\nprint(1.0)\n")
    tune = subprocess.Popen(
        [sys.executable, "-m", "metahpo", "tune", "--command",
         f"{PYTHON} sleepy.py {{trial_number}} {{lr}}", "--space", "space.yaml", "--trials", "4",
         "--jobs", "2", "--optimizer", "random", "--quiet", "--storage", "sqlite:///s.db",
         "--study", "s"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"pid{n}").exists() for n in (0, 1)):
        assert time.monotonic() < deadline and tune.poll() is None, tune.communicate()
        time.sleep(0.05)
    return tune, [(tmp_path / f"pid{n}").read_text() for n in (0, 1)]


def _running(pids):
    """Those of ``pids`` whose processes still run (not gone, not zombies)."""
    return [pid for pid in pids if subprocess.run(["ps", "-p", pid, "-o", "stat="],
                                                  capture_output=True, text=True).stdout.strip()
            not in ("", "Z")]


@pytest.mark.parametrize("sig, recorded, status", [
    (signal.SIGINT, "interrupted: KeyboardInterrupt", 130),
    (signal.SIGTERM, "interrupted: Terminated", 143),
])
def test_interrupting_tune_stops_the_commands_of_every_job(tmp_path, sig, recorded, status):
    """Ctrl-C (or SIGTERM, a scheduler ending the job) while two commands run in two jobs: both
    are stopped at once (a job in a thread is told through its running trial), neither trial
    counts, nothing is left running."""
    tune, pids = _two_sleeping_commands(tmp_path)
    start = time.monotonic()
    tune.send_signal(sig)
    out, err = tune.communicate(timeout=30)
    assert time.monotonic() - start < 15
    assert tune.returncode == status and "finished trials are recorded" in err
    assert not _running(pids)
    trials = metahpo.load_study("s", f"sqlite:///{tmp_path / 's.db'}").trials
    assert {t.error for t in trials} == {recorded, "interrupted: TuningInterrupted"}


def test_a_training_stopped_by_sigterm_resumes_from_its_checkpoint_when_the_study_resumes(
        tmp_path):
    """A run stopped mid-training (a preempted node) runs again first when the study
    resumes, and finds its checkpoint in the folder named by {first_trial_number}; a stop by
    SIGTERM does not count towards --max-retries (0 here)."""
    (tmp_path / "space.yaml").write_text(SPACE.to_yaml())
    (tmp_path / "ckpt.py").write_text(
        "import os, sys, time\n"
        "out = sys.argv[1]\n"
        "if os.path.exists(f'{out}/ckpt'):\n"
        "    open(f'{out}/resumed', 'w').write(os.environ['METAHPO_FIRST_TRIAL_NUMBER'])\n"
        "    print(0.5)\n"
        "    sys.exit()\n"
        "os.makedirs(out)\n"
        "open(f'{out}/ckpt', 'w').write('epoch 3')\n"
        "time.sleep(60)\n")
    args = [sys.executable, "-m", "metahpo", "tune", "--command",
            f"{PYTHON} ckpt.py runs/{{first_trial_number}} {{lr}}", "--space", "space.yaml",
            "--trials", "1", "--quiet", "--storage", "sqlite:///s.db", "--study", "s",
            "--max-retries", "0"]
    # -X faulthandler: a process that does not end dumps its threads' stacks on SIGABRT
    tune = subprocess.Popen([args[0], "-X", "faulthandler", *args[1:]], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "runs" / "0" / "ckpt").exists():
        assert time.monotonic() < deadline and tune.poll() is None, tune.communicate()
        time.sleep(0.05)
    tune.send_signal(signal.SIGTERM)
    try:
        tune.wait(timeout=30)
    except subprocess.TimeoutExpired:
        tune.send_signal(signal.SIGABRT)
        pytest.fail(f"metahpo did not end on SIGTERM:\n{tune.communicate(timeout=30)[1]}")
    assert tune.returncode == 143, tune.communicate()
    resumed = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert (tmp_path / "runs" / "0" / "resumed").read_text() == "0"
    assert "2 trials (1 complete, 0 failed, 1 interrupted)" in resumed.stdout
    first, retry = metahpo.load_study("s", f"sqlite:///{tmp_path / 's.db'}").trials
    assert first.error == "interrupted: Terminated" and first.retry_of is None
    assert first.interrupted and not retry.interrupted
    assert (retry.retry_of, retry.value, retry.params) == (0, 0.5, first.params)
    shown = subprocess.run([sys.executable, "-m", "metahpo", "studies", "show", "s", "--storage",
                            "sqlite:///s.db"], cwd=tmp_path, capture_output=True, text=True)
    assert "(runs trial 0 again)" in shown.stdout and "    0  interrupted" in shown.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_commands_of_a_metahpo_process_killed_by_sigkill_end_with_it(tmp_path):
    """SIGKILL cannot be caught: the kernel's death signal ends the running commands (two
    jobs, so one command was started by a worker thread)."""
    tune, pids = _two_sleeping_commands(tmp_path)
    tune.kill()
    tune.communicate()
    deadline = time.monotonic() + 10
    while _running(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(pids), "commands outlived the metahpo process that ran them"


def test_an_error_in_one_job_stops_the_command_of_another_and_is_raised(tmp_path):
    (tmp_path / "sleepy.py").write_text(
        "import sys, time\ntime.sleep(60 if sys.argv[1] == '0' else 0)\nprint(1.0)\n")

    def boom(study, trial):
        raise ValueError(f"callback failed after trial {trial.number}")

    objective = CommandObjective(f"{PYTHON} sleepy.py {{trial_number}}", SPACE, cwd=tmp_path)
    start = time.monotonic()
    with pytest.raises(ValueError, match="callback failed after trial 1"):
        metahpo.tune(objective, SPACE, optimizer="random", n_trials=4, n_jobs=2, seed=0,
                     callbacks=[boom], show_progress=False, storage=f"sqlite:///{tmp_path}/s.db",
                     study_name="s")
    assert time.monotonic() - start < 20
    first = metahpo.load_study("s", f"sqlite:///{tmp_path}/s.db").trials[0]
    assert first.error == "interrupted: TuningInterrupted"


def test_reports_reach_the_study_and_a_pruned_run_is_stopped(tmp_path):
    """Each epoch's report is stored; a run the pruner stops is killed (it would sleep for a
    minute) and recorded as pruned with its last report; a malformed report fails the trial."""
    (tmp_path / "epochs.py").write_text(
        "import sys, time\n"
        "lr = float(sys.argv[1])\n"
        "for epoch in range(3):\n"
        "    print(f'METAHPO_REPORT {epoch} {lr * (epoch + 1)}', flush=True)\n"
        "    if lr > 0.01 and epoch == 1:\n"
        "        time.sleep(60)\n"
        "print('done')\nprint(lr)\n")
    space = SearchSpace([Categorical("lr", [0.001, 0.05])])
    objective = CommandObjective(f"{PYTHON} epochs.py {{lr}}", space, cwd=tmp_path)
    start = time.monotonic()
    study = metahpo.tune(objective, space, optimizer="grid", n_trials=2, seed=0,
                         pruner=optuna.pruners.ThresholdPruner(upper=0.08),
                         storage=f"sqlite:///{tmp_path}/s.db", study_name="s", show_progress=False)
    assert time.monotonic() - start < 20
    by_lr = {t.params["lr"]: t for t in study.trials}
    assert by_lr[0.001].state is metahpo.TrialState.COMPLETE and by_lr[0.001].value == 0.001
    assert by_lr[0.05].error.startswith("pruned") and by_lr[0.05].last_report == (1, 0.1)
    stored = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/s.db")
    curves = {t.params["lr"]: t.intermediate_values for t in stored.trials}
    assert curves == {0.001: {0: 0.001, 1: 0.002, 2: 0.003}, 0.05: {0: 0.05, 1: 0.1}}

    for line, message in [("METAHPO_REPORT one 0.5", "malformed report 'METAHPO_REPORT one 0.5'"),
                          ("METAHPO_ATTR lonely", "malformed attribute 'METAHPO_ATTR lonely'"),
                          ("METAHPO_ATTR error 1", "'error' and names that begin with 'metahpo:'")]:
        (tmp_path / "bad.py").write_text(f"print({line!r})\nprint(1.0)\n")
        bad = metahpo.tune(CommandObjective(f"{PYTHON} bad.py", space, cwd=tmp_path), space,
                           optimizer="grid", n_trials=1, show_progress=False)
        assert message in bad.trials[0].error


def test_optimizers_are_benchmarked_on_a_training_command(tmp_path, train):
    """``metahpo bench --tasks "command:TEMPLATE"``: every run of the suite runs the script,
    quietly; ``{trial_number}`` is refused there (trial numbers repeat across searches)."""
    (tmp_path / "space.yaml").write_text(SPACE.to_yaml())
    (tmp_path / "quiet.py").write_text(
        "import math, sys\nlr, layers = float(sys.argv[1]), int(sys.argv[2])\n"
        "print('noise on stdout')\nprint((math.log10(lr) + 2.5) ** 2 + 0.1 * layers)\n")
    bench = [sys.executable, "-m", "metahpo", "bench", "--space", "space.yaml",
             "--optimizers", "random,meta", "--budget", "4", "--seeds", "2", "--out", "b",
             "--quiet"]
    out = subprocess.run(bench + ["--tasks", f"command:{PYTHON} quiet.py {{lr}} {{layers}}"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "noise on stdout" not in out.stdout + out.stderr
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert set(summary["optimizers"]) == {"random", "meta"}
    refused = subprocess.run(bench + ["--tasks", f"command:{train}"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2
    assert "a benchmark's command cannot use {trial_number}" in refused.stderr


def test_concurrent_runs_get_a_device_each(tmp_path):
    """Three jobs share two devices: no two runs hold the same device at the same time, each
    sees its device as CUDA_VISIBLE_DEVICES, and the third job waits for a free one."""
    (tmp_path / "gpu.py").write_text(
        "import json, os, sys, time\n"
        "start = time.time(); time.sleep(0.4)\n"
        "with open(f'run{sys.argv[1]}.json', 'w') as f:\n"
        "    json.dump({'device': os.environ['CUDA_VISIBLE_DEVICES'],\n"
        "               'same': os.environ['METAHPO_DEVICE'], 'start': start,\n"
        "               'end': time.time()}, f)\n"
        "print(1.0)\n")
    objective = CommandObjective(f"{PYTHON} gpu.py {{trial_number}}", SPACE, cwd=tmp_path,
                                 devices=["0", "1"])
    study = metahpo.tune(objective, SPACE, optimizer="random", n_trials=6, n_jobs=3, seed=0,
                         show_progress=False)
    assert all(t.state is metahpo.TrialState.COMPLETE for t in study.trials)
    runs = [json.loads((tmp_path / f"run{t.number}.json").read_text()) for t in study.trials]
    assert {r["device"] for r in runs} == {"0", "1"} and all(r["same"] == r["device"] for r in runs)
    for a in runs:
        for b in runs:
            if a is not b and a["device"] == b["device"]:
                assert a["end"] <= b["start"] or b["end"] <= a["start"], (a, b)
    with pytest.raises(MetaHPOError, match="devices must be distinct"):
        CommandObjective("train", SPACE, devices=[])
