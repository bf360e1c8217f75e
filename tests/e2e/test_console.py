"""In a real JupyterLab and headless Chromium: the run console.

A run opens in a main-area tab (from the sidebar, a page URL, a notification) with its
graph, timeline, task runs, logs and failure; runs are cancelled, retried and deleted;
a deployment's schedules are edited, its versions compared and the deployment deleted;
a failure of a run started here notifies; the runs waiting for input show as a badge;
keyboard focus survives the refreshes. Every request stays on 127.0.0.1 (the ``page``
fixture). Screenshots go to ``TASKBOOK_SCREENSHOTS`` when set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.e2e.conftest import Lab
from tests.e2e.test_approval_in_lab import screenshot
from tests.e2e.test_sidebar import extension_on_path, open_sidebar
from tests.e2e.test_sidebar_runs import failed_flow_run
from tests.papermill_bridge.test_deployments import write_notebook
from tests.papermill_bridge.test_server_api import pending_request
from tests.papermill_bridge.test_server_graph import flow_run_with_edges
from tests.papermill_bridge.test_server_runs import shared_store

__all__ = ["extension_on_path"]  # the autouse fixture, imported for pytest to find

pytestmark = pytest.mark.slow


def promoted(lab: Lab, name: str) -> Path:
    from papermill_bridge import promote

    path = write_notebook(lab.root)
    with shared_store(lab.home):
        promote(path, name)
    return path


def scheduled_run(lab: Lab, name: str) -> str:
    from papermill_bridge import start_run

    with shared_store(lab.home):
        return str(start_run(name)["id"])


def fail(lab: Lab, run_id: str) -> None:
    """End a deployment run Failed, as a worker does when a cell raises."""
    from kernel_ext._run_records import FlowRunId
    from kernel_ext._states import Failed, Running

    with shared_store(lab.home) as store:
        store.set_run_state(FlowRunId(run_id), Running())
        store.set_run_state(FlowRunId(run_id), Failed(message="ValueError: bad input"))


def state_of(lab: Lab, run_id: str) -> str | None:
    from kernel_ext._errors import RunNotFound
    from kernel_ext._run_records import FlowRunId

    with shared_store(lab.home) as store:
        try:
            return str(store.read_flow_run(FlowRunId(run_id))["state"])
        except RunNotFound:
            return None


def open_run(page: Any, lab: Lab, run_id: str) -> Any:
    """Open the run with the console's URL (`taskbook runs show` prints it)."""
    page.goto(f"{lab.url}/lab?token={lab.token}&taskbook-run={run_id}")
    panel = page.locator(f"#taskbook-run-{run_id}")
    panel.locator(".tb-run-title").wait_for(timeout=60_000)
    return panel


def confirm(page: Any, label: str) -> None:
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=10_000)
    dialog.locator("button", has_text=label).click()
    dialog.wait_for(state="detached", timeout=10_000)


def test_a_run_opens_in_a_tab_with_its_graph_timeline_tasks_and_logs(lab: Lab, page: Any) -> None:
    run_id = flow_run_with_edges(lab.home)
    sidebar = open_sidebar(page, lab)
    sidebar.locator(f".tb-row[data-run-id='{run_id}']").click(timeout=15_000)
    panel = page.locator(f"#taskbook-run-{run_id}")
    assert "Completed" in panel.locator(".tb-run-title").inner_text(timeout=15_000)
    # A tab of the main area, not the sidebar's column.
    assert page.locator(f"#jp-main-dock-panel #taskbook-run-{run_id}").count() == 1

    nodes = panel.locator(".tb-run-graph [data-node-id]")
    nodes.first.wait_for(timeout=10_000)
    assert nodes.count() == 5
    nodes.filter(has_text="total").click()
    # Clicking a node selects its task run in the table.
    selected = panel.locator(".tb-task-table tr.tb-selected")
    selected.wait_for(timeout=10_000)
    assert "total" in selected.inner_text()
    assert panel.locator(".tb-task-table tbody tr").count() == 5
    panel.locator(".tb-tab", has_text="Graph").click()
    panel.locator(".tb-run-graph [data-node-id]").first.wait_for(timeout=10_000)
    screenshot(page, "console-run.png")

    panel.locator(".tb-tab", has_text="Timeline").click()
    bars = panel.locator(".tb-timeline .tb-bar")
    bars.first.wait_for(timeout=10_000)
    assert bars.count() == 5

    panel.locator(".tb-tab", has_text="Logs").click()
    # The selected task filters the log to its own lines (it logged none): show them all.
    panel.locator(".tb-log-task", has_text="Task total").wait_for(timeout=10_000)
    panel.locator(".tb-run-logs", has_text="No line matches.").wait_for(timeout=10_000)
    panel.locator(".tb-chip-clear").click()
    lines = panel.locator(".tb-run-logs .tb-log-line")
    lines.filter(has_text="summing the squares").first.wait_for(timeout=10_000)
    panel.locator(".tb-log-search").fill("no such line")
    panel.locator(".tb-run-logs", has_text="No line matches.").wait_for(timeout=5_000)
    panel.locator(".tb-log-search").fill("")
    panel.locator(".tb-log-level-filter").select_option("ERROR")
    panel.locator(".tb-run-logs", has_text="No log lines.").wait_for(timeout=10_000)
    panel.locator(".tb-log-level-filter").select_option("")
    lines.filter(has_text="summing the squares").first.wait_for(timeout=10_000)

    panel.locator(".tb-tab", has_text="History").click()
    history = panel.locator(".tb-history li")
    history.last.wait_for(timeout=10_000)
    assert "Completed" in history.last.inner_text()


def test_a_failed_run_shows_its_traceback_in_its_tab(lab: Lab, page: Any) -> None:
    failed_id = failed_flow_run(lab.home)
    panel = open_run(page, lab, failed_id)
    failure = panel.locator(".tb-failure")
    failure.wait_for(timeout=10_000)
    assert failure.locator(".tb-failure-title").inner_text() == "RuntimeError"
    traceback = failure.locator(".tb-traceback").inner_text()
    assert 'raise RuntimeError("on purpose")' in traceback
    assert traceback.rstrip().endswith("RuntimeError: on purpose")
    screenshot(page, "console-failure.png")

    # The dark theme: every text of the tab stays readable on what is behind it.
    page.evaluate(
        "() => window.jupyterapp.commands.execute("
        "'apputils:change-theme', {theme: 'JupyterLab Dark'})"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    page.wait_for_timeout(500)
    selectors = [".tb-run-title", ".tb-facts dd", ".tb-failure-title", ".tb-traceback", ".tb-tab"]
    for selector in selectors:
        ratio = panel.locator(selector).first.evaluate(CONTRAST)
        assert ratio >= 4.5, (selector, ratio)  # WCAG AA for body text
    screenshot(page, "console-failure-dark.png")


# The contrast ratio (WCAG 2) of an element's text colour against the first opaque
# background behind it.
CONTRAST = """e => {
  const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  let node = e, back = null;
  while (node && !back) {
    const value = rgb(getComputedStyle(node).backgroundColor);
    if (value.length < 4 || value[3] > 0.9) back = value;
    node = node.parentElement;
  }
  const [a, b] = [lum(rgb(getComputedStyle(e).color)), lum(back || [255, 255, 255])];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def test_cancel_then_delete_a_run(lab: Lab, page: Any) -> None:
    promoted(lab, "greet")
    run_id = scheduled_run(lab, "greet")
    panel = open_run(page, lab, run_id)
    assert "Scheduled" in panel.locator(".tb-run-title").inner_text()
    panel.locator("button.tb-cancel").click()
    confirm(page, "Cancel run")
    panel.locator(".tb-run-title", has_text="Cancelled").wait_for(timeout=10_000)
    assert state_of(lab, run_id) == "Cancelled"

    panel.locator("button.tb-delete").click()
    confirm(page, "Delete")
    panel.wait_for(state="detached", timeout=10_000)
    assert state_of(lab, run_id) is None


def test_retry_a_failed_deployment_run(lab: Lab, page: Any) -> None:
    promoted(lab, "greet")
    run_id = scheduled_run(lab, "greet")
    fail(lab, run_id)
    panel = open_run(page, lab, run_id)
    assert "Failed" in panel.locator(".tb-run-title").inner_text()
    assert panel.locator("button.tb-retry").count() == 1
    panel.locator("button.tb-retry").click()
    confirm(page, "Retry")
    panel.locator(".tb-run-message", has_text="queued again").wait_for(timeout=10_000)
    assert state_of(lab, run_id) in ("AwaitingRetry", "Scheduled")
    panel.locator("button.tb-retry").wait_for(state="detached", timeout=10_000)


def test_edit_schedules_compare_versions_and_delete_a_deployment(lab: Lab, page: Any) -> None:
    from papermill_bridge import promote

    path = promoted(lab, "report")
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("print('a second version')"))
    nbformat.write(notebook, path)
    with shared_store(lab.home):
        promote(path, "report")
    sidebar = open_sidebar(page, lab)
    sidebar.locator(".tb-tab", has_text="Deployments").click()
    sidebar.locator(".tb-card[data-deployment='report'] .tb-open-deployment").click(timeout=15_000)
    panel = page.locator("#taskbook-deployment-report")
    panel.locator(".tb-run-title", has_text="v2").wait_for(timeout=15_000)

    panel.locator("button.tb-edit-schedules").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("button.tb-add-schedule").click()
    dialog.locator("input[name='cron']").fill("@dailyish")
    dialog.locator(".tb-cron-message.tb-error").wait_for(timeout=5_000)
    assert dialog.locator("button.jp-mod-accept").is_disabled()
    dialog.locator("input[name='cron']").fill("@daily")
    dialog.locator("input[name='timezone']").fill("Europe/Paris")
    assert not dialog.locator("button.jp-mod-accept").is_disabled()
    dialog.locator("button.jp-mod-accept").click()
    schedule = panel.locator(".tb-schedules li")
    schedule.first.wait_for(timeout=10_000)
    assert "every day at 00:00 (Europe/Paris)" in schedule.first.inner_text()
    assert "Next:" in schedule.first.inner_text()
    with shared_store(lab.home) as store:
        (saved,) = store.read_deployment("report")["schedules"]
        assert saved["spec"]["expression"] == "@daily"

    panel.locator("button.tb-compare").click()
    diff = panel.locator(".tb-diff")
    diff.wait_for(timeout=10_000)
    added = diff.locator(".tb-diff-insert")
    assert added.count() == 1
    assert "a second version" in added.inner_text()
    screenshot(page, "console-deployment.png")

    panel.locator("button.tb-delete-deployment").click()
    confirm(page, "Delete")
    panel.wait_for(state="detached", timeout=10_000)
    sidebar.locator(".tb-card[data-deployment='report']").wait_for(state="detached", timeout=15_000)
    with shared_store(lab.home) as store:
        assert "report" not in [d["name"] for d in store.list_deployments()]


def test_a_failure_of_a_run_started_here_notifies_and_opens_the_run(lab: Lab, page: Any) -> None:
    promoted(lab, "nightly")
    sidebar = open_sidebar(page, lab)
    sidebar.locator(".tb-tab", has_text="Deployments").click()
    card = sidebar.locator(".tb-card[data-deployment='nightly']")
    card.locator("button.tb-run-now").click(timeout=15_000)
    card.locator(".tb-run-message", has_text="Started").wait_for(timeout=10_000)
    with shared_store(lab.home) as store:
        run_id = str(store.list_flow_runs(limit=1, deployment="nightly")[0]["id"])
    fail(lab, run_id)
    toast = page.locator(".Toastify__toast", has_text="failed")
    toast.wait_for(timeout=30_000)
    assert "bad input" in toast.inner_text()
    toast.locator("button", has_text="Open run").click()
    page.locator(f"#taskbook-run-{run_id} .tb-run-title", has_text="Failed").wait_for(
        timeout=15_000
    )


def test_the_number_waiting_for_input_is_a_badge_on_the_sidebar_icon(lab: Lab, page: Any) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    pending_request(lab.home, schema)
    pending_request(lab.home, schema)
    page.goto(f"{lab.url}/lab?token={lab.token}")
    badge = page.locator(".jp-SideBar.jp-mod-left [data-id='taskbook-sidebar'][data-tb-waiting]")
    badge.wait_for(timeout=60_000)
    with shared_store(lab.home) as store:
        waiting = len(store.list_input_requests(status="pending"))
    assert badge.get_attribute("data-tb-waiting") == str(waiting)
    assert f"{waiting} run(s) waiting for input" in (badge.get_attribute("title") or "")


def test_focus_stays_on_a_row_across_refreshes_and_arrow_keys_move_tabs(
    lab: Lab, page: Any
) -> None:
    run_id = flow_run_with_edges(lab.home)
    sidebar = open_sidebar(page, lab)
    row = sidebar.locator(f".tb-row[data-run-id='{run_id}']")
    row.wait_for(timeout=15_000)
    page.locator(".jp-LabShell").get_by_role("tab").first.wait_for(timeout=15_000)
    page.wait_for_timeout(2_000)  # JupyterLab has restored its layout (and its focus)
    row.focus()
    assert page.evaluate("document.activeElement?.getAttribute('data-run-id')") == run_id
    page.wait_for_timeout(3_500)  # three refreshes of the list
    focused = page.evaluate(
        "document.activeElement && document.activeElement.getAttribute('data-run-id')"
    )
    assert focused == run_id
    page.keyboard.press("Enter")
    page.locator(f"#taskbook-run-{run_id} .tb-run-title").wait_for(timeout=15_000)

    runs_tab = sidebar.locator(".tb-tab[data-view='runs']")
    runs_tab.focus()
    page.keyboard.press("ArrowRight")
    approvals = sidebar.locator(".tb-tab[data-view='approvals']")
    assert approvals.get_attribute("aria-selected") == "true"
    assert page.evaluate("document.activeElement.getAttribute('data-view')") == "approvals"
    page.keyboard.press("End")
    assert page.evaluate("document.activeElement.getAttribute('data-view')") == "limits"


def test_limits_show_their_use_and_holders(lab: Lab, page: Any) -> None:
    with shared_store(lab.home) as store:
        store.set_limit("warehouse", 4)
        store.set_limit("openai", None, per_second=5, burst=2)
        taken = store.take_slots(["warehouse"], 3, "nightly-etl on host-1", 600.0)
        assert taken[0], taken
    sidebar = open_sidebar(page, lab)
    sidebar.locator(".tb-tab", has_text="Limits").click()
    warehouse = sidebar.locator(".tb-limit", has=page.locator("[data-limit='warehouse']"))
    assert "3/4 slots, 1 holder(s)" in warehouse.inner_text(timeout=15_000)
    meter = warehouse.locator("[role='meter']")
    assert meter.get_attribute("aria-valuenow") == "3"
    assert meter.get_attribute("aria-label") == "3 of 4 slots in use"
    rate = sidebar.locator(".tb-limit", has=page.locator("[data-limit='openai']"))
    assert "5/s, burst 2" in rate.inner_text()
    assert rate.locator("[role='meter']").count() == 0  # a rate has no slots to fill

    toggle = warehouse.locator("button.tb-limit-toggle")
    toggle.click()
    holder = warehouse.locator(".tb-leases li")
    holder.first.wait_for(timeout=10_000)
    assert "nightly-etl on host-1" in holder.first.inner_text()
    assert "3 slot(s)" in holder.first.inner_text()
    assert toggle.get_attribute("aria-expanded") == "true"
    screenshot(sidebar, "console-limits.png")
    with shared_store(lab.home) as store:
        store.reset_limit("warehouse")
    sidebar.locator(".tb-limit", has_text="No holders.").wait_for(timeout=15_000)
    assert "0/4 slots" in warehouse.inner_text()


def test_a_live_run_tab_shows_task_runs_as_they_change(lab: Lab, page: Any) -> None:
    from kernel_ext._states import Completed, Running
    from tests.store.helpers import Runs

    runs = Runs()
    flow = runs.flow("live")
    tasks = [runs.task(flow, f"step{i}") for i in range(3)]
    with shared_store(lab.home) as store:
        store.submit(runs.move(flow, Running()))
        store.submit(runs.move(tasks[0], Running()))
    panel = open_run(page, lab, flow.id)
    panel.locator(".tb-tab", has_text="Task runs").click()
    rows = panel.locator(".tb-task-table tbody tr")
    rows.first.wait_for(timeout=10_000)
    assert rows.count() == 1 and "Running" in rows.first.inner_text()

    with shared_store(lab.home) as store:  # read by the tab's cursor, merged by id
        store.submit(runs.move(tasks[0], Completed()))
        for task in tasks[1:]:
            store.submit(runs.move(task, Running()))
    panel.locator(".tb-tab", has_text="Task runs (3)").wait_for(timeout=10_000)
    first = panel.locator(".tb-task-table tbody tr", has_text="step0")
    first.filter(has_text="Completed").wait_for(timeout=10_000)
    assert rows.count() == 3
