/**
 * The Approvals tab: every pending input request as the notebook widget shows it: a form
 * built from its JSON schema, the description rendered as Markdown, the flow, when it
 * was asked and when it expires. Forms are kept by request id across refreshes, so a
 * half-filled form is not wiped.
 */

import { formatDateTime, h } from "../widgets/dom";
import { renderMarkdown } from "../widgets/markdown";
import { type Field, buildFields } from "../widgets/schema-form";
import { ApiError, type TaskbookApi } from "./api";
import { Poller } from "./poller";
import type { InputRequest } from "./types";
import { type View, describe, notice } from "./view";

const REFRESH_MS = 2000;

export class ApprovalsView implements View {
  readonly id = "approvals";
  readonly label = "Approvals";
  readonly node = h("div", { class: "tb-view tb-approvals" });
  readonly poller = new Poller((signal) => this.refresh(signal), REFRESH_MS);
  private readonly forms = new Map<string, ApprovalCard>();
  /** Answered here: a list fetched before the answer landed must not bring them back. */
  private readonly settled = new Set<string>();
  private readonly status = h("div", {});

  constructor(private readonly api: TaskbookApi, private readonly openRun: (id: string) => void) {
    this.node.append(this.status);
  }

  private async refresh(signal: AbortSignal): Promise<void> {
    let requests: InputRequest[];
    try {
      requests = await this.api.listInputs(signal);
    } catch (error) {
      if (!signal.aborted) this.status.replaceChildren(notice(describe(error), true));
      return;
    }
    const pending = new Set(requests.filter((r) => r.status === "pending").map((r) => r.id));
    for (const [id, card] of this.forms) {
      if (!pending.has(id) && !card.busy) this.drop(id);
    }
    for (const request of requests) {
      if (pending.has(request.id) && !this.forms.has(request.id) && !this.settled.has(request.id)) {
        const card = new ApprovalCard(this.api, request, this.openRun, () => {
          this.settled.add(request.id);
          this.drop(request.id);
        });
        this.forms.set(request.id, card);
        this.node.append(card.node);
      }
    }
    this.status.replaceChildren(this.forms.size ? "" : notice("No run is waiting for input."));
  }

  private drop(id: string): void {
    this.forms.get(id)?.node.remove();
    this.forms.delete(id);
    if (!this.forms.size) this.status.replaceChildren(notice("No run is waiting for input."));
  }
}

/** One request's form; it removes itself once the server took the answer. */
class ApprovalCard {
  readonly node: HTMLElement;
  busy = false;
  private readonly fields: Field[];
  private readonly error = h("div", { class: "tb-error", role: "alert" });
  private readonly reason = h("input", { type: "text", class: "tb-reason", placeholder: "Reason (optional)" });

  constructor(private readonly api: TaskbookApi, request: InputRequest, openRun: (id: string) => void,
              private readonly done: () => void) {
    this.fields = buildFields(request.schema ?? {});
    const form = h("form", { class: "tb-form" });
    const submit = h("button", { type: "submit", class: "tb-button tb-primary" },
      this.fields.length ? "Submit" : "Resume");
    const reject = h("button", { type: "button", class: "tb-button tb-danger" }, "Reject");
    form.append(h("fieldset", {}, ...this.fields.map((field) => field.element)), this.reason, this.error,
      h("div", { class: "tb-actions" }, submit, reject));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.send(form, () => this.api.answer(request.id, this.collect()));
    });
    reject.addEventListener("click", () =>
      void this.send(form, () => this.api.reject(request.id, this.reason.value.trim() || null)));
    const description = request.description || request.schema?.description || "";
    const run = h("a", { href: "#", class: "tb-link tb-open-run", title: "Open the run" },
      request.flow_run_name || request.flow_run_id.slice(0, 8));
    run.addEventListener("click", (event) => {
      event.preventDefault();
      openRun(request.flow_run_id);
    });
    const facts = [
      request.flow_name ? `Flow ${request.flow_name}` : "",
      request.created ? `asked ${formatDateTime(request.created)}` : "",
      request.timeout_at ? `expires ${formatDateTime(request.timeout_at)}` : "no expiry",
    ].filter(Boolean).join(" \u00b7 ");
    this.node = h("div", { class: "tb-card tb-approval-card", "data-request-id": request.id },
      h("div", { class: "tb-card-title" }, h("strong", {}, run), " is paused at ", h("code", {}, request.key)),
      h("div", { class: "tb-muted tb-approval-facts" }, facts),
      description ? h("div", { class: "tb-description tb-markdown" }, renderMarkdown(description)) : null,
      form);
  }

  private collect(): Record<string, unknown> {
    const answer: Record<string, unknown> = {};
    for (const field of this.fields) {
      const value = field.read();
      if (value !== undefined) answer[field.name] = value;
    }
    return answer;
  }

  private async send(form: HTMLFormElement, call: () => Promise<unknown>): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.error.textContent = "";
    form.querySelectorAll("button").forEach((button) => { button.disabled = true; });
    try {
      await call();
      this.done();
    } catch (error) {
      // A 400 names the field that failed validation: show it where the user is looking.
      this.error.textContent = error instanceof ApiError ? error.message : `Could not send: ${describe(error)}`;
      if (!(error instanceof ApiError)) console.warn("[taskbook]", error);
    } finally {
      this.busy = false;
      form.querySelectorAll("button").forEach((button) => { button.disabled = false; });
    }
  }
}
