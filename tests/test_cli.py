"""The metahpo command: tune, studies, and one clear line for every user mistake."""

import json
from pathlib import Path

import pytest
from command_line import run, run_here

from metahpo import Float, Int, SearchSpace

SPACE = SearchSpace([Float("x", -5.0, 5.0), Int("n", 1, 8)])


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "space.yaml").write_text(SPACE.to_yaml())
    (tmp_path / "objective_mod.py").write_text(
        "def objective(params):\n    return (params['x'] - 1.0) ** 2 + params['n']\n"
    )
    return tmp_path


def test_a_journal_file_holds_studies_for_workers_without_a_database_server(workdir):
    url = "journal:///studies.log"
    for trials in (3, 5):
        out = run(workdir, "tune", "objective_mod:objective", "--space", "space.yaml",
                  "--optimizer", "random", "--trials", str(trials), "--storage", url, "--study",
                  "j", "--quiet")
        assert out.returncode == 0, out.stderr
    assert run(workdir, "studies", "--storage", url).stdout.startswith("j\tminimize\t5 trials")


def test_help_lists_the_commands(tmp_path):
    out = run(tmp_path, "--help")
    assert out.returncode == 0
    for command in ("tune", "studies", "demo", "optimizers"):
        assert command in out.stdout


def test_the_examples_in_each_commands_help_are_valid_commands():
    """The examples printed by ``metahpo COMMAND --help`` parse as the commands they show, so
    that one cannot keep an option a later change renamed."""
    import argparse
    import shlex

    from metahpo.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    examples = []
    for name, sub in commands.choices.items():
        text = (sub.epilog or "").replace("\\\n", " ")
        examples += [(name, line.strip()) for line in text.splitlines()
                     if line.strip().startswith("metahpo ")]
    assert {name for name, _ in examples} >= {"tune", "ask", "tell", "bench", "meta-train"}
    for name, line in examples:
        args = parser.parse_args(shlex.split(line)[1:])
        assert callable(args.func), line


def test_optimizers_lists_each_with_its_options_and_defaults(tmp_path):
    out = run(tmp_path, "optimizers")
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()}
    assert set(lines) == {"cmaes", "evolution", "gp", "grid", "meta", "portfolio", "random", "rl", "tpe"}
    assert "resolution=5" in lines["grid"]
    assert "policy='default'" in lines["meta"] and "screen=None" in lines["meta"]
    assert "greedy_first=False" in lines["rl"]
    sampler = run(tmp_path, "optimizers", "optuna.samplers:QMCSampler", "optuna.samplers:GridSampler")
    assert sampler.returncode == 0, sampler.stderr
    lines = {line.split()[0]: line for line in sampler.stdout.splitlines()}
    assert "qmc_type='sobol' scramble=False" in lines["optuna.samplers:QMCSampler"]
    assert lines["optuna.samplers:GridSampler"].split()[1] == "search_space"
    unknown = run(tmp_path, "optimizers", "nope")
    assert unknown.returncode == 2 and "unknown optimizer 'nope'" in unknown.stderr


def test_tune_whose_every_trial_fails_exits_with_status_1_and_keeps_the_trials(workdir):
    """A script (a CI job, a cluster pipeline) that runs ``metahpo tune`` learns from the exit
    status that no training worked; the failed trials stay recorded with their errors."""
    from metahpo import TrialState, load_study

    (workdir / "broken.py").write_text(
        "def objective(params):\n    raise FileNotFoundError('data.csv')\n")
    url = f"sqlite:///{workdir / 'db.sqlite'}"
    out = run_here(workdir, "tune", "broken:objective", "--space", "space.yaml", "--optimizer",
                   "random", "--trials", "2", "--storage", url, "--study", "b", "--quiet")
    assert out.returncode == 1, out
    assert "2 trials (0 complete, 2 failed)" in out.stdout
    assert (f"metahpo: no trial of study b completed; the errors are in the warnings above and "
            f"in 'metahpo studies show b --storage {url}'") in out.stderr
    trials = load_study("b", url).trials
    assert [t.state for t in trials] == [TrialState.FAILED] * 2
    assert "data.csv" in trials[0].error
    in_memory = run_here(workdir, "tune", "broken:objective", "--space", "space.yaml",
                         "--optimizer", "random", "--trials", "1", "--storage", "memory",
                         "--quiet")
    assert in_memory.returncode == 1 and "warnings above\n" in in_memory.stderr


def test_studies_plot_writes_the_plots_that_apply_as_png_files(workdir):
    """Where no browser is at hand for optuna-dashboard: the history, each parameter against
    the value, importances (from ten trials on) and learning curves (where trials reported
    them) as PNG files; the front for several objectives."""
    import metahpo

    url = f"sqlite:///{workdir / 'db.sqlite'}"

    def curve(params, trial):
        for step in range(3):
            trial.report(step, (params["x"] - 1.0) ** 2 + 1.0 / (step + 1))
        return (params["x"] - 1.0) ** 2 + params["n"]

    metahpo.tune(curve, SPACE, optimizer="random", n_trials=12, storage=url, study_name="c",
                 seed=0, show_progress=False)
    metahpo.tune(lambda p: (p["x"], p["n"]), SPACE, optimizer="random", n_trials=3,
                 directions=["minimize", "maximize"], storage=url, study_name="two", seed=0,
                 show_progress=False)
    out = run_here(workdir, "studies", "plot", "c", "--storage", url, "--out", "plots")
    assert out.returncode == 0, out
    kinds = ["history", "slice", "importances", "curves"]
    assert out.stdout.splitlines() == [f"wrote {Path('plots') / f'c_{k}.png'}" for k in kinds]
    for kind in kinds:
        assert (workdir / "plots" / f"c_{kind}.png").read_bytes()[:4] == b"\x89PNG"
    two = run_here(workdir, "studies", "plot", "two", "--storage", url)
    assert two.returncode == 0, two
    assert two.stdout.splitlines() == ["wrote two_front.png"]
    assert two.stderr == ("metahpo: left out importances: 3 complete trials; they take 10 or "
                          "more\n")
    assert (workdir / "two_front.png").read_bytes()[:4] == b"\x89PNG"
    metahpo.tune(lambda p: float("nan"), SPACE, n_trials=1, storage=url, study_name="nan",
                 show_progress=False)
    empty = run_here(workdir, "studies", "plot", "nan", "--storage", url)
    assert empty.returncode == 2
    assert empty.stderr == "metahpo: error: study 'nan' has no complete trial to plot\n"


def test_tune_into_sqlite_then_list_and_show(workdir):
    from metahpo import load_study

    url = f"sqlite:///{workdir / 'db.sqlite'}"
    out = run(workdir, "tune", "objective_mod:objective", "--space", "space.yaml", "--optimizer",
              "grid", "--trials", "9", "--storage", url, "--study", "cli", "--seed", "0",
              "--option", "resolution=3", "--quiet")
    assert out.returncode == 0, out.stderr
    assert "9 trials (9 complete, 0 failed)" in out.stdout
    listed = run_here(workdir, "studies", "list", "--storage", url)
    assert listed.returncode == 0 and listed.stdout.startswith("cli\tminimize\t9 trials")
    assert run_here(workdir, "studies", "--storage", url).stdout == listed.stdout
    shown = run_here(workdir, "studies", "show", "cli", "--storage", url)
    assert shown.returncode == 0 and len(shown.stdout.strip().splitlines()) == 10
    durations = [t.duration_s for t in load_study("cli", url).trials]
    assert [line.split()[3:5] for line in shown.stdout.splitlines()[1:]] == [
        [f"{d:.1f}", "s"] for d in durations]
    top = run_here(workdir, "studies", "show", "cli", "--storage", url, "--top", "3")
    lines = top.stdout.strip().splitlines()
    assert lines[0] == ("study cli (minimize; searched by 'grid' with options {'resolution': 3}): "
                        "the 3 best of 9 complete trials")
    values = [float(line.split()[2]) for line in lines[1:]]
    assert len(values) == 3 and values == sorted(values)
    assert values[0] == min(t.value for t in load_study("cli", url).trials)
    best = run_here(workdir, "studies", "best", "cli", "--storage", url)
    assert best.returncode == 0, best.stderr
    top = load_study("cli", url).best_trial
    assert json.loads(best.stdout) == {"study": "cli", "number": top.number, "value": top.value,
                                       "params": top.params, "user_attrs": {}}
    assert top.value == min(t.value for t in load_study("cli", url).trials)
    run_here(workdir, "studies", "show", "cli", "--storage", url, "--csv", "out.csv")
    rows = (workdir / "out.csv").read_text().strip().splitlines()
    assert rows[0].startswith("number,state,value") and len(rows) == 10
    queued = run_here(workdir, "enqueue", "--study", "cli", "--storage", url, "--params",
                 '[{"n": 2.0}, {"x": 0.25, "n": 3}]')
    assert [json.loads(line) for line in queued.stdout.splitlines()] == [
        {"study": "cli", "number": 9, "params": {"n": 2}},
        {"study": "cli", "number": 10, "params": {"x": 0.25, "n": 3}}]
    bad = run_here(workdir, "enqueue", "--study", "cli", "--storage", url, "--params", '{"n": 99}')
    assert bad.returncode == 2 and "values outside the space: n=99" in bad.stderr
    empty = run_here(workdir, "enqueue", "--study", "cli", "--storage", url, "--params", '[]')
    assert empty.returncode == 2 and "holds no configuration to queue" in empty.stderr
    new = run_here(workdir, "enqueue", "--study", "new", "--storage", url, "--params", '{"n": 2}')
    assert new.returncode == 2 and "no study named 'new'" in new.stderr
    assert "pass them to the 'metahpo tune' or 'metahpo ask' that makes it" in new.stderr
    many = json.dumps([{"x": k / 100, "n": 1} for k in range(30)])
    assert len(many) > 255, "longer than a file name may be"
    long_inline = run_here(workdir, "enqueue", "--study", "cli", "--storage", url, "--params", many)
    assert long_inline.returncode == 0, long_inline.stderr
    assert len(long_inline.stdout.splitlines()) == 30
    asked = [json.loads(run_here(workdir, "ask", "--study", "cli", "--storage", url).stdout)
             for _ in range(2)]
    assert [a["number"] for a in asked] == [9, 10] and asked[1]["params"] == {"x": 0.25, "n": 3}
    assert asked[0]["params"]["n"] == 2
    for a in asked:
        run_here(workdir, "tell", "--study", "cli", "--storage", url, "--trial", str(a["number"]),
            "--value", "1")
    unwritable = run_here(workdir, "studies", "show", "cli", "--storage", url, "--csv", "no/out.csv")
    assert unwritable.returncode == 1 and "Traceback" not in unwritable.stderr
    assert unwritable.stderr.strip() == ("metahpo: error: [Errno 2] No such file or directory: "
                                         "'no/out.csv'")
    deleted = run_here(workdir, "studies", "delete", "cli", "--storage", url)
    assert deleted.returncode == 0 and deleted.stdout.strip() == "deleted study cli (41 trials)"
    assert run_here(workdir, "studies", "list", "--storage", url).stdout.strip() == f"no studies in {url}"
    again = run_here(workdir, "studies", "delete", "cli", "--storage", url)
    assert again.returncode == 2 and "no study named 'cli'" in again.stderr


def test_an_optuna_study_of_two_objectives_is_listed_shown_and_its_front_given(workdir):
    import optuna

    from metahpo.integrations.optuna import MetaHPOSampler

    url = f"sqlite:///{workdir / 'db.sqlite'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["maximize", "minimize"], storage=url,
                                study_name="two", sampler=MetaHPOSampler("meta", seed=0))
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1) ** 2
                              + t.params["x"] ** 2), n_trials=12)
    listed = run(workdir, "studies", "--storage", url)
    assert listed.returncode == 0, listed.stderr
    front = sorted(t.number for t in study.best_trials)
    assert listed.stdout == f"two\tmaximize,minimize\t12 trials\t{len(front)} on the front\n"
    shown = run(workdir, "studies", "show", "two", "--storage", url).stdout.splitlines()
    assert shown[0] == "study two (maximize, minimize)" and len(shown) == 13
    first = study.trials[0].values
    assert shown[1].split()[2:4] == [f"{first[0]:.6g},", f"{first[1]:.6g}"]
    best = json.loads(run(workdir, "studies", "best", "two", "--storage", url).stdout)
    assert best["directions"] == ["maximize", "minimize"]
    assert [t["number"] for t in best["front"]] == front
    assert best["front"][0]["values"] == study.trials[front[0]].values
    run(workdir, "studies", "show", "two", "--storage", url, "--csv", "out.csv")
    header = (workdir / "out.csv").read_text().splitlines()[0]
    assert "values_0,values_1,params_x,params_y" in header
    top = run(workdir, "studies", "show", "two", "--storage", url, "--top", "3")
    assert top.returncode == 2 and "studies best two" in top.stderr
    tuned = run(workdir, "tune", "objective_mod:objective", "--space", "space.yaml",
                "--storage", url, "--study", "two", "--trials", "1")
    assert tuned.returncode == 2
    assert "study 'two' was created to maximize, minimize, not to minimize" in tuned.stderr


def test_without_storage_the_study_is_recorded_in_the_current_directory_and_resumes(workdir):
    from metahpo import load_study

    out = run(workdir, "tune", "objective_mod:objective", "--space", "space.yaml", "--optimizer",
              "random", "--trials", "4", "--seed", "0", "--quiet")
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    name = first.split()[1]
    assert first == (f"study {name} recorded in sqlite:///metahpo.db; resume with --study {name}")
    assert len(load_study(name, f"sqlite:///{workdir / 'metahpo.db'}").trials) == 4
    listed = run(workdir, "studies")
    assert listed.returncode == 0 and listed.stdout.startswith(f"{name}\tminimize\t4 trials")
    resumed = run(workdir, "tune", "objective_mod:objective", "--space", "space.yaml",
                  "--optimizer", "random", "--trials", "6", "--study", name, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines()[0] == f"study {name} recorded in sqlite:///metahpo.db"
    assert f"study {name}: 6 trials (6 complete" in resumed.stdout
    assert len(run(workdir, "studies", "show", name).stdout.strip().splitlines()) == 7
    (workdir / "wider.yaml").write_text(
        SearchSpace([Float("x", -5.0, 5.0), Int("n", 1, 9), Float("wd", 0.0, 0.1)]).to_yaml())
    refused = run(workdir, "tune", "objective_mod:objective", "--space", "wider.yaml",
                  "--trials", "8", "--study", name, "--quiet")
    assert refused.returncode == 2 and not refused.stdout, refused.stdout
    assert refused.stderr.strip() == (
        f"metahpo: error: study {name!r} was created with another search space (added: wd; "
        "changed: n); resume it with the same space, start a new study from its best trials "
        f"(--warm-start {name}; metahpo.warm_start_points in Python), or delete it (metahpo "
        f"studies delete {name})")

    elsewhere = workdir / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "space.yaml").write_text(SPACE.to_yaml())
    (elsewhere / "objective_mod.py").write_text((workdir / "objective_mod.py").read_text())
    memory = run(elsewhere, "tune", "objective_mod:objective", "--space", "space.yaml",
                 "--timeout", "1", "--storage", "memory", "--optimizer", "random", "--quiet")
    assert memory.returncode == 0, memory.stderr
    assert memory.stdout.startswith("study metahpo-") and "recorded" not in memory.stdout
    assert int(memory.stdout.split(":")[1].split()[0]) >= 2  # trials until the timeout
    assert not (elsewhere / "metahpo.db").exists()
    nothing = run(elsewhere, "studies", "show", name)
    assert nothing.returncode == 2 and "no metahpo.db in" in nothing.stderr
    assert not (elsewhere / "metahpo.db").exists()


def test_devices_reach_a_python_objective_as_the_trials_device(workdir):
    from metahpo import load_study

    (workdir / "on_device.py").write_text(
        "import time\n"
        "def objective(params, trial):\n"
        "    trial.set_user_attr('device', trial.device)\n"
        "    time.sleep(0.05)\n"
        "    return params['x'] ** 2\n")
    out = run(workdir, "tune", "on_device:objective", "--space", "space.yaml", "--trials", "6",
              "--jobs", "2", "--devices", "0,1", "--study", "d", "--optimizer", "random", "--quiet")
    assert out.returncode == 0, out.stderr
    trials = load_study("d", f"sqlite:///{workdir / 'metahpo.db'}").trials
    assert {t.user_attrs["device"] for t in trials} == {"cuda:0", "cuda:1"}


def test_tune_with_jobs_runs_a_grid_without_repeating_a_point(workdir):
    from metahpo import load_study

    url = f"sqlite:///{workdir / 'db.sqlite'}"
    out = run(workdir, "tune", "objective_mod:objective", "--space", "space.yaml", "--optimizer",
              "grid", "--trials", "9", "--storage", url, "--study", "jobs", "--seed", "0",
              "--option", "resolution=3", "--jobs", "3", "--quiet")
    assert out.returncode == 0, out.stderr
    trials = load_study("jobs", url).trials
    assert 9 <= len(trials) <= 11
    assert len({tuple(t.params.values()) for t in trials}) == len(trials)


def test_points_to_evaluate_inline_or_from_a_yaml_file(workdir):
    from metahpo import load_study

    url = f"sqlite:///{workdir / 'db.sqlite'}"
    (workdir / "points.yaml").write_text("- {x: 1.5e-1, n: 2}\n- {x: -3, n: 7}\n")
    for study, points in (("file", "points.yaml"), ("inline", '{"x": 0.15, "n": 2}')):
        out = run(workdir, "tune", "objective_mod:objective", "--space", "space.yaml",
                  "--trials", "3", "--storage", url, "--study", study, "--seed", "0",
                  "--points-to-evaluate", points, "--quiet")
        assert out.returncode == 0, out.stderr
    assert [t.params for t in load_study("file", url).trials[:2]] == [{"x": 0.15, "n": 2},
                                                                        {"x": -3.0, "n": 7}]
    assert load_study("inline", url).trials[0].params == {"x": 0.15, "n": 2}


def test_a_space_given_inline_as_json(workdir):
    """As Optuna's ``ask --search-space`` takes one; a file named like one is not looked for."""
    from metahpo import load_study

    url = f"sqlite:///{workdir / 'db.sqlite'}"
    tuned = run(workdir, "tune", "objective_mod:objective", "--space", SPACE.to_json(),
                "--trials", "2", "--storage", url, "--study", "t", "--quiet")
    assert tuned.returncode == 0, tuned.stderr
    assert load_study("t", url).space == SPACE
    asked = run(workdir, "ask", "--storage", url, "--study", "a", "--space",
                '{"x": {"type": "float", "low": 0, "high": 1}}')
    assert asked.returncode == 0, asked.stderr
    assert set(json.loads(asked.stdout)["params"]) == {"x"}
    typo = run(workdir, "tune", "objective_mod:objective", "--space", '{"x": {"type": "flot"}}',
               "--trials", "2", "--storage", "memory")
    assert typo.returncode == 2 and typo.stderr.strip() == (
        "metahpo: error: --space (inline JSON): parameter 'x': unknown type 'flot'; use float, "
        "int or categorical")


def test_ask_and_tell_from_separate_processes_as_a_job_queue_would(workdir):
    url = f"sqlite:///{workdir / 'db.sqlite'}"
    base = ["--storage", url, "--study", "queue"]
    first = run(workdir, "ask", *base, "--space", "space.yaml", "--direction", "maximize", "--seed", "0")
    second = run(workdir, "ask", *base, "--seed", "0", "--optimizer", "random")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert (a["number"], b["number"]) == (0, 1) and a["params"] != b["params"]
    told = run(workdir, "tell", *base, "--trial", "1", "--value", "0.75", "--attr", "test_acc=0.7",
               "--attr", "node=gpu-3")
    assert told.returncode == 0 and told.stdout.strip() == "trial 1: complete 0.75"
    best = json.loads(run(workdir, "studies", "best", "queue", "--storage", url).stdout)
    assert best["user_attrs"] == {"test_acc": 0.7, "node": "gpu-3"}
    own = run(workdir, "tell", *base, "--trial", "0", "--value", "1", "--attr", "error=x")
    assert own.returncode == 2 and "metahpo's own" in own.stderr
    failed = run(workdir, "tell", *base, "--trial", "0", "--error", "node lost")
    assert failed.stdout.strip() == "trial 0: failed: node lost"
    shown = run(workdir, "studies", "show", "queue", "--storage", url)
    assert shown.stdout.startswith("study queue (maximize; searched by 'random')")
    assert "| node='gpu-3', test_acc=0.7" in shown.stdout
    batch = run(workdir, "ask", *base, "--count", "3", "--seed", "0")
    trials = [json.loads(line) for line in batch.stdout.splitlines()]
    assert [t["number"] for t in trials] == [2, 3, 4]
    assert len({tuple(t["params"].values()) for t in trials + [a, b]}) == 5
    assert run(workdir, "tell", *base, "--stale", "3600").stdout.strip() == \
        "no asked trial has been running that long"
    assert run(workdir, "tell", *base, "--stale", "0").stdout.strip() == "failed as stale: 2, 3, 4"
    again = json.loads(run(workdir, "ask", *base, "--seed", "0").stdout)
    assert (again["number"], again["retry_of"], again["params"]) == (5, 2, trials[0]["params"])
    assert a["retry_of"] is None
    mixed = run(workdir, "tell", *base, "--stale", "0", "--trial", "2")
    assert mixed.returncode == 2 and "without --trial" in mixed.stderr


def test_tune_with_a_pruner_from_the_command_line(workdir):
    (workdir / "curve.py").write_text(
        "import metahpo\n"
        "def objective(params, trial):\n"
        "    for epoch in range(8):\n"
        "        loss = ((params['x'] - 1.0) ** 2 + params['n']) * (1 + 1 / (epoch + 1))\n"
        "        trial.report(epoch, loss)\n"
        "        if trial.should_prune():\n"
        "            raise metahpo.TrialPruned()\n"
        "    return loss\n")
    url = f"sqlite:///{workdir / 'db.sqlite'}"
    out = run(workdir, "tune", "curve:objective", "--space", "space.yaml", "--trials", "15",
              "--optimizer", "random", "--seed", "0", "--pruner", "median", "--storage", url,
              "--study", "p", "--quiet")
    assert out.returncode == 0, out.stderr
    from metahpo import load_study

    errors = [t.error for t in load_study("p", url).trials]
    n_pruned = sum(bool(e and e.startswith("pruned at step")) for e in errors)
    assert n_pruned and f"failed, of which {n_pruned} pruned)" in out.stdout
    shown = run(workdir, "studies", "show", "p", "--storage", url).stdout
    stopped = next(t for t in load_study("p", url).trials if t.pruned)
    assert f"error: {stopped.error} (last reported {stopped.last_report[1]:.6g})" in shown
    refused = run(workdir, "tune", "objective_mod:objective", "--space", "space.yaml",
                  "--trials", "3", "--pruner", "median")
    assert "a pruner needs an objective that takes the running trial" in refused.stderr


def test_objective_from_a_file_path(workdir):
    out = run(workdir, "tune", "objective_mod.py:objective", "--space", "space.yaml",
              "--trials", "3", "--direction", "maximize", "--quiet")
    assert out.returncode == 0, out.stderr
    assert "3 complete" in out.stdout


def test_an_objective_file_elsewhere_imports_the_modules_beside_it(workdir):
    (workdir / "project").mkdir()
    (workdir / "project" / "model_code.py").write_text("def loss(x, n):\n    return x * x + n\n")
    (workdir / "project" / "train.py").write_text(
        "from model_code import loss\n\n"
        "def objective(params):\n    return loss(params['x'], params['n'])\n")
    out = run(workdir, "tune", "project/train.py:objective", "--space", "space.yaml",
              "--trials", "3", "--storage", "memory", "--quiet")
    assert out.returncode == 0, out.stderr
    assert "3 complete" in out.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["tune", "objective_mod:objective", "--space", "bad.yaml", "--trials", "3"],
         "unknown type 'floaty'"),
        (["tune", "objective_mod:objective", "--space", "missing.yaml", "--trials", "3"],
         "cannot read search space file"),
        (["tune", "objective_mod:objective", "--space", "space.yaml", "--trials", "3",
          "--optimizer", "nope"], "unknown optimizer 'nope'; available:"),
        (["tune", "no_such_module:f", "--space", "space.yaml", "--trials", "3"],
         "cannot import objective 'no_such_module:f'"),
        (["tune", "objective_mod:missing", "--space", "space.yaml", "--trials", "3"],
         "has no function 'missing'"),
        (["tune", "objective_mod:objective", "--space", "space.yaml", "--trials", "3",
          "--option", "resolution=0", "--optimizer", "grid"], "resolution must be an int >= 1"),
        (["tune", "objective_mod:objective", "--space", "space.yaml", "--trials", "3",
          "--option", "resolutoin=3", "--optimizer", "grid"],
         "optimizer 'grid' has no option 'resolutoin'; its options: resolution, exact_limit"),
        (["tune", "objective_mod:objective", "--space", "space.yaml", "--trials", "3",
          "--option", "storage=5"], "optimizer 'meta' has no option 'storage'"),
        (["ask", "--space", "space.yaml", "--study", "s", "--option", "seed=2"],
         "has no option 'seed'; its options: policy, screen, stall_trials, sample, greedy_first, "
         "fake_feedback, switch_choices (seed is given on its own, not as an option)"),
        (["tune", "objective_mod:objective", "--space", "space.yaml", "--trials", "3",
          "--seed", "-1"], "seed must be a non-negative int or None, got -1"),
        (["tune", "objective_mod:objective", "--space", "space.yaml", "--trials", "3",
          "--jobs", "0"], "n_jobs must be an int >= 1, or -1 for one job per CPU, got 0"),
        (["tune", "objective_mod:objective", "--space", "space.yaml", "--trials", "3",
          "--timeout", "0"], "timeout must be a number of seconds > 0 (or None), got 0.0"),
        (["tune", "objective_mod:objective", "--space", "space.yaml", "--trials", "3",
          "--points-to-evaluate", '[{"x": 0.5}]'],
         "points_to_evaluate[0]: parameters do not match the search space: missing ['n']"),
        (["tune", "objective_mod:objective", "--space", "space.yaml", "--trials", "3",
          "--points-to-evaluate", "nofile.json"], "--points-to-evaluate: no file 'nofile.json'"),
        (["tune", "objective_mod:objective", "--space", "space.yaml", "--trials", "3",
          "--points-to-evaluate", "[1, 2]"], "expected a parameter dict or a list of them"),
        (["tune", "--space", "space.yaml", "--trials", "3"],
         "tune needs one of an objective (MODULE:FUNCTION) and --command TEMPLATE"),
        (["tune", "objective_mod:objective", "--space", '[{"x": 1}]', "--trials", "3"],
         "--space (inline JSON): a search space file must hold a mapping from parameter name"),
        (["tune", "objective_mod:objective", "--command", "echo 1", "--space", "space.yaml",
          "--trials", "3"], "tune needs one of an objective (MODULE:FUNCTION) and --command"),
        (["tune", "--command", "echo {y}", "--space", "space.yaml", "--trials", "3"],
         "command template names ['y'], which are not parameters of the search space (x, n)"),
        (["tune", "objective_mod:objective", "--space", "space.yaml", "--trials", "3",
          "--trial-timeout", "5"], "--trial-timeout applies to --command runs"),
        (["tune", "objective_mod:objective", "--space", "space.yaml", "--trials", "3",
          "--devices", "0,1"], "devices need an objective that takes the running trial"),
        (["tune", "--command", "echo 1", "--space", "space.yaml", "--trials", "3", "--devices",
          "0,0"], "devices must be distinct, non-empty ids, got ['0', '0']"),
        (["ask", "--storage", "sqlite:///missing.db", "--study", "s"], "does not exist"),
        (["tell", "--storage", "sqlite:///empty.db", "--study", "s", "--trial", "0"],
         "tell needs either --value or --error"),
        (["tell", "--storage", "sqlite:///empty.db", "--study", "s", "--value", "1"],
         "tell needs --trial N (or --stale SECONDS)"),
        (["studies", "list", "--storage", "sqlite:///missing.db"], "does not exist"),
        (["studies", "list", "--storage", "sqlite:///garbage.db"], "cannot open storage"),
        (["studies", "list", "--storage", "not-a-url"], "must be a database URL"),
        (["studies", "list", "--storage", "runs/studies.db"],
         "got 'runs/studies.db'; for a SQLite file, sqlite:///runs/studies.db"),
        (["studies", "list", "--storage", "mysql+pymysql://user@localhost/studies"],
         "its database driver is not installed (No module named 'pymysql'); pip install 'PyMySQL'"),
        (["studies", "show", "nope", "--storage", "sqlite:///empty.db"], "no study named 'nope'"),
        (["studies", "list"], "no metahpo.db in"),
        (["tune", "objective_mod:objective", "--space", "space.yaml", "--trials", "3",
          "--pruner", "median"], "a pruner needs an objective that takes the running trial"),
        (["tune", "objective_mod:objective", "--space", "space.yaml", "--trials", "-2"],
         "n_trials must be a non-negative int or None, got -2"),
        (["tune", "objective_mod:objective", "--space", "space.yaml"],
         "tune needs --trials N, --timeout SECONDS or both"),
        (["tune", "objective_mod:objective", "--space", "space.yaml", "--trials", "3",
          "--max-retries", "-1"], "max_retries must be an int >= 0, got -1"),
        (["ask", "--study", "s"], "no metahpo.db in"),
        (["tell", "--study", "s", "--trial", "0", "--value", "1", "--storage", "memory"],
         "--storage memory holds no studies between commands"),
        (["ask", "--study", "s", "--space", "space.yaml", "--storage", "memory"],
         "--storage memory would forget the asked trial"),
        (["tune", "objective_mod:objective", "--space", "space.yaml", "--trials", "3",
          "--storage", "memory", "--warm-start", "old"], "--storage memory holds no studies"),
        (["bench", "--tasks", "synthetic:sphere", "--optimizers", "random", "--budget", "0",
          "--out", "b"],
         "budget must be a whole number >= 1, got 0"),
        (["bench", "--tasks", "synthetic:sphere", "--optimizers", "random", "--seeds", "0",
          "--out", "b"],
         "seeds must be a whole number >= 1, got 0"),
        (["bench", "--tasks", "synthetic:sphere", "--optimizers", "random", "--workers", "0",
          "--out", "b"],
         "workers must be a whole number >= 1 (1: runs in this process), got 0"),
        (["bench", "--tasks", "synthetic:sphere", "--optimizers", "random", "--dims", "2,x",
          "--out", "b"], "--dims expects dimensions as whole numbers >= 1, such as 3 or 2,4,8, "
                         "got '2,x'"),
        (["bench", "--tasks", "synthetic:sphere", "--optimizers", "random", "--instances", "0",
          "--out", "b"], "synthetic instances must be test, train, a count N >= 1 or seeds >= 0"),
        (["bench", "--tasks", "synthetic:sphere", "--optimizers", "random", "--instances",
          "-3", "--out", "b"], "synthetic instances must be test, train"),
        (["meta-train", "--tasks", "synthetic:sphere", "--out", "p.safetensors", "--dims", "0"],
         "--dims expects dimensions as whole numbers >= 1"),
        (["bench", "--tasks", "digits", "--optimizers", "random", "--instances", "train",
          "--out", "b"], "task 'digits' is one task, without instances to choose"),
        (["bench", "--tasks", "synthetic:sphere", "--optimizers", "random", "--space",
          "space.yaml", "--out", "b"], "--space belongs to objective: and command: tasks"),
        (["portfolio", "build", "--tasks", "digits", "--out", "p.json"],
         "portfolio build needs cheap tasks"),
        (["meta-train", "--tasks", "synthetic:sphere", "--out", "p.safetensors",
          "--validation-instances", "3"], "--validation-instances choose instances of yahpo: "
                                          "tasks, and these tasks (synthetic:sphere) have none"),
        (["meta-train", "--tasks", "synthetic:sphere", "--out", "p.safetensors", "--lr", "-1"],
         "meta-training: lr must be > 0, got -1.0"),
        (["meta-train", "--tasks", "synthetic:sphere", "--out", "p.safetensors", "--hidden", "0"],
         "policy: hidden must be >= 1, got 0"),
        (["meta-train", "--tasks", "synthetic:sphere", "--out", "p.safetensors", "--threads",
          "0"], "--threads must be >= 1, got 0"),
        (["meta-train", "--tasks", "synthetic:sphere", "--out", "p.safetensors", "--horizon",
          "5", "--random-design", "5"], "an initial design of 5 points fills the whole horizon"),
        (["meta-train", "--tasks", "synthetic:sphere", "--out", "p.safetensors", "--seed", "-1"],
         "meta-training: seed must be a whole number in [0, 2**64), got -1"),
        (["portfolio", "build", "--tasks", "synthetic:sphere", "--out", "p.json", "--seed", "-1"],
         "portfolio seed must be a whole number >= 0, got -1"),
        (["studies", "--storage", "journal:///space.yaml"],
         "'space.yaml' is not an Optuna journal file (its first line is no journal entry)"),
        (["bench", "--tasks", "synthetic:sphere", "--optimizers", ",", "--out", "b"],
         "a benchmark needs at least one optimizer"),
        (["meta-train", "--tasks", "synthetic:spheres", "--out", "p.safetensors"],
         "unknown synthetic families ['spheres']; known: sphere, gp, rosenbrock"),
        (["portfolio", "build", "--tasks", "synthetic:sphere", "--out", "p.json", "--size", "0"],
         "portfolio size must be a whole number >= 1, got 0"),
        (["demo", "--trials", "0", "--storage", "memory"], "--trials must be >= 1, got 0"),
        (["demo", "--seed", "-1", "--storage", "memory"],
         "seed must be a non-negative int or None, got -1"),
        (["demo", "--epochs", "0", "--storage", "memory"],
         "epochs must be a whole number >= 1, got 0"),
        (["tell", "--storage", "sqlite:///empty.db", "--study", "s", "--stale", "-1"],
         "--stale must be a number of seconds >= 0, got -1"),
        (["tune", "objective_mod:objective", "--space", "space.yaml", "--trials", "3",
          "--warm-start", "old", "--warm-start-points", "0"],
         "--warm-start-points must be >= 1, got 0"),
        (["bench", "--tasks", "synthetic:sphere", "--optimizers", "random", "--out", "space.yaml"],
         "results folder 'space.yaml' is a file"),
        (["meta-train", "--tasks", "synthetic:sphere", "--out", "space.yaml/p.safetensors"],
         "--out: 'space.yaml' is a file, not a folder"),
    ],
)
def test_user_mistakes_print_one_clear_line(workdir, args, message):
    (workdir / "bad.yaml").write_text("x: {type: floaty, low: 0, high: 1}\n")
    (workdir / "garbage.db").write_bytes(b"this is not a database" * 100)
    if "empty.db" in " ".join(args):
        from metahpo.storage import open_storage

        open_storage(f"sqlite:///{workdir / 'empty.db'}")
    out = run_here(workdir, *args)
    assert out.returncode == 2, out
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("metahpo: error: "), out.stderr
    assert message in lines[0]
    assert not out.stdout.strip(), "something announced, then refused"



def test_demo_tunes_a_real_cnn(tmp_path):
    out = run(tmp_path, "demo", "--trials", "3", "--epochs", "2", "--quiet")
    assert out.returncode == 0, out.stderr
    assert "3 trials (3 complete, 0 failed)" in out.stdout
    assert "test accuracy of the best configuration" in out.stdout


def test_demo_with_a_pruner_stops_trainings_after_an_epoch(tmp_path):
    import optuna

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    out = run(tmp_path, "demo", "--trials", "6", "--epochs", "3", "--pruner", "successive-halving",
              "--optimizer", "random", "--storage", url, "--study", "d", "--quiet")
    assert out.returncode == 0, out.stderr
    trials = optuna.load_study(study_name="d", storage=url).trials
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert pruned and complete and all(len(t.intermediate_values) < 3 for t in pruned)
    assert all(t.value == t.intermediate_values[2] for t in complete)
