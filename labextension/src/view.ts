/** What the sidebar needs of each tab: a node, and a poller it starts and stops. */

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
