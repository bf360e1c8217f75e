/**
 * The fields of one schedule: none, cron (with presets and a time zone) or an interval,
 * each checked as one types. Shared by the promote dialog and the schedule editor; the
 * server checks everything again and has the last word.
 */

import { h } from "../widgets/dom";
import { CRON_PRESETS, cronError, intervalError, timezoneError } from "./cron";
import type { ScheduleSpec, StoredSpec } from "./types";

export type ScheduleKind = "none" | "cron" | "interval";

let datalistCount = 0;

export function browserZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  try {
    return intl.supportedValuesOf ? intl.supportedValuesOf("timeZone") : [];
  } catch {
    return [];
  }
}

/** A stored spec as the fields edit it (an interval in whole seconds). */
export function editableSpec(spec: StoredSpec): ScheduleSpec {
  return spec.kind === "cron"
    ? { cron: spec.expression, timezone: spec.timezone }
    : { interval: `${spec.every_seconds}s`, timezone: spec.timezone, spec };
}

export class ScheduleFields {
  readonly node: HTMLElement;
  private readonly kind: HTMLSelectElement;
  private readonly preset: HTMLSelectElement;
  private readonly cron: HTMLInputElement;
  private readonly timezone: HTMLInputElement;
  private readonly interval: HTMLInputElement;
  private readonly cronMessage = h("div", { class: "tb-field-help tb-cron-message" });
  private readonly intervalMessage = h("div", { class: "tb-field-help tb-interval-message" });
  private readonly timezoneMessage = h("div", { class: "tb-field-help tb-timezone-message" });
  private readonly cronRows: HTMLElement;
  private readonly intervalRows: HTMLElement;
  private readonly timezoneRow: HTMLElement;

  /** `allowNone`: offer "No schedule" (promote); `onChange` runs after every check. */
  constructor(initial: ScheduleSpec | null, allowNone: boolean, private readonly onChange: () => void = () => {}) {
    this.kind = h("select", { class: "jp-mod-styled tb-input", name: "schedule", "aria-label": "Schedule kind" },
      allowNone ? h("option", { value: "none" }, "No schedule (run on demand)") : null,
      h("option", { value: "cron" }, "Cron"),
      h("option", { value: "interval" }, "Interval"));
    this.preset = h("select", { class: "jp-mod-styled tb-input", name: "preset", "aria-label": "Cron preset" },
      ...CRON_PRESETS.map((p) => h("option", { value: p.cron }, `${p.label} (${p.cron})`)),
      h("option", { value: "" }, "Custom"));
    const cron = initial?.cron ?? CRON_PRESETS[1].cron;
    this.cron = h("input", { class: "jp-mod-styled tb-input tb-mono", name: "cron", type: "text", value: cron,
      spellcheck: "false", "aria-label": "Cron expression" });
    this.preset.value = CRON_PRESETS.some((p) => p.cron === cron) ? cron : "";
    const listId = `tb-timezones-${++datalistCount}`;
    this.timezone = h("input", { class: "jp-mod-styled tb-input", name: "timezone", type: "text",
      value: initial?.timezone ?? browserZone(), list: listId, "aria-label": "Time zone" });
    const datalist = h("datalist", { id: listId }, ...timeZones().map((zone) => h("option", { value: zone })));
    this.interval = h("input", { class: "jp-mod-styled tb-input", name: "interval", type: "text",
      value: initial?.interval === undefined ? "1h" : String(initial.interval), placeholder: "15m, 1h, 1d",
      "aria-label": "Interval" });
    this.kind.value = initial?.cron !== undefined ? "cron" : initial?.interval !== undefined ? "interval"
      : allowNone ? "none" : "cron";
    this.cronRows = h("div", { class: "tb-cron-rows" },
      field("Preset", this.preset),
      field("Cron expression", this.cron, this.cronMessage));
    this.intervalRows = h("div", { class: "tb-interval-rows" }, field("Every", this.interval, this.intervalMessage));
    this.timezoneRow = field("Time zone", this.timezone, datalist, this.timezoneMessage);
    this.node = h("div", { class: "tb-schedule-fields" },
      field("Schedule", this.kind), this.cronRows, this.intervalRows, this.timezoneRow);

    this.preset.addEventListener("change", () => {
      if (this.preset.value) this.cron.value = this.preset.value;
      this.check();
    });
    this.cron.addEventListener("input", () => {
      const match = CRON_PRESETS.find((p) => p.cron === this.cron.value.trim());
      this.preset.value = match ? match.cron : "";
      this.check();
    });
    for (const input of [this.interval, this.timezone]) input.addEventListener("input", () => this.check());
    this.kind.addEventListener("change", () => this.check());
    this.check();
  }

  /** Show each field's problem; the first one, or null when the schedule looks valid. */
  check(): string | null {
    const kind = this.kind.value as ScheduleKind;
    this.cronRows.hidden = kind !== "cron";
    this.intervalRows.hidden = kind !== "interval";
    this.timezoneRow.hidden = kind === "none";
    const { cron, interval, timezone } = this.problems();
    setMessage(this.cronMessage, cron, kind === "cron" ? "Looks valid (the server checks it again)." : null);
    setMessage(this.intervalMessage, interval);
    setMessage(this.timezoneMessage, timezone);
    this.onChange();
    return this.error();
  }

  /** The first problem, without showing anything. */
  error(): string | null {
    const { cron, interval, timezone } = this.problems();
    return cron ?? interval ?? timezone;
  }

  private problems(): { cron: string | null; interval: string | null; timezone: string | null } {
    const kind = this.kind.value as ScheduleKind;
    return {
      cron: kind === "cron" ? cronError(this.cron.value) : null,
      interval: kind === "interval" ? intervalError(this.interval.value) : null,
      timezone: kind === "none" ? null : timezoneError(this.timezone.value),
    };
  }

  /** The schedule as the API takes it; null for "No schedule". */
  value(): ScheduleSpec | null {
    const kind = this.kind.value as ScheduleKind;
    if (kind === "none") return null;
    const timezone = this.timezone.value.trim();
    return kind === "cron"
      ? { cron: this.cron.value.trim().replace(/\s+/g, " "), timezone }
      : { interval: this.interval.value.trim(), timezone };
  }
}

export function field(label: string, input: HTMLElement, ...more: (HTMLElement | null)[]): HTMLElement {
  return h("label", { class: "tb-field" }, h("span", { class: "tb-field-label" }, label), input, ...more);
}

export function setMessage(node: HTMLElement, error: string | null, ok: string | null = null): void {
  node.textContent = error ?? ok ?? "";
  node.classList.toggle("tb-error", error !== null);
  node.classList.toggle("tb-muted", error === null);
}
