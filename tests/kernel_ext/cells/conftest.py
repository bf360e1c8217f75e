from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kernel_ext.testing import taskbook_test_harness


@pytest.fixture
def home() -> Iterator[Path]:
    with taskbook_test_harness() as path:
        yield path


@pytest.fixture
def shell(home: Path) -> Iterator[Any]:
    """A real IPython shell with the extension loaded, on a throwaway store."""
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.clear_instance()
    ip = InteractiveShell.instance()
    ip.run_cell("%load_ext kernel_ext")
    yield ip
    ip.run_cell("%unload_ext kernel_ext")
    InteractiveShell.clear_instance()
