/**
 * The console's one seam to the server: typed calls to /taskbook/api/ through
 * ServerConnection (which adds the token and XSRF header). Errors carry the handler's
 * message, so a form can show why the server refused an answer.
 */

import { URLExt } from "@jupyterlab/coreutils";
import { ServerConnection } from "@jupyterlab/services";
import type { GraphPayload } from "../widgets/contract";
import type {
  Artifact, CreateDeployment, DeletedRun, Deployment, DeploymentWithVersions, HistoryEntry, InputRequest, Limit, LimitDetail,
  LogLine, LogWindow, OpenedOutput, Parameter, Run, RunQuery, ScheduleSpec, VersionDiff,
} from "./types";

/** A refused or failed call; `message` is the server's own explanation when it gave one. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "ApiError";
  }
}

export class TaskbookApi {
  constructor(private readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  /** Flow runs, newest first, as the query selects them (see RunQuery). */
  listRuns(query: RunQuery = {}, signal?: AbortSignal): Promise<Run[]> {
    const params = new URLSearchParams({ limit: String(query.limit ?? 50) });
    for (const key of ["state", "q", "tag", "deployment", "since", "until", "before", "parent", "ended_since"] as const) {
      const value = query[key];
      if (value) params.set(key, value);
    }
    if (query.top_level) params.set("top_level", "true");
    return this.call<Run[]>("GET", `runs?${params}`, undefined, signal);
  }

  /** A run with its task runs; with `after` (an earlier read's `task_runs_cursor`), only
   * the task runs that changed since (merge them by id). */
  readRun(id: string, signal?: AbortSignal, after?: number): Promise<Run> {
    const since = after ? `?after=${after}` : "";
    return this.call<Run>("GET", `runs/${encodeURIComponent(id)}${since}`, undefined, signal);
  }

  /** The run's task runs aggregated as the notebook's RunGraph widget draws them. */
  readRunGraph(id: string, signal?: AbortSignal): Promise<GraphPayload> {
    return this.call<GraphPayload>("GET", `runs/${encodeURIComponent(id)}/graph`, undefined, signal);
  }

  /**
   * The log lines of the run and its task runs, in order: all of them, the last `tail`,
   * or only those written after the line whose id is `after` (a follower's cursor).
   */
  readRunLogs(id: string, window: LogWindow = {}, signal?: AbortSignal): Promise<LogLine[]> {
    const query = new URLSearchParams();
    if (window.after !== undefined) query.set("after", String(window.after));
    if (window.tail !== undefined) query.set("tail", String(window.tail));
    if (window.limit !== undefined) query.set("limit", String(window.limit));
    if (window.level) query.set("level", window.level);
    const text = query.toString();
    const suffix = text ? `?${text}` : "";
    return this.call<LogLine[]>("GET", `runs/${encodeURIComponent(id)}/logs${suffix}`, undefined, signal);
  }

  /** Every state the run went through, oldest first. */
  readRunHistory(id: string, signal?: AbortSignal): Promise<HistoryEntry[]> {
    return this.call<HistoryEntry[]>("GET", `runs/${encodeURIComponent(id)}/history`, undefined, signal);
  }

  /** The artifacts the run and its subflows published, oldest first (the first 500). */
  readRunArtifacts(id: string, signal?: AbortSignal): Promise<Artifact[]> {
    return this.call<Artifact[]>("GET", `runs/${encodeURIComponent(id)}/artifacts`, undefined, signal);
  }

  /** Cancel a run: one not started yet is Cancelled at once, a running one Cancelling. */
  cancelRun(id: string): Promise<Run> {
    return this.call<Run>("POST", `runs/${encodeURIComponent(id)}/cancel`, {});
  }

  /** Queue a failed, crashed or cancelled deployment run again (finished cells come from their results). */
  retryRun(id: string): Promise<Run> {
    return this.call<Run>("POST", `runs/${encodeURIComponent(id)}/retry`, {});
  }

  /** Delete a finished run with its task runs, logs, results index entries and output notebook. */
  deleteRun(id: string): Promise<DeletedRun> {
    return this.call<DeletedRun>("DELETE", `runs/${encodeURIComponent(id)}`);
  }

  /**
   * Copy a deployment run's output notebook under the server's root (outputs are kept
   * outside it); the answer is the copy's path relative to the root, for docmanager:open.
   */
  openRunOutput(id: string): Promise<OpenedOutput> {
    return this.call<OpenedOutput>("POST", `runs/${encodeURIComponent(id)}/output/open`, {});
  }

  listInputs(signal?: AbortSignal): Promise<InputRequest[]> {
    return this.call<InputRequest[]>("GET", "inputs", undefined, signal);
  }

  answer(id: string, answer: Record<string, unknown>): Promise<InputRequest> {
    return this.call<InputRequest>("POST", `inputs/${encodeURIComponent(id)}/answer`, { answer });
  }

  reject(id: string, reason: string | null): Promise<InputRequest> {
    return this.call<InputRequest>("POST", `inputs/${encodeURIComponent(id)}/reject`, { reason });
  }

  listDeployments(signal?: AbortSignal): Promise<Deployment[]> {
    return this.call<Deployment[]>("GET", "deployments", undefined, signal);
  }

  readDeployment(name: string, signal?: AbortSignal): Promise<DeploymentWithVersions> {
    return this.call<DeploymentWithVersions>("GET", `deployments/${encodeURIComponent(name)}`, undefined, signal);
  }

  /** Delete a deployment: its versions, schedules and runs not started yet (started runs stay). */
  deleteDeployment(name: string): Promise<unknown> {
    return this.call<unknown>("DELETE", `deployments/${encodeURIComponent(name)}`);
  }

  /** Replace the deployment's schedules (an empty list removes them all). */
  setSchedules(name: string, schedules: ScheduleSpec[]): Promise<DeploymentWithVersions> {
    return this.call<DeploymentWithVersions>("PUT", `deployments/${encodeURIComponent(name)}/schedules`, { schedules });
  }

  /** What changed, cell by cell, from version `from` to version `to`. */
  diffVersions(name: string, from: number, to: number): Promise<VersionDiff> {
    const query = new URLSearchParams({ from: String(from), to: String(to) });
    return this.call<VersionDiff>("GET", `deployments/${encodeURIComponent(name)}/diff?${query}`);
  }

  createDeployment(body: CreateDeployment): Promise<DeploymentWithVersions> {
    return this.call<DeploymentWithVersions>("POST", "deployments", body);
  }

  pauseDeployment(name: string): Promise<DeploymentWithVersions> {
    return this.call<DeploymentWithVersions>("POST", `deployments/${encodeURIComponent(name)}/pause`, {});
  }

  resumeDeployment(name: string): Promise<DeploymentWithVersions> {
    return this.call<DeploymentWithVersions>("POST", `deployments/${encodeURIComponent(name)}/resume`, {});
  }

  /** Start a run now; `parameters` override the deployment's defaults. */
  startRun(name: string, parameters?: Record<string, unknown>): Promise<Run> {
    const body = parameters === undefined ? {} : { parameters };
    return this.call<Run>("POST", `deployments/${encodeURIComponent(name)}/runs`, body);
  }

  listLimits(signal?: AbortSignal): Promise<Limit[]> {
    return this.call<Limit[]>("GET", "limits", undefined, signal);
  }

  readLimit(name: string, signal?: AbortSignal): Promise<LimitDetail> {
    return this.call<LimitDetail>("GET", `limits/${encodeURIComponent(name)}`, undefined, signal);
  }

  /** The parameters of a notebook under the server's root (path relative to it). */
  notebookParameters(path: string): Promise<Parameter[]> {
    return this.call<Parameter[]>("GET", `notebooks/parameters?path=${encodeURIComponent(path)}`);
  }

  private async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const url = URLExt.join(this.settings.baseUrl, "taskbook/api", path);
    const init: RequestInit = { method };
    if (body !== undefined) init.body = JSON.stringify(body);
    if (signal) init.signal = signal;
    const response = await ServerConnection.makeRequest(url, init, this.settings);
    const json = await readJson(response);
    if (!response.ok) throw new ApiError(response.status, errorMessage(json, response.status));
    return json as T;
  }
}

async function readJson(response: Response): Promise<unknown> {
  if (!(response.headers.get("Content-Type") ?? "").includes("json")) return null;
  try {
    return (await response.json()) as unknown;
  } catch {
    return null;
  }
}

function errorMessage(json: unknown, status: number): string {
  if (typeof json === "object" && json !== null && "message" in json) {
    const message = (json as { message: unknown }).message;
    if (typeof message === "string" && message) return message;
  }
  return status === 404
    ? "The server has no Taskbook API: is the papermill_bridge server extension enabled?"
    : `The server answered HTTP ${status}.`;
}
