/**
 * ApprovalForm's view: a paused run's input request as a form generated from its JSON
 * schema, answered through the server's API or, failing that, the kernel.
 */

import type { RenderProps } from "@anywidget/types";
import type { AnswerMessage, ApprovalModel, InputRequest, RejectMessage, ResultReply } from "./contract";
import { formatDateTime, h, warn } from "./dom";
import { renderMarkdown } from "./markdown";
import { type Field, buildFields } from "./schema-form";
import { type Action, postToServer } from "./submit";
import "./approval.css";

/** After this long without the kernel's reply, say why the answer waits. */
const KERNEL_BUSY_MS = 4000;

const STATUS_TEXT: Record<InputRequest["status"], string> = {
  pending: "Waiting for an answer",
  answered: "Answered",
  rejected: "Rejected",
  expired: "Expired",
};

function render({ model, el }: RenderProps<ApprovalModel>): () => void {
  const controller = new AbortController();
  const { signal } = controller;
  const title = h("div", { class: "tb-approval-title" });
  const description = h("div", { class: "tb-description" });
  const form = h("form", { class: "tb-form", novalidate: false });
  const fieldset = h("fieldset", {});
  const reason = h("input", { type: "text", class: "tb-reason", placeholder: "Reason (optional)", hidden: true });
  const error = h("div", { class: "tb-error", role: "alert" });
  const status = h("div", { class: "tb-status", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "tb-button tb-primary" });
  const reject = h("button", { type: "button", class: "tb-button tb-danger" }, "Reject");
  const cancel = h("button", { type: "button", class: "tb-button", hidden: true }, "Cancel");
  form.append(fieldset, reason, error, h("div", { class: "tb-actions" }, submit, reject, cancel), status);
  el.replaceChildren(h("div", { class: "tb-approval" }, title, description, form));

  let fields: Field[] = [];
  let schemaKey = "";
  let busy = false;
  let localError: string | null = null;
  let busyTimer = 0;

  const request = (): InputRequest => model.get("request");

  const endReject = (): void => {
    reason.hidden = true;
    cancel.hidden = true;
    reject.textContent = "Reject";
  };

  const sync = (): void => {
    const current = request();
    const key = JSON.stringify(current.schema ?? {});
    if (key !== schemaKey) {
      schemaKey = key;
      fields = buildFields(current.schema ?? {});
      fieldset.replaceChildren(...fields.map((field) => field.element));
      // A RunInput's docstring is the schema's description: the fallback for the form's.
      description.replaceChildren(renderMarkdown(current.description || current.schema?.description || ""));
    }
    const pending = current.status === "pending";
    if (!pending && current.status === "answered" && isRecord(current.answer)) {
      for (const field of fields) field.write(current.answer[field.name]);
    }
    title.replaceChildren(
      h("strong", {}, current.flow_run_name || current.flow_run_id.slice(0, 8)),
      ` is paused at `,
      h("code", {}, current.key),
      h("span", { class: `tb-pill tb-status-${current.status}` }, STATUS_TEXT[current.status] ?? current.status),
    );
    submit.textContent = fields.length === 0 ? "Resume" : "Submit";
    fieldset.disabled = !pending || busy;
    for (const button of [submit, reject, cancel]) button.disabled = !pending || busy;
    reason.disabled = !pending || busy;
    if (!pending) endReject();
    error.textContent = localError ?? current.error ?? "";
    status.replaceChildren(statusLine(current, busy));
  };

  const begin = (): void => {
    busy = true;
    localError = null;
    sync();
  };
  const end = (message: string | null): void => {
    busy = false;
    window.clearTimeout(busyTimer);
    localError = message;
    sync();
  };

  const send = async (action: Action, body: Record<string, unknown>): Promise<void> => {
    begin();
    const current = request();
    try {
      const outcome = await postToServer(current.id, action, body, signal);
      if (outcome.kind === "done") {
        model.set("request", { ...current, ...fallbackRecord(action, body), ...(outcome.request ?? {}), error: null });
        model.save_changes();
        end(null);
      } else if (outcome.kind === "error") {
        end(outcome.message);
      } else {
        warn(`answering through the kernel: ${outcome.reason}`);
        const message: AnswerMessage | RejectMessage = action === "answer"
          ? { type: "answer", answer: body["answer"] as Record<string, unknown> }
          : { type: "reject", reason: (body["reason"] as string | null) ?? null };
        model.send(message);
        busyTimer = window.setTimeout(() => {
          status.replaceChildren("Sent to the kernel; it takes the answer once it is idle.");
        }, KERNEL_BUSY_MS);
      }
    } catch (err) {
      if (!signal.aborted) end(`Could not send the answer: ${String(err)}`);
    }
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (busy || request().status !== "pending") return;
    if (!reason.hidden) return void send("reject", { reason: reason.value.trim() || null });
    let answer: Record<string, unknown>;
    try {
      answer = collect(fields);
    } catch (err) {
      end(err instanceof Error ? err.message : String(err));
      form.reportValidity();
      return;
    }
    if (!form.reportValidity()) return;
    void send("answer", { answer });
  }, { signal });

  reject.addEventListener("click", () => {
    if (reason.hidden) {
      reason.hidden = false;
      cancel.hidden = false;
      reject.textContent = "Confirm reject";
      reason.focus();
    } else {
      void send("reject", { reason: reason.value.trim() || null });
    }
  }, { signal });
  cancel.addEventListener("click", endReject, { signal });

  const onMessage = (message: unknown): void => {
    if (isRecord(message) && message["type"] === "result") end((message as unknown as ResultReply).error);
  };
  model.on("change:request", sync);
  model.on("msg:custom", onMessage);
  sync();

  return () => {
    controller.abort();
    window.clearTimeout(busyTimer);
    model.off("change:request", sync);
    model.off("msg:custom", onMessage);
  };
}

function collect(fields: Field[]): Record<string, unknown> {
  const answer: Record<string, unknown> = {};
  for (const field of fields) {
    const value = field.read();
    if (value !== undefined) answer[field.name] = value;
  }
  return answer;
}

/** What the request becomes when the server's reply does not include the record. */
function fallbackRecord(action: Action, body: Record<string, unknown>): Partial<InputRequest> {
  const answeredAt = new Date().toISOString();
  return action === "answer"
    ? { status: "answered", answer: body["answer"], answered_at: answeredAt }
    : { status: "rejected", answer: { reason: body["reason"] ?? null }, answered_at: answeredAt };
}

function statusLine(request: InputRequest, busy: boolean): string {
  const by = request.answered_by ? ` by ${request.answered_by}` : "";
  const at = request.answered_at ? ` at ${formatDateTime(request.answered_at)}` : "";
  switch (request.status) {
    case "answered":
      return `Answered${by}${at}.`;
    case "rejected": {
      const reason = isRecord(request.answer) && typeof request.answer["reason"] === "string"
        ? `: ${request.answer["reason"]}` : "";
      return `Rejected${by}${at}${reason}.`;
    }
    case "expired":
      return "This request expired before anyone answered it; the run did not resume.";
    default:
      if (busy) return "Sending\u2026";
      return request.timeout_at ? `Expires at ${formatDateTime(request.timeout_at)}.` : "";
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export default { render };
