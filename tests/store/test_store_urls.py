"""Which URLs open a store, and what an unusable one says."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel_ext._errors import StoreUnavailableError
from kernel_ext.store import Store
from kernel_ext.store._urls import mask, parse_store_url


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:////data/taskbook.db", "sqlite"),
    ],
)
def test_postgres_urls_use_psycopg(given: str, driver: str) -> None:
    assert parse_store_url(given).drivername == driver


def test_a_relative_sqlite_path_is_made_absolute_and_its_folder_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with Store("sqlite:///nested/folder/taskbook.db") as store:
        store.flush()
    assert (tmp_path / "nested" / "folder" / "taskbook.db").is_file()
    assert parse_store_url("sqlite:///x.db").database == str(tmp_path / "x.db")


def test_passwords_are_masked() -> None:
    assert mask("postgresql://me:s3cret@db:5432/tb") == "postgresql://me:***@db:5432/tb"


def test_the_store_shows_its_url_without_the_password(store: Store) -> None:
    assert store.display_url == mask(store.url)
    assert store.display_url in repr(store)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://u@h/db", "SQLite or PostgreSQL"),
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
    ],
)
def test_unsupported_urls_say_what_to_use(url: str, says: str) -> None:
    with pytest.raises(StoreUnavailableError, match=says):
        Store(url)


def test_an_unreachable_server_names_the_url_without_its_password() -> None:
    url = "postgresql://postgres:s3cret@127.0.0.1:1/taskbook"
    with pytest.raises(StoreUnavailableError) as caught:
        Store(url)
    message = str(caught.value)
    assert "postgresql+psycopg://postgres:***@127.0.0.1:1/taskbook" in message
    assert "s3cret" not in message
    assert "server is running" in message


def test_a_folder_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailableError, match="Cannot open the Taskbook store") as caught:
        Store(f"sqlite:///{tmp_path}")
    assert str(tmp_path) in str(caught.value)


def test_a_file_that_is_not_sqlite_is_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are not the droids" * 100)
    with pytest.raises(StoreUnavailableError, match="not a database"):
        Store(f"sqlite:///{path}")
