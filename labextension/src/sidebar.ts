/**
 * The Taskbook panel in the left area: a tab strip (arrow keys move between tabs) over
 * the Runs, Approvals, Deployments and Limits views. Only the shown tab polls, and only
 * while the panel is visible.
 */

import { Widget } from "@lumino/widgets";
import type { Message } from "@lumino/messaging";
import { h } from "../widgets/dom";
import { TabStrip } from "./tabs";
import type { View } from "./view";

export class TaskbookSidebar extends Widget {
  private active: View;
  private readonly strip: TabStrip;

  constructor(private readonly views: View[]) {
    super();
    if (!views[0]) throw new Error("[taskbook] the sidebar needs at least one view");
    this.active = views[0];
    this.addClass("tb-sidebar");
    this.strip = new TabStrip(views.map((view) => ({ id: view.id, label: view.label, panel: view.node })),
      (id) => this.show_(id), "Taskbook views");
    this.node.append(h("header", { class: "tb-header" }, "Taskbook"), this.strip.node,
      h("div", { class: "tb-body" }, ...views.map((view) => view.node)));
  }

  select(id: string): void {
    this.strip.select(id);
  }

  private show_(id: string): void {
    const view = this.views.find((candidate) => candidate.id === id);
    if (!view || view === this.active) return;
    this.active.poller.stop();
    this.active = view;
    if (this.isVisible) view.poller.start();
  }

  /** Refresh the shown view now (after an action elsewhere). */
  poke(): void {
    this.active.poller.poke();
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
