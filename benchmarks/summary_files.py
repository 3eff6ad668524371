"""What every benchmark script here records of a run: the command that ran it, the commit it
ran at, and its summary as Markdown (printed too) and JSON in the output folder."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any


def this_command() -> str:
    """The command line that runs the current script with its arguments, from the project root."""
    return f"python benchmarks/{Path(sys.argv[0]).name} " + shlex.join(sys.argv[1:])


def this_commit() -> str:
    """The short hash of the checked-out commit."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()


def save_summary(out: str | Path, text: str, data: dict[str, Any]) -> None:
    """Write ``summary.md`` (``text``) and ``summary.json`` (``data``) into ``out``; print
    ``text``."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.md").write_text(text)
    (folder / "summary.json").write_text(json.dumps(data, indent=1))
    print(text)
