/**
 * A deployment in a main-area tab: its schedules with their next runs, its last runs
 * with their states, its versions with what changed and a cell-level diff between any
 * two, and the actions: run now, run with parameters, pause or resume, edit the
 * schedules, follow (notifications), delete. Refreshed every five seconds while shown.
 */

import { Notification } from "@jupyterlab/apputils";
import { formatDateTime, formatDuration, h } from "../widgets/dom";
import type { TaskbookApi } from "./api";
import { drawDiff } from "./diff-view";
import { isFollowed, setFollowed } from "./follows";
import { PolledPanel } from "./polled-panel";
import { runWithParameters, startRun } from "./run-dialog";
import type { Console } from "./run-panel";
import { editSchedules } from "./schedule-editor";
import type { DeploymentWithVersions, Run } from "./types";
import { confirm, describe, notice, pill, replaceKeepingFocus } from "./view";

const REFRESH_MS = 5000;
const LAST_RUNS = 20;

export class DeploymentPanel extends PolledPanel {
  private readonly head = h("div", { class: "tb-run-head" });
  private readonly actions = h("div", { class: "tb-actions", role: "toolbar", "aria-label": "Deployment actions" });
  private readonly status = h("div", { class: "tb-run-message", role: "status" });
  private readonly schedules = h("div", { class: "tb-deployment-schedules" });
  private readonly runs = h("div", { class: "tb-list", role: "list", "aria-label": "Last runs" });
  private readonly versions = h("div", { class: "tb-versions" });
  private readonly diff = h("div", { class: "tb-diff-area", "aria-live": "polite" });
  private deployment: DeploymentWithVersions | null = null;

  constructor(private readonly api: TaskbookApi, readonly deploymentName: string, private readonly console: Console) {
    super(REFRESH_MS);
    this.id = `taskbook-deployment-${deploymentName}`;
    this.addClass("tb-run-panel");
    this.addClass("tb-deployment-panel");
    this.title.label = deploymentName;
    this.title.caption = `Deployment ${deploymentName}`;
    this.title.closable = true;
    this.node.append(h("div", { class: "tb-run-page" }, this.head, this.actions, this.status,
      h("h3", { class: "tb-section-title" }, "Schedules"), this.schedules,
      h("h3", { class: "tb-section-title" }, "Last runs"), this.runs,
      h("h3", { class: "tb-section-title" }, "Versions"), this.versions, this.diff));
    this.head.append(notice("Reading\u2026"));
  }

  protected async refresh(signal: AbortSignal): Promise<void> {
    let deployment: DeploymentWithVersions;
    let runs: Run[] | Error;
    try {
      [deployment, runs] = await Promise.all([
        this.api.readDeployment(this.deploymentName, signal),
        this.api.listRuns({ deployment: this.deploymentName, limit: LAST_RUNS }, signal)
          .catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
      ]);
    } catch (error) {
      if (signal.aborted || this.goneIf(error, `Deployment ${this.deploymentName}`)) return;
      this.head.replaceChildren(notice(describe(error), true));
      return;
    }
    if (signal.aborted) return;
    this.seen = true;
    this.deployment = deployment;
    this.drawn("head", deployment, () => this.drawHead(deployment));
    this.drawn("schedules", deployment.schedules, () => this.drawSchedules(deployment));
    this.drawn("runs", runs instanceof Error ? runs.message : runs, () => this.drawRuns(runs));
    this.drawn("versions", deployment.versions, () => this.drawVersions(deployment));
  }

  private drawHead(deployment: DeploymentWithVersions): void {
    const latest = deployment.versions[0];
    this.head.replaceChildren(
      h("h2", { class: "tb-run-title" }, deployment.name, " ",
        h("span", { class: "tb-muted" }, deployment.version === null ? "" : `v${deployment.version}`), " ",
        deployment.paused ? h("span", { class: "tb-pill tb-s-paused" }, "Paused") : ""),
      latest ? h("div", { class: "tb-muted tb-mono" }, latest.notebook_path) : "");
    const follow = isFollowed(deployment.name);
    replaceKeepingFocus(this.actions, "data-action", [
      this.action("Run now", "tb-primary", async () => {
        const run = await startRun(this.api, deployment.name);
        this.said(`Started ${run.name} (${run.state}).`, run);
      }),
      this.action("Run with parameters\u2026", "tb-run-with", async () => {
        const run = await runWithParameters(this.api, deployment.name);
        if (run) this.said(`Started ${run.name} (${run.state}).`, run);
      }),
      this.action(deployment.paused ? "Resume" : "Pause", "tb-pause-toggle", async () => {
        const updated = deployment.paused
          ? await this.api.resumeDeployment(deployment.name) : await this.api.pauseDeployment(deployment.name);
        this.said(updated.paused ? "Paused: no new scheduled runs, and workers claim none of its runs." : "Resumed.");
      }),
      this.action("Edit schedules\u2026", "tb-edit-schedules", async () => {
        const current = this.deployment ?? deployment;
        if (await editSchedules(this.api, current)) this.said("Schedules saved.");
      }),
      this.action(follow ? "Unfollow" : "Follow", "tb-follow", async () => {
        setFollowed(deployment.name, !follow);
        this.forget("head");
        this.said(follow ? "No longer notified of its runs." : "You are notified when its runs fail, crash or wait for input.");
      }),
      this.action("Delete\u2026", "tb-danger tb-delete-deployment", () => this.delete(deployment)),
    ]);
  }

  private async delete(deployment: DeploymentWithVersions): Promise<void> {
    const body = `${deployment.name}, its ${deployment.versions.length} version(s), its schedules and its runs that have not started are deleted. Runs that started stay on record. This cannot be undone.`;
    if (!(await confirm(`Delete deployment ${deployment.name}?`, body, "Delete"))) return;
    await this.api.deleteDeployment(deployment.name);
    setFollowed(deployment.name, false);
    Notification.success(`Deleted deployment ${deployment.name}.`, { autoClose: 5000 });
    this.console.changed();
    this.dispose();
  }

  private action(label: string, className: string, run: () => Promise<void>): HTMLButtonElement {
    const button = h("button", { type: "button", class: `tb-button ${className}`, "data-action": className }, label);
    button.addEventListener("click", () => {
      button.disabled = true;
      this.status.textContent = "";
      run().catch((error: unknown) => this.say(describe(error), true)).finally(() => { button.disabled = false; });
    });
    return button;
  }

  private said(text: string, run: Run | null = null): void {
    this.say(text, false);
    if (run) {
      const open = h("a", { href: "#", class: "tb-link tb-open-started" }, " Open it");
      open.addEventListener("click", (event) => {
        event.preventDefault();
        this.console.openRun(run.id);
      });
      this.status.append(open);
    }
    this.console.changed();
    this.poller.poke();
  }

  private say(text: string, error: boolean): void {
    this.status.className = `tb-run-message ${error ? "tb-error" : "tb-muted"}`;
    this.status.textContent = text;
  }

  private drawSchedules(deployment: DeploymentWithVersions): void {
    if (!deployment.schedules.length) {
      this.schedules.replaceChildren(notice("No schedule: it runs when started (Run now, `taskbook run`)."));
      return;
    }
    this.schedules.replaceChildren(h("ul", { class: "tb-schedules" }, ...deployment.schedules.map((schedule) =>
      h("li", { class: schedule.active ? "" : "tb-muted" },
        schedule.description, schedule.active ? "" : " (off)",
        schedule.active && schedule.next_runs.length
          ? h("div", { class: "tb-next-runs tb-muted" }, `Next: ${schedule.next_runs.map(formatDateTime).join(", ")}`)
          : ""))));
  }

  private drawRuns(runs: Run[] | Error): void {
    if (runs instanceof Error) {
      this.runs.replaceChildren(notice(describe(runs), true));
      return;
    }
    replaceKeepingFocus(this.runs, "data-run-id", runs.length ? runs.map((run) => {
      const row = h("div", { class: "tb-row", role: "listitem", tabindex: 0, "data-run-id": run.id },
        h("div", { class: "tb-row-main" }, h("span", { class: "tb-name" }, run.name),
          h("span", { class: "tb-muted" }, run.deployment_version ? `v${run.deployment_version}` : ""),
          pill(run.state, run.state_type)),
        h("div", { class: "tb-row-sub tb-muted" }, h("span", {}, formatDateTime(run.start_time ?? run.scheduled_time ?? run.created)),
          h("span", {}, formatDuration(run.duration))));
      row.addEventListener("click", () => this.console.openRun(run.id));
      row.addEventListener("keydown", (event) => { if (event.key === "Enter") this.console.openRun(run.id); });
      return row;
    }) : [notice("No runs yet.")]);
  }

  private drawVersions(deployment: DeploymentWithVersions): void {
    const versions = deployment.versions;
    const options = (selected: number | undefined): HTMLOptionElement[] => versions.map((version) =>
      h("option", { value: version.version, selected: version.version === selected }, `v${version.version}`));
    const from = h("select", { name: "from", "aria-label": "Compare from version" }, ...options(versions[1]?.version));
    const to = h("select", { name: "to", "aria-label": "Compare to version" }, ...options(versions[0]?.version));
    const compare = h("button", { type: "button", class: "tb-button tb-compare" }, "Show changes");
    compare.addEventListener("click", () => void this.showDiff(Number(from.value), Number(to.value)));
    this.versions.replaceChildren(
      h("ul", { class: "tb-version-list" }, ...versions.map((version) => h("li", { "data-version": version.version },
        h("strong", {}, `v${version.version}`), " ", h("span", { class: "tb-muted" }, formatDateTime(version.created)),
        version.changes?.length ? h("span", {}, ` \u2014 ${version.changes.join("; ")}`) : ""))),
      versions.length > 1 ? h("div", { class: "tb-toolbar" }, "Compare ", from, " with ", to, compare) : "");
  }

  private async showDiff(from: number, to: number): Promise<void> {
    this.diff.replaceChildren(notice("Reading\u2026"));
    try {
      this.diff.replaceChildren(drawDiff(await this.api.diffVersions(this.deploymentName, from, to)));
    } catch (error) {
      this.diff.replaceChildren(notice(describe(error), true));
    }
  }
}
