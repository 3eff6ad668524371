"""README.md's two commands stay true: CI runs exactly the README's test command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_command(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"{re.escape(heading)}.*?```(?:bash|sh)?\n(.*?)```", text, re.S)
    assert match, f"README.md has no code block after {heading!r}"
    return match.group(1).strip()


def test_ci_runs_the_readme_test_command():
    command = readme_command("### Run the tests")
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1].strip() == command


def test_main_job_command_pins_torch_and_uses_the_venv():
    command = readme_command("### Run the main job")
    assert "torch==2.13.0" in command and ".venv/bin/metahpo" in command
