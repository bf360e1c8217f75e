/**
 * The Deployments tab: each deployment with its schedules in words, paused or not, its
 * last run's state, a "Run now" button that starts a Scheduled run for a worker with the
 * defaults, "Run with parameters…" that asks for them first, and Pause / Resume.
 */

import { Dialog } from "@jupyterlab/apputils";
import { Widget } from "@lumino/widgets";
import { formatDateTime, h } from "../widgets/dom";
import type { TaskbookApi } from "./api";
import { ParametersForm } from "./parameters-form";
import { Poller } from "./poller";
import type { Deployment } from "./types";
import { type View, describe, notice, pill } from "./view";

const REFRESH_MS = 5000;

export class DeploymentsView implements View {
  readonly id = "deployments";
  readonly label = "Deployments";
  readonly node = h("div", { class: "tb-view tb-deployments" });
  readonly poller = new Poller((signal) => this.refresh(signal), REFRESH_MS);
  private readonly list = h("div", { class: "tb-list", role: "list" });
  /** Outcomes of "Run now", kept across refreshes until the next click. */
  private readonly messages = new Map<string, HTMLElement>();

  constructor(private readonly api: TaskbookApi) {
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
    this.list.replaceChildren(...(deployments.length
      ? deployments.map((deployment) => this.card(deployment))
      : [notice("No deployments. Promote a notebook with %promote.")]));
  }

  private card(deployment: Deployment): HTMLElement {
    const run = h("button", { type: "button", class: "tb-button tb-primary" }, "Run now");
    const message = this.messages.get(deployment.name) ?? h("div", { class: "tb-run-message" });
    this.messages.set(deployment.name, message);
    run.addEventListener("click", () => void this.start(deployment.name, run, message));
    const withParameters = h("button", { type: "button", class: "tb-button tb-run-with" }, "Run with parameters\u2026");
    withParameters.addEventListener("click", () => void this.startWithParameters(deployment.name, withParameters, message));
    const toggle = h("button", { type: "button", class: "tb-button tb-pause-toggle" }, deployment.paused ? "Resume" : "Pause");
    toggle.addEventListener("click", () => void this.togglePause(deployment, toggle, message));
    const schedules = deployment.schedules.map((schedule) =>
      h("li", { class: schedule.active ? "" : "tb-muted" }, schedule.description));
    return h("div", { class: "tb-card", role: "listitem", "data-deployment": deployment.name },
      h("div", { class: "tb-row-main" },
        h("span", { class: "tb-name" }, deployment.name),
        h("span", { class: "tb-muted" }, deployment.version === null ? "" : `v${deployment.version}`),
        deployment.paused ? h("span", { class: "tb-pill tb-s-paused" }, "Paused") : null),
      schedules.length ? h("ul", { class: "tb-schedules" }, ...schedules) : h("div", { class: "tb-muted" }, "No schedule"),
      h("div", { class: "tb-row-sub tb-muted" },
        h("span", {}, "Last run "), pill(deployment.last_run_state, deployment.last_run_state_type),
        h("span", {}, formatDateTime(deployment.last_run_time))),
      deployment.next_run_time ? h("div", { class: "tb-muted" }, `Next ${formatDateTime(deployment.next_run_time)}`) : null,
      h("div", { class: "tb-actions" }, run, withParameters, toggle), message);
  }

  private async togglePause(deployment: Deployment, button: HTMLButtonElement, message: HTMLElement): Promise<void> {
    button.disabled = true;
    message.className = "tb-run-message tb-muted";
    try {
      const updated = deployment.paused
        ? await this.api.resumeDeployment(deployment.name)
        : await this.api.pauseDeployment(deployment.name);
      message.textContent = updated.paused ? "Paused: workers claim none of its runs." : "Resumed.";
      this.poller.poke();
    } catch (error) {
      message.className = "tb-run-message tb-error";
      message.textContent = describe(error);
    } finally {
      button.disabled = false;
    }
  }

  /** Ask for the parameters (pre-filled with the latest version's defaults), then start. */
  private async startWithParameters(name: string, button: HTMLButtonElement, message: HTMLElement): Promise<void> {
    button.disabled = true;
    let form: ParametersForm;
    try {
      const deployment = await this.api.readDeployment(name);
      const latest = [...(deployment.versions ?? [])].sort((a, b) => b.version - a.version)[0];
      form = new ParametersForm(latest?.parameters ?? []);
    } catch (error) {
      message.className = "tb-run-message tb-error";
      message.textContent = describe(error);
      button.disabled = false;
      return;
    }
    const body = new Widget({ node: h("div", { class: "tb-run-dialog" }, form.node) });
    const result = await new Dialog({
      title: `Run ${name} now`,
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: "Run" })],
      focusNodeSelector: "input",
    }).launch();
    button.disabled = false;
    if (!result.button.accept) return;
    let parameters: Record<string, unknown>;
    try {
      parameters = form.values();
    } catch (error) {
      message.className = "tb-run-message tb-error";
      message.textContent = describe(error);
      return;
    }
    await this.start(name, button, message, parameters);
  }

  private async start(name: string, button: HTMLButtonElement, message: HTMLElement,
                      parameters?: Record<string, unknown>): Promise<void> {
    button.disabled = true;
    message.className = "tb-run-message tb-muted";
    message.textContent = "Starting\u2026";
    try {
      const run = await this.api.startRun(name, parameters);
      message.textContent = `Started ${run.name} (${run.state}).`;
      this.poller.poke();
    } catch (error) {
      message.className = "tb-run-message tb-error";
      message.textContent = describe(error);
    } finally {
      button.disabled = false;
    }
  }
}
