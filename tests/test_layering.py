"""The packages talk through their public APIs: only the modules of ``papermill_bridge``
itself import its private modules (its CLI and server use its public API like everyone
else), and only the store's own modules import the store's."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("kernel_ext", "papermill_bridge", "bench")
# Packages whose private modules only their own modules may import, and whether their
# subpackages count as their own (the store's migrations do; papermill_bridge's CLI and
# server use its public API).
GUARDED = {"papermill_bridge": False, "kernel_ext.store": True}


def _imported_modules(source: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


def _owner_of_private(module: str) -> str | None:
    """The package that owns ``module``'s first private part, if it has one."""
    parts = module.split(".")
    for index, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:index])
    return None


def _violations(relative: Path, source: str) -> list[str]:
    home = ".".join(relative.with_suffix("").parts)
    found = []
    for line, module in _imported_modules(source):
        owner = _owner_of_private(module)
        if owner is None or not any(owner == p or owner.startswith(p + ".") for p in GUARDED):
            continue
        package = (
            home[: -len(".__init__")] if home.endswith(".__init__") else home.rsplit(".", 1)[0]
        )
        inside = package == owner or (GUARDED.get(owner, False) and package.startswith(owner + "."))
        if not inside:
            found.append(f"{relative}:{line} imports {module}")
    return found


@pytest.mark.parametrize("source", SOURCES)
def test_no_private_module_is_imported_across_a_package_boundary(source: str) -> None:
    violations = [
        violation
        for path in sorted((ROOT / source).rglob("*.py"))
        for violation in _violations(path.relative_to(ROOT), path.read_text(encoding="utf-8"))
    ]
    assert violations == []


def test_the_check_catches_a_private_import() -> None:
    cli = Path("papermill_bridge/cli/_x.py")
    assert _violations(cli, "from papermill_bridge._worker import Worker") == [
        "papermill_bridge/cli/_x.py:1 imports papermill_bridge._worker",
        "papermill_bridge/cli/_x.py:1 imports papermill_bridge._worker.Worker",
    ]
    assert _violations(cli, "from kernel_ext.store._writer import Writer") != []
    assert _violations(cli, "from papermill_bridge import Worker") == []
    inside = Path("papermill_bridge/_scheduler.py")
    assert _violations(inside, "from papermill_bridge._worker import Worker") == []
    assert _violations(Path("kernel_ext/store/_store.py"), "import kernel_ext.store._writer") == []
