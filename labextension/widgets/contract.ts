/**
 * The widgets' traits and messages: the TypeScript side of
 * kernel_ext/widgets/_contract.py. Change both together.
 */

export type StateType =
  | "SCHEDULED"
  | "PENDING"
  | "RUNNING"
  | "PAUSED"
  | "COMPLETED"
  | "FAILED"
  | "CRASHED"
  | "CANCELLING"
  | "CANCELLED";

export interface FlowRunSummary {
  id: string;
  name: string;
  flow_name: string;
  state: string;
  state_type: StateType;
  message: string | null;
  duration: number | null;
}

export interface GraphNode {
  id: string;
  kind: "run" | "group";
  name: string;
  task_key: string;
  state: string;
  state_type: StateType;
  message: string | null;
  duration: number | null;
  run_count: number;
  count: number;
  done: number;
  counts: Record<string, number>;
  members: string[];
}

export interface GraphPayload {
  run: FlowRunSummary | null;
  nodes: GraphNode[];
  edges: [string, string][];
  task_runs: number;
  hidden: number;
  final: boolean;
}

/** The traits of RunGraph. */
export interface GraphModel {
  graph: GraphPayload;
  [key: string]: unknown;
}

export interface DetailsMessage {
  type: "details";
  task_run_id: string;
}

export interface HistoryEntry {
  type: StateType;
  name: string;
  timestamp: string;
  message: string | null;
  details: Record<string, unknown> | null;
}

export interface LogLine {
  timestamp: string;
  level: number;
  level_name: string;
  logger: string;
  message: string;
}

export interface TaskRunRecord {
  id: string;
  name: string;
  state: string;
  state_type: StateType;
  state_message: string | null;
  start_time: string | null;
  end_time: string | null;
  duration: number | null;
  run_count: number;
  tags: string[];
  task_key: string;
  cache_key: string | null;
  flow_run_id: string | null;
}

export type ArtifactType = "markdown" | "table" | "progress" | "image";

/** What a run published (the REST API's Artifact). `data` is the markdown text (a link
 * is `[text](url)`), the table (row objects, an object of column lists, or row lists),
 * the progress (0-100) or the image URL. */
export interface ArtifactRecord {
  id: string;
  key: string | null;
  type: ArtifactType;
  data: unknown;
  description: string | null;
  flow_run_id: string | null;
  task_run_id: string | null;
  created: string;
  updated: string;
}

/** An artifact in the side panel: its data clipped to what the panel shows. */
export interface ArtifactSummary extends ArtifactRecord {
  /** Table rows, or characters, not sent (0: the data is whole). */
  omitted: number;
}

export interface RunDetails {
  run: TaskRunRecord;
  history: HistoryEntry[];
  logs: LogLine[];
  logs_omitted: number;
  /** The task run's newest artifacts, oldest first. */
  artifacts: ArtifactSummary[];
  /** The task run has older artifacts than these (its run's page lists them all). */
  more_artifacts: boolean;
  upstream: { id: string; name: string }[];
  upstream_omitted: number;
  result: string | null;
  error: { exception_type: string; message: string; traceback: string } | null;
}

export interface DetailsReply {
  type: "details";
  task_run_id: string;
  details: RunDetails | null;
  error: string | null;
}

export type RequestStatus = "pending" | "answered" | "rejected" | "expired";

export interface InputRequest {
  id: string;
  flow_run_id: string;
  flow_run_name: string;
  key: string;
  description: string;
  schema: JsonSchema;
  status: RequestStatus;
  error: string | null;
  answer: unknown;
  answered_by: string | null;
  answered_at: string | null;
  flow_name: string | null;
  timeout_at: string | null;
}

/** The traits of ApprovalForm. */
export interface ApprovalModel {
  request: InputRequest;
  [key: string]: unknown;
}

export type AnswerMessage = { type: "answer"; answer: Record<string, unknown> };
export type RejectMessage = { type: "reject"; reason: string | null };

export interface ResultReply {
  type: "result";
  action: "answer" | "reject";
  error: string | null;
}

/** The subset of JSON Schema (as pydantic writes it) that the form understands. */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
}
