"""The walkthrough example runs end to end and shows the meta-learned policy ahead of random."""

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
