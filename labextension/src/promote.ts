/**
 * "Promote to deployment": save the notebook, ask for a name, a schedule (none, cron with
 * presets and a time zone, or an interval) and the parameters' defaults, then POST it to
 * /taskbook/api/deployments. The server validates everything again and has the last word.
 */

import { Dialog, Notification } from "@jupyterlab/apputils";
import { Widget } from "@lumino/widgets";
import { h } from "../widgets/dom";
import type { TaskbookApi } from "./api";
import { CRON_PRESETS, cronError, intervalError } from "./cron";
import { ParametersForm } from "./parameters-form";
import type { CreateDeployment, Parameter } from "./types";
import { describe } from "./view";

const NAME_PATTERN = /^[A-Za-z0-9._-]+$/;

/** A notebook document as the command needs it: its path and a way to save it. */
export interface PromotableDocument {
  context: { path: string; save(): Promise<void> };
}

/** The file stem, made a valid deployment name. */
export function defaultName(path: string): string {
  const base = path.split("/").pop() ?? path;
  const stem = base.replace(/\.ipynb$/i, "");
  return stem.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || "notebook";
}

function browserZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  try {
    return intl.supportedValuesOf ? intl.supportedValuesOf("timeZone") : [];
  } catch {
    return [];
  }
}

type Result = { body: CreateDeployment } | { error: string };

let datalistCount = 0;

export class PromoteBody extends Widget implements Dialog.IBodyWidget<Result> {
  private readonly name: HTMLInputElement;
  private readonly kind: HTMLSelectElement;
  private readonly preset: HTMLSelectElement;
  private readonly cron: HTMLInputElement;
  private readonly cronMessage = h("div", { class: "tb-field-help tb-cron-message" });
  private readonly timezone: HTMLInputElement;
  private readonly interval: HTMLInputElement;
  private readonly intervalMessage = h("div", { class: "tb-field-help tb-interval-message" });
  private readonly nameMessage = h("div", { class: "tb-field-help tb-name-message" });
  private readonly cronRows: HTMLElement;
  private readonly intervalRows: HTMLElement;
  private readonly timezoneRow: HTMLElement;
  private readonly form: ParametersForm;

  constructor(private readonly path: string, parameters: Parameter[]) {
    super({ node: h("div", { class: "tb-promote" }) });
    this.addClass("tb-promote");
    this.name = h("input", { class: "jp-mod-styled tb-input", name: "name", type: "text", value: defaultName(path) });
    this.kind = h("select", { class: "jp-mod-styled tb-input", name: "schedule" },
      h("option", { value: "none" }, "No schedule (run on demand)"),
      h("option", { value: "cron" }, "Cron"),
      h("option", { value: "interval" }, "Interval"));
    this.preset = h("select", { class: "jp-mod-styled tb-input", name: "preset" },
      ...CRON_PRESETS.map((p) => h("option", { value: p.cron }, `${p.label} (${p.cron})`)),
      h("option", { value: "" }, "Custom"));
    this.cron = h("input", { class: "jp-mod-styled tb-input tb-mono", name: "cron", type: "text",
      value: CRON_PRESETS[1].cron, spellcheck: "false" });
    this.preset.value = CRON_PRESETS[1].cron;
    const listId = `tb-timezones-${++datalistCount}`;
    this.timezone = h("input", { class: "jp-mod-styled tb-input", name: "timezone", type: "text",
      value: browserZone(), list: listId });
    const datalist = h("datalist", { id: listId }, ...timeZones().map((zone) => h("option", { value: zone })));
    this.interval = h("input", { class: "jp-mod-styled tb-input", name: "interval", type: "text",
      value: "1h", placeholder: "15m, 1h, 1d" });
    this.form = new ParametersForm(parameters);

    this.cronRows = h("div", { class: "tb-cron-rows" },
      field("Preset", this.preset),
      field("Cron expression", this.cron, this.cronMessage));
    this.intervalRows = h("div", { class: "tb-interval-rows" },
      field("Every", this.interval, this.intervalMessage));
    this.timezoneRow = field("Time zone", this.timezone, datalist);

    this.node.append(
      h("div", { class: "tb-muted tb-promote-path" }, path),
      field("Name", this.name, this.nameMessage),
      field("Schedule", this.kind),
      this.cronRows, this.intervalRows, this.timezoneRow,
      this.form.node);

    this.preset.addEventListener("change", () => {
      if (this.preset.value) this.cron.value = this.preset.value;
      this.check();
    });
    this.cron.addEventListener("input", () => {
      const match = CRON_PRESETS.find((p) => p.cron === this.cron.value.trim());
      this.preset.value = match ? match.cron : "";
      this.check();
    });
    for (const input of [this.name, this.interval, this.timezone]) input.addEventListener("input", () => this.check());
    this.kind.addEventListener("change", () => this.check());
    this.check();
  }

  protected override onAfterAttach(): void {
    this.check();
  }

  /** Show each field's problem and enable OK only when there is none. */
  private check(): string | null {
    const kind = this.kind.value;
    this.cronRows.hidden = kind !== "cron";
    this.intervalRows.hidden = kind !== "interval";
    this.timezoneRow.hidden = kind === "none";
    const nameError = NAME_PATTERN.test(this.name.value.trim()) ? null
      : "A name is letters, digits, '.', '_' or '-'.";
    const cron = kind === "cron" ? cronError(this.cron.value) : null;
    const interval = kind === "interval" ? intervalError(this.interval.value) : null;
    const timezone = kind !== "none" && !this.timezone.value.trim() ? "Pick a time zone." : null;
    setMessage(this.nameMessage, nameError);
    setMessage(this.cronMessage, cron, kind === "cron" ? "Looks valid (the server checks it again)." : null);
    setMessage(this.intervalMessage, interval);
    const error = nameError ?? cron ?? interval ?? timezone;
    const accept = this.node.closest(".jp-Dialog")?.querySelector<HTMLButtonElement>("button.jp-mod-accept");
    if (accept) accept.disabled = error !== null;
    return error;
  }

  getValue(): Result {
    const error = this.check();
    if (error) return { error };
    let parameters: Record<string, unknown>;
    try {
      parameters = this.form.values();
    } catch (e) {
      return { error: describe(e) };
    }
    const body: CreateDeployment = { notebook: this.path, name: this.name.value.trim(), parameters };
    if (this.kind.value === "cron") body.cron = this.cron.value.trim().replace(/\s+/g, " ");
    if (this.kind.value === "interval") body.interval = this.interval.value.trim();
    if (this.kind.value !== "none") body.timezone = this.timezone.value.trim();
    return { body };
  }
}

function field(label: string, input: HTMLElement, ...more: HTMLElement[]): HTMLElement {
  return h("label", { class: "tb-field" }, h("span", { class: "tb-field-label" }, label), input, ...more);
}

function setMessage(node: HTMLElement, error: string | null, ok: string | null = null): void {
  node.textContent = error ?? ok ?? "";
  node.classList.toggle("tb-error", error !== null);
  node.classList.toggle("tb-muted", error === null);
}

/** The command's body: save, ask, promote, notify. Resolves once it is all done. */
export async function promote(api: TaskbookApi, document: PromotableDocument, onPromoted?: () => void): Promise<void> {
  const path = document.context.path;
  try {
    await document.context.save();
  } catch (error) {
    Notification.error(`Could not save ${path}: ${describe(error)}`, { autoClose: false });
    return;
  }
  let parameters: Parameter[];
  try {
    parameters = await api.notebookParameters(path);
  } catch (error) {
    Notification.error(describe(error), { autoClose: false });
    return;
  }
  const result = await new Dialog<Result>({
    title: "Promote to deployment",
    body: new PromoteBody(path, parameters),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: "Promote" })],
    focusNodeSelector: "input[name='name']",
  }).launch();
  if (!result.button.accept || result.value === null) return;
  if ("error" in result.value) {
    Notification.error(result.value.error, { autoClose: false });
    return;
  }
  try {
    const deployment = await api.createDeployment(result.value.body);
    const version = deployment.version === null ? "" : ` v${deployment.version}`;
    Notification.success(`Deployment ${deployment.name}${version} is ready: see the Taskbook sidebar.`, { autoClose: 5000 });
    onPromoted?.();
  } catch (error) {
    Notification.error(describe(error), { autoClose: false });
  }
}
