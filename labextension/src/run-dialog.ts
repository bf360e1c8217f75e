/**
 * "Run with parameters…": a dialog with one field per parameter of the deployment's
 * latest version, pre-filled with its defaults, each saying what is wrong with it as one
 * types; Run is enabled only when all are valid. A refusal by the server opens the
 * dialog again with what was typed and the reason.
 */

import { Dialog } from "@jupyterlab/apputils";
import { Widget } from "@lumino/widgets";
import { h } from "../widgets/dom";
import type { TaskbookApi } from "./api";
import { startedHere } from "./follows";
import { ParametersForm } from "./parameters-form";
import type { Parameter, Run } from "./types";
import { describe } from "./view";

class RunBody extends Widget implements Dialog.IBodyWidget<Record<string, unknown> | string> {
  readonly form: ParametersForm;

  constructor(parameters: Parameter[], values: Record<string, unknown>, refusal: string | null) {
    super({ node: h("div", { class: "tb-run-dialog" }) });
    this.form = new ParametersForm(parameters, values, () => this.enableAccept());
    this.node.append(refusal ? h("div", { class: "tb-error tb-refusal", role: "alert" }, refusal) : "", this.form.node);
  }

  protected override onAfterAttach(): void {
    this.form.check();
  }

  private enableAccept(): void {
    const accept = this.node.closest(".jp-Dialog")?.querySelector<HTMLButtonElement>("button.jp-mod-accept");
    const form = this.form as ParametersForm | undefined; // undefined while it is being built
    if (accept) accept.disabled = (form?.error() ?? null) !== null;
  }

  getValue(): Record<string, unknown> | string {
    try {
      return this.form.values();
    } catch (error) {
      return describe(error);
    }
  }
}

/** Start a run of `name` now with parameters asked for; the run, or null if cancelled. */
export async function runWithParameters(api: TaskbookApi, name: string): Promise<Run | null> {
  const deployment = await api.readDeployment(name);
  const latest = [...(deployment.versions ?? [])].sort((a, b) => b.version - a.version)[0];
  const parameters = latest?.parameters ?? [];
  let values: Record<string, unknown> = {};
  let refusal: string | null = null;
  for (;;) {
    const body: RunBody = new RunBody(parameters, values, refusal);
    const result: Dialog.IResult<Record<string, unknown> | string> = await new Dialog<Record<string, unknown> | string>({
      title: `Run ${name} now`,
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: "Run" })],
      focusNodeSelector: "input",
    }).launch();
    if (!result.button.accept || result.value === null) return null;
    if (typeof result.value === "string") {
      refusal = result.value;
      continue;
    }
    values = result.value;
    try {
      return await startRun(api, name, values);
    } catch (error) {
      refusal = describe(error);
    }
  }
}

/** Start a run of `name` now (the defaults, or `parameters`), remembered as started here. */
export async function startRun(api: TaskbookApi, name: string, parameters?: Record<string, unknown>): Promise<Run> {
  const run = await api.startRun(name, parameters);
  startedHere(run.id);
  return run;
}
