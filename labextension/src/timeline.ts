/**
 * A run's timeline (Gantt): one bar per task run from its start to its end (or to now
 * while it runs), on a time axis from the run's start, coloured by state. Task runs that
 * never started are listed without a bar.
 */

import { formatDuration, formatTime, h } from "../widgets/dom";
import { stateClass } from "../widgets/states";
import type { Run, TaskRun } from "./types";
import { notice } from "./view";

/** Past this many task runs, the timeline shows the first ones and says so. */
const MAX_BARS = 500;
const TICKS = 5;

export function drawTimeline(run: Run, tasks: TaskRun[], onSelect: (task: TaskRun) => void): HTMLElement {
  const started = tasks.filter((task) => task.start_time);
  if (!started.length) return notice("No task run has started yet.");
  const now = Date.now();
  const begin = Math.min(...started.map((task) => time(task.start_time)), time(run.start_time) || Infinity);
  const finish = Math.max(...started.map((task) => endOf(task, now)), time(run.end_time) || 0, begin + 1);
  const span = finish - begin;
  const rows = started.slice(0, MAX_BARS).map((task) => {
    const left = ((time(task.start_time) - begin) / span) * 100;
    const width = Math.max(0.3, ((endOf(task, now) - time(task.start_time)) / span) * 100);
    const label = `${task.name}: ${task.state}, ${formatDuration(task.duration)} from ${formatTime(task.start_time)}`;
    const bar = h("button", {
      type: "button", class: `tb-bar ${stateClass(task.state, task.state_type)}`, "data-task-run-id": task.id,
      style: `left:${left.toFixed(3)}%;width:${width.toFixed(3)}%`, title: label, "aria-label": label,
    });
    bar.addEventListener("click", () => onSelect(task));
    return h("div", { class: "tb-timeline-row", role: "listitem" },
      h("span", { class: "tb-timeline-name", title: task.name }, task.name),
      h("span", { class: "tb-timeline-track" }, bar));
  });
  const ticks = Array.from({ length: TICKS + 1 }, (_, i) =>
    h("span", { class: "tb-tick", style: `left:${(i / TICKS) * 100}%` }, `+${formatDuration((span * i) / TICKS / 1000) || "0 s"}`));
  const idle = tasks.filter((task) => !task.start_time);
  // A cached task run took its result without running; the others wait.
  const cached = idle.filter((task) => task.state === "Cached").length;
  const waiting = idle.length - cached;
  return h("div", { class: "tb-timeline" },
    h("div", { class: "tb-timeline-row tb-timeline-axis", "aria-hidden": "true" },
      h("span", { class: "tb-timeline-name tb-muted" }, formatTime(new Date(begin).toISOString())),
      h("span", { class: "tb-timeline-track" }, ...ticks)),
    h("div", { role: "list", "aria-label": "Task runs over time" }, ...rows),
    started.length > MAX_BARS ? notice(`The first ${MAX_BARS} of ${started.length} task runs are drawn.`) : "",
    waiting ? notice(`${waiting} task run(s) have not started.`) : "",
    cached ? notice(`${cached} task run(s) took a cached result without running.`) : "");
}

function time(iso: string | null): number {
  return iso ? new Date(iso).getTime() : 0;
}

function endOf(task: TaskRun, now: number): number {
  if (task.end_time) return time(task.end_time);
  return task.duration !== null ? time(task.start_time) + task.duration * 1000 : now;
}
