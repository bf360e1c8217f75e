/**
 * The Deployments tab: each deployment with its schedules in words and their next runs,
 * paused or not, its last run's state, "Run now", "Run with parameters…" and Pause /
 * Resume. Its name opens the deployment in a main-area tab (versions, diff, schedules,
 * delete).
 */

import { formatDateTime, h } from "../widgets/dom";
import type { TaskbookApi } from "./api";
import { Poller } from "./poller";
import { runWithParameters, startRun } from "./run-dialog";
import type { Deployment, Run } from "./types";
import { type View, describe, notice, pill, replaceKeepingFocus } from "./view";

const REFRESH_MS = 5000;

export class DeploymentsView implements View {
  readonly id = "deployments";
  readonly label = "Deployments";
  readonly node = h("div", { class: "tb-view tb-deployments" });
  readonly poller = new Poller((signal) => this.refresh(signal), REFRESH_MS);
  private readonly list = h("div", { class: "tb-list", role: "list" });
  /** Outcomes of the actions, kept across refreshes until the next click. */
  private readonly messages = new Map<string, HTMLElement>();

  constructor(private readonly api: TaskbookApi, private readonly openDeployment: (name: string) => void,
              private readonly openRun: (id: string) => void) {
    this.node.append(this.list);
  }

  private async refresh(signal: AbortSignal): Promise<void> {
    let deployments: Deployment[];
    try {
      deployments = await this.api.listDeployments(signal);
    } catch (error) {
      if (!signal.aborted) this.list.replaceChildren(notice(describe(error), true));
      return;
    }
    replaceKeepingFocus(this.list, "data-focus-key", deployments.length
      ? deployments.map((deployment) => this.card(deployment))
      : [notice("No deployments. Promote a notebook with %promote or the notebook toolbar's Promote button.")]);
  }

  private card(deployment: Deployment): HTMLElement {
    const name = deployment.name;
    const message = this.messages.get(name) ?? h("div", { class: "tb-run-message", role: "status" });
    this.messages.set(name, message);
    const button = (label: string, className: string, act: () => Promise<string | null>): HTMLButtonElement => {
      const element = h("button", { type: "button", class: `tb-button ${className}`, "data-focus-key": `${name}:${className}` }, label);
      element.addEventListener("click", () => {
        element.disabled = true;
        message.className = "tb-run-message tb-muted";
        act().then(
          (text) => { if (text !== null) message.textContent = text; this.poller.poke(); },
          (error: unknown) => { message.className = "tb-run-message tb-error"; message.textContent = describe(error); },
        ).finally(() => { element.disabled = false; });
      });
      return element;
    };
    const started = (run: Run | null): string | null => {
      if (!run) return null;
      this.showStarted(message, run);
      return null;
    };
    const title = h("a", { href: "#", class: "tb-name tb-link tb-open-deployment", "data-focus-key": `${name}:open`,
      title: `Open ${name}: versions, schedules, runs` }, name);
    title.addEventListener("click", (event) => {
      event.preventDefault();
      this.openDeployment(name);
    });
    const schedules = deployment.schedules.map((schedule) =>
      h("li", { class: schedule.active ? "" : "tb-muted" }, schedule.description,
        schedule.active && schedule.next_runs?.[0]
          ? h("span", { class: "tb-muted tb-next-run" }, ` · next ${formatDateTime(schedule.next_runs[0])}`) : ""));
    return h("div", { class: "tb-card", role: "listitem", "data-deployment": name },
      h("div", { class: "tb-row-main" }, title,
        h("span", { class: "tb-muted" }, deployment.version === null ? "" : `v${deployment.version}`),
        deployment.paused ? h("span", { class: "tb-pill tb-s-paused" }, "Paused") : null),
      schedules.length ? h("ul", { class: "tb-schedules" }, ...schedules) : h("div", { class: "tb-muted" }, "No schedule"),
      h("div", { class: "tb-row-sub tb-muted" },
        h("span", {}, "Last run "), pill(deployment.last_run_state, deployment.last_run_state_type),
        h("span", {}, formatDateTime(deployment.last_run_time))),
      h("div", { class: "tb-actions" },
        button("Run now", "tb-primary tb-run-now", async () => {
          message.textContent = "Starting\u2026";
          return started(await startRun(this.api, name));
        }),
        button("Run with parameters\u2026", "tb-run-with", async () => started(await runWithParameters(this.api, name))),
        button(deployment.paused ? "Resume" : "Pause", "tb-pause-toggle", async () => {
          const updated = deployment.paused ? await this.api.resumeDeployment(name) : await this.api.pauseDeployment(name);
          return updated.paused ? "Paused: workers claim none of its runs." : "Resumed.";
        })),
      message);
  }

  private showStarted(message: HTMLElement, run: Run): void {
    const open = h("a", { href: "#", class: "tb-link tb-open-started" }, "Open it");
    open.addEventListener("click", (event) => {
      event.preventDefault();
      this.openRun(run.id);
    });
    message.replaceChildren(`Started ${run.name} (${run.state}). `, open);
  }
}
