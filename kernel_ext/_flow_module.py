"""Running a deployed Python flow inside the kernel that executes its deployment run.

A deployment of ``etl.py:daily`` keeps the file's text; its run imports that text as a
module, as Prefect loads an entrypoint: a module of its own (so a parameter called
``date`` does not replace the file's ``from datetime import date``), registered in
``sys.modules`` with ``__file__`` (dataclasses, pydantic's forward references and
``Path(__file__)`` need both), a package path of the file's folder and the project
folder it was deployed from (so ``from .util import x`` and ``from app.util import x``
import), both on ``sys.path`` too. The notebook cell holding the text starts with
``%%flow_source PATH`` so it reads as the file does.

``call_flow`` calls the flow with the run's parameters, passed as one dict (so no
parameter name lands in the kernel's namespace); a parameter the run does not give
takes the flow's own default.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import inspect
import linecache
import shlex
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["MAGIC", "call_flow", "load_flow_source", "register_flow_source_magic"]

MAGIC = "flow_source"
NAMESPACE_KEY = "__taskbook_module__"


def load_flow_source(path: str, source: str, project: str | None = None) -> ModuleType:
    """Execute ``source`` (the text of the file at ``path``) as a fresh module."""
    file = Path(path)
    folders = [str(file.parent)] + ([project] if project and project != str(file.parent) else [])
    name = _module_name(file)
    spec = importlib.machinery.ModuleSpec(name, None, origin=str(file), is_package=True)
    spec.submodule_search_locations = folders
    spec.has_location = True
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(file)
    sys.modules[name] = module
    for folder in reversed(folders):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    # What runs is the snapshot, not the file as it is now: inspect.getsource (a task's
    # cache key, tracebacks) must read the snapshot. An mtime of None survives
    # linecache.checkcache.
    linecache.cache[str(file)] = (len(source), None, source.splitlines(True), str(file))
    exec(compile(source, str(file), "exec"), module.__dict__)  # the user's flow, as deployed
    return module


def _module_name(file: Path) -> str:
    """The file's stem, as Prefect names it, unless a module of that name exists."""
    stem = file.stem
    if stem.isidentifier() and stem not in sys.modules:
        return stem
    digest = hashlib.sha1(str(file).encode()).hexdigest()[:16]
    return f"__taskbook_flow_{digest}__"


def call_flow(flow: Any, parameters: dict[str, Any]) -> Any:
    """``flow(**parameters)``, positional-only ones by position; what the flow returns
    (a coroutine for an async flow, which the cell awaits)."""
    args: list[Any] = []
    kwargs = dict(parameters)
    signature = inspect.signature(getattr(flow, "fn", flow))
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.POSITIONAL_ONLY and parameter.name in kwargs:
            args.append(kwargs.pop(parameter.name))
    return flow(*args, **kwargs)


def register_flow_source_magic() -> None:
    """Register ``%%flow_source PATH [PROJECT]``: the cell's body is the file's text."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return

    def flow_source(line: str, cell: str) -> None:
        words = shlex.split(line)
        if not words:
            raise ValueError("%%flow_source needs the file's path: %%flow_source PATH [PROJECT]")
        module = load_flow_source(words[0], cell, words[1] if len(words) > 1 else None)
        shell.user_ns[NAMESPACE_KEY] = module

    shell.register_magic_function(flow_source, magic_kind="cell", magic_name=MAGIC)
