"""The test harness users put around their own flows."""

from __future__ import annotations

from pathlib import Path

from kernel_ext import _settings, flow
from kernel_ext.testing import taskbook_test_harness


def test_harness_points_everything_at_a_throwaway_home() -> None:
    with taskbook_test_harness() as home:
        from kernel_ext.store import get_store

        @flow
        def hello() -> str:
            return "hi"

        assert hello() == "hi"
        assert get_store().url == f"sqlite:///{home / 'taskbook.db'}"
        assert _settings.results_url().startswith(str(home))
        assert len(get_store().list_flow_runs()) == 1
    assert not home.exists()


def test_pytest_fixture_is_registered_by_the_plugin(taskbook_harness: Path) -> None:
    from kernel_ext.store import get_store

    assert get_store().url.startswith(f"sqlite:///{taskbook_harness}")
    assert get_store().list_flow_runs() == []
