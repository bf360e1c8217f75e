/**
 * The side panel: a task run's state history, inputs and outputs, failure, artifacts and
 * logs, fetched from the kernel when a node is clicked; or a mapped group's tally.
 */

import { artifactTitle, drawArtifactBody, safeMarkdown } from "./artifact-view";
import type { ArtifactSummary, DetailsReply, GraphNode, RunDetails } from "./contract";
import { TIMES, count, formatDuration, formatTime, h } from "./dom";
import { stateClass } from "./states";

/** How long a request may wait before the panel explains that the kernel is busy. */
const BUSY_HINT_MS = 2000;

export class DetailsPanel {
  readonly element = h("aside", { class: "tb-panel", hidden: true });
  private waitingFor: string | null = null;
  private busyTimer = 0;

  constructor(
    private readonly request: (taskRunId: string) => void,
    private readonly onClose: () => void,
  ) {}

  close(): void {
    window.clearTimeout(this.busyTimer);
    this.element.hidden = true;
    this.waitingFor = null;
  }

  showGroup(node: GraphNode): void {
    const tally = Object.entries(node.counts).map(([state, n]) =>
      h("li", {}, pill(state), ` ${count(n)}`),
    );
    const members = node.members.map((id) =>
      h("li", {}, h("button", { class: "tb-link", type: "button", "data-run-id": id }, id.slice(0, 8))),
    );
    this.open(
      node.name,
      pill(node.state, node.state_type),
      h("p", {}, `${count(node.count)} runs of ${node.task_key}: ${count(node.done)} finished`,
        node.duration !== null ? `, ${formatDuration(node.duration)}` : ""),
      h("h4", {}, "By state"),
      h("ul", { class: "tb-tally" }, ...tally),
      members.length > 0 && h("h4", {}, "Runs (failed first)"),
      members.length > 0 && h("ul", { class: "tb-members" }, ...members),
    );
    this.waitingFor = node.id;
    this.element.querySelectorAll<HTMLButtonElement>("button[data-run-id]").forEach((button) => {
      button.addEventListener("click", () => this.load(button.dataset["runId"] ?? "", button.textContent ?? ""));
    });
  }

  load(taskRunId: string, title: string): void {
    this.open(title, h("p", { class: "tb-muted" }, "Loading\u2026"));
    this.waitingFor = taskRunId;
    window.clearTimeout(this.busyTimer);
    this.busyTimer = window.setTimeout(() => {
      if (this.waitingFor === taskRunId) {
        this.body().append(h("p", { class: "tb-muted" }, "The kernel answers once it is idle."));
      }
    }, BUSY_HINT_MS);
    this.request(taskRunId);
  }

  /** Show a reply from the kernel, if it is the one the panel waits for. */
  receive(reply: DetailsReply): void {
    if (reply.task_run_id !== this.waitingFor || this.element.hidden) return;
    window.clearTimeout(this.busyTimer);
    if (reply.details === null) {
      this.open("Task run", h("p", { class: "tb-error" }, reply.error ?? "No details."));
      return;
    }
    const { run } = reply.details;
    this.open(run.name, pill(run.state, run.state_type), ...sections(reply.details));
  }

  private open(title: string, ...content: (Node | false)[]): void {
    const close = h("button", { class: "tb-close", type: "button", title: "Close", "aria-label": "Close" }, TIMES);
    close.addEventListener("click", () => {
      this.close();
      this.onClose();
    });
    this.element.replaceChildren(
      h("header", {}, h("strong", { class: "tb-panel-title" }, title), close),
      h("div", { class: "tb-panel-body" }, ...content.filter((c): c is Node => c !== false)),
    );
    this.element.hidden = false;
  }

  private body(): HTMLElement {
    return this.element.querySelector(".tb-panel-body") ?? this.element;
  }
}

function sections(details: RunDetails): Node[] {
  const { run } = details;
  const facts = h(
    "p",
    { class: "tb-facts" },
    run.duration !== null ? `${formatDuration(run.duration)}` : "not finished",
    run.run_count > 1 ? ` \u00b7 ${run.run_count} attempts` : "",
    run.state_message ? ` \u00b7 ${run.state_message}` : "",
  );
  const out: Node[] = [facts];
  if (details.error) {
    out.push(
      h("h4", {}, "Failure"),
      h("p", { class: "tb-error" }, details.error.message || details.error.exception_type),
      h("pre", { class: "tb-traceback" }, details.error.traceback),
    );
  }
  out.push(h("h4", {}, "State history"), history(details));
  out.push(h("h4", {}, "Inputs and outputs"), inputsOutputs(details));
  if (details.artifacts.length > 0) {
    const total = `${count(details.artifacts.length)}${details.more_artifacts ? "+" : ""}`;
    out.push(h("h4", {}, `Artifacts (${total})`), artifacts(details));
  }
  out.push(h("h4", {}, `Logs (${count(details.logs.length + details.logs_omitted)})`), logs(details));
  return out;
}

function history(details: RunDetails): HTMLElement {
  return h(
    "ol",
    { class: "tb-history" },
    ...details.history.map((state) =>
      h("li", {}, h("span", { class: "tb-time" }, formatTime(state.timestamp)), " ",
        pill(state.name, state.type), state.message ? ` ${state.message}` : ""),
    ),
  );
}

function inputsOutputs(details: RunDetails): HTMLElement {
  const upstream = details.upstream.map((run) => run.name).join(", ");
  const more = details.upstream_omitted > 0 ? ` and ${count(details.upstream_omitted)} more` : "";
  return h(
    "dl",
    { class: "tb-io" },
    h("dt", {}, "Upstream"),
    h("dd", {}, upstream ? upstream + more : "none"),
    h("dt", {}, "Cache key"),
    h("dd", {}, h("code", {}, details.run.cache_key ?? "none")),
    h("dt", {}, "Result"),
    h("dd", {}, details.result ? h("code", {}, details.result) : "not persisted"),
  );
}

/** Rows drawn of a table artifact (the kernel sends no more than 50). */
const TABLE_ROWS = 50;

function artifacts(details: RunDetails): HTMLElement {
  const older = details.more_artifacts
    ? h("p", { class: "tb-muted" }, "The newest are shown; the run's page in the console, or ",
      h("code", {}, `taskbook artifacts ls --run ${details.run.flow_run_id?.slice(0, 8) ?? "RUN"} --all`), ", lists more.")
    : null;
  return h("div", { class: "tb-artifacts" }, older, ...details.artifacts.map(artifact));
}

function artifact(item: ArtifactSummary): HTMLElement {
  // Clipped markdown says so in its text; an image URL too long to send is left out.
  const body = item.type === "image" && item.omitted > 0
    ? h("p", { class: "tb-muted" }, `The image's URL (${count(item.omitted)} characters) is too long to send here; the run's page shows it.`)
    : drawArtifactBody(item, { markdown: safeMarkdown, maxRows: TABLE_ROWS, omitted: item.type === "table" ? item.omitted : 0 });
  return h("section", { class: "tb-artifact", "data-artifact-type": item.type, "data-artifact-id": item.id, "aria-label": artifactTitle(item) },
    h("div", { class: "tb-artifact-head" }, h("strong", {}, artifactTitle(item)), " ",
      h("span", { class: "tb-time" }, `${item.key ? `${item.type} \u00b7 ` : ""}${formatTime(item.created)}`)),
    item.description ? h("p", { class: "tb-muted tb-artifact-description" }, item.description) : null,
    body);
}

function logs(details: RunDetails): HTMLElement {
  if (details.logs.length === 0) return h("p", { class: "tb-muted" }, "No log lines.");
  const lines = details.logs.map((line) =>
    h("div", { class: `tb-log tb-log-${line.level_name.toLowerCase()}` },
      h("span", { class: "tb-time" }, formatTime(line.timestamp)), ` ${line.level_name} `, line.message),
  );
  const omitted = details.logs_omitted > 0
    ? h("div", { class: "tb-muted" }, `\u2026 ${count(details.logs_omitted)} earlier lines`)
    : null;
  return h("div", { class: "tb-logs" }, omitted, ...lines);
}

function pill(name: string, type?: RunDetails["run"]["state_type"]): HTMLElement {
  return h("span", { class: `tb-pill ${stateClass(name, type ?? null)}` }, name);
}
