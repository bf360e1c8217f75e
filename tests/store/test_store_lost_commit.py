"""A COMMIT that lands while its acknowledgement is lost (the connection drops in
between) must not make the writer write its batch twice. A TCP proxy on 127.0.0.1 in
front of the real PostgreSQL drops the connection right after the server's COMMIT reply
comes through it, instead of passing the reply on."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from kernel_ext import flow, task
from kernel_ext.store._tables import logs, state_history
from kernel_ext.testing import taskbook_test_harness
from tests.postgres import new_schema_url

pytestmark = pytest.mark.postgres

COMMIT_REPLY = b"C\x00\x00\x00\x0bCOMMIT\x00"  # CommandComplete("COMMIT")


class CommitDroppingProxy:
    """Forwards TCP to PostgreSQL; when armed, cuts the next connection whose server
    sends a COMMIT reply, and drops that reply."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.armed = 0
        self.dropped = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_server: bool) -> None:
        try:
            while data := source.recv(65536):
                if from_server and COMMIT_REPLY in data and self._take():
                    break  # the server committed; the client never hears of it
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()

    def _take(self) -> bool:
        with self._lock:
            if self.armed <= 0:
                return False
            self.armed -= 1
            self.dropped += 1
            return True

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def proxied(postgres_database: str) -> Iterator[tuple[CommitDroppingProxy, str, str]]:
    direct = new_schema_url(postgres_database)
    url = make_url(direct)
    proxy = CommitDroppingProxy((url.host or "127.0.0.1", url.port or 5432))
    through_proxy = url.set(port=proxy.port).render_as_string(hide_password=False)
    yield proxy, through_proxy, direct
    proxy.close()


@task
def double(x: int) -> int:
    return 2 * x


@flow(log_prints=True)
def fan_out(n: int) -> int:
    print("fanning out")
    return sum(double.map(range(n)).result())


def duplicates(engine: Any, table: Any, *columns: str) -> int:
    key = [table.c[c] for c in columns]
    grouped = select(*key).group_by(*key).having(func.count() > 1)
    with engine.connect() as connection:
        return len(connection.execute(grouped).all())


def test_a_lost_commit_reply_writes_nothing_twice(
    proxied: tuple[CommitDroppingProxy, str, str],
) -> None:
    proxy, through_proxy, direct = proxied
    with taskbook_test_harness(store_url=through_proxy):
        assert fan_out(3) == 6  # the store is migrated and warm
        proxy.armed = 1
        assert fan_out(50) == 2450
        from kernel_ext.store import get_store

        get_store().flush()
    assert proxy.dropped == 1  # the fault happened
    engine = create_engine(direct)
    try:
        assert duplicates(engine, state_history, "run_id", "name", "timestamp") == 0
        assert duplicates(engine, logs, "flow_run_id", "message", "timestamp") == 0
        with engine.connect() as connection:
            states = connection.scalar(select(func.count()).select_from(state_history))
        # Two flows: Pending, Running, Completed each, and their 53 task runs the same.
        assert states == 3 * (2 + 53)
    finally:
        engine.dispose()
