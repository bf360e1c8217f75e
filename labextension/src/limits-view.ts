/**
 * The Limits tab: each concurrency limit (slots in use of its total, and its holders)
 * and rate limit (per second, burst, when the next slot frees), refreshed every five
 * seconds while visible. A limit opens to show who holds its slots and until when.
 */

import { formatDateTime, h } from "../widgets/dom";
import type { TaskbookApi } from "./api";
import { Poller } from "./poller";
import type { Limit, LimitDetail } from "./types";
import { type View, describe, notice, replaceKeepingFocus } from "./view";

const REFRESH_MS = 5000;

export class LimitsView implements View {
  readonly id = "limits";
  readonly label = "Limits";
  readonly node = h("div", { class: "tb-view tb-limits" });
  readonly poller = new Poller((signal) => this.refresh(signal), REFRESH_MS);
  private readonly list = h("div", { class: "tb-list", role: "list", "aria-label": "Limits" });
  /** The limits opened to show their holders. */
  private readonly open = new Set<string>();

  constructor(private readonly api: TaskbookApi) {
    this.node.append(this.list);
  }

  private async refresh(signal: AbortSignal): Promise<void> {
    let limits: Limit[];
    try {
      limits = await this.api.listLimits(signal);
    } catch (error) {
      if (!signal.aborted) this.list.replaceChildren(notice(describe(error), true));
      return;
    }
    const details = await Promise.all(limits.filter((limit) => this.open.has(limit.name))
      .map((limit) => this.api.readLimit(limit.name, signal).catch(() => null)));
    const byName = new Map(details.filter((d): d is LimitDetail => d !== null).map((d) => [d.name, d]));
    replaceKeepingFocus(this.list, "data-limit", limits.length
      ? limits.map((limit) => this.card(limit, byName.get(limit.name) ?? null))
      : [notice("No limits. `taskbook limits set NAME SLOTS` adds one; a deployment's concurrency is one too.")]);
  }

  private card(limit: Limit, detail: LimitDetail | null): HTMLElement {
    const open = this.open.has(limit.name);
    const toggle = h("button", { type: "button", class: "tb-row-main tb-limit-toggle", "data-limit": limit.name,
      "aria-expanded": String(open) },
      h("span", { class: "tb-name" }, limit.name), h("span", { class: "tb-muted" }, usage(limit)));
    toggle.addEventListener("click", () => {
      if (open) this.open.delete(limit.name);
      else this.open.add(limit.name);
      this.poller.poke();
    });
    const leases = detail?.leases ?? [];
    return h("div", { class: "tb-card tb-limit", role: "listitem" }, toggle,
      limit.slots !== null ? meter(limit.used, limit.slots) : "",
      open ? (leases.length
        ? h("ul", { class: "tb-leases" }, ...leases.map((lease) => h("li", {},
          h("code", {}, lease.holder), ` ${lease.slots} slot(s) since ${formatDateTime(lease.acquired_at)}`,
          lease.expires_at ? h("span", { class: "tb-muted" }, `, lease until ${formatDateTime(lease.expires_at)}`) : "")))
        : notice("No holders.")) : "");
  }
}

function usage(limit: Limit): string {
  const parts: string[] = [];
  if (limit.slots !== null) parts.push(`${limit.used}/${limit.slots} slots, ${limit.holders} holder(s)`);
  if (limit.per_second !== null) parts.push(`${limit.per_second}/s, burst ${limit.burst ?? 1}`);
  if (limit.next_free_at) parts.push(`next free ${formatDateTime(limit.next_free_at)}`);
  return parts.join(" \u00b7 ");
}

function meter(used: number, slots: number): HTMLElement {
  return h("div", { class: "tb-meter", role: "meter", "aria-valuemin": 0, "aria-valuemax": slots, "aria-valuenow": used,
    "aria-label": `${used} of ${slots} slots in use` },
    h("div", { class: "tb-meter-fill", style: `width:${Math.min(100, (used / Math.max(slots, 1)) * 100)}%` }));
}
