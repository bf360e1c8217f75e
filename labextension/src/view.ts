/** What the sidebar needs of each tab (a node, and a poller it starts and stops), and helpers the views share. */

import { Dialog, showDialog } from "@jupyterlab/apputils";
import { h } from "../widgets/dom";
import { stateClass } from "../widgets/states";
import type { Poller } from "./poller";
import type { StateType } from "./types";

export interface View {
  readonly id: string;
  readonly label: string;
  readonly node: HTMLElement;
  readonly poller: Poller;
}

export function pill(state: string | null, type?: StateType | null): HTMLElement {
  return h("span", { class: `tb-pill ${stateClass(state ?? "", type ?? null)}` }, state ?? "\u2014");
}

/** A message line shown when a list is empty or its request failed. */
export function notice(text: string, error = false): HTMLElement {
  return h("div", { class: error ? "tb-notice tb-error" : "tb-notice tb-muted" }, text);
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The state types a run does not leave by itself. */
export const FINAL_TYPES: ReadonlySet<StateType> = new Set<StateType>(["COMPLETED", "FAILED", "CRASHED", "CANCELLED"]);

/** The state types a deployment run can be retried from. */
export const RETRYABLE_TYPES: ReadonlySet<StateType> = new Set<StateType>(["FAILED", "CRASHED", "CANCELLED"]);

/** Ask before an action; resolves true when the person confirmed it. */
export async function confirm(title: string, body: string, label: string, danger = true): Promise<boolean> {
  const button = danger ? Dialog.warnButton({ label }) : Dialog.okButton({ label });
  const result = await showDialog({ title, body, buttons: [Dialog.cancelButton(), button] });
  return result.button.accept;
}

/**
 * Replace a container's children, keeping keyboard focus on the element that carries the
 * same `attribute` value as the focused one did (a list rebuilt by a refresh).
 */
export function replaceKeepingFocus(container: HTMLElement, attribute: string, children: (Node | string)[]): void {
  const focused = document.activeElement;
  const key = focused instanceof HTMLElement && container.contains(focused) ? focused.getAttribute(attribute) : null;
  container.replaceChildren(...children);
  if (key === null) return;
  const again = container.querySelector<HTMLElement>(`[${attribute}="${CSS.escape(key)}"]`);
  again?.focus({ preventScroll: true });
}
