"""Artifacts: Prefect's functions, linked to their runs, with a key's history, shown in a
notebook, listed by the CLI; on SQLite and PostgreSQL (the ``home`` fixture)."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kernel_ext import ConfigurationError, flow, task
from kernel_ext.artifacts import (
    acreate_markdown_artifact,
    create_image_artifact,
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)


def test_artifacts_are_linked_to_the_task_and_flow_run_that_made_them(store: Any) -> None:
    @task
    def summarise(values: list[int]) -> uuid.UUID:
        return create_table_artifact([{"n": v} for v in values], key="summary")

    @flow
    def report() -> tuple[uuid.UUID, uuid.UUID, str]:
        from kernel_ext.runtime import flow_run

        made_here = create_markdown_artifact("# Report", key="report", description="weekly")
        return made_here, summarise([1, 2]), flow_run.id

    flow_level, task_level, run_id = report()
    assert isinstance(flow_level, uuid.UUID)
    records = {r["id"]: r for r in store.list_run_artifacts(run_id)}
    assert list(records) == [str(flow_level), str(task_level)]  # oldest first
    markdown, table = records[str(flow_level)], records[str(task_level)]
    assert (markdown["type"], markdown["data"], markdown["description"]) == (
        "markdown",
        "# Report",
        "weekly",
    )
    assert (markdown["flow_run_id"], markdown["task_run_id"]) == (run_id, None)
    assert table["data"] == [{"n": 1}, {"n": 2}]
    task_run = store.read_flow_run(run_id)["task_runs"][0]
    assert (table["flow_run_id"], table["task_run_id"]) == (run_id, task_run["id"])


def test_a_key_has_a_history_and_its_latest_is_listed(store: Any) -> None:
    @flow
    def nightly(total: int) -> None:
        create_markdown_artifact(f"total {total}", key="nightly-total")
        create_markdown_artifact("unkeyed")

    for total in (1, 2, 3):
        nightly(total)
    history = store.list_artifacts(key="nightly-total")
    assert [r["data"] for r in history] == ["total 3", "total 2", "total 1"]
    latest = store.list_artifacts(latest=True)
    assert [(r["key"], r["data"]) for r in latest] == [("nightly-total", "total 3")]
    assert len(store.list_artifacts()) == 6


def test_table_shapes_and_nan_as_prefect_stores_them(store: Any) -> None:
    @flow
    def tables() -> list[uuid.UUID]:
        return [
            create_table_artifact({"a": [1, 3], "b": [2, float("nan")]}),
            create_table_artifact([{"a": 1, "b": float("nan")}]),
            create_table_artifact([[1, float("inf")], [None, "x"]]),
        ]

    ids = tables()
    data = [store.read_artifact(str(i))["data"] for i in ids]
    assert data == [{"a": [1, 3], "b": [2, None]}, [{"a": 1, "b": None}], [[1, "inf"], [None, "x"]]]


def test_a_link_is_markdown_as_in_prefect(store: Any) -> None:
    @flow
    def links() -> list[uuid.UUID]:
        return [
            create_link_artifact("https://example.com/a", "the report"),
            create_link_artifact("https://example.com/b"),
        ]

    first, second = (store.read_artifact(str(i)) for i in links())
    assert (first["type"], first["data"]) == ("markdown", "[the report](https://example.com/a)")
    assert second["data"] == "[https://example.com/b](https://example.com/b)"


def test_progress_is_clamped_and_updated_in_place(store: Any, caplog: Any) -> None:
    @flow
    def progress() -> uuid.UUID:
        artifact_id = create_progress_artifact(0.0, key="load-progress")
        update_progress_artifact(artifact_id, 40.0)
        update_progress_artifact(artifact_id, 140.0, description="nearly")
        return artifact_id

    record = store.read_artifact(str(progress()))
    assert (record["data"], record["description"]) == (100.0, "nearly")
    assert "ProgressArtifact received an invalid value, Progress: 140.0%" in caplog.text
    assert len(store.list_artifacts(key="load-progress")) == 1


def test_bad_input_is_refused_with_prefects_rule_and_nothing_is_stored(store: Any) -> None:
    @flow
    def bad(call: Any) -> None:
        call()

    for call, message in [
        (lambda: create_markdown_artifact("x", key="Daily Report"), "lowercase letters"),
        (lambda: create_markdown_artifact(["x"]), "markdown is text, not list"),
        (lambda: create_table_artifact("a,b"), "list of row dicts"),
        (lambda: create_progress_artifact("half"), "a number from 0 to 100"),
        (lambda: update_progress_artifact("not-an-id", 1.0), "is not an artifact id"),
        (lambda: update_progress_artifact(uuid.uuid4(), 1.0), "No artifact"),
    ]:
        with pytest.raises(ConfigurationError, match=message):
            bad(call)
    assert isinstance(ConfigurationError("x"), ValueError)  # as Prefect's ValidationError
    assert store.list_artifacts() == []


def test_a_progress_update_of_another_kind_is_refused(store: Any) -> None:
    @flow
    def wrong() -> None:
        markdown = create_markdown_artifact("# not progress")
        update_progress_artifact(markdown, 5.0)

    with pytest.raises(ConfigurationError, match="is not a progress artifact"):
        wrong()


def test_outside_a_run_an_artifact_is_kept_with_prefects_warning(store: Any) -> None:
    with pytest.warns(FutureWarning, match="outside of a flow or task run is deprecated"):
        artifact_id = create_image_artifact("https://example.com/chart.png", key="chart")
    record = store.read_artifact(str(artifact_id))
    assert (record["flow_run_id"], record["task_run_id"], record["type"]) == (None, None, "image")


def test_the_async_variants_do_the_same(store: Any) -> None:
    @flow
    async def async_report() -> uuid.UUID:
        return await acreate_markdown_artifact("# async", key="async-report")

    artifact_id = asyncio.run(async_report())
    assert store.read_artifact(str(artifact_id))["data"] == "# async"


def test_deleting_a_run_deletes_its_artifacts(store: Any) -> None:
    from kernel_ext.runtime import flow_run

    @flow
    def gone() -> str:
        create_markdown_artifact("bye", key="gone")
        return flow_run.id

    run_id = gone()
    deleted = store.delete_flow_run(run_id)
    assert deleted["artifacts"] == 1
    assert store.list_artifacts(key="gone") == []


def test_the_cli_lists_and_shows_artifacts(store: Any) -> None:
    from papermill_bridge.cli import cli

    @flow
    def weekly(week: int) -> str:
        from kernel_ext.runtime import flow_run

        create_table_artifact({"region": ["eu", "us"], "sales": [week, week * 2]}, key="sales")
        return flow_run.id

    first, second = weekly(1), weekly(2)
    runner = CliRunner()
    listed = runner.invoke(cli, ["artifacts", "ls"])
    assert listed.exit_code == 0, listed.output
    assert "sales" in listed.output and "2 rows x 2 columns" in listed.output
    shown = runner.invoke(cli, ["artifacts", "show", "sales"])
    assert shown.exit_code == 0, shown.output
    assert "eu      2" in shown.output and "History of 'sales' (1 earlier)" in shown.output
    as_json = json.loads(runner.invoke(cli, ["artifacts", "show", "sales", "--json"]).output)
    assert as_json["flow_run_id"] == second and as_json["history"][0]["flow_run_id"] == first
    of_run = runner.invoke(cli, ["artifacts", "ls", "--run", first[:8], "--json"])
    assert [r["flow_run_id"] for r in json.loads(of_run.output)] == [first]
    missing = runner.invoke(cli, ["artifacts", "show", "nope"])
    assert missing.exit_code == 1
    assert missing.output.strip() == (
        "Error: No artifact has the key or id 'nope'; `taskbook artifacts ls` lists them."
    )


@pytest.mark.slow
def test_in_a_notebook_a_task_cells_artifact_is_shown_under_it(home: Path) -> None:
    """A real kernel: a ``%%task`` cell's artifacts are its task run's and appear as
    display data (markdown, a table, a progress bar that is redrawn in place)."""
    from jupyter_client.manager import start_new_kernel

    from kernel_ext import _settings

    env = {**os.environ, "TASKBOOK_HOME": str(home), "TASKBOOK_STORE_URL": _settings.store_url()}
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(home))
    cell = (
        "%%task report\n"
        "from kernel_ext.artifacts import *\n"
        "create_markdown_artifact('# Weekly', key='weekly')\n"
        "create_table_artifact([{'a': 1}], key='weekly-table')\n"
        "bar = create_progress_artifact(10.0)\n"
        "update_progress_artifact(bar, 60.0)\n"
    )
    shown: list[dict[str, Any]] = []
    try:
        flush = "from kernel_ext.store import get_store; get_store().flush()"
        for source in ("%load_ext kernel_ext", cell, flush):
            reply = client.execute_interactive(source, timeout=60, output_hook=shown.append)
            assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    bundles = [
        (m["msg_type"], m["content"]["data"])
        for m in shown
        if m["msg_type"] in ("display_data", "update_display_data")
    ]
    markdown = [d["text/markdown"] for t, d in bundles if "text/markdown" in d]
    assert markdown[0].startswith("# Weekly")
    assert any("<td>1</td>" in d.get("text/html", "") for _, d in bundles)
    updates = [d["text/plain"] for t, d in bundles if t == "update_display_data"]
    assert updates == ["progress: 60%"]
    from kernel_ext.store import get_store

    weekly = get_store().list_artifacts(key="weekly")[0]
    assert weekly["task_run_id"] is not None
    task_run = get_store().read_task_run(weekly["task_run_id"])
    assert task_run["name"].startswith("report")


def test_markdown_shown_under_a_cell_cannot_run_code() -> None:
    """A live output is trusted by JupyterLab, so the bundle itself must be harmless: raw
    HTML is shown as text and a javascript: link goes nowhere."""
    from kernel_ext._artifact_view import mime_bundle

    record: Any = {
        "id": "x",
        "key": None,
        "type": "markdown",
        "data": '[<img src=x onerror="alert(1)">](javascript:alert(document.cookie)) **ok**',
        "description": None,
    }
    markdown = mime_bundle(record)["text/markdown"]
    assert "<img" not in markdown and "javascript:" not in markdown
    assert "](#)" in markdown and "**ok**" in markdown
