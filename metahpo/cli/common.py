"""What the ``metahpo`` subcommands share."""

from __future__ import annotations

import json
from typing import Any

from metahpo.errors import MetaHPOError


def parse_option(text: str, flag: str = "--option") -> tuple[str, Any]:
    """``KEY=VALUE`` of ``flag``: the value parsed as JSON when it can be, else the text."""
    if "=" not in text:
        raise MetaHPOError(f"{flag} expects KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value
