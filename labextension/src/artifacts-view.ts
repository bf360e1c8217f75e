/**
 * A run's artifacts on its page: each with its key, type, the task run (or subflow) that
 * made it, its time and description, and its content. Markdown goes through JupyterLab's
 * own renderer, which sanitizes it (the artifact is untrusted); tables, progress bars
 * and images are drawn as DOM (see ../widgets/artifact-view). Read every few seconds
 * while the run goes on, once more when it has finished, and again when asked (a tab
 * switch); an artifact is redrawn only when it changed, so a moving progress bar leaves
 * the rest (and the reader's scroll) alone.
 */

import { MimeModel, type IRenderMimeRegistry } from "@jupyterlab/rendermime";
import { artifactTitle, drawArtifactBody, safeMarkdown } from "../widgets/artifact-view";
import { count, formatDateTime, h } from "../widgets/dom";
import type { TaskbookApi } from "./api";
import type { Artifact, Run, StateType } from "./types";
import { FINAL_TYPES, describe, notice, replaceKeepingFocus } from "./view";

/** How often a live run's artifacts are read again (progress moves). */
const LIVE_MS = 2000;
/** Rows of a table drawn; the rest are counted. */
const TABLE_ROWS = 100;
/** The server lists a run's first 500 artifacts. */
const LISTED = 500;

/** What the view asks of the run page around it. */
export interface ArtifactsHost {
  /** The name of a task run of this run, if the page knows it. */
  taskName(id: string): string | null;
  selectTask(id: string): void;
  openRun(id: string): void;
  /** The number of artifacts read, for the tab's label ("500+" at the server's cap). */
  counted(label: string): void;
}

interface Drawn {
  key: string;
  node: HTMLElement;
  disposers: (() => void)[];
}

export class ArtifactsView {
  readonly node = h("div", { class: "tb-artifacts" });
  private readonly drawn = new Map<string, Drawn>();
  /** The run's state when its artifacts were last read, and when (ms). */
  private readState: StateType | null = null;
  private readAt = 0;
  private shown: "none" | "list" | "error" | null = null;

  constructor(
    private readonly api: TaskbookApi,
    private readonly runId: string,
    private readonly host: ArtifactsHost,
    private readonly rendermime: IRenderMimeRegistry | null,
  ) {
    this.node.append(notice("Reading\u2026"));
  }

  /** Read the artifacts if it is time: `asked` (a tab switch, an action), the run's
   * state changed (the last read once it has finished), or every LIVE_MS while it goes on. */
  async refresh(run: Run, signal: AbortSignal, asked: boolean): Promise<void> {
    const live = !FINAL_TYPES.has(run.state_type);
    const due = asked || run.state_type !== this.readState || (live && performance.now() - this.readAt >= LIVE_MS);
    if (!due) return;
    const started = performance.now();
    let artifacts: Artifact[];
    try {
      artifacts = await this.api.readRunArtifacts(this.runId, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      this.clear();
      this.shown = "error";
      this.node.replaceChildren(notice(describe(error), true));
      return;
    }
    this.readState = run.state_type;
    this.readAt = started;
    this.host.counted(`Artifacts (${count(artifacts.length)}${artifacts.length >= LISTED ? "+" : ""})`);
    this.draw(artifacts);
  }

  dispose(): void {
    this.clear();
  }

  private draw(artifacts: Artifact[]): void {
    if (!artifacts.length) {
      this.clear();
      if (this.shown !== "none") this.node.replaceChildren(notice("No artifacts."));
      this.shown = "none";
      return;
    }
    const nodes = artifacts.map((artifact) => this.item(artifact));
    const ids = new Set(artifacts.map((artifact) => artifact.id));
    for (const [id, item] of this.drawn) if (!ids.has(id)) this.drop(id, item);
    const current = [...this.node.children];
    if (this.shown === "list" && current.length === nodes.length
      && nodes.every((node, i) => current[i]?.getAttribute("data-artifact-id") === node.getAttribute("data-artifact-id"))) {
      // The same artifacts in the same order: swap only those that changed, in place.
      nodes.forEach((node, i) => { if (current[i] !== node) current[i]?.replaceWith(node); });
      return;
    }
    this.shown = "list";
    const capped = artifacts.length >= LISTED
      ? notice(`The first ${LISTED} are listed; \`taskbook artifacts ls --run ${this.runId.slice(0, 8)} --all --limit 10000\` lists more.`)
      : null;
    replaceKeepingFocus(this.node, "data-artifact-id", capped ? [...nodes, capped] : nodes);
  }

  /** The artifact's section: the one drawn before if the artifact did not change. */
  private item(artifact: Artifact): HTMLElement {
    const task = artifact.task_run_id ? this.host.taskName(artifact.task_run_id) : null;
    const key = JSON.stringify([artifact.updated, artifact.description, task, artifact.flow_run_id]);
    const before = this.drawn.get(artifact.id);
    if (before?.key === key) return before.node;
    if (before) this.drop(artifact.id, before);
    const disposers: (() => void)[] = [];
    const node = this.section(artifact, task, disposers);
    this.drawn.set(artifact.id, { key, node, disposers });
    return node;
  }

  private section(artifact: Artifact, task: string | null, disposers: (() => void)[]): HTMLElement {
    const headingId = `tb-artifact-${artifact.id}`;
    const updated = artifact.updated !== artifact.created ? ` \u00b7 updated ${formatDateTime(artifact.updated)}` : "";
    return h("section", { class: "tb-artifact", "data-artifact-type": artifact.type, "data-artifact-id": artifact.id,
      "aria-labelledby": headingId },
      // An artifact without a key is titled by its type ("Untitled table").
      h("h3", { class: "tb-artifact-title", id: headingId }, artifactTitle(artifact),
        artifact.key ? h("span", { class: "tb-artifact-type tb-muted" }, ` ${artifact.type}`) : ""),
      h("div", { class: "tb-artifact-meta tb-muted" }, ...this.origin(artifact, task),
        ` \u00b7 ${formatDateTime(artifact.created)}${updated}`),
      artifact.description ? h("p", { class: "tb-artifact-description" }, artifact.description) : "",
      h("div", { class: "tb-artifact-body" }, drawArtifactBody(artifact, {
        markdown: (source) => this.markdown(source, disposers),
        maxRows: TABLE_ROWS,
      })));
  }

  /** Which run made it: a task run of this run, the run itself, or a subflow. */
  private origin(artifact: Artifact, task: string | null): (Node | string)[] {
    const subflow = artifact.flow_run_id && artifact.flow_run_id !== this.runId ? artifact.flow_run_id : null;
    const parts: (Node | string)[] = [];
    if (artifact.task_run_id) {
      const id = artifact.task_run_id;
      parts.push("Task run ", task && !subflow ? link(task, () => this.host.selectTask(id)) : h("code", {}, id.slice(0, 8)));
    } else {
      parts.push(subflow ? "Flow run" : "This flow run");
    }
    if (subflow) parts.push(" of subflow ", link(subflow.slice(0, 8), () => this.host.openRun(subflow)));
    return parts;
  }

  /** JupyterLab's markdown renderer, sanitizing (the model is not trusted); without
   * rendermime, the widgets' DOM-only renderer. */
  private markdown(source: string, disposers: (() => void)[]): Node {
    if (!this.rendermime) return safeMarkdown(source);
    const renderer = this.rendermime.createRenderer("text/markdown");
    disposers.push(() => renderer.dispose());
    renderer.renderModel(new MimeModel({ data: { "text/markdown": source }, trusted: false })).catch((error: unknown) => {
      console.warn("[taskbook] could not render an artifact's markdown", error);
    });
    return renderer.node;
  }

  private drop(id: string, item: Drawn): void {
    for (const dispose of item.disposers) dispose();
    this.drawn.delete(id);
  }

  private clear(): void {
    for (const [id, item] of this.drawn) this.drop(id, item);
  }
}

function link(text: string, onClick: () => void): HTMLElement {
  const anchor = h("a", { href: "#", class: "tb-artifact-link" }, text);
  anchor.addEventListener("click", (event) => {
    event.preventDefault();
    onClick();
  });
  return anchor;
}
