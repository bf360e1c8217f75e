"""Helpers for tests on the real PostgreSQL server."""

from __future__ import annotations

import secrets

from sqlalchemy import create_engine, text


def new_schema_url(database_url: str) -> str:
    """A store URL on a new, empty schema of ``database_url`` (tests stay isolated)."""
    schema = f"test_{secrets.token_hex(6)}"
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return f"{database_url}?options=-csearch_path%3D{schema}"
