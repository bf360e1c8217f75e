"""The store's public surface, and what importing it costs."""

from __future__ import annotations

import subprocess
import sys

import kernel_ext.store


def test_public_names_are_pinned() -> None:
    assert sorted(kernel_ext.store.__all__) == [
        "Store",
        "current_store",
        "get_store",
        "reset_store",
    ]
    for name in kernel_ext.store.__all__:
        assert getattr(kernel_ext.store, name).__doc__


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(output.split())


def test_importing_kernel_ext_does_not_import_the_store() -> None:
    modules = _modules_after("import kernel_ext, kernel_ext._events, kernel_ext._settings")
    assert "kernel_ext.store._store" not in modules
    assert "sqlalchemy" not in modules


def test_the_store_accessor_and_records_are_light_to_import() -> None:
    # So any module may import get_store (and the record types) at its top.
    modules = _modules_after(
        "from kernel_ext.store import get_store; import kernel_ext.store.records"
    )
    assert "sqlalchemy" not in modules
    assert "kernel_ext.store._store" not in modules


def test_importing_the_store_does_not_import_alembic() -> None:
    modules = _modules_after("import kernel_ext.store")
    assert "alembic" not in modules
