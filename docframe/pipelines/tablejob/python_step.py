"""The ``python`` step: importing the user's function and fingerprinting its code.

A python step names ``package.module:function`` (looked up beside the job file
too) or is given a callable. Its source fingerprint enters the job's content
hash, so editing the function makes an unchanged job run again.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import marshal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docframe.errors import did_you_mean
from docframe.pipelines.tablejob.problems import _Problem


@dataclass(frozen=True)
class PythonStep:
    ref: str  # "pkg.mod:func", or the qualified name of a callable passed in Python
    func: Callable[[Any], Any] = field(compare=False)
    partitionwise: bool = False
    fingerprint: str = ""


def _parse_python(value: Any, options: dict, base: Path | None = None) -> PythonStep:
    partitionwise = options.setdefault("partitionwise", False)
    if not isinstance(partitionwise, bool):
        raise _Problem("partitionwise must be true or false", key="partitionwise")
    if callable(value):
        ref = f"{getattr(value, '__module__', '?')}:{getattr(value, '__qualname__', repr(value))}"
        return PythonStep(ref, value, partitionwise, _fingerprint(value))
    if not isinstance(value, str) or value.count(":") != 1:
        raise _Problem(
            f"expected 'package.module:function', got {value!r}",
            help='python = "my_transforms:clean" (a module importable here or beside the job file)',
        )
    func = _import(value, base)
    return PythonStep(value, func, partitionwise, _fingerprint(func))


def _import(ref: str, base: Path | None) -> Callable[[Any], Any]:
    module_name, _, attr = ref.partition(":")
    added = base is not None and str(base) not in sys.path
    if added:
        sys.path.insert(0, str(base))
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        where = f" (looked beside the job file in {base} too)" if base else ""
        raise _Problem(
            f"cannot import {module_name!r}{where}: {exc}",
            help="make the module importable (installed, on PYTHONPATH, or next to the job file)",
        ) from exc
    finally:
        if added:
            sys.path.remove(str(base))
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise _Problem(f"{module_name} has no {attr!r}{did_you_mean(part, names)}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise _Problem(f"{ref} is not callable")
    return obj


def _fingerprint(func: Callable[..., Any]) -> str:
    """Changes when the function's code changes; a fresh value when it cannot be known."""
    try:
        code = inspect.getsource(func).encode()
    except (OSError, TypeError):
        inner = getattr(func, "__code__", None)
        code = marshal.dumps(inner) if inner is not None else repr(func).encode()
    return hashlib.sha256(code).hexdigest()[:16]
