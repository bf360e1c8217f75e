"""``install_as_prefect()``: make ``import prefect...`` import ``kernel_ext.compat...``."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

from kernel_ext._errors import ConfigurationError

__all__ = ["MIRRORED", "install_as_prefect"]

_PREFIX = "prefect"
_TARGET = "kernel_ext.compat"
MIRRORED = (
    "prefect",
    "prefect.artifacts",
    "prefect.automations",
    "prefect.blocks",
    "prefect.blocks.system",
    "prefect.cache_policies",
    "prefect.context",
    "prefect.events",
    "prefect.events.actions",
    "prefect.events.schemas",
    "prefect.events.schemas.automations",
    "prefect.exceptions",
    "prefect.flow_runs",
    "prefect.flows",
    "prefect.futures",
    "prefect.input",
    "prefect.logging",
    "prefect.runtime",
    "prefect.states",
    "prefect.task_runners",
    "prefect.tasks",
    "prefect.transactions",
    "prefect.utilities.annotations",
    "prefect.variables",
)


class _PrefectAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``prefect`` and ``prefect.X`` and loads them as ``kernel_ext.compat(.X)``:
    the same module objects, registered under both names."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _PREFIX and not fullname.startswith(_PREFIX + "."):
            return None
        if importlib.util.find_spec(_target(fullname)) is None:
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: Taskbook mirrors only some of Prefect's "
                f"modules ({', '.join(sorted(MIRRORED))}).",
                name=fullname,
            )
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # a placeholder, replaced below

    def exec_module(self, module: ModuleType) -> None:
        # The import returns whatever sys.modules holds once the loader is done, so the
        # Taskbook module itself is `prefect.X`, with its own name and spec unchanged.
        sys.modules[module.__name__] = importlib.import_module(_target(module.__name__))


def _target(fullname: str) -> str:
    return _TARGET + fullname[len(_PREFIX) :]


def install_as_prefect() -> None:
    """Let ``import prefect`` / ``from prefect.states import Completed`` import
    Taskbook's ``kernel_ext.compat`` modules, so code written for Prefect runs unchanged.

    Refuses with ``ConfigurationError`` if a real ``prefect`` is importable: code would
    then get Taskbook or Prefect depending on import order. Calling it twice is harmless.
    """
    if any(isinstance(finder, _PrefectAlias) for finder in sys.meta_path):
        return
    existing = sys.modules.get(_PREFIX)
    if existing is not None or importlib.util.find_spec(_PREFIX) is not None:
        where = getattr(existing, "__file__", None) or importlib.util.find_spec(_PREFIX)
        raise ConfigurationError(
            f"install_as_prefect() would shadow the real Prefect installed here ({where}); "
            "uninstall it (`pip uninstall prefect`), or import from kernel_ext.compat "
            "instead of prefect."
        )
    sys.meta_path.insert(0, _PrefectAlias())
