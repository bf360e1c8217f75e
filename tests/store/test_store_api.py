"""The store's public surface, and what importing it costs."""

from __future__ import annotations

from pathlib import Path

import kernel_ext.store
from tests.store.helpers import QUERY_MODULES, modules_after


def test_public_names_are_pinned() -> None:
    assert sorted(kernel_ext.store.__all__) == [
        "SCHEMA_REVISION",
        "Store",
        "current_store",
        "get_store",
        "reset_store",
    ]
    for name in kernel_ext.store.__all__:
        assert getattr(kernel_ext.store, name).__doc__


def test_importing_kernel_ext_does_not_import_the_store() -> None:
    modules = modules_after("import kernel_ext, kernel_ext._events, kernel_ext._settings")
    assert "kernel_ext.store._store" not in modules
    assert "sqlalchemy" not in modules


def test_the_store_accessor_and_records_are_light_to_import() -> None:
    # So any module may import get_store (and the record types) at its top.
    modules = modules_after(
        "from kernel_ext.store import get_store; import kernel_ext.store.records"
    )
    assert "sqlalchemy" not in modules
    assert "kernel_ext.store._store" not in modules


def test_importing_the_store_does_not_import_alembic() -> None:
    modules = modules_after("import kernel_ext.store")
    assert "alembic" not in modules


def test_a_first_flow_loads_only_the_stores_writing_half(tmp_path: Path) -> None:
    # A flow writes through the writer; the store's query modules (deployments, limits,
    # input requests, automations, ...) load with the first method that runs them.
    flow = "from kernel_ext import flow\n@flow\ndef f():\n    return 1\nf()"
    modules = modules_after(flow, home=tmp_path)
    store = {m.rsplit(".", 1)[1] for m in modules if m.startswith("kernel_ext.store.")}
    assert {"_store", "_writer", "_schema"} <= store
    for queries in (*QUERY_MODULES, "_reads"):
        assert queries not in store
    assert not {"alembic", "pydantic"} & {m.split(".")[0] for m in modules}
