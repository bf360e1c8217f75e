/**
 * The Runs tab: flow runs newest first (name, flow or deployment, state, start,
 * duration), refreshed every second while visible. Filters: a search over names, state
 * (all of them), tag, deployment, a time range, and whether subflows are listed (they
 * are, by default, only under their parent run). Pages of 50, older with "Older". The
 * filter is kept in the browser's storage. A run opens in a main-area tab; keyboard
 * focus stays on its row across refreshes.
 */

import { formatDateTime, formatDuration, h } from "../widgets/dom";
import { ApiError, type TaskbookApi } from "./api";
import { Poller } from "./poller";
import type { Run, RunQuery } from "./types";
import { type View, describe, notice, pill, replaceKeepingFocus } from "./view";

const REFRESH_MS = 1000;
const PAGE = 50;
/** How long typing in a text filter pauses before the list is read again. */
const TYPING_PAUSE_MS = 250;
const STORAGE_KEY = "taskbook:runs-filter";
/** The states the filter offers; the server matches a state's name or its type. */
export const STATE_FILTERS = [
  "Scheduled", "Late", "Pending", "Running", "Retrying", "Paused", "Suspended", "Completed", "Cached",
  "Failed", "TimedOut", "Crashed", "Cancelling", "Cancelled",
];

/** The filter as kept in storage. */
interface Filter {
  state: string;
  q: string;
  tag: string;
  deployment: string;
  since: string;
  until: string;
  subflows: boolean;
}

const NO_FILTER: Filter = { state: "", q: "", tag: "", deployment: "", since: "", until: "", subflows: false };

export class RunsView implements View {
  readonly id = "runs";
  readonly label = "Runs";
  readonly node = h("div", { class: "tb-view tb-runs" });
  readonly poller = new Poller((signal) => this.refresh(signal), REFRESH_MS);
  private readonly state = h("select", { class: "tb-state-filter", name: "state", "aria-label": "Show runs in state" },
    h("option", { value: "" }, "All states"),
    ...STATE_FILTERS.map((state) => h("option", { value: state }, state)));
  private readonly search = input("q", "search", "Name or flow", "Search runs by name or flow");
  private readonly tag = input("tag", "text", "Tag", "Show runs with this tag");
  private readonly deployment = input("deployment", "text", "Deployment", "Show runs of this deployment");
  private readonly since = input("since", "datetime-local", "", "Created at or after");
  private readonly until = input("until", "datetime-local", "", "Created before");
  private readonly subflows = h("input", { type: "checkbox", name: "subflows" }) as HTMLInputElement;
  private readonly list = h("div", { class: "tb-list", role: "list", "aria-label": "Flow runs" });
  private readonly pager = h("div", { class: "tb-pager" });
  /** The pages above the one shown: each entry is the `before` cursor of a page. */
  private readonly pages: (string | null)[] = [];
  private before: string | null = null;

  constructor(private readonly api: TaskbookApi, private readonly openRun: (id: string) => void) {
    this.restore();
    let typing = 0;
    const changed = (): void => {
      this.firstPage();
      this.save();
      this.poller.poke();
    };
    for (const control of [this.state, this.since, this.until, this.subflows]) control.addEventListener("change", changed);
    for (const text of [this.search, this.tag, this.deployment]) {
      text.addEventListener("input", () => {
        window.clearTimeout(typing);
        typing = window.setTimeout(changed, TYPING_PAUSE_MS);
      });
    }
    const more = h("details", { class: "tb-more-filters" }, h("summary", {}, "More filters"),
      h("div", { class: "tb-filter-grid" },
        h("label", {}, "Tag ", this.tag), h("label", {}, "Deployment ", this.deployment),
        h("label", {}, "From ", this.since), h("label", {}, "To ", this.until),
        h("label", { class: "tb-check" }, this.subflows, " List subflows too")));
    if (this.tag.value || this.deployment.value || this.since.value || this.until.value || this.subflows.checked) {
      more.setAttribute("open", "");
    }
    this.node.append(h("div", { class: "tb-toolbar tb-runs-toolbar" }, h("label", {}, "State ", this.state), this.search),
      more, this.list, this.pager);
  }

  /** The list's query from the filter fields (times in the browser's zone, sent as UTC). */
  query(): RunQuery {
    return {
      limit: PAGE,
      state: this.state.value || null,
      q: this.search.value.trim() || null,
      tag: this.tag.value.trim() || null,
      deployment: this.deployment.value.trim() || null,
      since: utc(this.since.value),
      until: utc(this.until.value),
      top_level: !this.subflows.checked,
      before: this.before,
    };
  }

  private async refresh(signal: AbortSignal): Promise<void> {
    let runs: Run[];
    const query = JSON.stringify(this.query());
    try {
      runs = await this.api.listRuns(JSON.parse(query) as RunQuery, signal);
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status === 404 && this.before !== null) {
        this.firstPage(); // the run the page started after was deleted: back to the first page
        this.poller.poke();
        return;
      }
      this.list.replaceChildren(notice(describe(error), true));
      return;
    }
    // The filter or page changed while reading: this answer is of another list (the poke
    // that came with the change reads the new one).
    if (query !== JSON.stringify(this.query())) return;
    const filtered = JSON.stringify(this.filter()) !== JSON.stringify(NO_FILTER);
    const empty = filtered ? "No runs match." : "No runs yet.";
    replaceKeepingFocus(this.list, "data-run-id", runs.length ? runs.map((run) => this.row(run)) : [notice(empty)]);
    this.drawPager(runs);
  }

  private row(run: Run): HTMLElement {
    const row = h("div", { class: "tb-row", role: "listitem", tabindex: 0, "data-run-id": run.id,
                           title: run.state_message ?? "", "aria-label": `${run.name}, ${run.state}` },
      h("div", { class: "tb-row-main" }, h("span", { class: "tb-name" }, run.name), pill(run.state, run.state_type)),
      h("div", { class: "tb-row-sub tb-muted" },
        h("span", {}, run.deployment_name ?? run.flow_name),
        h("span", {}, formatDateTime(run.start_time ?? run.created)),
        h("span", {}, formatDuration(run.duration))));
    row.addEventListener("click", () => this.openRun(run.id));
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter") this.openRun(run.id);
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const next = event.key === "ArrowDown" ? row.nextElementSibling : row.previousElementSibling;
        if (next instanceof HTMLElement) next.focus();
      }
    });
    return row;
  }

  private drawPager(runs: Run[]): void {
    const newer = h("button", { type: "button", class: "tb-button tb-newer", disabled: !this.pages.length }, "Newer");
    const last = runs[runs.length - 1];
    const older = h("button", { type: "button", class: "tb-button tb-older", disabled: runs.length < PAGE || !last }, "Older");
    newer.addEventListener("click", () => {
      this.before = this.pages.pop() ?? null;
      this.poller.poke();
    });
    older.addEventListener("click", () => {
      if (!last) return;
      this.pages.push(this.before);
      this.before = last.id;
      this.poller.poke();
    });
    const page = this.pages.length ? `Page ${this.pages.length + 1}` : "";
    replaceKeepingFocus(this.pager, "class", [newer, h("span", { class: "tb-muted" }, page), older]);
  }

  private firstPage(): void {
    this.pages.length = 0;
    this.before = null;
  }

  private filter(): Filter {
    return {
      state: this.state.value, q: this.search.value, tag: this.tag.value, deployment: this.deployment.value,
      since: this.since.value, until: this.until.value, subflows: this.subflows.checked,
    };
  }

  private save(): void {
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify(this.filter()));
    } catch {
      // storage is off (a private window): the filter lasts as long as the page
    }
  }

  private restore(): void {
    let saved: Partial<Filter> = {};
    try {
      saved = JSON.parse(window.localStorage.getItem(STORAGE_KEY) ?? "{}") as Partial<Filter>;
    } catch {
      saved = {};
    }
    const filter = { ...NO_FILTER, ...saved };
    this.state.value = STATE_FILTERS.includes(filter.state) ? filter.state : "";
    this.search.value = String(filter.q);
    this.tag.value = String(filter.tag);
    this.deployment.value = String(filter.deployment);
    this.since.value = String(filter.since);
    this.until.value = String(filter.until);
    this.subflows.checked = Boolean(filter.subflows);
  }
}

function input(name: string, type: string, placeholder: string, label: string): HTMLInputElement {
  return h("input", { class: `tb-run-${name === "q" ? "search" : name}`, name, type, placeholder, "aria-label": label }) as HTMLInputElement;
}

/** A datetime-local value (the browser's wall time) as an ISO 8601 UTC time; null if empty. */
function utc(local: string): string | null {
  if (!local) return null;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
