/**
 * State colours. Each state maps to a class (tb-s-<family>) whose CSS sets --tb-c;
 * the CSS takes JupyterLab theme colours where one fits, so dark themes work.
 */

import type { StateType } from "./contract";

export type StateFamily =
  | "completed"
  | "cached"
  | "running"
  | "pending"
  | "retrying"
  | "paused"
  | "failed"
  | "cancelled";

const BY_NAME: Record<string, StateFamily> = {
  Completed: "completed",
  Cached: "cached",
  Running: "running",
  Pending: "pending",
  Scheduled: "pending",
  Late: "pending",
  AwaitingRetry: "retrying",
  Retrying: "retrying",
  Paused: "paused",
  Suspended: "paused",
  Failed: "failed",
  TimedOut: "failed",
  Crashed: "failed",
  Cancelling: "cancelled",
  Cancelled: "cancelled",
};

const BY_TYPE: Record<StateType, StateFamily> = {
  COMPLETED: "completed",
  RUNNING: "running",
  PENDING: "pending",
  SCHEDULED: "pending",
  PAUSED: "paused",
  FAILED: "failed",
  CRASHED: "failed",
  CANCELLING: "cancelled",
  CANCELLED: "cancelled",
};

export function stateFamily(name: string, type?: StateType | null): StateFamily {
  return BY_NAME[name] ?? (type ? BY_TYPE[type] : undefined) ?? "pending";
}

export function stateClass(name: string, type?: StateType | null): string {
  return `tb-s-${stateFamily(name, type)}`;
}

/** Order of the segments in a group's progress bar. */
export const FAMILY_ORDER: StateFamily[] = [
  "completed",
  "cached",
  "failed",
  "cancelled",
  "running",
  "retrying",
  "paused",
  "pending",
];
