"""What the ``metahpo`` subcommands share."""

from __future__ import annotations

import json
from pathlib import Path
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


def optimizer_option_values(texts: list[str], optimizer: str) -> dict[str, Any]:
    """The ``--option KEY=VALUE`` options of ``optimizer``, each key checked to be one of its
    options (a key such as ``storage`` or ``seed`` is an argument of the command, never passed
    on to the call that takes the options beside it)."""
    from metahpo.optimizers.registry import check_options

    options = dict(parse_option(text) for text in texts)
    check_options(optimizer, options)
    return options


def read_configurations(text: str, flag: str) -> list[dict[str, Any]]:
    """The configurations of option ``flag``: a JSON or YAML file, or inline JSON, holding one
    parameter dict or a list of them."""
    import yaml

    from metahpo.space_formats import yaml_loader

    path = Path(text)
    source = f"{flag} {text!r}"
    if not text.lstrip().startswith(("[", "{")):
        try:
            found = path.is_file()
        except OSError:  # a name the system refuses (too long, say) names no file
            found = False
        if not found:
            raise MetaHPOError(f"{flag}: no file {text!r} (give a JSON or YAML file, or inline "
                               "JSON such as '[{\"lr\": 0.001}]')")
        text, source = path.read_text(), str(path)
    try:
        data = yaml.load(text, Loader=yaml_loader())
    except yaml.YAMLError as exc:
        raise MetaHPOError(f"{source}: not valid JSON or YAML: {exc}") from None
    points = [data] if isinstance(data, dict) else data
    if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
        raise MetaHPOError(f"{source}: expected a parameter dict or a list of them")
    return points


#: Where the command line records studies when given no ``--storage``: a SQLite file in the
#: directory it runs in. A command-line run's only other output is its summary, so a run that
#: crashes, is killed or is stopped keeps every finished trial there and resumes with
#: ``--study NAME``; ``metahpo studies`` reads it back. (The Python API keeps a study in memory
#: unless given a storage, as Optuna's does: its caller holds the returned study.)
DEFAULT_FILE = "metahpo.db"
DEFAULT_STORAGE = f"sqlite:///{DEFAULT_FILE}"
#: ``--storage memory``: record nothing (``tune`` and ``demo`` only).
IN_MEMORY = "memory"


def add_storage_option(p: Any, *, in_memory: bool) -> None:
    """``--storage`` of a subcommand; ``in_memory``: whether ``--storage memory`` may be given
    (a command whose study lives as long as the command: ``tune``, ``demo``)."""
    memory = f"; '{IN_MEMORY}' records nothing" if in_memory else ""
    p.add_argument("--storage", default=DEFAULT_STORAGE, metavar="URL",
                   help=f"database URL, e.g. sqlite:///studies.db or postgresql://..., or "
                        f"journal:///studies.log, a journal file for workers that share a "
                        f"network file system (default: {DEFAULT_STORAGE}, a file in the current "
                        f"directory{memory})")


def storage_url(args: Any, *, reads: bool) -> str | None:
    """The storage ``--storage`` names: ``None`` for ``memory`` (where allowed).

    ``reads``: the command reads studies some earlier command recorded (``ask``, ``tell``,
    ``studies``): ``memory`` holds none, and a missing default file gets an error that says where
    studies are recorded by default instead of a new empty database."""
    url: str = args.storage
    if url == IN_MEMORY:
        if reads:
            raise MetaHPOError(f"--storage {IN_MEMORY} holds no studies between commands; give "
                               "the database URL the study is recorded in")
        return None
    if reads and url == DEFAULT_STORAGE and not Path(DEFAULT_FILE).exists():
        raise MetaHPOError(f"no {DEFAULT_FILE} in {str(Path.cwd())!r}: 'metahpo tune', 'demo' and "
                           "'ask' record their studies there when given no --storage; run this "
                           "where they ran, or give --storage URL")
    return url
