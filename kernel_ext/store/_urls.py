"""Store URLs: which databases Taskbook accepts, and how a URL appears in messages.

Two backends are supported: a SQLite file (the embedded default) and PostgreSQL
through psycopg 3. ``postgresql://`` and ``postgres://`` are rewritten to psycopg, so a
URL copied from a hosting provider works as is.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from kernel_ext._errors import StoreUnavailableError

__all__ = ["is_sqlite", "mask", "parse_store_url", "sqlite_path"]

_EXAMPLES = "sqlite:///path/to/taskbook.db or postgresql://user@host:5432/taskbook"


def parse_store_url(url: str) -> URL:
    """The SQLAlchemy URL for ``url``, with an absolute SQLite path and a PG driver."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise StoreUnavailableError(
            f"The store URL {url!r} is not a database URL; set TASKBOOK_STORE_URL to "
            f"something like {_EXAMPLES}."
        ) from error
    backend, _, _ = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql"):
        if parsed.drivername in ("postgres", "postgresql"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed
    if backend == "sqlite":
        return _absolute_sqlite(parsed)
    raise StoreUnavailableError(
        f"The store URL {mask(parsed)} uses {backend!r}; Taskbook keeps runs in SQLite or "
        f"PostgreSQL. Set TASKBOOK_STORE_URL to something like {_EXAMPLES}."
    )


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def sqlite_path(url: URL) -> Path:
    """The database file of a SQLite URL (already made absolute by ``parse_store_url``)."""
    assert url.database is not None
    return Path(url.database)


def mask(url: URL | str) -> str:
    """``url`` with its password replaced by ``***``, fit for messages and logs."""
    if isinstance(url, str):
        try:
            url = make_url(url)
        except ArgumentError:
            return "<unparsable URL>"
    return url.render_as_string(hide_password=True)


def _absolute_sqlite(url: URL) -> URL:
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        # Each connection to an in-memory database gets its own empty database, so
        # the writer thread and the readers would never see each other's rows.
        raise StoreUnavailableError(
            f"The store URL {mask(url)} is an in-memory SQLite database, which the "
            "background writer cannot share with readers; use a file such as "
            "sqlite:///taskbook.db."
        )
    # Resolve now: notebooks often chdir, and a relative path would then open another file
    # for the next pooled connection.
    return url.set(database=str(Path(database).expanduser().resolve()))
