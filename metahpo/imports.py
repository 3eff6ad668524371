"""Import what a user names by reference: ``module.path:NAME`` or ``path/to/file.py:NAME``.

Objectives (``metahpo tune MODULE:FUNCTION``) and optimizers of a user's own (``--optimizer
MODULE:CLASS``) are named this way on the command line and in benchmark suites, whose worker
processes import them again by the same reference. A module name is looked up on the path with
the current directory first, as ``python -m`` does; a file is loaded from its path, with its
folder on the path first, as ``python FILE.py`` has it (so that a training script next to its
model code imports that code wherever metahpo runs from).

Either way a module is imported once per process and registered in ``sys.modules``, as Python's
own imports are: a reference used again (an optimizer is built for every ``Study.ask`` and every
rebuild of the Optuna sampler) does not run the module's top level again, and the module's
classes and functions are one object each time. ``dataclasses`` (with ``from __future__ import
annotations``), ``pickle`` and ``typing.get_type_hints`` look a class's module up there.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from metahpo.errors import MetaHPOError

_FILE_IMPORT_LOCK = threading.RLock()


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
            if not path.is_file():
                raise MetaHPOError(f"cannot import {what} {ref!r}: no file {module_ref!r}")
            module = _import_file(path)
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


def _import_file(path: Path) -> ModuleType:
    """The module of the Python file ``path``, imported once per process (see the module
    docstring) under the file's name without ``.py``, or, where a module from elsewhere holds
    that name already (a file ``utils.py`` beside a package ``utils``), under that name made
    unique by the file's path, so that no module is replaced."""
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:10]
    with _FILE_IMPORT_LOCK:
        for name in (path.stem, f"{path.stem}_{digest}"):
            module = sys.modules.get(name)
            if module is None:
                break
            if _file_of(module) == resolved:
                return module
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError("not a Python file")
        module = importlib.util.module_from_spec(spec)
        if str(resolved.parent) not in sys.path:
            sys.path.insert(0, str(resolved.parent))
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        return module


def _file_of(module: ModuleType) -> Path | None:
    file = getattr(module, "__file__", None)
    return None if file is None else Path(file).resolve()
