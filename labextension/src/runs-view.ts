/**
 * The Runs tab: the latest 50 flow runs (name, flow, state, start, duration), optionally
 * of one state, refreshed every second while visible; a click shows the run's task runs,
 * its graph (as the notebook's RunGraph widget draws it), its last log lines, and a
 * deployment run's output notebook.
 */

import type { GraphPayload } from "../widgets/contract";
import { formatDateTime, formatDuration, formatTime, h } from "../widgets/dom";
import { layoutGraph } from "../widgets/graph-layout";
import { drawGraph } from "../widgets/graph-view";
import type { TaskbookApi } from "./api";
import { Poller } from "./poller";
import type { Failure, LogLine, LogWindow, Run } from "./types";
import { type View, describe, notice, pill } from "./view";

const REFRESH_MS = 1000;
const LOG_LINES = 200;
/** How long typing in the search box pauses before the list is read again. */
const SEARCH_PAUSE_MS = 250;
/** How far before its newest line a log is read again (lines that committed late). */
const LOG_OVERLAP_IDS = 1000;
/** How often the details of a finished run are read again. */
const FINISHED_REFRESH_MS = 10_000;
const FINAL_TYPES = new Set(["COMPLETED", "FAILED", "CRASHED", "CANCELLED"]);
/** The graph shrinks to fit the sidebar down to this scale; below it, it scrolls. */
const MIN_SCALE = 0.6;
/** The states the filter offers; the server matches a state's name or its type. */
export const STATE_FILTERS = [
  "Scheduled", "Late", "Pending", "Running", "Retrying", "Paused", "Suspended", "Completed", "Cached",
  "Failed", "TimedOut", "Crashed", "Cancelling", "Cancelled",
];

export class RunsView implements View {
  readonly id = "runs";
  readonly label = "Runs";
  readonly node = h("div", { class: "tb-view tb-runs" });
  readonly poller = new Poller((signal) => this.refresh(signal), REFRESH_MS);
  private readonly filter = h("select", { class: "tb-state-filter", "aria-label": "Show runs in state" },
    h("option", { value: "" }, "All states"),
    ...STATE_FILTERS.map((state) => h("option", { value: state }, state)));
  private readonly search = h("input", {
    class: "tb-run-search", type: "search", placeholder: "Name or flow", "aria-label": "Search runs by name or flow",
  }) as HTMLInputElement;
  private readonly list = h("div", { class: "tb-list", role: "list" });
  private readonly details = h("div", { class: "tb-run-details" });
  private selected: string | null = null;
  private detailsReadAt = 0;
  private detailsFinished = false;
  private sections: RunSections | null = null;
  /** Why opening a run's output notebook failed, kept across the refreshes of its details. */
  private outputError: { run: string; message: string } | null = null;

  constructor(private readonly api: TaskbookApi, private readonly openPath: (path: string) => void) {
    this.filter.addEventListener("change", () => this.poller.poke());
    let typing = 0;
    this.search.addEventListener("input", () => {
      window.clearTimeout(typing);
      typing = window.setTimeout(() => this.poller.poke(), SEARCH_PAUSE_MS);
    });
    this.node.append(h("div", { class: "tb-toolbar" }, h("label", {}, "State ", this.filter), this.search),
      this.list, this.details);
  }

  private async refresh(signal: AbortSignal): Promise<void> {
    let runs: Run[];
    try {
      runs = await this.api.listRuns(signal, this.filter.value || null, this.search.value.trim() || null);
    } catch (error) {
      if (!signal.aborted) this.list.replaceChildren(notice(describe(error), true));
      return;
    }
    const filtered = this.filter.value || this.search.value.trim();
    const empty = filtered ? "No runs match." : "No runs yet.";
    this.list.replaceChildren(...(runs.length ? runs.map((run) => this.row(run)) : [notice(empty)]));
    if (this.selected && this.detailsDue(runs)) await this.showDetails(this.selected, signal);
  }

  /**
   * A selected run that has finished changes rarely (a retry, a late log line): its details
   * are read again every FINISHED_REFRESH_MS, not every second, so an idle page costs the
   * server little. A run that is still going (or out of the list) is read every time.
   */
  private detailsDue(runs: Run[]): boolean {
    const listed = runs.find((run) => run.id === this.selected);
    const finished = listed !== undefined && FINAL_TYPES.has(listed.state_type);
    const due = !finished || !this.detailsFinished || Date.now() - this.detailsReadAt >= FINISHED_REFRESH_MS;
    if (due) {
      this.detailsReadAt = Date.now();
      this.detailsFinished = finished;
    }
    return due;
  }

  private row(run: Run): HTMLElement {
    const selected = run.id === this.selected;
    const row = h("div", { class: `tb-row${selected ? " tb-selected" : ""}`, role: "listitem", tabindex: 0,
                           "data-run-id": run.id, title: run.state_message ?? "" },
      h("div", { class: "tb-row-main" }, h("span", { class: "tb-name" }, run.name), pill(run.state, run.state_type)),
      h("div", { class: "tb-row-sub tb-muted" },
        h("span", {}, run.deployment_name ?? run.flow_name),
        h("span", {}, formatDateTime(run.start_time ?? run.created)),
        h("span", {}, formatDuration(run.duration))));
    const select = (): void => {
      this.selected = selected ? null : run.id;
      this.sections = null;
      this.detailsFinished = false;  // a newly selected run is read at once
      this.details.replaceChildren();
      this.poller.poke();
    };
    row.addEventListener("click", select);
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") select(); });
    return row;
  }

  private async showDetails(id: string, signal: AbortSignal): Promise<void> {
    let run: Run;
    let graph: GraphPayload | Error;
    let logs: LogLine[] | Error;
    try {
      [run, graph, logs] = await Promise.all([
        this.api.readRun(id, signal),
        this.api.readRunGraph(id, signal).catch(asError),
        this.api.readRunLogs(id, this.logWindow(), signal).catch(asError),
      ]);
    } catch (error) {
      if (!signal.aborted && this.selected === id) {
        this.sections = null;
        this.details.replaceChildren(notice(describe(error), true));
      }
      return;
    }
    if (this.selected !== id || signal.aborted) return;
    if (!this.sections) {
      this.sections = new RunSections();
      this.details.replaceChildren(this.sections.node);
    }
    const tasks = (run.task_runs ?? []).map((task) =>
      h("li", { class: "tb-task" }, h("span", { class: "tb-name" }, task.name), pill(task.state, task.state_type),
        h("span", { class: "tb-muted" }, formatDuration(task.duration))));
    this.sections.head.replaceChildren(
      h("div", { class: "tb-details-title" }, h("strong", {}, run.name), " ", pill(run.state, run.state_type)),
      run.state_message ? h("div", { class: "tb-muted" }, run.state_message) : "",
      tasks.length ? h("ul", { class: "tb-tasks" }, ...tasks) : notice("No task runs."),
      this.outputLink(run) ?? "");
    this.sections.showFailure(run.failure ?? null);
    this.sections.showGraph(graph);
    this.sections.showLogs(logs);
  }

  /** The first read of a selected run takes the tail of its log; later ones only what came since. */
  private logWindow(): LogWindow {
    const cursor = this.sections?.logCursor ?? null;
    if (cursor === null) return { tail: LOG_LINES };
    // Read again a little before the newest line seen: on PostgreSQL a line can commit
    // after one with a higher id, and would be skipped by a cursor already past it.
    return { after: Math.max(0, cursor - LOG_OVERLAP_IDS), tail: LOG_LINES };
  }

  private outputLink(run: Run): HTMLElement | null {
    if (!run.deployment_name || !run.output_notebook) return null;
    const link = h("a", { href: "#", class: "tb-link" }, "Open output notebook");
    const failed = this.outputError?.run === run.id ? this.outputError.message : null;
    link.addEventListener("click", (event) => {
      event.preventDefault();
      this.outputError = null;
      // The output lives outside the server's root: the server copies it under the root first.
      this.api.openRunOutput(run.id).then(
        ({ path }) => this.openPath(path),
        (error: unknown) => {
          this.outputError = { run: run.id, message: describe(error) };
          this.detailsFinished = false;  // show it now, not at the next slow refresh
          this.poller.poke();
        });
    });
    return h("div", { class: "tb-output" }, link, failed ? notice(failed, true) : "");
  }
}

/**
 * The parts of a selected run's details. The graph and the logs are redrawn only when
 * they change, so their scroll positions survive the refresh every second.
 */
class RunSections {
  readonly head = h("div", { class: "tb-run-head" });
  private readonly failure = h("div", { class: "tb-run-failure" });
  private readonly graph = h("div", { class: "tb-run-graph", "aria-label": "Run graph" });
  private readonly logs = h("div", { class: "tb-run-logs", role: "log" });
  readonly node = h("div", {}, this.head, this.failure,
    h("div", { class: "tb-section-title" }, "Graph"), this.graph,
    h("div", { class: "tb-section-title" }, "Logs"), this.logs);
  private failureKey = "";
  private graphKey = "";
  private logsKey = "";
  private lines: LogLine[] = [];
  private earlier = false;
  /** The id of the newest line read (what the next read starts after); null before the first. */
  logCursor: number | null = null;

  /** Redrawn only when it changes, so a long traceback keeps its scroll and selection. */
  showFailure(failure: Failure | null): void {
    const key = JSON.stringify(failure);
    if (key === this.failureKey) return;
    this.failureKey = key;
    this.failure.replaceChildren(failure ? failureSection(failure) : "");
  }

  showGraph(graph: GraphPayload | Error): void {
    const key = graph instanceof Error ? `error:${graph.message}` : JSON.stringify(graph);
    if (key === this.graphKey) return;
    this.graphKey = key;
    if (graph instanceof Error) {
      this.graph.replaceChildren(notice(describe(graph), true));
      return;
    }
    if (!graph.nodes.length) {
      this.graph.replaceChildren(notice("No task runs to draw."));
      return;
    }
    const layout = layoutGraph(graph, null);
    const room = this.graph.clientWidth - 2;
    const scale = room > 0 ? Math.min(1, Math.max(MIN_SCALE, room / Math.max(layout.width, 1))) : 1;
    const parts: HTMLElement[] = [];
    if (graph.hidden) parts.push(notice(`${graph.hidden} nodes are not drawn, to keep the graph small.`));
    this.graph.replaceChildren(...parts);
    this.graph.append(drawGraph(graph, layout, { selected: null, scale }));
  }

  /**
   * Take the lines of one read: the tail of the log at first, then only the lines written
   * since (appended, keeping the last LOG_LINES). Redrawn only when something came.
   */
  showLogs(logs: LogLine[] | Error): void {
    if (!(logs instanceof Error)) {
      const first = this.logCursor === null;
      const seen = new Set(this.lines.map((line) => line.id));
      const fresh = logs.filter((line) => !seen.has(line.id));
      const lines = [...(first ? [] : this.lines), ...fresh].sort(
        (a, b) => a.timestamp.localeCompare(b.timestamp) || a.id - b.id);
      if (lines.length > LOG_LINES || (first && logs.length >= LOG_LINES)) this.earlier = true;
      this.lines = lines.slice(-LOG_LINES);
      // No cursor until a line came: a run that has logged nothing is asked for its tail.
      const newest = logs.reduce((top, line) => Math.max(top, line.id), -1);
      if (newest >= 0) this.logCursor = Math.max(newest, this.logCursor ?? 0);
    }
    const last = this.lines[this.lines.length - 1];
    const key = logs instanceof Error ? `error:${logs.message}` : `${this.lines.length}:${last?.id ?? ""}`;
    if (key === this.logsKey) return;
    this.logsKey = key;
    if (logs instanceof Error) {
      this.logs.replaceChildren(notice(describe(logs), true));
      return;
    }
    if (!this.lines.length) {
      this.logs.replaceChildren(notice("No log lines."));
      return;
    }
    const atBottom = this.logs.scrollTop + this.logs.clientHeight >= this.logs.scrollHeight - 4;
    this.logs.replaceChildren(
      this.earlier ? notice(`Showing the last ${LOG_LINES} lines; \`taskbook runs logs\` prints them all.`) : "",
      ...this.lines.map((line) => h("div", { class: `tb-log-line tb-log-${line.level_name.toLowerCase()}` },
        h("span", { class: "tb-muted" }, formatTime(line.timestamp)), " ",
        h("span", { class: "tb-log-level" }, line.level_name), " ", line.message)));
    if (atBottom) this.logs.scrollTop = this.logs.scrollHeight;
  }
}

/** The failing cell, the exception and its traceback. */
function failureSection(failure: Failure): HTMLElement {
  const where = failure.cell_number != null ? `Cell ${failure.cell_number}` : "";
  const what = [where, failure.exception_type ?? ""].filter(Boolean).join(" · ");
  const traceback = failure.traceback
    ? h("pre", { class: "tb-traceback", "aria-label": "Traceback" }, failure.traceback)
    : "";
  return h("div", { class: "tb-failure", role: "alert" },
    what ? h("div", { class: "tb-failure-title" }, what) : "", traceback);
}

function asError(error: unknown): Error {
  if (error instanceof DOMException && error.name === "AbortError") throw error;
  return error instanceof Error ? error : new Error(String(error));
}
