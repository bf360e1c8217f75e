"""Which ``pip install`` brings a module that is missing.

The default install brings everything a laptop user needs; the extras bring what a team
or a cluster adds. A missing module is reported with the command that installs it.
"""

from __future__ import annotations

from kernel_ext._errors import MissingDependency

__all__ = ["install_command", "missing_dependency"]

# Top-level module -> the extra that brings it (None: the default install brings it).
_EXTRAS: dict[str, str | None] = {
    "psycopg": "postgres",
    "psycopg2": "postgres",
    "distributed": "dask",
    "dask": "dask",
    "fsspec": "remote",
}


def install_command(module: str) -> str:
    """The command that installs ``module`` (a dotted name is taken by its top level)."""
    top = module.split(".")[0]
    extra = _EXTRAS.get(top)
    if extra is not None:
        return f"pip install 'taskbook[{extra}]'"
    return "pip install --force-reinstall taskbook"


def missing_dependency(error: ModuleNotFoundError) -> MissingDependency:
    """``error`` as a Taskbook error whose message says how to install the module."""
    module = error.name or str(error)
    command = install_command(module)
    why = "" if module.split(".")[0] in _EXTRAS else " (the default install brings it)"
    return MissingDependency(
        f"Taskbook needs the Python module {module!r}, which is not installed{why}: "
        f"install it with `{command}`.",
        module=module,
        install=command,
    )
