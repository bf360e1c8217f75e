/**
 * Refreshes a view on an interval while it is visible: one request at a time (the next
 * waits for the previous to settle), each with its own AbortController so hiding the view
 * cancels the request in flight.
 */

export type Refresh = (signal: AbortSignal) => Promise<void>;

export class Poller {
  private controller: AbortController | null = null;
  private timer = 0;
  private running = false;

  constructor(private readonly refresh: Refresh, private readonly intervalMs: number) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tick();
  }

  stop(): void {
    this.running = false;
    window.clearTimeout(this.timer);
    this.controller?.abort();
    this.controller = null;
  }

  /** Refresh now (after an action), without waiting for the next tick. */
  poke(): void {
    if (!this.running || this.controller) return;
    window.clearTimeout(this.timer);
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
    if (this.running && !controller.signal.aborted) {
      this.timer = window.setTimeout(() => void this.tick(), this.intervalMs);
    }
  }
}
