/**
 * The REST API's records as the sidebar reads them: the TypeScript side of
 * papermill_bridge/server/openapi.json (Run, TaskRun, InputRequest, Deployment).
 */

import type { JsonSchema, StateType } from "../widgets/contract";

export type { JsonSchema, StateType };

export interface TaskRun {
  id: string;
  name: string;
  state: string;
  state_type: StateType;
  duration: number | null;
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
  deployment_name: string | null;
  output_notebook: string | null;
  task_runs?: TaskRun[];
  failure?: Failure | null;
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

/** Which lines to read: the last `tail`, or those after the line with id `after`. */
export interface LogWindow {
  after?: number;
  tail?: number;
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
  timeout_at: string | null;
}

export interface Schedule {
  id: string;
  description: string;
  active: boolean;
  next_runs: string[];
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
}

export interface DeploymentVersion {
  id: string;
  version: number;
  notebook_path: string;
  parameters: Parameter[];
  created: string;
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
