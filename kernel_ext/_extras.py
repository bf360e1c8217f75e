"""Which ``pip install`` brings a module that is missing.

The default install brings everything a laptop user needs; the extras bring what a team
or a cluster adds. A missing module is reported with the command that installs it.
"""

from __future__ import annotations

from kernel_ext._errors import MissingDependency

__all__ = ["install_command", "missing_dependency"]

# Top-level module -> the extra that brings it.
_EXTRAS: dict[str, str] = {
    "psycopg": "postgres",
    "psycopg2": "postgres",
    "distributed": "dask",
    "dask": "dask",
    "fsspec": "remote",
}
# What the default install brings (import names).
_DEFAULT = frozenset(
    {
        "alembic",
        "anywidget",
        "click",
        "cloudpickle",
        "IPython",
        "ipykernel",
        "ipywidgets",
        "jsonschema",
        "jupyter_server",
        "jupyterlab",
        "nbclient",
        "nbformat",
        "papermill",
        "platformdirs",
        "pydantic",
        "sqlalchemy",
        "traitlets",
    }
)


def install_command(module: str) -> str:
    """The command that installs ``module`` (a dotted name is taken by its top level)."""
    top = module.split(".")[0]
    extra = _EXTRAS.get(top)
    if extra is not None:
        return f"pip install 'taskbook[{extra}]'"
    if top in _DEFAULT:
        return "pip install --force-reinstall taskbook"
    return f"pip install {top}"


def missing_dependency(error: ModuleNotFoundError) -> MissingDependency:
    """``error`` as a Taskbook error whose message says how to install the module."""
    module = error.name or str(error)
    command = install_command(module)
    why = " (the default install brings it)" if module.split(".")[0] in _DEFAULT else ""
    return MissingDependency(
        f"Taskbook needs the Python module {module!r}, which is not installed{why}: "
        f"install it with `{command}`.",
        module=module,
        install=command,
    )
