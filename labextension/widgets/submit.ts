/**
 * Sending an answer: to the Jupyter server's Taskbook API first, because it reaches the
 * paused run even while the kernel is busy waiting for it; to the kernel (a custom widget
 * message) when there is no such endpoint (no server extension, another frontend).
 */

import type { InputRequest } from "./contract";

export type Action = "answer" | "reject";

export type Outcome =
  | { kind: "done"; request: Partial<InputRequest> | null }
  | { kind: "error"; message: string }
  | { kind: "fallback"; reason: string };

interface PageConfig {
  baseUrl?: string;
  token?: string;
}

function pageConfig(): PageConfig {
  const element = document.getElementById("jupyter-config-data");
  if (!element?.textContent) return {};
  try {
    return JSON.parse(element.textContent) as PageConfig;
  } catch {
    return {};
  }
}

export function baseUrl(): string {
  const base = pageConfig().baseUrl || "/";
  return base.endsWith("/") ? base : `${base}/`;
}

export function xsrfToken(): string | null {
  const match = /(?:^|;\s*)_xsrf=([^;]*)/.exec(document.cookie);
  return match?.[1] ? decodeURIComponent(match[1]) : null;
}

export function endpoint(requestId: string, action: Action): string {
  return `${baseUrl()}taskbook/api/inputs/${encodeURIComponent(requestId)}/${action}`;
}

export async function postToServer(
  requestId: string,
  action: Action,
  body: Record<string, unknown>,
  signal: AbortSignal,
): Promise<Outcome> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  const xsrf = xsrfToken();
  if (xsrf) headers["X-XSRFToken"] = xsrf;
  const token = pageConfig().token;
  if (token) headers["Authorization"] = `token ${token}`; // as JupyterLab's own requests do
  let response: Response;
  try {
    response = await fetch(endpoint(requestId, action), {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw error;
    return { kind: "fallback", reason: `network error: ${String(error)}` };
  }
  const json = await readJson(response);
  if (response.ok) {
    return { kind: "done", request: isRecord(json) && "status" in json ? (json as Partial<InputRequest>) : null };
  }
  // Our handlers answer errors in JSON ({"message": ...}); a 404 page that is not JSON
  // means the server has no Taskbook extension, so the kernel must take the answer.
  if (response.status === 404 && !isRecord(json)) {
    return { kind: "fallback", reason: "the server has no Taskbook API" };
  }
  const message = isRecord(json) && typeof json["message"] === "string" ? json["message"] : "";
  return { kind: "error", message: message || `The server refused the answer (HTTP ${response.status}).` };
}

async function readJson(response: Response): Promise<unknown> {
  if (!(response.headers.get("Content-Type") ?? "").includes("json")) return null;
  try {
    return (await response.json()) as unknown;
  } catch {
    return null;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
