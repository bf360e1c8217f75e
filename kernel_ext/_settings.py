"""Where Taskbook keeps its data, read from the environment at the time of use.

    TASKBOOK_HOME         data directory (default: the user's data directory)
    TASKBOOK_STORE_URL    SQLAlchemy URL of the store (default: SQLite file in the home)
    TASKBOOK_RESULTS_URL  folder or fsspec URL for persisted results (default: home/results)
    TASKBOOK_SECRET_KEY   the Fernet key that encrypts secrets, or several separated by
                          commas: the first encrypts, any decrypts (default: the key file
                          home/secret.key, created once; see ``kernel_ext._secret_box``)
    TASKBOOK_PROFILE      a name prefix for secrets and variables: with ``prod``,
                          ``Secret.load("db")`` reads ``prod-db`` first, then ``db``
                          (see ``kernel_ext._profiles``)
    TASKBOOK_CONSOLE_URL  the JupyterLab that links to runs point at, e.g.
                          ``https://lab.example.com/`` (default: a JupyterLab running on
                          this machine, if there is one)

``override()`` replaces them for a block of code (the test harness uses it).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from kernel_ext._errors import ConfigurationError

__all__ = [
    "console_url",
    "home",
    "override",
    "profile",
    "results_url",
    "secret_key",
    "store_url",
]

_overrides: list[dict[str, str]] = []


def _get(name: str) -> str | None:
    if _overrides:  # (looked at first: this runs a few times in every cached task run)
        for layer in reversed(_overrides):
            if name in layer:
                return layer[name]
    return os.environ.get(name) or None


_created: dict[str, Path] = {}


def home() -> Path:
    value = _get("TASKBOOK_HOME")
    if value is None:
        import platformdirs

        value = platformdirs.user_data_dir("taskbook", appauthor=False)
    path = _created.get(value)
    if path is None:
        # Created once per process and value: this sits on the path of every top-level run.
        path = Path(value).expanduser()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ConfigurationError(
                f"TASKBOOK_HOME is {value}, which is a file, not a folder; point it at a "
                "folder (it is created if missing)."
            ) from None
        except PermissionError:
            raise ConfigurationError(
                f"TASKBOOK_HOME is {value}, which cannot be created here (permission "
                "denied); point it at a folder you can write."
            ) from None
        _created[value] = path
    return path


def _home_key() -> str:
    """What decides the home: TASKBOOK_HOME, else what the default data folder follows."""
    value = _get("TASKBOOK_HOME")
    if value is not None:
        return value
    return f"\0{os.environ.get('HOME')}\0{os.environ.get('XDG_DATA_HOME')}"


_in_home: dict[tuple[str, str], str] = {}


def _home_path(name: str) -> str:
    """``home() / name`` as text, kept per home: read on every top-level run."""
    key = (_home_key(), name)
    path = _in_home.get(key)
    if path is None:
        path = _in_home[key] = str(home() / name)
    return path


def store_url() -> str:
    return _get("TASKBOOK_STORE_URL") or f"sqlite:///{_home_path('taskbook.db')}"


def results_url() -> str:
    return _get("TASKBOOK_RESULTS_URL") or _home_path("results")


def secret_key() -> str | None:
    return _get("TASKBOOK_SECRET_KEY")


def profile() -> str | None:
    return _get("TASKBOOK_PROFILE")


def console_url() -> str | None:
    return _get("TASKBOOK_CONSOLE_URL")


@contextlib.contextmanager
def override(**values: str) -> Iterator[None]:
    """Use ``values`` (e.g. ``TASKBOOK_HOME="/tmp/x"``) instead of the environment."""
    _overrides.append(values)
    try:
        yield
    finally:
        _overrides.remove(values)
