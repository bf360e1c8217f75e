"""Module attributes that a compat module resolves on first use.

Two kinds: names whose Taskbook object is heavy to import (``RunInput`` loads pydantic),
and names of Prefect's that Taskbook does not offer (yet). A missing name raises an
``AttributeError`` that says what Taskbook offers instead; once Taskbook adds the object
at its target, the name resolves without a change here.
"""

from __future__ import annotations

import dis
import importlib
import sys
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    module: str, targets: Mapping[str, str], instead: Mapping[str, str]
) -> Callable[[str], Any]:
    """A module ``__getattr__``: ``targets`` maps a name to ``"module:attribute"``,
    ``instead`` maps a name to what Taskbook offers in its place."""

    def __getattr__(name: str) -> Any:
        target = targets.get(name)
        if target is not None:
            found = _resolve(target)
            if found is not _MISSING:
                setattr(sys.modules[module], name, found)  # resolve once
                return found
        if name not in instead and target is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        prefect_path = module.replace("kernel_ext.compat", "prefect", 1)
        message = (
            f"{prefect_path}.{name} is not available in Taskbook; "
            f"{instead.get(name, 'it is not implemented yet')}."
        )
        if _in_from_import(sys._getframe(1)):
            raise ImportError(message, name=module)
        raise AttributeError(message)

    return __getattr__


_MISSING = object()
_IMPORT_FROM = dis.opmap["IMPORT_FROM"]


def _in_from_import(frame: FrameType) -> bool:
    """Whether the caller executes ``from module import name``. There, an AttributeError
    would be replaced by a bare "cannot import name" ImportError, losing what to use
    instead; an ImportError is passed on as it is. Elsewhere (``getattr``, ``hasattr``)
    the error must stay an AttributeError."""
    code = frame.f_code.co_code
    return 0 <= frame.f_lasti < len(code) and code[frame.f_lasti] == _IMPORT_FROM


def _resolve(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:  # a broken import inside the module: show it
            raise
        return _MISSING
    return getattr(module, attribute, _MISSING)
