/**
 * The Runs tab: the latest 50 flow runs (name, flow, state, start, duration), refreshed
 * every second while visible; a click shows the run's task runs, and a deployment run's
 * output notebook.
 */

import { formatDateTime, formatDuration, h } from "../widgets/dom";
import type { TaskbookApi } from "./api";
import { Poller } from "./poller";
import type { Run } from "./types";
import { type View, describe, notice, pill } from "./view";

const REFRESH_MS = 1000;

export class RunsView implements View {
  readonly id = "runs";
  readonly label = "Runs";
  readonly node = h("div", { class: "tb-view tb-runs" });
  readonly poller = new Poller((signal) => this.refresh(signal), REFRESH_MS);
  private readonly list = h("div", { class: "tb-list", role: "list" });
  private readonly details = h("div", { class: "tb-run-details" });
  private selected: string | null = null;

  constructor(private readonly api: TaskbookApi, private readonly openPath: (path: string) => void) {
    this.node.append(this.list, this.details);
  }

  private async refresh(signal: AbortSignal): Promise<void> {
    let runs: Run[];
    try {
      runs = await this.api.listRuns(signal);
    } catch (error) {
      if (!signal.aborted) this.list.replaceChildren(notice(describe(error), true));
      return;
    }
    this.list.replaceChildren(...(runs.length ? runs.map((run) => this.row(run)) : [notice("No runs yet.")]));
    if (this.selected) await this.showDetails(this.selected, signal);
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
      if (!this.selected) this.details.replaceChildren();
      this.poller.poke();
    };
    row.addEventListener("click", select);
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") select(); });
    return row;
  }

  private async showDetails(id: string, signal: AbortSignal): Promise<void> {
    let run: Run;
    try {
      run = await this.api.readRun(id, signal);
    } catch (error) {
      if (!signal.aborted) this.details.replaceChildren(notice(describe(error), true));
      return;
    }
    if (this.selected !== id) return;
    const tasks = (run.task_runs ?? []).map((task) =>
      h("li", { class: "tb-task" }, h("span", { class: "tb-name" }, task.name), pill(task.state, task.state_type),
        h("span", { class: "tb-muted" }, formatDuration(task.duration))));
    this.details.replaceChildren(h("div", {},
      h("div", { class: "tb-details-title" }, h("strong", {}, run.name), " ", pill(run.state, run.state_type)),
      run.state_message ? h("div", { class: "tb-muted" }, run.state_message) : null,
      tasks.length ? h("ul", { class: "tb-tasks" }, ...tasks) : notice("No task runs."),
      this.outputLink(run)));
  }

  private outputLink(run: Run): HTMLElement | null {
    const path = run.output_notebook;
    if (!run.deployment_name || !path) return null;
    const link = h("a", { href: "#", class: "tb-link" }, "Open output notebook");
    link.addEventListener("click", (event) => {
      event.preventDefault();
      this.openPath(path);
    });
    return link;
  }
}
