/**
 * The REST API's records as the sidebar reads them: the TypeScript side of
 * papermill_bridge/server/openapi.json (Run, TaskRun, InputRequest, Deployment, Artifact).
 */

import type { ArtifactRecord, ArtifactType, HistoryEntry, JsonSchema, StateType } from "../widgets/contract";

/** An artifact as GET runs/{id}/artifacts and artifacts/{id} answer it. */
export type Artifact = ArtifactRecord;
export type { ArtifactType, HistoryEntry, JsonSchema, StateType };

export interface TaskRun {
  id: string;
  name: string;
  task_key: string;
  state: string;
  state_type: StateType;
  state_message: string | null;
  start_time: string | null;
  end_time: string | null;
  duration: number | null;
  run_count: number;
  cache_key: string | null;
  upstream: string[];
}

export interface Run {
  id: string;
  name: string;
  flow_name: string;
  state: string;
  state_type: StateType;
  state_message: string | null;
  start_time: string | null;
  end_time: string | null;
  duration: number | null;
  created: string;
  run_count: number;
  tags: string[];
  parameters: Record<string, unknown>;
  parent_task_run_id: string | null;
  deployment_name: string | null;
  deployment_version: number | null;
  scheduled_time: string | null;
  worker_id: string | null;
  output_notebook: string | null;
  task_runs?: TaskRun[];
  failure?: Failure | null;
  /** Give it as `after` to the next read to get only the task runs that changed since. */
  task_runs_cursor?: number;
  /** False when `task_runs` holds only the task runs that changed (a read with `after`). */
  task_runs_complete?: boolean;
}

/** What made a run fail (set on a read run that is Failed or Crashed). */
export interface Failure {
  message: string | null;
  exception_type?: string;
  exception_message?: string;
  traceback?: string;
  /** The failing cell, numbered as in the user's notebook; null for an injected cell. */
  cell_number?: number | null;
  cell_source?: string;
  output_notebook?: string;
}

export interface LogLine {
  id: number;
  timestamp: string;
  level: number;
  level_name: string;
  logger: string;
  message: string;
  flow_run_id: string | null;
  task_run_id: string | null;
}

/** Which lines to read: the last `tail`, or those after the line with id `after`; at `level` or above. */
export interface LogWindow {
  after?: number;
  /** The last lines; or `limit`: the first ones (after `after`). */
  tail?: number;
  limit?: number;
  level?: string;
}

/** Which flow runs a list shows (GET runs); every given condition holds. */
export interface RunQuery {
  limit?: number;
  /** A state name or type ("Late", "FAILED"). */
  state?: string | null;
  /** A part of the run's or flow's name, any case. */
  q?: string | null;
  tag?: string | null;
  deployment?: string | null;
  /** ISO 8601 times: created at or after `since`, before `until`. */
  since?: string | null;
  until?: string | null;
  /** Leave subflows out (they are listed under their parent run). */
  top_level?: boolean;
  /** A run id: the page after it. */
  before?: string | null;
  /** ISO 8601: only runs that ended at or after it. */
  ended_since?: string | null;
  /** A flow run id: its subflow runs. */
  parent?: string | null;
}

/** What went with a deleted run. */
export interface DeletedRun {
  run: Run;
  subflows: number;
  task_runs: number;
  states: number;
  log_lines: number;
  results: number;
  input_requests: number;
}

export interface InputRequest {
  id: string;
  flow_run_id: string;
  flow_run_name: string | null;
  flow_name: string | null;
  key: string;
  schema: JsonSchema;
  description: string | null;
  status: "pending" | "answered" | "rejected" | "expired";
  created: string | null;
  timeout_at: string | null;
  state_type: StateType | null;
}

export interface Schedule {
  id: string;
  description: string;
  active: boolean;
  next_runs: string[];
  spec: StoredSpec;
  parameters: Record<string, unknown>;
  catchup: string;
}

/** A schedule as the store keeps it. */
export type StoredSpec =
  | { kind: "cron"; expression: string; timezone: string }
  | { kind: "interval"; every_seconds: number; anchor: string; timezone: string };

/** A schedule as PUT deployments/{name}/schedules takes it: cron (with a time zone) or interval. */
export interface ScheduleSpec {
  cron?: string;
  interval?: string;
  /** A stored spec sent back as it is (keeps an interval's own anchor). */
  spec?: StoredSpec;
  timezone?: string;
  parameters?: Record<string, unknown>;
  active?: boolean;
  catchup?: "latest" | "all";
}

export interface Deployment {
  id: string;
  name: string;
  paused: boolean;
  version: number | null;
  schedules: Schedule[];
  last_run_name: string | null;
  last_run_state: string | null;
  last_run_state_type: StateType | null;
  last_run_time: string | null;
  next_run_time: string | null;
}

/** A notebook parameter, from the cell tagged `parameters`. */
export interface Parameter {
  name: string;
  type: "int" | "float" | "str" | "bool" | "list" | "dict" | "any";
  default: unknown;
  help: string;
  /** A Python flow's parameter without a default: a run must give it. */
  required?: boolean;
  /** The default is an expression (its text), which the notebook or flow evaluates. */
  expression?: boolean;
}

export interface DeploymentVersion {
  id: string;
  version: number;
  notebook_path: string;
  parameters: Parameter[];
  created: string;
  changes?: string[];
}

/** One entry of a version diff: a cell kept, added, removed or edited. */
export interface CellChange {
  op: "equal" | "insert" | "delete" | "replace";
  old: DiffCell | null;
  new: DiffCell | null;
  /** The unified diff of an edited cell's source. */
  diff: string;
  /** For collapsed runs of unchanged cells. */
  count?: number;
}

export interface DiffCell {
  index: number;
  cell_type: string;
  source: string;
}

export interface VersionDiff {
  deployment: string;
  /** null when `to` is the first version. */
  from: number | null;
  to: number;
  changes: string[];
  cells: CellChange[];
  parameters: { name: string; op: "added" | "removed" | "changed"; old: unknown; new: unknown }[];
}

export interface Limit {
  name: string;
  slots: number | null;
  used: number;
  holders: number;
  per_second: number | null;
  burst: number | null;
  next_free_at: string | null;
}

export interface Lease {
  id: string;
  slots: number;
  holder: string;
  acquired_at: string | null;
  expires_at: string | null;
}

export interface LimitDetail extends Limit {
  leases: Lease[];
}

export interface DeploymentWithVersions extends Deployment {
  versions: DeploymentVersion[];
}

/** The body of POST deployments: cron or interval, not both. */
export interface CreateDeployment {
  notebook: string;
  name: string;
  cron?: string;
  interval?: string;
  timezone?: string;
  parameters?: Record<string, unknown>;
}

/** Where the server copied a run's output notebook, relative to its root. */
export interface OpenedOutput {
  path: string;
}
