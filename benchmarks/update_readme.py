"""Copy committed benchmark tables into the READMEs between their markers.

Each block ``<!-- results:PATH -->`` ... ``<!-- /results -->`` in README.md and
metahpo/policies/README.md is replaced by the table of ``benchmarks/results/PATH/summary.md``
(as written by ``metahpo bench`` / ``metahpo report``), or of ``benchmarks/results/PATH`` itself
when PATH names a Markdown file (``deep_learning/per_task.md``), so no README holds a benchmark
number typed by hand.

    .venv/bin/python benchmarks/update_readme.py
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READMES = ("README.md", "metahpo/policies/README.md")


def main() -> None:
    for name in READMES:
        update(ROOT / name)


def update(readme: Path) -> None:
    text = readme.read_text()

    def replace(match: re.Match) -> str:
        summary = ROOT / "benchmarks" / "results" / match.group(1)
        if summary.suffix != ".md":
            summary = summary / "summary.md"
        body = summary.read_text().split("\n", 2)[2].strip()
        return f"<!-- results:{match.group(1)} -->\n{body}\n<!-- /results -->"

    new = re.sub(r"<!-- results:(\S+) -->.*?<!-- /results -->", replace, text, flags=re.S)
    readme.write_text(new)


if __name__ == "__main__":
    main()
