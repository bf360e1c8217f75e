/**
 * Watches the store while the page is visible, every ten seconds: the number of runs
 * waiting for input becomes a badge on the sidebar's icon, and a JupyterLab notification
 * (with "Open run") tells this person when a run they started here, or a run of a
 * deployment they follow, fails, crashes, or waits for input. What was already so when
 * the page loaded is not announced.
 */

import { Notification } from "@jupyterlab/apputils";
import type { Title, Widget } from "@lumino/widgets";
import type { TaskbookApi } from "./api";
import { isFollowed, isStartedHere } from "./follows";
import { Poller } from "./poller";
import type { InputRequest, Run } from "./types";

const REFRESH_MS = 10_000;
/** At most this many runs that ended Failed or Crashed since the last look, per state. */
const RECENT = 200;
/** Each look reaches this far behind the latest end it saw: a run committed late (its
 * end time is its own clock's, written before the commit) is still found. */
const OVERLAP_MS = 60_000;
/** Before any run was seen ending: how far back the first look reads. */
const FIRST_LOOK_MS = 3_600_000;
const CAPTION = "Taskbook";

export class Notifier {
  readonly poller = new Poller((signal) => this.refresh(signal), REFRESH_MS);
  /** Run ids and request ids seen already; null before the first look. */
  private seen: Set<string> | null = null;
  private readonly deployments = new Map<string, string | null>();
  /** The latest end time (ms) of a failed or crashed run seen; the next look starts from it. */
  private latestEnd: number | null = null;

  constructor(private readonly api: TaskbookApi, private readonly sidebar: Widget,
              private readonly openRun: (id: string) => void) {}

  /** Watch while the page is visible (the poller pauses while it is hidden). */
  start(): void {
    this.poller.start();
  }

  /** Look again now (after an answer or a start). */
  poke(): void {
    this.poller.poke();
  }

  private async refresh(signal: AbortSignal): Promise<void> {
    const from = this.latestEnd === null ? Date.now() - FIRST_LOOK_MS : this.latestEnd - OVERLAP_MS;
    const ended_since = new Date(from).toISOString();
    const [inputs, failed, crashed] = await Promise.all([
      this.api.listInputs(signal),
      this.api.listRuns({ state: "FAILED", ended_since, limit: RECENT }, signal),
      this.api.listRuns({ state: "CRASHED", ended_since, limit: RECENT }, signal),
    ]);
    for (const run of [...failed, ...crashed]) {
      const end = run.end_time ? Date.parse(run.end_time) : NaN;
      if (!Number.isNaN(end)) this.latestEnd = Math.max(this.latestEnd ?? end, end);
    }
    const pending = inputs.filter((request) => request.status === "pending");
    this.badge(pending.length);
    const first = this.seen === null;
    const seen = this.seen ?? new Set<string>();
    this.seen = seen;
    for (const run of [...failed, ...crashed]) {
      const key = `run:${run.id}:${run.state_type}:${run.run_count}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (!first && this.mine(run.id, run.deployment_name)) this.failed(run);
    }
    for (const request of pending) {
      const key = `input:${request.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (!first && this.mine(request.flow_run_id, await this.deploymentOf(request, signal))) this.waiting(request);
    }
  }

  private mine(runId: string, deployment: string | null): boolean {
    return isStartedHere(runId) || (deployment !== null && isFollowed(deployment));
  }

  /** The deployment of the run that asks (read once per run). */
  private async deploymentOf(request: InputRequest, signal: AbortSignal): Promise<string | null> {
    const known = this.deployments.get(request.flow_run_id);
    if (known !== undefined) return known;
    const run = await this.api.readRun(request.flow_run_id, signal).catch(() => null);
    const name = run?.deployment_name ?? null;
    this.deployments.set(request.flow_run_id, name);
    return name;
  }

  private failed(run: Run): void {
    const message = run.state_message ? `: ${run.state_message}` : "";
    Notification.error(`${run.name} ${run.state === "Crashed" ? "crashed" : run.state.toLowerCase()}${message}`.slice(0, 300), {
      autoClose: false,
      actions: [{ label: "Open run", callback: () => this.openRun(run.id) }],
    });
  }

  private waiting(request: InputRequest): void {
    const name = request.flow_run_name ?? request.flow_run_id.slice(0, 8);
    Notification.warning(`${name} is waiting for input (${request.key}).`, {
      autoClose: false,
      actions: [{ label: "Open run", callback: () => this.openRun(request.flow_run_id) }],
    });
  }

  /** The sidebar icon's badge, and its caption for screen readers. */
  private badge(waiting: number): void {
    const title: Title<Widget> = this.sidebar.title;
    const text = waiting > 99 ? "99+" : String(waiting);
    if ((title.dataset["tb-waiting"] ?? "0") === (waiting ? text : "0")) return;
    // JupyterLab keeps the tab's own data-id in the dataset too: change only ours.
    const { ["tb-waiting"]: _old, ...others } = title.dataset;
    title.dataset = waiting ? { ...others, "tb-waiting": text } : others;
    title.caption = waiting ? `${CAPTION}: ${waiting} run(s) waiting for input` : CAPTION;
  }
}
