"""Import what a user names by reference: ``module.path:NAME`` or ``path/to/file.py:NAME``.

Objectives (``metahpo tune MODULE:FUNCTION``) and optimizers of a user's own (``--optimizer
MODULE:CLASS``) are named this way on the command line and in benchmark suites, whose worker
processes import them again by the same reference. A module name is looked up on the path with
the current directory first, as ``python -m`` does; a file is loaded from its path.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from metahpo.errors import MetaHPOError


def import_reference(ref: str, what: str, form: str) -> Any:
    """What ``ref`` names: attribute ``NAME`` of its module.

    Args:
        ref: ``module.path:NAME`` or ``path/to/file.py:NAME``.
        what: what is imported, for messages (``"objective"``).
        form: the reference's expected form, for messages (``"MODULE:FUNCTION"``; its second
            word names what ``NAME`` should be).

    Raises :class:`MetaHPOError` naming ``ref`` when it is malformed, its module cannot be
    imported (with the import's own error) or has no ``NAME``."""
    if not isinstance(ref, str) or ":" not in ref:
        raise MetaHPOError(f"{what} must look like {form}, got {ref!r}")
    module_ref, name = ref.rsplit(":", 1)
    try:
        if module_ref.endswith(".py"):
            path = Path(module_ref)
            if not path.exists():
                raise MetaHPOError(f"cannot import {what} {ref!r}: no file {module_ref!r}")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                raise MetaHPOError(f"cannot import {what} {ref!r}: {module_ref!r} is not a "
                                   "Python file")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            if "" not in sys.path:
                sys.path.insert(0, "")
            module = importlib.import_module(module_ref)
    except MetaHPOError:
        raise
    except Exception as exc:
        raise MetaHPOError(f"cannot import {what} {ref!r}: {type(exc).__name__}: {exc}") from None
    if not hasattr(module, name):
        raise MetaHPOError(f"cannot import {what} {ref!r}: {module_ref} has no "
                           f"{form.rsplit(':', 1)[1].lower()} {name!r}")
    return getattr(module, name)
