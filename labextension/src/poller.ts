/**
 * Refreshes a view on an interval while it is visible: one request at a time (the next
 * waits for the previous to settle), each with its own AbortController so hiding the view
 * cancels the request in flight. While the browser tab is hidden no poller reads; they
 * go on, at once, when it is shown again.
 */

export type Refresh = (signal: AbortSignal) => Promise<void>;

/** The pollers started and not stopped: paused together while the page is hidden. */
const started = new Set<Poller>();

function pageHidden(): boolean {
  return typeof document !== "undefined" && document.visibilityState === "hidden";
}

if (typeof document !== "undefined") {
  document.addEventListener("visibilitychange", () => {
    for (const poller of started) {
      if (pageHidden()) poller.pause();
      else poller.resume();
    }
  });
}

export class Poller {
  private controller: AbortController | null = null;
  private timer = 0;
  private running = false;
  /** Poked while a request was in flight: read again as soon as it settles. */
  private again = false;

  constructor(private readonly refresh: Refresh, private readonly intervalMs: number) {}

  start(): void {
    started.add(this);
    if (!pageHidden()) this.resume();
  }

  stop(): void {
    started.delete(this);
    this.pause();
  }

  /** Refresh now (after an action), without waiting for the next tick; if a read is in
   * flight (it may have read the state before the action), read again once it settles. */
  poke(): void {
    if (!this.running) return;
    if (this.controller) {
      this.again = true;
      return;
    }
    window.clearTimeout(this.timer);
    void this.tick();
  }

  /** Stop reading for now (the page is hidden); `resume` goes on. */
  pause(): void {
    this.running = false;
    this.again = false;
    window.clearTimeout(this.timer);
    this.controller?.abort();
    this.controller = null;
  }

  resume(): void {
    if (this.running) return;
    this.running = true;
    void this.tick();
  }

  private async tick(): Promise<void> {
    const controller = new AbortController();
    this.controller = controller;
    try {
      await this.refresh(controller.signal);
    } catch (error) {
      if (!controller.signal.aborted) console.warn("[taskbook]", error);
    }
    if (this.controller === controller) this.controller = null;
    if (!this.running || controller.signal.aborted) return;
    if (this.again) {
      this.again = false;
      void this.tick();
    } else {
      this.timer = window.setTimeout(() => void this.tick(), this.intervalMs);
    }
  }
}
