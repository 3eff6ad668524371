"""The benchmark harness: raw records, summary numbers checked by hand, resume, held-out rule."""

import json
import logging
import re
import subprocess
import sys

import numpy as np
import pytest

from metahpo import MetaHPOError
from metahpo.benchmarks.runner import Suite, load_records, run_suite, suite_commands
from metahpo.reports.summary import summarize, write_report
from metahpo.tasks.bounds import task_bounds
from metahpo.tasks.synthetic import SyntheticTask


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    suite = Suite(tasks="synthetic:sphere", instances="2", dims=(2,), optimizers=("random", "grid"),
                  budget=5, seeds=2)
    run_suite(suite, out, progress=False, command="test")
    return suite, out


def test_raw_records_hold_every_trial(tiny):
    suite, out = tiny
    records = load_records(out)
    assert len(records) == 2 * 2 * 2
    for r in records:
        assert len(r["values"]) == len(r["ask_ms"]) == len(r["params"]) == 5
        task = SyntheticTask("sphere", 2, int(r["task"].rsplit("/", 1)[1]))
        for params, value in zip(r["params"], r["values"]):
            assert value == pytest.approx(task.evaluate(params))


def test_summary_matches_a_computation_by_hand(tiny):
    _, out = tiny
    records = load_records(out)
    summary = summarize(records, budgets=(1, 5))
    for label in ("random", "grid"):
        mine = [r for r in records if r["label"] == label]
        regrets = {1: [], 5: []}
        for r in mine:
            task = SyntheticTask("sphere", 2, int(r["task"].rsplit("/", 1)[1]))
            b = task_bounds(task)
            for t in (1, 5):
                best = min(r["values"][:t])
                regrets[t].append(min(max((best - b.best) / (b.worst - b.best), 0.0), 1.0))
        for t in (1, 5):
            assert summary["optimizers"][label]["regret"][str(t)] == pytest.approx(np.mean(regrets[t]))
            se = np.std(regrets[t], ddof=1) / np.sqrt(len(regrets[t]))
            assert summary["optimizers"][label]["regret_se"][str(t)] == pytest.approx(se)
        asks = np.concatenate([r["ask_ms"] for r in mine])
        assert summary["optimizers"][label]["ask_ms_median"] == pytest.approx(np.median(asks))
    for t in (1, 5):
        ranks = {"random": [], "grid": []}
        for task in {r["task"] for r in records}:
            for seed in (0, 1):
                vals = {r["label"]: min(r["values"][:t]) for r in records
                        if r["task"] == task and r["seed"] == seed}
                if vals["random"] == vals["grid"]:
                    ranks["random"].append(1.5)
                    ranks["grid"].append(1.5)
                else:
                    winner = min(vals, key=vals.get)
                    for k in vals:
                        ranks[k].append(1.0 if k == winner else 2.0)
        for k in ranks:
            assert summary["optimizers"][k]["rank"][str(t)] == pytest.approx(np.mean(ranks[k]))


def test_step_from_incumbent_matches_a_computation_by_hand(tiny):
    _, out = tiny
    records = load_records(out)
    summary = summarize(records, budgets=(1, 5))
    for label in ("random", "grid"):
        steps = []
        for r in (r for r in records if r["label"] == label):
            task = SyntheticTask("sphere", 2, int(r["task"].rsplit("/", 1)[1]))
            u = np.array([task.space.encode(p) for p in r["params"]])
            assert np.allclose(u, r["unit"], atol=1e-6)
            row = []
            for t in range(1, 5):
                inc = int(np.argmin(r["values"][:t]))
                row.append(np.sqrt(np.mean((u[t] - u[inc]) ** 2)))
            steps.append(row)
        curve = summary["optimizers"][label]["step_curve"]
        assert curve[0] is None
        assert curve[1:] == pytest.approx(np.mean(steps, axis=0).tolist(), abs=1e-5)


def test_resume_skips_finished_runs_and_report_rerenders(tiny, caplog):
    """Kept runs are not run again, and a warning says so (results kept from before a change
    to an optimizer's code were shown as the new code's)."""
    suite, out = tiny
    before = {p: p.stat().st_mtime_ns for p in (out / "raw").rglob("*.json")}
    with caplog.at_level(logging.WARNING, logger="metahpo"):
        run_suite(suite, out, progress=False, command="test")
    n = len(before)
    assert f"{n} of the suite's {n} runs are kept from an earlier run into {out}" in caplog.text
    after = {p: p.stat().st_mtime_ns for p in (out / "raw").rglob("*.json")}
    assert before == after
    assert json.loads((out / "suite.json").read_text())["commands"] == ["test"]
    paths = write_report(load_records(out), out, commands=suite_commands(out))
    for key in ("json", "markdown", "regret", "rank", "step"):
        assert paths[key].exists()
    assert "| random |" in paths["markdown"].read_text() or "| grid |" in paths["markdown"].read_text()
    assert paths["markdown"].read_text().endswith("Produced by:\n\n    test\n")


def test_a_resumed_suite_refuses_kept_runs_it_did_not_ask_for(tiny):
    """Resuming adds missing runs only, so runs kept from another budget, optimizer or options
    would stand for what the suite asks: refused, with what differs."""
    from dataclasses import replace

    suite, out = tiny
    for changed, message in [
        (replace(suite, budget=8), "'random' made with a budget of 5 \\(this suite: 8\\)"),
        (replace(suite, optimizers=("random=tpe", "grid")),
         "optimizer 'random' \\(this suite: 'tpe'\\)"),
        (replace(suite, options={"grid": {"resolution": 3}}),
         "'grid' made with options \\{\\} \\(this suite: \\{'resolution': 3\\}\\)"),
    ]:
        with pytest.raises(MetaHPOError, match=message):
            run_suite(changed, out, progress=False)
    run_suite(replace(suite, optimizers=("random",)), out, progress=False)


def test_a_run_file_cut_short_is_named_and_rerun_once_deleted(tiny, tmp_path):
    """So is a cut suite file (the list of commands that produced the results)."""
    import shutil

    suite, kept = tiny
    out = tmp_path / "copy"
    shutil.copytree(kept, out)
    cut = sorted((out / "raw").glob("random/*/seed0.json"))[0]
    whole = cut.read_text()
    cut.write_text(whole[:40])
    for act in (lambda: load_records(out), lambda: run_suite(suite, out, progress=False)):
        with pytest.raises(MetaHPOError, match=f"'{cut}' is not a run record .*; delete it, "
                                               "and the suite reruns that run"):
            act()
    cut.unlink()
    run_suite(suite, out, progress=False)
    rerun, first = json.loads(cut.read_text()), json.loads(whole)
    assert (rerun["params"], rerun["values"]) == (first["params"], first["values"])
    suite_file = out / "suite.json"
    suite_file.write_text(suite_file.read_text()[:40])
    for act in (lambda: suite_commands(out), lambda: run_suite(suite, out, progress=False)):
        with pytest.raises(MetaHPOError, match=f"'{suite_file}' is not a suite record .*; "
                                               "delete it"):
            act()
    suite_file.unlink()
    run_suite(suite, out, progress=False, command="again")
    assert suite_commands(out) == ["again"]


@pytest.mark.parametrize("optimizers, options, message", [
    (("a=random", "a=tpe"), {}, "optimizer labels must differ .*: a given twice"),
    (("random",), {"rnd": {"x": 1}}, "options for 'rnd', which no optimizer of the suite is "
                                     "labelled \\(labels: random\\)"),
    (("random",), {"random": {"parallel": 0}}, "random.parallel must be a whole number"),
    (("..=random",), {}, "optimizer label '..': a label names a results folder"),
    (("tpe.v2=tpe",), {}, "optimizer label 'tpe.v2': a label names"),
    (("=random",), {}, "optimizer '=random': write LABEL=NAME, both non-empty"),
    (("a=",), {}, "optimizer 'a=': write LABEL=NAME"),
])
def test_a_suite_with_clashing_labels_or_stray_options_is_refused(tmp_path, optimizers, options,
                                                                   message):
    suite = Suite(tasks="synthetic:sphere", instances="1", dims=(2,), optimizers=optimizers,
                  options=options, budget=2, seeds=1)
    with pytest.raises(MetaHPOError, match=message):
        run_suite(suite, tmp_path, progress=False)


def test_a_policy_is_never_scored_on_its_training_tasks(tmp_path):
    from metahpo.policy import LSTMPolicy, PolicyConfig, PolicyInfo, save_policy

    path = tmp_path / "p.safetensors"
    cfg = PolicyConfig(hidden=8, embed=8)
    save_policy(LSTMPolicy(cfg), PolicyInfo(config=cfg, training_tasks=["synthetic:sphere/2d/1000000"]), path)
    suite = Suite(tasks="synthetic:sphere", instances="1", dims=(2,), optimizers=("meta",),
                  options={"meta": {"policy": str(path)}}, budget=3, seeds=1)
    with pytest.raises(MetaHPOError, match="only scored on tasks it was not trained on"):
        run_suite(suite, tmp_path / "out", progress=False)


def test_bench_command_with_workers_and_labels(tmp_path):
    out = tmp_path / "b"
    cmd = [sys.executable, "-m", "metahpo", "bench", "--tasks", "synthetic:gp", "--instances", "1",
           "--dims", "2", "--optimizers", "random,evo=evolution", "--option",
           "evo.population_size=3", "--option", "evo.tournament_size=2", "--budget", "6", "--seeds", "2", "--workers", "2", "--out",
           str(out), "--quiet"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["optimizers"]) == {"random", "evo"}
    assert "metahpo bench --tasks synthetic:gp" in (out / "summary.md").read_text()


def test_bench_compares_optimizers_on_the_users_own_objective(tmp_path):
    (tmp_path / "my_model.py").write_text(
        "def accuracy(params):\n"
        "    if params['layers'] == 4:\n"
        "        raise RuntimeError('out of memory')\n"
        "    return 1.0 - (params['lr'] - 0.01) ** 2 - 0.01 * params['layers']\n")
    (tmp_path / "space.yaml").write_text("lr: {type: float, low: 1e-4, high: 1e-1, log: true}\n"
                                         "layers: {type: int, low: 1, high: 4}\n")
    cmd = [sys.executable, "-m", "metahpo", "bench", "--tasks", "objective:my_model:accuracy",
           "--space", "space.yaml", "--direction", "maximize", "--optimizers", "random,meta",
           "--budget", "6", "--seeds", "2", "--workers", "2", "--out", "b", "--quiet"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    records = load_records(tmp_path / "b")
    assert len(records) == 4 and {r["task"] for r in records} == {"my_model.accuracy"}
    assert all(r["direction"] == "maximize" for r in records)
    failed = [e for r in records for e in r["errors"] if e]
    assert failed and set(failed) == {"RuntimeError: out of memory"}
    assert "of 12 (RuntimeError: out of memory)" in res.stdout
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert set(summary["optimizers"]) == {"random", "meta"}
    missing = subprocess.run([*cmd[:6], "--optimizers", "random", "--out", "c"],
                             capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert "needs a search space (--space FILE, or inline JSON)" in missing.stderr
    inline = subprocess.run([*cmd[:6], "--space", '{"lr": {"type": "float", "low": 1e-4, '
                             '"high": 0.1}, "layers": {"type": "int", "low": 1, "high": 3}}',
                             *cmd[8:10], "--optimizers", "random", "--budget", "3", "--seeds", "1",
                             "--out", "d"],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert inline.returncode == 0, inline.stderr
    # standard error is no terminal: a line of the count, not a progress bar
    assert re.search(r"^\[[-\d :]+\] bench: 1/1 runs after [\d.]+ s$", inline.stderr,
                     re.MULTILINE), inline.stderr
    assert "\r" not in inline.stderr
    assert len(load_records(tmp_path / "d")) == 1


def test_parallel_option_keeps_k_trials_pending(tmp_path, monkeypatch):
    from metahpo.benchmarks import runner
    from metahpo.optimizers.random import RandomSearch

    seen = []
    original = RandomSearch.ask

    def spy(self):
        seen.append(len(self.pending))
        return original(self)

    monkeypatch.setattr(RandomSearch, "ask", spy)
    task = SyntheticTask("sphere", 2, 5)
    record = runner.run_one(task, "random", {"parallel": 3}, seed=0, budget=7)
    assert len(record["values"]) == 7 and len(record["ask_ms"]) == 7
    assert seen == [0, 1, 2, 2, 2, 2, 2]


def test_via_optuna_runs_the_optimizer_as_the_sampler_of_an_optuna_study(monkeypatch):
    from metahpo.benchmarks import runner
    from metahpo.integrations.optuna import MetaHPOSampler
    from metahpo.integrations.optuna_study_loop import OptunaStudyLoop

    calls = []
    original = MetaHPOSampler.sample_relative

    def spy(self, study, trial, search_space):
        calls.append((self.optimizer, len(study.trials)))
        return original(self, study, trial, search_space)

    monkeypatch.setattr(MetaHPOSampler, "sample_relative", spy)
    task = SyntheticTask("sphere", 3, 5)
    options = {"via": "optuna", "parallel": 2, "population_size": 3, "tournament_size": 2}
    record = runner.run_one(task, "evolution", options, seed=0, budget=6,
                            drivers={"optuna": OptunaStudyLoop})
    assert len(record["values"]) == 6 and all(v is not None for v in record["values"])
    assert [n for n, _ in calls] == ["evolution"] * 6
    for params in record["params"]:
        task.space.validate(params)
    with pytest.raises(MetaHPOError, match="via='ray' is not a way to drive a search here"):
        runner.run_one(task, "random", {"via": "ray"}, seed=0, budget=2,
                       drivers={"optuna": OptunaStudyLoop})


def test_via_optuna_on_a_conditional_space_suggests_active_parameters_only():
    """The Optuna study loop asked every parameter at once, so the sampler refused a child
    whose condition did not hold (the rbv2_svm stand-in of tests/data/yahpo_fake)."""
    from pathlib import Path

    from metahpo.benchmarks import runner
    from metahpo.integrations.optuna_study_loop import OptunaStudyLoop
    from metahpo.tasks.yahpo import YahpoScenario

    data = Path(__file__).resolve().parent / "data" / "yahpo_fake"
    task = YahpoScenario("rbv2_svm", data).task("1049")
    record = runner.run_one(task, "meta", {"via": "optuna"}, seed=0, budget=8,
                            drivers={"optuna": OptunaStudyLoop})
    assert len(record["values"]) == 8 and all(v is not None for v in record["values"])
    for params in record["params"]:
        task.space.validate(params)
    kernels = {p["kernel"] for p in record["params"]}
    assert len(kernels) > 1 and all(("gamma" in p) == (p["kernel"] == "radial")
                                    for p in record["params"])


def test_per_task_table_shows_where_each_optimizer_wins(tmp_path):
    from metahpo.reports.summary import per_task_table

    def record(task, label, seed, values):
        return {"task": task, "optimizer": label, "label": label, "seed": seed, "direction": "minimize",
                "values": values, "ask_ms": [1.0] * len(values), "bounds": {"best": 0.0, "worst": 1.0}}

    records = [record("x", "a", 0, [0.2, 0.1]), record("x", "a", 1, [0.4, 0.3]),
               record("x", "b", 0, [0.5, 0.5]), record("x", "b", 1, [0.5, 0.5]),
               record("y", "a", 0, [0.9, 0.9]), record("y", "b", 0, [0.3, 0.0])]
    summary = summarize(records, budgets=(1, 2))
    assert summary["tasks"]["x"]["a"]["regret"]["2"] == pytest.approx(0.2)
    assert summary["tasks"]["x"]["a"]["regret_se"]["2"] == pytest.approx(0.1)
    assert summary["tasks"]["y"]["b"]["regret"]["2"] == 0.0
    rows = per_task_table(summary).splitlines()
    assert rows[0] == "| task | optimizer | regret t=1 | regret t=2 |"
    assert rows[2] == "| x | a | **0.3000 ± 0.1000** | **0.2000 ± 0.1000** |"
    assert rows[3] == "| x | b | 0.5000 ± 0.0000 | 0.5000 ± 0.0000 |"
    assert rows[4].startswith("| y | b | **0.3000 ± 0.0000** |")
    paths = write_report(records, tmp_path, budgets=(1, 2))
    assert paths["per_task"].read_text().count("\n| y |") == 2


def test_comparisons_pair_the_leaders_runs_with_each_other_optimizers(tmp_path):
    """Wins, ties and losses of the lowest mean regret at the last budget on the same (task,
    seed), and the Wilcoxon p-value, as computed by hand (scipy's test on the differences)."""
    from scipy.stats import wilcoxon

    def record(label, task, seed, values):
        return {"task": task, "optimizer": label, "label": label, "seed": seed,
                "direction": "minimize", "values": values, "ask_ms": [1.0] * len(values),
                "bounds": {"best": 0.0, "worst": 1.0}}

    lead = {("x", s): [0.5, 0.1 + 0.01 * s] for s in range(6)}
    lead[("y", 0)] = [0.5, 0.6]
    other = {key: [0.5, 0.3] for key in lead}
    records = ([record("lead", *key, v) for key, v in lead.items()]
               + [record("other", *key, v) for key, v in other.items()]
               + [record("alone", "x", 9, [0.9, 0.9])])
    summary = summarize(records, budgets=(1, 2))
    comparisons = summary["comparisons"]
    assert comparisons["reference"] == "lead"
    diffs = [0.3 - lead[key][1] for key in sorted(lead)]
    assert comparisons["against"]["other"] == {
        "1": {"wins": 0, "ties": 7, "losses": 0, "p": 1.0},
        "2": {"wins": 6, "ties": 0, "losses": 1, "p": pytest.approx(wilcoxon(diffs).pvalue)}}
    assert comparisons["against"]["alone"]["2"] == {"wins": 0, "ties": 0, "losses": 0, "p": 1.0}
    paths = write_report(records, tmp_path, budgets=(1, 2))
    table = paths["comparisons"].read_text().splitlines()
    assert table[2] == "| against | t=1: wins / ties / losses (p) | t=2: wins / ties / losses (p) |"
    p = wilcoxon(diffs).pvalue
    assert table[5] == f"| other | 0 / 7 / 0 (p = 1.00) | 6 / 0 / 1 (p = {p:.2f}) |"
    assert "of `lead`, the lowest mean regret at t=2" in paths["comparisons"].read_text()
    mine = write_report(records, tmp_path, budgets=(1, 2), reference="other")["comparisons"]
    assert "of `other`, chosen as the reference" in mine.read_text()
    assert "| lead | 0 / 7 / 0 (p = 1.00) | 1 / 0 / 6 (" in mine.read_text()
    with pytest.raises(MetaHPOError, match="no optimizer labelled 'nope' in these results to "
                                           "compare the others with \\(labels: alone, lead, "
                                           "other\\)"):
        summarize(records, reference="nope")


def test_table_shows_test_scores_when_runs_have_them():
    from metahpo.reports.summary import markdown_table

    def record(label, values, test):
        return {"task": "t", "optimizer": label, "label": label, "seed": 0, "direction": "maximize",
                "values": values, "ask_ms": [1.0] * len(values), "bounds": None,
                "test_score_of_best": test}

    summary = summarize([record("a", [0.5, 0.9], 0.8), record("b", [0.6, 0.7], 0.65)], budgets=(1, 2))
    rows = markdown_table(summary).splitlines()
    assert rows[0].endswith("| test score of best |")
    assert rows[2].startswith("| a |") and rows[2].endswith("| 0.8000 |")
    assert summary["optimizers"]["a"]["regret"]["2"] == 0.0
    assert summary["optimizers"]["b"]["regret"]["1"] == pytest.approx(0.75)


def test_report_says_which_trials_failed_and_draws_runs_without_regret(tmp_path):
    """A suite whose objective failed, and one where every run found the best value at once
    (regret 0 throughout: nothing to put on a log axis), both get their tables and plots."""
    from metahpo.reports.summary import markdown_table, per_task_table

    def record(label, values, errors):
        return {"task": "t", "optimizer": label, "label": label, "seed": 0,
                "direction": "minimize", "values": values, "errors": errors,
                "ask_ms": [1.0] * len(values), "bounds": {"best": 0.0, "worst": 1.0}}

    flat = [record("a", [0.0, 0.0], [None, None]), record("b", [0.0, 0.0], [None, None])]
    paths = write_report(flat, tmp_path, budgets=(1, 2))
    assert paths["regret"].stat().st_size > 0
    assert "Failed trials" not in paths["markdown"].read_text()
    failing = [record("a", [0.5, 0.2], [None, None]),
               record("b", [None, None], ["MemoryError: out of memory"] * 2)]
    summary = summarize(failing, budgets=(1, 2))
    assert (summary["optimizers"]["b"]["failed_trials"], summary["optimizers"]["b"]["trials"]) \
        == (2, 2)
    assert summary["optimizers"]["a"]["failed_trials"] == 0
    assert "Failed trials (no result): b: 2 of 2 (MemoryError: out of memory)." in (
        markdown_table(summary))
    on_tasks = failing + [record("a", [0.1, 0.1], [None, None]) | {"task": "u"},
                          record("b", [0.3, None], [None, "timed out"]) | {"task": "u"}]
    per_task = per_task_table(summarize(on_tasks, budgets=(1, 2)))
    assert per_task.endswith("Failed trials (no result): b on t: 2 of 2 (MemoryError: out of "
                             "memory); b on u: 1 of 2 (timed out).\n")
    assert "Failed trials" not in per_task_table(summarize(flat, budgets=(1, 2)))
