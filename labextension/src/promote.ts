/**
 * "Promote to deployment": save the notebook, ask for a name, a schedule (none, cron with
 * presets and a time zone, or an interval) and the parameters' defaults, then POST it to
 * /taskbook/api/deployments. The server validates everything again and has the last word;
 * when it refuses, the dialog opens again as it was, with its reason.
 */

import { Dialog, Notification } from "@jupyterlab/apputils";
import { Widget } from "@lumino/widgets";
import { h } from "../widgets/dom";
import type { TaskbookApi } from "./api";
import { ParametersForm } from "./parameters-form";
import { ScheduleFields, field, setMessage } from "./schedule-fields";
import type { CreateDeployment, Parameter, ScheduleSpec } from "./types";
import { describe } from "./view";

const NAME_PATTERN = /^[A-Za-z0-9._-]+$/;

/** A notebook document as the command needs it: its path and a way to save it. */
export interface PromotableDocument {
  context: { path: string; save(): Promise<void> };
}

function nameError(name: string): string | null {
  return NAME_PATTERN.test(name.trim()) ? null : "A name is letters, digits, '.', '_' or '-'.";
}

/** The file stem, made a valid deployment name. */
export function defaultName(path: string): string {
  const base = path.split("/").pop() ?? path;
  const stem = base.replace(/\.ipynb$/i, "");
  return stem.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || "notebook";
}

type Result = { body: CreateDeployment } | { error: string };

/** What the dialog was filled with, to open it again as it was after a refusal. */
interface Filled {
  name: string;
  schedule: ScheduleSpec | null;
  parameters: Record<string, unknown>;
}

export class PromoteBody extends Widget implements Dialog.IBodyWidget<Result> {
  private readonly name: HTMLInputElement;
  private readonly nameMessage = h("div", { class: "tb-field-help tb-name-message" });
  private readonly schedule: ScheduleFields;
  private readonly form: ParametersForm;

  /** `refusal`: why the server refused the last try, shown above the fields. */
  constructor(private readonly path: string, parameters: Parameter[], filled: Filled | null = null,
              refusal: string | null = null) {
    super({ node: h("div", { class: "tb-promote" }) });
    this.addClass("tb-promote");
    this.name = h("input", { class: "jp-mod-styled tb-input", name: "name", type: "text",
      value: filled?.name ?? defaultName(path) });
    this.schedule = new ScheduleFields(filled?.schedule ?? null, true, () => this.enableAccept());
    this.form = new ParametersForm(parameters, filled?.parameters ?? {}, () => this.enableAccept());
    this.node.append(
      h("div", { class: "tb-muted tb-promote-path" }, path),
      refusal ? h("div", { class: "tb-error tb-refusal", role: "alert" }, refusal) : "",
      field("Name", this.name, this.nameMessage),
      this.schedule.node,
      this.form.node);
    this.name.addEventListener("input", () => this.check());
  }

  protected override onAfterAttach(): void {
    this.check();
  }

  /** Show each field's problem and enable OK only when there is none. */
  private check(): string | null {
    setMessage(this.nameMessage, nameError(this.name.value));
    this.schedule.check();
    this.form.check();
    return this.enableAccept();
  }

  /** Enable OK only when every field is valid; the first problem, or null. */
  private enableAccept(): string | null {
    // Also called while the fields are being built (the schedule's first check).
    const schedule = this.schedule as ScheduleFields | undefined;
    const form = this.form as ParametersForm | undefined;
    const error = nameError(this.name.value) ?? schedule?.error() ?? form?.error() ?? null;
    const accept = this.node.closest(".jp-Dialog")?.querySelector<HTMLButtonElement>("button.jp-mod-accept");
    if (accept) accept.disabled = error !== null;
    return error;
  }

  /** What is in the fields now, valid or not. */
  filled(): Filled {
    let parameters: Record<string, unknown> = {};
    try {
      parameters = this.form.values();
    } catch {
      // kept as the defaults: the dialog only closes with valid values
    }
    return { name: this.name.value.trim(), schedule: this.schedule.value(), parameters };
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
    const schedule = this.schedule.value();
    if (schedule?.cron !== undefined) body.cron = schedule.cron;
    if (schedule?.interval !== undefined) body.interval = String(schedule.interval);
    if (schedule) body.timezone = schedule.timezone;
    return { body };
  }
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
  let filled: Filled | null = null;
  let refusal: string | null = null;
  // A refusal by the server opens the dialog again as it was, with the reason on top.
  for (;;) {
    const body: PromoteBody = new PromoteBody(path, parameters, filled, refusal);
    const result = await new Dialog<Result>({
      title: "Promote to deployment",
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: "Promote" })],
      focusNodeSelector: "input[name='name']",
    }).launch();
    if (!result.button.accept || result.value === null) return;
    filled = body.filled();
    if ("error" in result.value) {
      refusal = result.value.error;
      continue;
    }
    try {
      const deployment = await api.createDeployment(result.value.body);
      const version = deployment.version === null ? "" : ` v${deployment.version}`;
      Notification.success(`Deployment ${deployment.name}${version} is ready: see the Taskbook sidebar.`, { autoClose: 5000 });
      onPromoted?.();
      return;
    } catch (error) {
      refusal = describe(error);
    }
  }
}
