"""The bundled JavaScript ships in the package and loads nothing from the network."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import kernel_ext.widgets

STATIC = Path(kernel_ext.widgets.__file__).parent / "static"
REMOTE_IMPORT = re.compile(
    r"""(?:\bimport\s*(?:[\w*{}\s,$]+\sfrom\s*)?|\bimport\s*\(\s*|@import\s+(?:url\()?\s*)"""
    r"""["'`](?:https?:)?//""",
)


@pytest.mark.parametrize("name", ["graph", "approval"])
def test_the_bundles_exist_and_are_es_modules(name: str) -> None:
    script = (STATIC / f"{name}.js").read_text(encoding="utf-8")
    default_export = re.search(r"export\s*\{\s*[\w$]+ as default\s*\}", script)
    assert default_export, "anywidget needs a default export"
    assert not REMOTE_IMPORT.search(script), "the widget must not import from the network"
    assert not re.search(r"\brequire\(", script), "dependencies must be bundled, not required"
    css = (STATIC / f"{name}.css").read_text(encoding="utf-8")
    assert ".tb-" in css and not REMOTE_IMPORT.search(css)


@pytest.mark.parametrize(
    "snippet",
    [
        'import x from "https://esm.sh/dagre"',
        "import('//cdn.example/x.js')",
        '@import url("https://x")',
    ],
)
def test_the_remote_import_check_catches_cdn_imports(snippet: str) -> None:
    assert REMOTE_IMPORT.search(snippet)


def test_the_widgets_point_at_the_bundles() -> None:
    pytest.importorskip("anywidget")
    from kernel_ext.widgets import ApprovalForm, RunGraph

    for widget, name in ((RunGraph, "graph"), (ApprovalForm, "approval")):
        assert str(widget._esm) == (STATIC / f"{name}.js").read_text(encoding="utf-8")
        assert str(widget._css) == (STATIC / f"{name}.css").read_text(encoding="utf-8")


def test_importing_kernel_ext_or_the_widget_package_does_not_load_anywidget() -> None:
    code = (
        "import sys, kernel_ext, kernel_ext.widgets, kernel_ext.widgets._aggregate\n"
        "print(sorted({'anywidget', 'ipywidgets'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_are_pinned() -> None:
    assert kernel_ext.widgets.__all__ == ["ApprovalForm", "RunGraph"]
