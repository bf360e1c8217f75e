"""Runs and deployments through the REST API of a real Jupyter server.

Every answer is checked against the OpenAPI document by ``call``. Deployment runs are not
executed (no worker): starting one gives a Scheduled run, cancelling it a Cancelled one.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from kernel_ext.testing import taskbook_test_harness
from tests.papermill_bridge.test_deployments import write_notebook
from tests.papermill_bridge.test_server_api import SCHEMA, call, pending_request, server

__all__ = ["server"]  # the fixture, imported for pytest to find

pytestmark = pytest.mark.slow

Server = tuple[str, Path]


@contextmanager
def shared_store(home: Path) -> Iterator[Any]:
    """The store the server reads, opened in this process."""
    with taskbook_test_harness(store_url=f"sqlite:///{home / 'taskbook.db'}"):
        from kernel_ext.store import get_store

        yield get_store()
        get_store().flush()


def finished_flow_run(home: Path) -> str:
    """A flow with one task, run in this process: its run is Completed, with logs."""
    from kernel_ext import flow, get_run_logger, task

    @task
    def double(x: int) -> int:
        return x * 2

    @flow(name="arithmetic")
    def arithmetic() -> int:
        get_run_logger().info("doubling")
        return double(21)

    with shared_store(home) as store:
        assert arithmetic() == 42
        store.flush()
        return str(store.list_flow_runs(limit=1, name="arithmetic")[0]["id"])


@pytest.fixture(scope="module")
def deployment(server: Server) -> dict[str, Any]:
    url, home = server
    write_notebook(home)
    status, created = call(
        url,
        "POST",
        "/taskbook/api/deployments",
        {
            "notebook": "greet.ipynb",
            "name": "greet",
            "cron": "0 6 * * *",
            "timezone": "Europe/Berlin",
            "parameters": {"repeat": 3},
            "tags": ["demo"],
        },
    )
    assert status == 201, created
    return created  # type: ignore[no-any-return]


def test_unauthenticated_calls_are_refused(server: Server) -> None:
    url, _ = server
    for method, path in [
        ("GET", "runs"),
        ("GET", "deployments"),
        ("POST", "deployments"),
        ("POST", "runs/x/cancel"),
        ("GET", "openapi.json"),
    ]:
        status, _ = call(
            url, method, f"/taskbook/api/{path}", {} if method == "POST" else None, token=None
        )
        assert status == 403, (method, path)


def test_a_flow_run_its_task_runs_logs_and_history(server: Server) -> None:
    url, home = server
    run_id = finished_flow_run(home)
    status, runs = call(url, "GET", "/taskbook/api/runs")
    assert status == 200 and run_id in [r["id"] for r in runs]
    for query in ("flow=arithmetic", "state=Completed", "state=COMPLETED"):
        status, runs = call(url, "GET", f"/taskbook/api/runs?{query}")
        assert status == 200 and run_id in [r["id"] for r in runs], query
    status, runs = call(url, "GET", "/taskbook/api/runs?flow=nothing-of-that-name")
    assert status == 200 and runs == []
    status, runs = call(url, "GET", "/taskbook/api/runs?limit=1")
    assert status == 200 and len(runs) == 1
    status, runs = call(url, "GET", "/taskbook/api/runs?since=2000-01-01T00:00Z")
    assert status == 200 and run_id in [r["id"] for r in runs]
    status, runs = call(url, "GET", "/taskbook/api/runs?since=2999-01-01T00:00:00%2B00:00")
    assert status == 200 and runs == []
    status, error = call(url, "GET", "/taskbook/api/runs?since=yesterday")
    assert status == 400 and "ISO 8601" in error["message"]

    status, run = call(url, "GET", f"/taskbook/api/runs/{run_id}")
    assert status == 200 and run["state"] == "Completed"
    assert [t["name"] for t in run["task_runs"]] == ["double-0"]
    status, logs = call(url, "GET", f"/taskbook/api/runs/{run_id}/logs")
    assert status == 200 and "doubling" in [line["message"] for line in logs]
    status, history = call(url, "GET", f"/taskbook/api/runs/{run_id}/history")
    assert status == 200 and [h["type"] for h in history] == ["PENDING", "RUNNING", "COMPLETED"]
    status, error = call(url, "GET", f"/taskbook/api/runs/{run_id}/output")
    assert status == 404 and "no output notebook" in error["message"]
    status, cancelled = call(url, "POST", f"/taskbook/api/runs/{run_id}/cancel")
    assert status == 409 and "already Completed" in cancelled["message"]  # nothing to cancel
    assert cancelled["error"] == "RunStateConflict"


def test_the_runs_list_is_searched_and_paged(server: Server) -> None:
    url, home = server
    first, second = finished_flow_run(home), finished_flow_run(home)
    runs = "/taskbook/api/runs"
    status, found = call(url, "GET", f"{runs}?q=ARITH&top_level=true&limit=1")
    assert status == 200 and [r["id"] for r in found] == [second]
    status, page = call(url, "GET", f"{runs}?q=arith&limit=1&before={second}")
    assert status == 200 and [r["id"] for r in page] == [first]
    status, none = call(url, "GET", f"{runs}?tag=no-such-tag&until=2999-01-01T00:00Z")
    assert status == 200 and none == []
    created = datetime.fromisoformat(found[0]["created"])
    east = (created + timedelta(hours=2)).replace(tzinfo=timezone(timedelta(hours=2)))
    since = quote(east.isoformat())  # the same instant, written in another zone
    status, same = call(url, "GET", f"{runs}?q=arith&since={since}")
    assert status == 200 and [r["id"] for r in same] == [second]
    ended = quote(datetime.fromisoformat(found[0]["end_time"]).isoformat())
    status, lately = call(url, "GET", f"{runs}?q=arith&state=COMPLETED&ended_since={ended}")
    assert status == 200 and [r["id"] for r in lately] == [second]
    status, error = call(url, "GET", f"{runs}?since=0001-01-01T00:00%2B01:00")
    assert status == 400 and "out of range" in error["message"]
    status, error = call(url, "GET", f"{runs}?ended_since=soon")
    assert status == 400 and "ended_since" in error["message"]
    status, error = call(url, "GET", f"{runs}?top_level=maybe")
    assert status == 400 and "top_level" in error["message"]
    status, error = call(url, "GET", f"{runs}?until=")
    assert status == 400 and "until" in error["message"]
    status, error = call(url, "GET", f"{runs}?before=nope")
    assert status == 404 and "nope" in error["message"]


def test_limits_and_their_holders(server: Server) -> None:
    url, home = server
    with shared_store(home) as store:
        store.set_limit("warehouse", 2)
        taken = store.take_slots(["warehouse"], 1, "nightly-etl on host-1", 60.0)
        assert taken[0], taken
    status, limits = call(url, "GET", "/taskbook/api/limits")
    assert status == 200
    warehouse = next(limit for limit in limits if limit["name"] == "warehouse")
    assert (warehouse["slots"], warehouse["used"], warehouse["holders"]) == (2, 1, 1)
    status, one = call(url, "GET", "/taskbook/api/limits/warehouse")
    assert status == 200 and [lease["holder"] for lease in one["leases"]] == [
        "nightly-etl on host-1"
    ]
    status, error = call(url, "GET", "/taskbook/api/limits/nope")
    assert status == 404 and error["error"] == "LimitNotFound"
    assert "taskbook limits ls" in error["message"]


def test_a_console_follows_a_log_by_its_tail_then_a_cursor(server: Server) -> None:
    url, home = server
    run_id = finished_flow_run(home)
    logs = f"/taskbook/api/runs/{run_id}/logs"
    status, everything = call(url, "GET", logs)
    assert status == 200 and everything
    status, tail = call(url, "GET", f"{logs}?tail=1")
    assert status == 200 and tail == everything[-1:]
    cursor = max(line["id"] for line in everything)
    status, newer = call(url, "GET", f"{logs}?after={cursor}")
    assert status == 200 and newer == []
    status, earlier = call(url, "GET", f"{logs}?after=0")
    assert status == 200 and [line["id"] for line in earlier] == sorted(
        line["id"] for line in everything
    )
    status, page = call(url, "GET", f"{logs}?after=0&limit=1")
    assert status == 200 and page == everything[:1]
    status, warnings = call(url, "GET", f"{logs}?level=WARNING")
    assert status == 200 and all(line["level"] >= 30 for line in warnings)
    assert len(warnings) < len(everything)
    status, infos = call(url, "GET", f"{logs}?level=INFO")
    assert status == 200 and infos and all(line["level"] >= 20 for line in infos)
    huge = "9" * 30
    bad_windows = ("tail=0", "tail=many", "limit=0")
    for bad in (*bad_windows, "after=-1", "after=", f"after={huge}", "level=LOUD"):
        status, error = call(url, "GET", f"{logs}?{bad}")
        assert status == 400 and bad.split("=")[0] in error["message"], bad


@pytest.mark.parametrize(
    "path", ["runs/nope", "runs/nope/logs", "runs/nope/history", "runs/nope/output"]
)
def test_unknown_runs(server: Server, path: str) -> None:
    url, _ = server
    status, error = call(url, "GET", f"/taskbook/api/{path}")
    assert status == 404 and "nope" in error["message"]


def test_bad_queries(server: Server) -> None:
    url, _ = server
    for limit in ("0", "many", "5000"):
        status, error = call(url, "GET", f"/taskbook/api/runs?limit={limit}")
        assert status == 400 and "limit must be a whole number" in error["message"]
    status, error = call(url, "POST", "/taskbook/api/runs/nope/cancel")
    assert status == 404
    status, error = call(url, "GET", "/taskbook/api/runs?deployment=nope")
    assert status == 404 and "taskbook deployments ls" in error["message"]


def test_resuming_a_paused_run_by_its_id(server: Server) -> None:
    url, home = server
    run_id = secrets.token_hex(8)
    pending_request(home, SCHEMA, flow_run_id=run_id)
    path = f"/taskbook/api/runs/{run_id}/resume"
    status, error = call(url, "POST", path, {"answer": {"approved": "yes"}, "key": None})
    assert status == 400 and "is not of type 'boolean'" in error["message"]
    status, error = call(url, "POST", path, {"answer": {"approved": True}, "key": "other"})
    assert status == 404
    status, answered = call(url, "POST", path, {"answer": {"approved": True}, "key": "review"})
    assert status == 200 and answered["status"] == "answered"
    status, error = call(url, "POST", path, {"answer": {"approved": False}})
    assert status == 409 and "not waiting for input" in error["message"], error
    status, error = call(url, "POST", "/taskbook/api/runs/nope/resume", {"answer": {}})
    assert status == 404


def test_promoting_a_notebook_under_the_root(server: Server, deployment: dict[str, Any]) -> None:
    url, _ = server
    assert deployment["name"] == "greet" and deployment["tags"] == ["demo"]
    (schedule,) = deployment["schedules"]
    assert schedule["description"] == "every day at 06:00 (Europe/Berlin)"
    slots = schedule["next_runs"]  # 06:00 in Berlin: 05:00 UTC in winter, 04:00 in summer
    assert len(slots) == 3 and sorted(slots) == slots
    assert all(t[11:] in ("05:00:00+00:00", "04:00:00+00:00") for t in slots)
    repeat = next(p for p in deployment["versions"][0]["parameters"] if p["name"] == "repeat")
    assert repeat["default"] == 3
    status, listed = call(url, "GET", "/taskbook/api/deployments")
    assert status == 200 and "greet" in [d["name"] for d in listed]
    status, read = call(url, "GET", "/taskbook/api/deployments/greet")
    assert status == 200 and read["schedules"][0]["next_runs"] == schedule["next_runs"]
    more = {"notebook": "greet.ipynb", "name": "greet", "interval": "15m"}
    status, often = call(url, "POST", "/taskbook/api/deployments", more)
    assert status == 201 and len(often["schedules"]) == 2  # same notebook: a schedule added


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"notebook": "../outside.ipynb", "name": "x"}, "outside the server's root"),
        ({"notebook": "/etc/hosts.ipynb", "name": "x"}, "outside the server's root"),
        ({"notebook": "sub/../../outside.ipynb", "name": "x"}, "outside the server's root"),
        ({"notebook": "greet.ipynb"}, "Give the 'notebook'"),
        (
            {"notebook": "greet.ipynb", "name": "greet", "parameters": {"nope": 1}},
            "Valid parameters: greeting: str = 'hello', repeat: int",
        ),
        (
            {"notebook": "greet.ipynb", "name": "greet", "parameters": {"repeat": "many"}},
            "Parameter 'repeat' must be int",
        ),
        ({"notebook": "greet.ipynb", "name": "x", "cron": "0 6 * *"}, "cron"),
        (
            {"notebook": "greet.ipynb", "name": "x", "cron": "0 6 * * *", "interval": "1h"},
            "not both",
        ),
        ({"notebook": "greet.ipynb", "name": "x", "tags": "demo"}, "'tags' must be an array"),
        ({"notebook": "greet.ipynb", "name": "bad name!"}, "is not valid"),
    ],
)
def test_promote_refuses(
    server: Server, deployment: dict[str, Any], body: dict[str, Any], message: str
) -> None:
    url, _ = server
    status, error = call(url, "POST", "/taskbook/api/deployments", body)
    assert status == 400 and message in error["message"], error


def test_promoting_a_missing_notebook_is_not_found(server: Server) -> None:
    url, _ = server
    status, error = call(
        url, "POST", "/taskbook/api/deployments", {"notebook": "missing.ipynb", "name": "x"}
    )
    assert status == 404 and "No notebook at 'missing.ipynb'" in error["message"], error


def test_pause_and_resume(server: Server, deployment: dict[str, Any]) -> None:
    url, _ = server
    status, paused = call(url, "POST", "/taskbook/api/deployments/greet/pause")
    assert status == 200 and paused["paused"] is True
    status, resumed = call(url, "POST", "/taskbook/api/deployments/greet/resume")
    assert status == 200 and resumed["paused"] is False
    for path in ("deployments/nope", "deployments/nope/pause", "deployments/nope/resume"):
        status, error = call(
            url, "GET" if path.count("/") == 1 else "POST", f"/taskbook/api/{path}"
        )
        assert status == 404 and "nope" in error["message"], path


def test_starting_and_cancelling_a_deployment_run(
    server: Server, deployment: dict[str, Any]
) -> None:
    url, _ = server
    runs = "/taskbook/api/deployments/greet/runs"
    status, error = call(url, "POST", runs, {"parameters": {"nope": 1}})
    assert status == 400 and "Valid parameters: greeting: str" in error["message"]
    status, error = call(url, "POST", "/taskbook/api/deployments/nope/runs", {})
    assert status == 404
    status, run = call(url, "POST", runs, {"parameters": {"repeat": "4"}})
    assert status == 201 and run["state"] == "Scheduled" and run["parameters"]["repeat"] == 4
    status, listed = call(url, "GET", "/taskbook/api/runs?deployment=greet&state=Scheduled")
    assert status == 200 and [r["id"] for r in listed] == [run["id"]]

    status, cancelled = call(url, "POST", f"/taskbook/api/runs/{run['id']}/cancel")
    assert status == 200 and cancelled["state"] == "Cancelled"
    status, read = call(url, "GET", f"/taskbook/api/runs/{run['id']}")
    assert status == 200 and read["state"] == "Cancelled"
    status, history = call(url, "GET", f"/taskbook/api/runs/{run['id']}/history")
    assert [h["name"] for h in history] == ["Scheduled", "Cancelled"]


def test_the_output_notebook_of_a_run(server: Server, deployment: dict[str, Any]) -> None:
    url, home = server
    _, run = call(url, "POST", "/taskbook/api/deployments/greet/runs", {})
    output = write_notebook(home)
    with shared_store(home) as store:
        store.set_output_notebook(run["id"], str(output))
    status, notebook = call(url, "GET", f"/taskbook/api/runs/{run['id']}/output")
    assert status == 200 and notebook == json.loads(output.read_text())

    broken = home / "broken.ipynb"
    broken.write_text("{not json")
    with shared_store(home) as store:
        store.set_output_notebook(run["id"], str(broken))
    status, error = call(url, "GET", f"/taskbook/api/runs/{run['id']}/output")
    assert status == 500 and error["error"] == "InternalError"  # JSON, never a bare page


OPTIONAL = {"required": False, "expression": False}  # literal defaults, as notebooks have


def test_notebook_parameters(server: Server) -> None:
    url, home = server
    write_notebook(home)
    status, parameters = call(url, "GET", "/taskbook/api/notebooks/parameters?path=greet.ipynb")
    assert status == 200 and parameters == [
        {"name": "greeting", "type": "str", "default": "hello", "help": "what to say", **OPTIONAL},
        {"name": "repeat", "type": "int", "default": 2, "help": "how many times", **OPTIONAL},
    ]
    for query, code in [
        ("path=../greet.ipynb", 400),
        ("", 400),
        ("path=nothing.ipynb", 404),
        ("path=notes.txt", 400),
    ]:
        status, error = call(url, "GET", f"/taskbook/api/notebooks/parameters?{query}")
        assert status == code and error["message"], query


def flow_run_with_subflows(home: Path) -> tuple[str, list[str]]:
    """A flow that calls a subflow twice, run in this process: its id and the subflows'."""
    from kernel_ext import flow

    @flow(name="child")
    def child(x: int) -> int:
        return x + 1

    @flow(name="parent")
    def parent() -> int:
        return child(1) + child(2)

    with shared_store(home) as store:
        assert parent() == 5
        store.flush()
        run = store.list_flow_runs(limit=1, name="parent")[0]
        children = store.list_flow_runs(limit=2, name="child")
        return str(run["id"]), [str(c["id"]) for c in children]


def test_the_subflows_of_a_run(server: Server) -> None:
    url, home = server
    parent, children = flow_run_with_subflows(home)
    status, listed = call(url, "GET", f"/taskbook/api/runs?parent={parent}")
    assert status == 200 and [r["id"] for r in listed] == children  # newest first
    assert all(r["parent_task_run_id"] for r in listed)
    status, none = call(url, "GET", f"/taskbook/api/runs?parent={children[0]}")
    assert status == 200 and none == []
    status, page = call(url, "GET", f"/taskbook/api/runs?parent={parent}&limit=1")
    assert status == 200 and [r["id"] for r in page] == children[:1]
    status, error = call(url, "GET", "/taskbook/api/runs?parent=nope")
    assert status == 404 and error["error"] == "RunNotFound" and "nope" in error["message"]


def _promote(url: str, name: str, notebook: str = "greet.ipynb") -> dict[str, Any]:
    body = {"notebook": notebook, "name": name, "cron": "0 6 * * *", "timezone": "Europe/Berlin"}
    status, created = call(url, "POST", "/taskbook/api/deployments", body)
    assert status == 201, created
    return created  # type: ignore[no-any-return]


def test_replacing_the_schedules(server: Server) -> None:
    url, home = server
    write_notebook(home)
    created = _promote(url, "greet-schedules")
    (cron,) = created["schedules"]
    path = "/taskbook/api/deployments/greet-schedules/schedules"
    body = {
        "schedules": [
            {"cron": "0 6 * * *", "timezone": "Europe/Berlin", "active": False},
            {"interval": "1h", "parameters": {"repeat": "5"}, "catchup": "all"},
        ]
    }
    status, replaced = call(url, "PUT", path, body)
    assert status == 200, replaced
    kept, hourly = replaced["schedules"]
    assert (kept["id"], kept["active"]) == (cron["id"], False)  # the same schedule, kept
    assert kept["description"] == "every day at 06:00 (Europe/Berlin)"
    assert (hourly["parameters"], hourly["catchup"], len(hourly["next_runs"])) == (
        {"repeat": 5},
        "all",
        3,
    )
    status, read = call(url, "GET", "/taskbook/api/deployments/greet-schedules")
    assert status == 200 and [s["id"] for s in read["schedules"]] == [kept["id"], hourly["id"]]
    # A schedule as the deployment lists it comes back as itself (its spec, parameters).
    same = {k: hourly[k] for k in ("spec", "parameters", "active", "catchup")}
    status, again = call(url, "PUT", path, {"schedules": [same]})
    assert status == 200 and [s["id"] for s in again["schedules"]] == [hourly["id"]]
    status, other = call(url, "PUT", path, {"schedules": [{"spec": hourly["spec"]}]})
    (renewed,) = other["schedules"]  # other parameters: another schedule, at the same times
    assert status == 200 and renewed["id"] != hourly["id"] and renewed["parameters"] == {}
    status, cleared = call(url, "PUT", path, {"schedules": []})
    assert status == 200 and cleared["schedules"] == []


A = "2001-01-01T00:00:00+00:00"  # an interval's anchor


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Give 'schedules'"),
        ({"schedules": {"cron": "0 6 * * *"}}, "'schedules' must be an array"),
        ({"schedules": [{"interval": "15m"}, {"cron": "0 25 * * *"}]}, "schedule 2: cron field"),
        ({"schedules": [{"interval": "15m", "parameters": {"nope": 1}}]}, "schedule 1: Unknown"),
        ({"schedules": [{"cron": "0 6 * * *", "interval": "1h"}]}, "schedule 1: give exactly"),
        ({"schedules": [{"interval": "15m", "active": "yes"}]}, "schedule 1: active must be"),
        ({"schedules": [{"interval": "15m"}, {"interval": "15m"}]}, "schedule 2: the same"),
        (
            {"schedules": [{"spec": {"kind": "interval", "every_seconds": 10**20, "anchor": A}}]},
            "from 1 second to ten years",
        ),
        (
            {
                "schedules": [
                    {
                        "spec": {
                            "kind": "interval",
                            "every_seconds": 60,
                            "anchor": "0001-01-01T00:00:00+14:00",
                        }
                    }
                ]
            },
            "out of range",
        ),
    ],
)
def test_a_bad_schedule_changes_nothing(server: Server, body: Any, message: str) -> None:
    url, home = server
    write_notebook(home)
    before = _promote(url, "greet-refused")["schedules"]
    path = "/taskbook/api/deployments/greet-refused/schedules"
    status, error = call(url, "PUT", path, body)
    assert status == 400 and message in error["message"], error
    status, read = call(url, "GET", "/taskbook/api/deployments/greet-refused")
    assert [s["id"] for s in read["schedules"]] == [s["id"] for s in before]
    status, error = call(url, "PUT", "/taskbook/api/deployments/nope/schedules", {"schedules": []})
    assert status == 404 and error["error"] == "DeploymentNotFound"


def test_deleting_a_deployment(server: Server) -> None:
    url, home = server
    write_notebook(home)
    _promote(url, "greet-doomed")
    status, run = call(url, "POST", "/taskbook/api/deployments/greet-doomed/runs", {})
    assert status == 201
    status, deleted = call(url, "DELETE", "/taskbook/api/deployments/greet-doomed")
    assert status == 200, deleted
    assert (deleted["name"], deleted["deleted_runs"], len(deleted["versions"])) == (
        "greet-doomed",
        1,
        1,
    )
    assert deleted["schedules"][0]["description"] == "every day at 06:00 (Europe/Berlin)"
    status, error = call(url, "GET", "/taskbook/api/deployments/greet-doomed")
    assert status == 404
    status, error = call(url, "GET", f"/taskbook/api/runs/{run['id']}")
    assert status == 404  # it had not started: it went with its deployment
    status, error = call(url, "DELETE", "/taskbook/api/deployments/greet-doomed")
    assert status == 404 and error["error"] == "DeploymentNotFound"
    assert "taskbook deployments ls" in error["message"]


def test_the_diff_between_two_versions(server: Server) -> None:
    url, home = server
    folder = home / "diffs"
    folder.mkdir(exist_ok=True)
    write_notebook(folder)
    _promote(url, "greet-diff", "diffs/greet.ipynb")
    write_notebook(folder, extra="print('done')")
    _promote(url, "greet-diff", "diffs/greet.ipynb")
    diff_path = "/taskbook/api/deployments/greet-diff/diff"
    status, diff = call(url, "GET", diff_path)
    assert status == 200, diff
    assert (diff["deployment"], diff["from"], diff["to"]) == ("greet-diff", 1, 2)
    assert diff["changes"] == ["cell 5 added"]
    assert [c["op"] for c in diff["cells"]] == ["equal"] * 4 + ["insert"]
    assert diff["cells"][4]["new"] == {"index": 5, "cell_type": "code", "source": "print('done')"}
    assert diff["parameters"] == []
    status, read = call(url, "GET", "/taskbook/api/deployments/greet-diff")
    assert [(v["version"], v["changes"]) for v in read["versions"]] == [
        (2, ["cell 5 added"]),
        (1, ["first version"]),
    ]
    status, first = call(url, "GET", f"{diff_path}?to=1")
    assert status == 200 and first["from"] is None and first["changes"] == ["first version"]
    status, back = call(url, "GET", f"{diff_path}?from=2&to=1")
    assert status == 200 and back["cells"][-1]["op"] == "delete"
    for query, code, error_class in [
        ("from=7", 404, "VersionNotFound"),
        ("to=3", 404, "VersionNotFound"),
        ("from=abc", 400, "BadRequest"),
        ("from=", 400, "BadRequest"),
        ("to=0", 400, "BadRequest"),
        (f"to={'9' * 12}", 400, "BadRequest"),
    ]:
        status, error = call(url, "GET", f"{diff_path}?{query}")
        assert (status, error["error"]) == (code, error_class), (query, error)
        assert query.split("=")[0] in error["message"] or "version" in error["message"]
    status, error = call(url, "GET", "/taskbook/api/deployments/nope/diff")
    assert status == 404 and error["error"] == "DeploymentNotFound"
