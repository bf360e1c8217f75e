/**
 * The Taskbook panel in the left area: a tab strip over the Runs, Approvals and
 * Deployments views. Only the shown tab polls, and only while the panel is visible.
 */

import { Widget } from "@lumino/widgets";
import type { Message } from "@lumino/messaging";
import { h } from "../widgets/dom";
import type { View } from "./view";

export class TaskbookSidebar extends Widget {
  private active: View;
  private readonly tabs = new Map<string, HTMLButtonElement>();

  constructor(private readonly views: View[]) {
    super();
    if (!views[0]) throw new Error("[taskbook] the sidebar needs at least one view");
    this.active = views[0];
    this.addClass("tb-sidebar");
    const strip = h("div", { class: "tb-tabs", role: "tablist" });
    const body = h("div", { class: "tb-body" });
    for (const view of views) {
      const tab = h("button", { type: "button", class: "tb-tab", role: "tab", "data-view": view.id }, view.label);
      tab.addEventListener("click", () => this.select(view.id));
      this.tabs.set(view.id, tab);
      strip.append(tab);
      view.node.setAttribute("role", "tabpanel");
      body.append(view.node);
    }
    this.node.append(h("header", { class: "tb-header" }, "Taskbook"), strip, body);
    this.show_(this.active);
  }

  select(id: string): void {
    const view = this.views.find((candidate) => candidate.id === id);
    if (!view || view === this.active) return;
    this.active.poller.stop();
    this.active = view;
    this.show_(view);
    if (this.isVisible) view.poller.start();
  }

  private show_(view: View): void {
    for (const candidate of this.views) {
      candidate.node.hidden = candidate !== view;
      this.tabs.get(candidate.id)?.setAttribute("aria-selected", String(candidate === view));
    }
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.active.poller.start();
  }

  protected override onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) this.active.poller.start();
  }

  protected override onBeforeHide(msg: Message): void {
    super.onBeforeHide(msg);
    this.active.poller.stop();
  }

  protected override onBeforeDetach(msg: Message): void {
    this.active.poller.stop();
    super.onBeforeDetach(msg);
  }
}
