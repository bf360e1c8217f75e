/**
 * "Edit schedules": a dialog with one row per schedule (cron or interval, time zone,
 * on or off), rows added and removed, checked as one types. Saving replaces the
 * deployment's schedules in one request; a refusal opens the dialog again as it was,
 * with the server's reason. Unchanged schedules keep their place in time.
 */

import { Dialog, Notification } from "@jupyterlab/apputils";
import { Widget } from "@lumino/widgets";
import { h } from "../widgets/dom";
import type { TaskbookApi } from "./api";
import { ScheduleFields, editableSpec } from "./schedule-fields";
import type { DeploymentWithVersions, ScheduleSpec } from "./types";
import { describe } from "./view";

interface Row {
  fields: ScheduleFields;
  active: HTMLInputElement;
  parameters: Record<string, unknown>;
  catchup: "latest" | "all";
  node: HTMLElement;
  /** The interval as the store had it, if the row was one. */
  stored: ScheduleSpec | null;
}

export class ScheduleEditor extends Widget implements Dialog.IBodyWidget<ScheduleSpec[] | string> {
  private readonly rows: Row[] = [];
  private readonly list = h("div", { class: "tb-schedule-rows" });
  private readonly empty = h("div", { class: "tb-muted" }, "No schedule: the deployment runs only when started.");

  constructor(initial: ScheduleSpec[], refusal: string | null) {
    super({ node: h("div", { class: "tb-schedule-editor" }) });
    const add = h("button", { type: "button", class: "tb-button tb-add-schedule" }, "Add schedule");
    add.addEventListener("click", () => {
      this.addRow({ cron: "0 6 * * *" });
      this.rows[this.rows.length - 1]?.node.querySelector<HTMLElement>("select")?.focus();
    });
    this.node.append(
      refusal ? h("div", { class: "tb-error tb-refusal", role: "alert" }, refusal) : "",
      this.list, this.empty, h("div", { class: "tb-actions" }, add));
    for (const spec of initial) {
      const bare = spec.spec !== undefined && spec.cron === undefined && spec.interval === undefined;
      this.addRow(bare && spec.spec ? { ...spec, ...editableSpec(spec.spec) } : spec);
    }
    this.check();
  }

  protected override onAfterAttach(): void {
    this.check();
  }

  private addRow(spec: ScheduleSpec): void {
    const active = h("input", { type: "checkbox", name: "active", checked: spec.active !== false }) as HTMLInputElement;
    const remove = h("button", { type: "button", class: "tb-button tb-danger tb-remove-schedule" }, "Remove");
    const node = h("fieldset", { class: "tb-schedule-row" }, h("legend", {}, `Schedule ${this.rows.length + 1}`));
    const fields = new ScheduleFields(spec, false, () => this.check());
    const row: Row = { fields, active, parameters: spec.parameters ?? {}, catchup: spec.catchup ?? "latest", node,
      stored: spec.spec ? spec : null };
    node.append(fields.node, h("div", { class: "tb-actions" }, h("label", { class: "tb-check" }, active, " On"), remove));
    remove.addEventListener("click", () => {
      this.rows.splice(this.rows.indexOf(row), 1);
      node.remove();
      this.renumber();
      this.check();
    });
    this.rows.push(row);
    this.list.append(node);
    this.check();
  }

  private renumber(): void {
    this.rows.forEach((row, i) => {
      const legend = row.node.querySelector("legend");
      if (legend) legend.textContent = `Schedule ${i + 1}`;
    });
  }

  /** The first problem ("schedule 2: ..."), or null; enables Save only when there is none. */
  private check(): string | null {
    this.empty.hidden = this.rows.length > 0;
    let error: string | null = null;
    this.rows.forEach((row, i) => {
      const problem = row.fields.error();
      if (problem && error === null) error = `Schedule ${i + 1}: ${problem}`;
    });
    const accept = this.node.closest(".jp-Dialog")?.querySelector<HTMLButtonElement>("button.jp-mod-accept");
    if (accept) accept.disabled = error !== null;
    return error;
  }

  /** The rows as the API takes them, valid or not (to open the dialog again as it was). */
  specs(): ScheduleSpec[] {
    return this.rows.flatMap((row) => {
      const spec = row.fields.value();
      if (!spec) return [];
      // An interval left as it was goes back as stored, keeping its anchor.
      const same = row.stored && spec.interval === row.stored.interval && spec.timezone === row.stored.timezone;
      const schedule = same && row.stored?.spec ? { spec: row.stored.spec } : spec;
      return [{ ...schedule, active: row.active.checked, parameters: row.parameters, catchup: row.catchup }];
    });
  }

  getValue(): ScheduleSpec[] | string {
    return this.check() ?? this.specs();
  }
}

/** Edit the schedules of `deployment`; resolves with the saved deployment, or null. */
export async function editSchedules(api: TaskbookApi, deployment: DeploymentWithVersions): Promise<DeploymentWithVersions | null> {
  let specs: ScheduleSpec[] = deployment.schedules.map((schedule) => ({
    ...editableSpec(schedule.spec), active: schedule.active, parameters: schedule.parameters,
    catchup: schedule.catchup === "all" ? "all" : "latest",
  }));
  let refusal: string | null = null;
  for (;;) {
    const body: ScheduleEditor = new ScheduleEditor(specs, refusal);
    const result: Dialog.IResult<ScheduleSpec[] | string> = await new Dialog<ScheduleSpec[] | string>({
      title: `Schedules of ${deployment.name}`,
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: "Save" })],
      focusNodeSelector: "select, button.tb-add-schedule",
    }).launch();
    if (!result.button.accept || result.value === null) return null;
    specs = body.specs();
    if (typeof result.value === "string") {
      refusal = result.value;
      continue;
    }
    try {
      const saved = await api.setSchedules(deployment.name, result.value);
      Notification.success(`Saved ${saved.schedules.length} schedule(s) of ${deployment.name}.`, { autoClose: 4000 });
      return saved;
    } catch (error) {
      refusal = describe(error);
    }
  }
}
