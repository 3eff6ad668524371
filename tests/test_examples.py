"""The examples run end to end: the meta-learning walkthrough (the policy ahead of random) and
the PyTorch tuning workflow (pruning, a starting point, a callback, a resumable study)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_meta_learning_walkthrough_runs():
    res = subprocess.run([sys.executable, str(ROOT / "examples" / "meta_learning_walkthrough.py")],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    found = dict(re.findall(r"^\s+(meta \(this policy\)|random|tpe)\s+([0-9.]+)$", res.stdout, re.M))
    assert set(found) == {"meta (this policy)", "random", "tpe"}, res.stdout
    # Deterministic (fixed seeds); measured 0.0026 for the policy against 0.030 for random.
    assert float(found["meta (this policy)"]) < float(found["random"])


def test_tune_a_pytorch_model_runs_and_resumes(tmp_path):
    def run():
        res = subprocess.run([sys.executable, str(ROOT / "examples" / "tune_a_pytorch_model.py"),
                              "--db", str(tmp_path / "studies.db")],
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr
        return res.stdout

    out = run()
    logged = re.findall(r"^trial +(\d+): (\S+)", out, re.M)
    summary = re.search(r"^(\d+) trials, (\d+) pruned; defaults scored ([0-9.]+), best ([0-9.]+)",
                        out, re.M)
    assert summary, out
    n, pruned, defaults, best = int(summary[1]), int(summary[2]), float(summary[3]), float(summary[4])
    assert len(logged) == n and sum(v.startswith("pruned") for _, v in logged) == pruned
    assert logged[0] == ("0", f"{defaults:.3f}") and best >= defaults > 0.5
    again = [int(k) for k in re.findall(r"^trial +(\d+):", run(), re.M)]
    assert all(k >= n for k in again), "the resumed study ran its trials again"
