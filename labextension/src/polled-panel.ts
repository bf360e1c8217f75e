/**
 * A main-area tab that reads the store on an interval while it is shown (the poller stops
 * when it is hidden, detached or closed) and redraws each of its parts only when what
 * that part shows changed, so scroll, focus and selection survive the refreshes.
 */

import type { Message } from "@lumino/messaging";
import { Widget } from "@lumino/widgets";
import { h } from "../widgets/dom";
import { ApiError } from "./api";
import { Poller } from "./poller";
import { notice } from "./view";

export abstract class PolledPanel extends Widget {
  protected readonly poller: Poller;
  private readonly keys = new Map<string, string>();
  /** What it shows is gone from the store (deleted): nothing more to read. */
  private gone = false;

  constructor(intervalMs: number) {
    super();
    this.poller = new Poller((signal) => this.refresh(signal), intervalMs);
  }

  protected abstract refresh(signal: AbortSignal): Promise<void>;

  /** What this tab shows was read once: a 404 after that means it was deleted (before,
   * it may not be written yet: a kernel's writer can be behind). */
  protected seen = false;

  /** If `error` says what this tab shows is gone (HTTP 404 after it was read), say so in
   * place of its parts and actions, stop reading, and return true. */
  protected goneIf(error: unknown, what: string): boolean {
    if (!this.seen || !(error instanceof ApiError && error.status === 404)) return false;
    this.gone = true;
    this.poller.stop();
    this.node.replaceChildren(h("div", { class: "tb-run-page tb-gone" },
      notice(`${what} is no longer in the store: ${error.message}`, true)));
    return true;
  }

  /** Read again now (after an action, or when opened a second time). */
  refreshNow(): void {
    this.poller.poke();
  }

  /** Run `draw` only when `data` differs from what this part last drew. */
  protected drawn(part: string, data: unknown, draw: () => void): void {
    const key = JSON.stringify(data);
    if (this.keys.get(part) === key) return;
    this.keys.set(part, key);
    draw();
  }

  /** Draw this part at the next refresh even if its data is the same. */
  protected forget(part: string): void {
    this.keys.delete(part);
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (!this.gone) this.poller.start();
  }

  protected override onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible && !this.gone) this.poller.start();
  }

  protected override onBeforeHide(msg: Message): void {
    super.onBeforeHide(msg);
    this.poller.stop();
  }

  protected override onBeforeDetach(msg: Message): void {
    this.poller.stop();
    super.onBeforeDetach(msg);
  }

  override dispose(): void {
    this.poller.stop();
    super.dispose();
  }
}
