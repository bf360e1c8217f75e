/**
 * A small client-side check of a 5-field cron expression, for feedback as one types.
 * The server is authoritative: this only catches the obvious mistakes.
 */

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

interface Field {
  label: string;
  min: number;
  max: number;
  names?: string[];
  /** The number of names[0]. */
  base?: number;
}

const FIELDS: Field[] = [
  { label: "minute", min: 0, max: 59 },
  { label: "hour", min: 0, max: 23 },
  { label: "day of month", min: 1, max: 31 },
  { label: "month", min: 1, max: 12, names: MONTHS, base: 1 },
  { label: "day of week", min: 0, max: 7, names: DAYS, base: 0 },
];

export const CRON_PRESETS: ReadonlyArray<{ label: string; cron: string }> = [
  { label: "Hourly", cron: "0 * * * *" },
  { label: "Daily at 06:00", cron: "0 6 * * *" },
  { label: "Weekdays at 09:00", cron: "0 9 * * 1-5" },
  { label: "Weekly, Monday 06:00", cron: "0 6 * * 1" },
];

/** The macros the server's cron parser takes for whole expressions. */
export const CRON_MACROS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

/** null when the expression looks valid, otherwise what is wrong with it. */
export function cronError(expression: string): string | null {
  const text = expression.trim();
  if (text.startsWith("@")) {
    return CRON_MACROS.includes(text.toLowerCase()) ? null
      : `${text} is not a cron macro; use one of ${CRON_MACROS.join(", ")} or 5 fields.`;
  }
  const parts = expression.trim().split(/\s+/).filter(Boolean);
  if (parts.length !== 5) {
    return `A cron expression has 5 fields (minute hour day month weekday); this one has ${parts.length}.`;
  }
  for (let i = 0; i < 5; i++) {
    const error = fieldError(parts[i], FIELDS[i]);
    if (error) return `${FIELDS[i].label}: ${error}`;
  }
  return null;
}

function fieldError(text: string, field: Field): string | null {
  for (const item of text.split(",")) {
    if (!item) return "an empty list item";
    const [range, step, ...rest] = item.split("/");
    if (rest.length) return `"${item}" has more than one "/"`;
    if (step !== undefined && !/^\d+$/.test(step)) return `the step "${step}" is not a number`;
    if (step !== undefined && Number(step) === 0) return "a step of 0";
    if (range === "*") continue;
    const ends = range.split("-");
    if (ends.length > 2) return `"${range}" is not a range`;
    const values: number[] = [];
    for (const end of ends) {
      const value = valueOf(end, field);
      if (value === null) return `"${end}" is not a ${field.label} (${field.min}-${field.max}${field.names ? " or a name" : ""})`;
      values.push(value);
    }
    if (values.length === 2 && values[0] > values[1]) return `the range "${range}" is backwards`;
  }
  return null;
}

function valueOf(text: string, field: Field): number | null {
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    return value >= field.min && value <= field.max ? value : null;
  }
  const index = field.names?.indexOf(text.toLowerCase()) ?? -1;
  return index >= 0 ? index + (field.base ?? 0) : null;
}

/** A light check of an interval such as 15m, 1h, 1d, 90s. */
export function intervalError(text: string): string | null {
  return /^\s*\d+(\.\d+)?\s*(s|m|h|d|w)\s*$/i.test(text)
    ? null
    : "An interval is a number and a unit: 90s, 15m, 1h, 1d or 1w.";
}

/** null when the browser knows the IANA time zone, otherwise what to do. */
export function timezoneError(zone: string): string | null {
  const text = zone.trim();
  if (!text) return "Pick a time zone (an IANA name such as Europe/Paris, or UTC).";
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: text });
    return null;
  } catch {
    return `${text} is not a time zone this browser knows; pick an IANA name such as Europe/Paris.`;
  }
}
