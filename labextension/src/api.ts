/**
 * The sidebar's one seam to the server: typed calls to /taskbook/api/ through
 * ServerConnection (which adds the token and XSRF header). Errors carry the handler's
 * message, so a form can show why the server refused an answer.
 */

import { URLExt } from "@jupyterlab/coreutils";
import { ServerConnection } from "@jupyterlab/services";
import type { GraphPayload } from "../widgets/contract";
import type {
  CreateDeployment, Deployment, DeploymentWithVersions, InputRequest, LogLine, LogWindow, OpenedOutput, Parameter, Run,
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

  /** The latest 50 runs; `state` (a state name or type, e.g. "Completed") filters them. */
  /** The 50 newest flow runs, in a state (name or type) and/or matching a part of a name. */
  listRuns(signal?: AbortSignal, state?: string | null, search?: string | null): Promise<Run[]> {
    const query = new URLSearchParams({ limit: "50" });
    if (state) query.set("state", state);
    if (search) query.set("q", search);
    return this.call<Run[]>("GET", `runs?${query}`, undefined, signal);
  }

  readRun(id: string, signal?: AbortSignal): Promise<Run> {
    return this.call<Run>("GET", `runs/${encodeURIComponent(id)}`, undefined, signal);
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
    const text = query.toString();
    const suffix = text ? `?${text}` : "";
    return this.call<LogLine[]>("GET", `runs/${encodeURIComponent(id)}/logs${suffix}`, undefined, signal);
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

  readDeployment(name: string): Promise<DeploymentWithVersions> {
    return this.call<DeploymentWithVersions>("GET", `deployments/${encodeURIComponent(name)}`);
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
