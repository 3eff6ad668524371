"""metahpo ships its annotations (``py.typed``): they must accept every documented use, and the
package must type-check with them, or users' type checkers report errors in correct code (a list
of choices, an objective that takes the running trial, ``objective(trial.params)``).

mypy is pinned in the ``test`` extra (a new mypy release may judge the same code differently);
its settings, and which libraries without type information it skips, are in pyproject.toml.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_API = Path("tests") / "typing_examples" / "public_api.py"


def mypy(*targets: str, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(cache), "--no-error-summary",
         "--hide-error-context", *targets],
        cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("mypy_cache")


def test_package_examples_and_documented_uses_type_check(cache):
    result = mypy("metahpo", "examples", str(PUBLIC_API), cache=cache)
    assert result.returncode == 0, result.stdout + result.stderr


def test_type_checking_reports_misuse(cache, tmp_path):
    misuse = tmp_path / "misuse.py"
    misuse.write_text(
        "import metahpo\n"
        "space = metahpo.SearchSpace([metahpo.Float('lr', 'small', 0.1)])\n"
        "metahpo.tune(lambda p: 0.0, space)\n"
        "metahpo.tune(lambda p, t, extra: 0.0, space, n_trials=3)\n"
    )
    result = mypy(str(misuse), cache=cache)
    lines = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == 1, result.stdout + result.stderr
    assert [line.split(":")[1] for line in lines] == ["2", "3", "4"], result.stdout
    assert '"Float" has incompatible type "str"' in lines[0]
    assert 'Missing named argument "n_trials"' in lines[1]
    assert 'Argument 1 to "tune"' in lines[2]
