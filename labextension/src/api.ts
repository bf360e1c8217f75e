/**
 * The sidebar's one seam to the server: typed calls to /taskbook/api/ through
 * ServerConnection (which adds the token and XSRF header). Errors carry the handler's
 * message, so a form can show why the server refused an answer.
 */

import { URLExt } from "@jupyterlab/coreutils";
import { ServerConnection } from "@jupyterlab/services";
import type { Deployment, InputRequest, Run } from "./types";

/** A refused or failed call; `message` is the server's own explanation when it gave one. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "ApiError";
  }
}

export class TaskbookApi {
  constructor(private readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  listRuns(signal?: AbortSignal): Promise<Run[]> {
    return this.call<Run[]>("GET", "runs?limit=50", undefined, signal);
  }

  readRun(id: string, signal?: AbortSignal): Promise<Run> {
    return this.call<Run>("GET", `runs/${encodeURIComponent(id)}`, undefined, signal);
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

  startRun(name: string): Promise<Run> {
    return this.call<Run>("POST", `deployments/${encodeURIComponent(name)}/runs`, {});
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
