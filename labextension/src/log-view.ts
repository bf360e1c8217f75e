/**
 * A run's log, followed: the tail first, then only the lines written since (a cursor on
 * the line ids), merged by id and kept to the last MAX_LINES. A level filter (read by the
 * server), a search over the lines read, a task run filter and "Follow" (stay at the
 * bottom as lines come). Redrawn only when something changed, so scroll and selection
 * survive the refreshes.
 */

import { formatTime, h } from "../widgets/dom";
import type { TaskbookApi } from "./api";
import type { LogLine, LogWindow } from "./types";
import { describe, notice } from "./view";

const TAIL = 500;
/** Pages of new lines read in one refresh before the log jumps to its tail. */
const PAGES = 4;
const MAX_LINES = 2000;
/** How far before its newest line a log is read again (lines that committed late)... */
const OVERLAP_IDS = 1000;
/** ...but never further back than the newest line it had this long ago: a line commits
 * late by the length of its writer's transaction (a minute is far more than one takes). */
const SETTLE_MS = 60_000;
const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

export class LogView {
  readonly node: HTMLElement;
  private readonly level = h("select", { class: "tb-log-level-filter", "aria-label": "Lowest log level shown" },
    h("option", { value: "" }, "All levels"), ...LEVELS.map((level) => h("option", { value: level }, `${level}+`)));
  private readonly search = h("input", { type: "search", class: "tb-log-search", placeholder: "Search the log",
    "aria-label": "Search the log" }) as HTMLInputElement;
  private readonly follow = h("input", { type: "checkbox", class: "tb-log-follow", checked: true }) as HTMLInputElement;
  private readonly taskChip = h("span", { class: "tb-log-task" });
  private readonly body = h("div", { class: "tb-run-logs", role: "log", "aria-live": "off", tabindex: 0 });
  private lines: LogLine[] = [];
  private cursor: number | null = null;
  /** The cursor as it was at times (ms), newest last: how far back late lines can be. */
  private marks: { at: number; cursor: number }[] = [];
  /** When the last read that was taken began (ms). */
  private readAt = 0;
  private earlier = false;
  private drawnKey = "";
  private task: { id: string; name: string } | null = null;
  private error: string | null = null;

  /** `reread`: ask the owner to read again now (the level filter changed). */
  constructor(private readonly api: TaskbookApi, private readonly runId: string, private readonly reread: () => void) {
    this.level.addEventListener("change", () => {
      this.reset();
      this.reread();
    });
    this.search.addEventListener("input", () => this.draw());
    this.follow.addEventListener("change", () => {
      if (this.follow.checked) this.body.scrollTop = this.body.scrollHeight;
    });
    // Scrolling up stops following; back at the bottom, it follows again.
    this.body.addEventListener("scroll", () => {
      this.follow.checked = this.atBottom();
    });
    this.node = h("div", { class: "tb-log-view" },
      h("div", { class: "tb-toolbar tb-log-toolbar" }, this.level, this.search, this.taskChip,
        h("label", { class: "tb-check" }, this.follow, " Follow")),
      this.body);
  }

  /** Show only the lines of one task run (null: all of the run's lines). */
  showTask(task: { id: string; name: string } | null): void {
    this.task = task;
    this.taskChip.replaceChildren();
    if (task) {
      const clear = h("button", { type: "button", class: "tb-chip-clear", "aria-label": `Show all lines, not only ${task.name}'s` }, "\u00d7");
      clear.addEventListener("click", () => this.showTask(null));
      this.taskChip.append(h("span", { class: "tb-chip" }, `Task ${task.name} `, clear));
    }
    this.draw();
  }

  /** Read what is new (the tail at first) and draw it if anything changed. */
  async refresh(signal: AbortSignal): Promise<void> {
    const level = this.level.value;
    try {
      // After the tail, page through what came since; a backlog longer than a few pages
      // (the tab was not shown for a while) is skipped to the tail again.
      for (let page = 0; ; page++) {
        const window = page < PAGES ? this.window() : { tail: TAIL, level: level || undefined };
        if (page === PAGES) this.restart();
        const started = performance.now();
        const logs = await this.api.readRunLogs(this.runId, window, signal);
        if (level !== this.level.value) return; // the filter changed while reading: read again
        this.take(logs);
        this.readAt = started;
        if (window.limit === undefined || logs.length < window.limit) break;
      }
    } catch (error) {
      if (signal.aborted) throw error;
      this.error = describe(error);
      this.draw();
      return;
    }
    this.error = null;
    this.draw();
  }

  private window(): LogWindow {
    const level = this.level.value || undefined;
    if (this.cursor === null) return { tail: TAIL, level };
    // From a little before the newest line seen: on PostgreSQL a line can commit after
    // one with a higher id, and would be skipped by a cursor already past it. The first
    // lines after that point, so none is skipped when many came at once; the overlap
    // holds at most OVERLAP_IDS lines, so each full page moves on by TAIL at least.
    return { after: Math.max(0, this.cursor - OVERLAP_IDS, this.settled()), limit: TAIL + OVERLAP_IDS, level };
  }

  /** The newest cursor held SETTLE_MS or more before the last read began (0 if none):
   * every line before it had committed by then and was read, so a read need not look
   * behind it. A quiet log is read from its cursor. */
  private settled(): number {
    const before = this.readAt - SETTLE_MS;
    let found = 0;
    for (const mark of this.marks) if (mark.at <= before) found = mark.cursor;
    return found;
  }

  private mark(): void {
    if (this.cursor === null) return;
    const now = performance.now();
    const last = this.marks[this.marks.length - 1];
    if (!last || last.cursor !== this.cursor) this.marks.push({ at: now, cursor: this.cursor });
    // Keep the newest mark older than SETTLE_MS, and the ones after it.
    const old = this.marks.filter((mark) => mark.at <= this.readAt - SETTLE_MS).length;
    if (old > 1) this.marks.splice(0, old - 1);
  }

  /** Start again from the tail (the lines in between are not shown). */
  private restart(): void {
    this.lines = [];
    this.cursor = null;
    this.marks = [];
  }

  private take(logs: LogLine[]): void {
    const first = this.cursor === null;
    const seen = new Set(this.lines.map((line) => line.id));
    const fresh = logs.filter((line) => !seen.has(line.id));
    if (!fresh.length && !first) return;
    const lines = [...this.lines, ...fresh].sort((a, b) => a.timestamp.localeCompare(b.timestamp) || a.id - b.id);
    if (lines.length > MAX_LINES || (first && logs.length >= TAIL)) this.earlier = true;
    this.lines = lines.slice(-MAX_LINES);
    const newest = logs.reduce((top, line) => Math.max(top, line.id), -1);
    if (newest >= 0) this.cursor = Math.max(newest, this.cursor ?? 0);
    this.mark();
  }

  private reset(): void {
    this.lines = [];
    this.cursor = null;
    this.marks = [];
    this.earlier = false;
    this.drawnKey = "";
    this.body.replaceChildren(notice("Reading\u2026"));
  }

  private shown(): LogLine[] {
    const query = this.search.value.trim().toLowerCase();
    return this.lines.filter((line) =>
      (!this.task || line.task_run_id === this.task.id)
      && (!query || line.message.toLowerCase().includes(query) || line.logger.toLowerCase().includes(query)));
  }

  private draw(): void {
    const shown = this.shown();
    const last = this.lines[this.lines.length - 1];
    const key = [this.error, this.lines.length, last?.id, this.search.value, this.task?.id].join("|");
    if (key === this.drawnKey) return;
    this.drawnKey = key;
    if (this.error) {
      this.body.replaceChildren(notice(this.error, true));
      return;
    }
    const follow = this.follow.checked;
    const filtered = this.search.value.trim() || this.task;
    this.body.replaceChildren(
      this.earlier ? notice(`Showing the last ${this.lines.length} lines; \`taskbook runs logs ${this.runId.slice(0, 8)}\` prints them all.`) : "",
      ...(shown.length ? shown.map(lineElement) : [notice(filtered ? "No line matches." : "No log lines.")]));
    if (follow) this.body.scrollTop = this.body.scrollHeight;
  }

  private atBottom(): boolean {
    return this.body.scrollTop + this.body.clientHeight >= this.body.scrollHeight - 4;
  }
}

function lineElement(line: LogLine): HTMLElement {
  return h("div", { class: `tb-log-line tb-log-${line.level_name.toLowerCase()}` },
    h("span", { class: "tb-muted" }, formatTime(line.timestamp)), " ",
    h("span", { class: "tb-log-level" }, line.level_name), " ", line.message);
}
