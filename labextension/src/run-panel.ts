/**
 * A flow run in a main-area tab: its state and actions (cancel, retry, delete, open the
 * output notebook), the failure with the failing cell and traceback, and tabs for the
 * graph, a timeline of its task runs, the task run table, the log, the artifacts, the
 * parameters, the state history and its subflows. Refreshed every second while the run
 * goes on and every ten seconds once it has finished, only while the tab is shown; each
 * part is redrawn only when it changed.
 */

import { Notification } from "@jupyterlab/apputils";
import type { IRenderMimeRegistry } from "@jupyterlab/rendermime";
import type { GraphPayload } from "../widgets/contract";
import { formatDateTime, formatDuration, formatTime, h } from "../widgets/dom";
import { layoutGraph } from "../widgets/graph-layout";
import { drawGraph } from "../widgets/graph-view";
import type { TaskbookApi } from "./api";
import { ArtifactsView } from "./artifacts-view";
import { LogView } from "./log-view";
import { PolledPanel } from "./polled-panel";
import { TabStrip } from "./tabs";
import { drawTimeline } from "./timeline";
import type { Failure, HistoryEntry, Run, TaskRun } from "./types";
import { FINAL_TYPES, RETRYABLE_TYPES, confirm, describe, notice, pill, replaceKeepingFocus } from "./view";

const LIVE_MS = 1000;
const FINISHED_MS = 10_000;
/** A live run is read whole this often; in between, only what changed. */
const WHOLE_MS = 30_000;
/** A live run's graph is read again this often (its running nodes' durations grow). */
const GRAPH_MS = 5_000;
/** The newest subflows listed; the tab says "200+" when there are more. */
const SUBFLOWS = 200;
const TABS = ["graph", "timeline", "tasks", "logs", "artifacts", "parameters", "history", "subflows"] as const;
type Tab = (typeof TABS)[number];
const TAB_LABELS: Record<Tab, string> = {
  graph: "Graph", timeline: "Timeline", tasks: "Task runs", logs: "Logs", artifacts: "Artifacts",
  parameters: "Parameters", history: "History", subflows: "Subflows",
};

/** What a run panel can ask of the console around it. */
export interface Console {
  openRun(id: string): void;
  openDeployment(name: string): void;
  openPath(path: string): void;
  /** A run was started, retried or deleted here: lists elsewhere refresh. */
  changed(): void;
}

export class RunPanel extends PolledPanel {
  private readonly head = h("div", { class: "tb-run-head" });
  private readonly actions = h("div", { class: "tb-actions", role: "toolbar", "aria-label": "Run actions" });
  private readonly status = h("div", { class: "tb-run-message", role: "status", tabindex: -1 });
  private readonly failure = h("div", { class: "tb-run-failure" });
  private readonly panels: Record<Tab, HTMLElement>;
  private readonly tabs: TabStrip;
  private readonly logs: LogView;
  private readonly artifacts: ArtifactsView;
  private run: Run | null = null;
  private task: string | null = null;
  private readAt = 0;
  private forced = true;
  /** The task runs read so far, by id, in creation order; a live run reads only changes. */
  private taskRuns = new Map<string, TaskRun>();
  private cursor = 0;
  private wholeAt = 0;
  /** Counts the reads that changed a task run; the graph is read again only after one. */
  private changes = 0;
  private graphKey = "";

  /** `rendermime` draws the artifacts' markdown, sanitized (without it, a DOM-only renderer does). */
  constructor(private readonly api: TaskbookApi, readonly runId: string, private readonly console: Console,
    rendermime: IRenderMimeRegistry | null = null) {
    super(LIVE_MS);
    this.id = `taskbook-run-${runId}`;
    this.addClass("tb-run-panel");
    this.title.label = `Run ${runId.slice(0, 8)}`;
    this.title.closable = true;
    this.logs = new LogView(api, runId, () => this.refreshNow());
    this.panels = Object.fromEntries(TABS.map((tab) => [tab, h("div", { class: `tb-tab-panel tb-panel-${tab}` })])) as unknown as Record<Tab, HTMLElement>;
    this.panels.logs.append(this.logs.node);
    this.artifacts = new ArtifactsView(api, runId, {
      taskName: (id) => this.taskRuns.get(id)?.name ?? null,
      selectTask: (id) => this.selectTask(id, "tasks"),
      openRun: (id) => this.console.openRun(id),
      counted: (label) => this.tabs.setLabel("artifacts", label),
    }, rendermime);
    this.panels.artifacts.append(this.artifacts.node);
    this.tabs = new TabStrip(TABS.map((tab) => ({ id: tab, label: TAB_LABELS[tab], panel: this.panels[tab] })),
      () => this.refreshNow(), "Run sections");
    this.panels.graph.addEventListener("click", (event) => this.onGraphClick(event));
    this.panels.graph.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") this.onGraphClick(event);
    });
    this.node.append(h("div", { class: "tb-run-page" }, this.head, this.actions, this.status, this.failure,
      this.tabs.node, ...TABS.map((tab) => this.panels[tab])));
    this.head.append(notice("Reading\u2026"));
  }

  /** Show this section (used when opened from elsewhere, e.g. a notification). */
  showTab(tab: Tab): void {
    this.tabs.select(tab);
  }

  /** Read everything again now (after an action, or a tab switch). */
  override refreshNow(): void {
    this.forced = true;
    this.poller.poke();
  }

  protected async refresh(signal: AbortSignal): Promise<void> {
    // A finished run changes rarely (a retry, a late log line): read it every ten seconds.
    const finished = this.run !== null && FINAL_TYPES.has(this.run.state_type);
    if (finished && !this.forced && Date.now() - this.readAt < FINISHED_MS) return;
    // A whole read now and then too: a change committed further behind the cursor than
    // the server looks (a huge transaction) shows within WHOLE_MS at the latest.
    const whole = this.forced || this.cursor === 0 || performance.now() - this.wholeAt >= WHOLE_MS;
    if (whole) this.wholeAt = performance.now();
    const asked = this.forced;
    this.forced = false;
    this.readAt = Date.now();
    let run: Run;
    try {
      run = await this.api.readRun(this.runId, signal, whole ? undefined : this.cursor);
    } catch (error) {
      if (signal.aborted || this.goneIf(error, `Run ${this.runId.slice(0, 8)}`)) return;
      this.head.replaceChildren(notice(describe(error), true));
      return;
    }
    if (signal.aborted) return;
    this.seen = true;
    run = this.merged(run);
    this.run = run;
    this.title.label = run.name;
    this.title.caption = `${run.flow_name} \u00b7 ${run.state}`;
    // The head shows the run itself; its task runs are the tabs' business.
    this.drawn("head", { ...run, task_runs: null }, () => this.drawHead(run));
    this.drawn("failure", run.failure ?? null, () => this.drawFailure(run.failure ?? null));
    await this.refreshTab(run, signal, asked);
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this.artifacts.dispose();
    super.dispose();
  }

  /** The run with every task run read so far: a read with a cursor brings only those
   * that changed, merged by id. */
  private merged(run: Run): Run {
    const read = run.task_runs ?? [];
    if (run.task_runs_complete !== false) {
      this.taskRuns = new Map(read.map((task) => [task.id, task]));
      this.changes += 1;
    } else {
      let changed = false;
      for (const task of read) {
        const known = this.taskRuns.get(task.id);
        if (known === undefined || JSON.stringify(known) !== JSON.stringify(task)) changed = true;
        this.taskRuns.set(task.id, task);
      }
      if (changed) this.changes += 1;
    }
    this.cursor = run.task_runs_cursor ?? 0;
    return { ...run, task_runs: [...this.taskRuns.values()] };
  }

  /** `asked`: this read was asked for (a tab switch, an action), not a tick. */
  private async refreshTab(run: Run, signal: AbortSignal, asked: boolean): Promise<void> {
    const tasks = run.task_runs ?? [];
    this.tabs.setLabel("tasks", `Task runs (${tasks.length})`);
    switch (this.tabs.selected as Tab) {
      case "graph": {
        // The graph aggregates every task run: read it again only when one changed.
        const live = FINAL_TYPES.has(run.state_type) ? 0 : Math.floor(performance.now() / GRAPH_MS);
        const key = `${this.changes}:${run.state_type}:${live}`;
        if (this.graphKey === key) break;
        const graph = await this.api.readRunGraph(this.runId, signal).catch(asError);
        if (signal.aborted) break;
        if (!(graph instanceof Error)) this.graphKey = key;
        this.drawn("graph", [graph instanceof Error ? graph.message : graph, this.task], () => this.drawGraph(graph));
        break;
      }
      case "timeline":
        this.drawn("timeline", [tasks, this.task, FINAL_TYPES.has(run.state_type) ? 0 : Date.now()], () =>
          this.panels.timeline.replaceChildren(drawTimeline(run, tasks, (task) => this.selectTask(task.id))));
        break;
      case "tasks":
        this.drawn("tasks", [tasks, this.task], () => this.drawTasks(tasks));
        break;
      case "logs":
        await this.logs.refresh(signal);
        break;
      case "artifacts":
        await this.artifacts.refresh(run, signal, asked);
        break;
      case "parameters":
        this.drawn("parameters", run.parameters, () => this.drawParameters(run));
        break;
      case "history": {
        const history = await this.api.readRunHistory(this.runId, signal).catch(asError);
        this.drawn("history", history instanceof Error ? history.message : history, () => this.drawHistory(history));
        break;
      }
      case "subflows": {
        const subflows = await this.api.listRuns({ parent: this.runId, limit: SUBFLOWS }, signal).catch(asError);
        this.drawn("subflows", subflows instanceof Error ? subflows.message : subflows, () => this.drawSubflows(subflows));
        break;
      }
    }
  }

  private drawHead(run: Run): void {
    const deployment = run.deployment_name
      ? this.link(`${run.deployment_name}${run.deployment_version ? ` v${run.deployment_version}` : ""}`,
        () => this.console.openDeployment(run.deployment_name ?? ""), "tb-deployment-link")
      : null;
    const facts: [string, Node | string | null][] = [
      ["Flow", run.flow_name],
      ["Deployment", deployment],
      ["Started", formatDateTime(run.start_time) || null],
      ["Ended", formatDateTime(run.end_time) || null],
      ["Duration", formatDuration(run.duration) || null],
      ["Scheduled for", run.scheduled_time ? formatDateTime(run.scheduled_time) : null],
      ["Attempts", run.run_count > 1 ? String(run.run_count) : null],
      ["Worker", run.worker_id],
      ["Tags", run.tags?.length ? run.tags.join(", ") : null],
      ["Subflow of task run", run.parent_task_run_id ? run.parent_task_run_id.slice(0, 8) : null],
      ["Id", h("code", {}, run.id)],
    ];
    this.head.replaceChildren(
      h("h2", { class: "tb-run-title" }, run.name, " ", pill(run.state, run.state_type)),
      run.state_message ? h("div", { class: "tb-state-message" }, run.state_message) : "",
      h("dl", { class: "tb-facts" }, ...facts.filter(([, value]) => value !== null && value !== "")
        .flatMap(([label, value]) => [h("dt", {}, label), h("dd", {}, value)])));
    this.drawActions(run);
  }

  private drawActions(run: Run): void {
    const buttons: HTMLElement[] = [];
    const final = FINAL_TYPES.has(run.state_type);
    if (!final) buttons.push(this.action("Cancel", "tb-cancel", () => this.cancel(run)));
    if (run.deployment_name && RETRYABLE_TYPES.has(run.state_type)) {
      buttons.push(this.action("Retry", "tb-retry", () => this.retry(run)));
    }
    if (run.deployment_name && run.output_notebook) {
      buttons.push(this.action("Open output notebook", "tb-open-output", () => this.openOutput(run)));
    }
    if (final) buttons.push(this.action("Delete", "tb-delete tb-danger", () => this.delete(run)));
    const focused = this.actions.contains(document.activeElement);
    replaceKeepingFocus(this.actions, "data-action", buttons);
    // The focused action went (Cancel once cancelled): focus the next one, else the status.
    if (focused && !this.actions.contains(document.activeElement)) {
      (this.actions.querySelector<HTMLElement>("button") ?? this.status).focus();
    }
  }

  private action(label: string, className: string, run: () => Promise<void>): HTMLButtonElement {
    const button = h("button", { type: "button", class: `tb-button ${className}`, "data-action": label }, label);
    button.addEventListener("click", () => {
      button.disabled = true;
      run().finally(() => { button.disabled = false; });
    });
    return button;
  }

  private async cancel(run: Run): Promise<void> {
    const body = run.state_type === "RUNNING"
      ? "The run is asked to stop: it becomes Cancelling, and Cancelled once its worker or kernel stops it."
      : "The run will not start: it becomes Cancelled.";
    if (!(await confirm(`Cancel ${run.name}?`, body, "Cancel run"))) return;
    await this.act(() => this.api.cancelRun(run.id), (updated) => `${updated.name} is ${updated.state}.`);
  }

  private async retry(run: Run): Promise<void> {
    const body = "A worker runs it again with the same id and parameters; the cells that finished come back from their results.";
    if (!(await confirm(`Retry ${run.name}?`, body, "Retry", false))) return;
    await this.act(() => this.api.retryRun(run.id), (updated) => `${updated.name} is queued again (${updated.state}).`);
  }

  private async delete(run: Run): Promise<void> {
    const body = "The run, its task runs, subflows, logs, results index entries and output notebook are deleted. This cannot be undone.";
    if (!(await confirm(`Delete ${run.name}?`, body, "Delete"))) return;
    try {
      const deleted = await this.api.deleteRun(run.id);
      Notification.success(`Deleted ${run.name}: ${deleted.task_runs} task runs, ${deleted.log_lines} log lines.`, { autoClose: 5000 });
      this.console.changed();
      this.dispose();
    } catch (error) {
      this.say(describe(error), true);
    }
  }

  private async act(call: () => Promise<Run>, said: (run: Run) => string): Promise<void> {
    try {
      this.say(said(await call()), false);
      this.console.changed();
      this.refreshNow();
    } catch (error) {
      this.say(describe(error), true);
    }
  }

  private async openOutput(run: Run): Promise<void> {
    try {
      // The output lives outside the server's root: the server copies it under the root first.
      const { path } = await this.api.openRunOutput(run.id);
      this.console.openPath(path);
    } catch (error) {
      this.say(describe(error), true);
    }
  }

  private say(text: string, error: boolean): void {
    this.status.className = `tb-run-message ${error ? "tb-error" : "tb-muted"}`;
    this.status.textContent = text;
  }

  private drawFailure(failure: Failure | null): void {
    if (!failure) {
      this.failure.replaceChildren();
      return;
    }
    const where = failure.cell_number != null ? `Cell ${failure.cell_number}` : "";
    const what = [where, failure.exception_type ?? ""].filter(Boolean).join(" \u00b7 ");
    this.failure.replaceChildren(h("div", { class: "tb-failure", role: "alert" },
      what ? h("div", { class: "tb-failure-title" }, what) : "",
      failure.exception_message ? h("div", { class: "tb-failure-message" }, failure.exception_message) : "",
      failure.cell_source ? h("details", { class: "tb-failing-cell", open: true },
        h("summary", {}, "Failing cell"), h("pre", { class: "tb-cell-source" }, failure.cell_source)) : "",
      failure.traceback ? h("details", { class: "tb-traceback-details", open: true },
        h("summary", {}, "Traceback"), h("pre", { class: "tb-traceback", "aria-label": "Traceback" }, failure.traceback)) : ""));
  }

  private drawGraph(graph: GraphPayload | Error): void {
    const panel = this.panels.graph;
    if (graph instanceof Error) {
      panel.replaceChildren(notice(describe(graph), true));
      return;
    }
    if (!graph.nodes.length) {
      panel.replaceChildren(notice("No task runs to draw."));
      return;
    }
    const layout = layoutGraph(graph, null);
    replaceKeepingFocus(panel, "data-node-id", [
      graph.hidden ? notice(`${graph.hidden} nodes are not drawn, to keep the graph small.`) : "",
      h("div", { class: "tb-run-graph tb-run-graph-full" }, drawGraph(graph, layout, { selected: this.task, scale: 1 })),
      notice("Click a task to see its log lines and its row in Task runs."),
    ]);
  }

  private onGraphClick(event: Event): void {
    const target = event.target instanceof Element ? event.target.closest("[data-node-id]") : null;
    const id = target?.getAttribute("data-node-id");
    if (!id) return;
    event.preventDefault();
    const task = (this.run?.task_runs ?? []).find((candidate) => candidate.id === id);
    if (task) this.selectTask(task.id, "tasks");
  }

  /** Select a task run: its row in the table, its node in the graph, its lines in the log. */
  private selectTask(id: string, show: Tab | null = null): void {
    this.task = id;
    const task = (this.run?.task_runs ?? []).find((candidate) => candidate.id === id);
    this.logs.showTask(task ? { id, name: task.name } : null);
    if (show) this.tabs.select(show);
    this.refreshNow();
  }

  private drawTasks(tasks: TaskRun[]): void {
    if (!tasks.length) {
      this.panels.tasks.replaceChildren(notice("No task runs."));
      return;
    }
    const rows = tasks.map((task) => {
      const selected = task.id === this.task;
      const row = h("tr", { class: selected ? "tb-selected" : "", tabindex: 0, "data-task-run-id": task.id,
        "aria-selected": String(selected) },
        h("td", {}, task.name),
        h("td", {}, pill(task.state, task.state_type)),
        h("td", { class: "tb-num" }, String(task.run_count)),
        h("td", { class: "tb-num" }, formatDuration(task.duration)),
        h("td", {}, formatTime(task.start_time)),
        h("td", {}, task.state === "Cached" ? "hit" : task.cache_key ? "stored" : "\u2014"),
        h("td", { class: "tb-muted" }, task.state_message ?? ""));
      const open = (): void => this.selectTask(task.id, "logs");
      row.addEventListener("dblclick", open);
      row.addEventListener("click", () => this.selectTask(task.id));
      row.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
      return row;
    });
    replaceKeepingFocus(this.panels.tasks, "data-task-run-id", [
      h("table", { class: "tb-table tb-task-table", "aria-label": "Task runs" },
        h("thead", {}, h("tr", {}, ...["Task", "State", "Attempts", "Duration", "Started", "Cache", "Message"]
          .map((label) => h("th", { scope: "col" }, label)))),
        h("tbody", {}, ...rows)),
      notice("Enter or double-click a task run to read its log lines."),
    ]);
  }

  private drawParameters(run: Run): void {
    const entries = Object.entries(run.parameters ?? {});
    this.panels.parameters.replaceChildren(entries.length
      ? h("table", { class: "tb-table", "aria-label": "Parameters" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Value"))),
        h("tbody", {}, ...entries.map(([name, value]) =>
          h("tr", {}, h("td", {}, h("code", {}, name)), h("td", {}, h("code", {}, JSON.stringify(value)))))))
      : notice("This run has no parameters."));
  }

  private drawHistory(history: HistoryEntry[] | Error): void {
    if (history instanceof Error) {
      this.panels.history.replaceChildren(notice(describe(history), true));
      return;
    }
    this.panels.history.replaceChildren(h("ol", { class: "tb-history", "aria-label": "State history" },
      ...history.map((entry) => h("li", {},
        h("span", { class: "tb-muted" }, formatDateTime(entry.timestamp)), " ", pill(entry.name, entry.type),
        entry.message ? h("span", { class: "tb-muted" }, ` ${entry.message}`) : ""))));
  }

  private drawSubflows(subflows: Run[] | Error): void {
    if (subflows instanceof Error) {
      this.panels.subflows.replaceChildren(notice(describe(subflows), true));
      return;
    }
    const more = subflows.length >= SUBFLOWS;
    this.tabs.setLabel("subflows", `Subflows (${subflows.length}${more ? "+" : ""})`);
    if (!subflows.length) {
      this.panels.subflows.replaceChildren(notice("This run started no subflows."));
      return;
    }
    replaceKeepingFocus(this.panels.subflows, "data-run-id", [h("ul", { class: "tb-subflows" }, ...subflows.map((run) => {
      const item = h("li", { class: "tb-row", tabindex: 0, "data-run-id": run.id },
        h("div", { class: "tb-row-main" }, h("span", { class: "tb-name" }, run.name), pill(run.state, run.state_type)),
        h("div", { class: "tb-row-sub tb-muted" }, h("span", {}, run.flow_name), h("span", {}, formatDuration(run.duration))));
      item.addEventListener("click", () => this.console.openRun(run.id));
      item.addEventListener("keydown", (event) => { if (event.key === "Enter") this.console.openRun(run.id); });
      return item;
    })), more ? notice(`The newest ${SUBFLOWS} are listed.`) : ""]);
  }

  private link(text: string, onClick: () => void, className: string): HTMLElement {
    const link = h("a", { href: "#", class: `tb-link ${className}` }, text);
    link.addEventListener("click", (event) => {
      event.preventDefault();
      onClick();
    });
    return link;
  }
}

function asError(error: unknown): Error {
  if (error instanceof DOMException && error.name === "AbortError") throw error;
  return error instanceof Error ? error : new Error(String(error));
}
