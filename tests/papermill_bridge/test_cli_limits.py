"""``taskbook limits`` as a user runs it: the installed console script, in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from kernel_ext import _settings
from kernel_ext.concurrency import concurrency
from kernel_ext.store import reset_store
from tests.papermill_bridge.test_cli import taskbook


def test_set_list_show_reset_and_delete(tmp_path: Path) -> None:
    assert "No limits yet" in taskbook(tmp_path, "limits", "ls").stdout
    out = taskbook(tmp_path, "limits", "set", "openai", "4", "--per-second", "5").stdout
    assert out.strip() == "Limit 'openai': 4 at once, 5/s."
    taskbook(tmp_path, "limits", "set", "search", "--per-second", "2", "--burst", "3")
    listed = json.loads(taskbook(tmp_path, "limits", "ls", "--json").stdout)
    assert [(r["name"], r["slots"], r["per_second"], r["burst"]) for r in listed] == [
        ("openai", 4, 5.0, 1),
        ("search", None, 2.0, 3),
    ]
    table = taskbook(tmp_path, "limits", "ls").stdout
    assert "2/s (burst 3)" in table and "openai" in table

    url = f"sqlite:///{tmp_path / 'taskbook.db'}"  # the CLI's store, from this process
    with _settings.override(TASKBOOK_HOME=str(tmp_path), TASKBOOK_STORE_URL=url):
        with concurrency("openai", occupy=3):  # a holder here, seen by the CLI
            shown = json.loads(taskbook(tmp_path, "limits", "show", "openai", "--json").stdout)
            assert shown["used"] == 3 and len(shown["leases"]) == 1
            assert "HOLDER" in taskbook(tmp_path, "limits", "show", "openai").stdout
            taskbook(tmp_path, "limits", "reset", "openai")
            assert (
                json.loads(taskbook(tmp_path, "limits", "show", "openai", "--json").stdout)["used"]
                == 0
            )
    reset_store()

    assert taskbook(tmp_path, "limits", "delete", "openai").stdout.strip() == (
        "Deleted limit 'openai'."
    )
    names = [r["name"] for r in json.loads(taskbook(tmp_path, "limits", "ls", "--json").stdout)]
    assert names == ["search"]


def test_set_changes_only_what_is_given(tmp_path: Path) -> None:
    def limit() -> tuple[int | None, float | None]:
        (record,) = json.loads(taskbook(tmp_path, "limits", "ls", "--json").stdout)
        return record["slots"], record["per_second"]

    taskbook(tmp_path, "limits", "set", "openai", "4")
    taskbook(tmp_path, "limits", "set", "openai", "--per-second", "5")
    assert limit() == (4, 5.0)
    taskbook(tmp_path, "limits", "set", "openai", "2")
    assert limit() == (2, 5.0)
    taskbook(tmp_path, "limits", "set", "openai", "--no-rate")
    assert limit() == (2, None)
    taskbook(tmp_path, "limits", "set", "openai", "--per-second", "1", "--no-slots")
    assert limit() == (None, 1.0)


def test_errors_say_what_to_do(tmp_path: Path) -> None:
    cases = [
        (["limits", "set", "x"], "needs a number of slots or a rate"),
        (["limits", "delete", "nope"], "taskbook limits ls"),
        (["limits", "show", "nope"], "taskbook limits set nope N"),
        (["limits", "set", "x", "2", "--per-second", "0"], "--per-second"),
        (["limits", "set", "deployment:nightly", "2"], "--name nightly --concurrency N"),
        (["limits", "delete", "deployment:nightly"], "taskbook deploy"),
        (["limits", "reset", "deployment:nightly"], "taskbook deploy"),
    ]
    for args, message in cases:
        done = taskbook(tmp_path, *args, check=False)
        assert done.returncode != 0 and message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
