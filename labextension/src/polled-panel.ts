/**
 * A main-area tab that reads the store on an interval while it is shown (the poller stops
 * when it is hidden, detached or closed) and redraws each of its parts only when what
 * that part shows changed, so scroll, focus and selection survive the refreshes.
 */

import type { Message } from "@lumino/messaging";
import { Widget } from "@lumino/widgets";
import { Poller } from "./poller";

export abstract class PolledPanel extends Widget {
  protected readonly poller: Poller;
  private readonly keys = new Map<string, string>();

  constructor(intervalMs: number) {
    super();
    this.poller = new Poller((signal) => this.refresh(signal), intervalMs);
  }

  protected abstract refresh(signal: AbortSignal): Promise<void>;

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
    this.poller.start();
  }

  protected override onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) this.poller.start();
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
