/**
 * RunGraph's view: the flow run's task runs as a dagre-laid-out SVG, updated live from
 * the `graph` trait, with a side panel that asks the kernel for a run's details.
 */

import type { RenderProps } from "@anywidget/types";
import type { DetailsMessage, DetailsReply, GraphModel, GraphNode, GraphPayload } from "./contract";
import { DetailsPanel } from "./details-panel";
import { count, formatDuration, h, warn } from "./dom";
import { type Layout, layoutGraph } from "./graph-layout";
import { drawGraph } from "./graph-view";
import { stateClass } from "./states";
import "./artifacts.css";
import "./graph.css";

/** Below this scale the graph keeps its size and scrolls instead of shrinking. */
const MIN_SCALE = 0.75;

function render({ model, el }: RenderProps<GraphModel>): () => void {
  const controller = new AbortController();
  const { signal } = controller;
  const header = h("div", { class: "tb-graph-header" });
  const canvas = h("div", { class: "tb-canvas", tabindex: 0 });
  const panel = new DetailsPanel(
    (taskRunId) => model.send({ type: "details", task_run_id: taskRunId } satisfies DetailsMessage),
    () => select(null),
  );
  el.replaceChildren(h("div", { class: "tb-graph" }, header, h("div", { class: "tb-graph-main" }, canvas, panel.element)));

  let layout: Layout | null = null;
  let selected: string | null = null;
  let frame = 0;

  const draw = (): void => {
    frame = 0;
    const graph = model.get("graph");
    header.replaceChildren(...headerOf(graph));
    if (graph.nodes.length === 0) {
      canvas.replaceChildren(h("p", { class: "tb-muted tb-empty" }, graph.run ? "No task runs yet." : "Waiting for the flow run to start\u2026"));
      return;
    }
    try {
      layout = layoutGraph(graph, layout);
    } catch (error) {
      warn("could not lay out the run graph", error);
      return;
    }
    const fit = (canvas.clientWidth - 2) / Math.max(layout.width, 1);
    const scale = fit >= MIN_SCALE ? Math.min(1, fit) : 1;
    const focused = canvas.contains(document.activeElement);
    canvas.replaceChildren(drawGraph(graph, layout, { selected, scale }));
    if (focused && selected) {
      // A redraw replaces the nodes: keep keyboard users where they were.
      canvas.querySelector<SVGGElement>(`[data-node-id="${CSS.escape(selected)}"]`)?.focus();
    }
  };
  const schedule = (): void => {
    if (frame === 0 && !signal.aborted) frame = requestAnimationFrame(draw);
  };
  const select = (id: string | null): void => {
    selected = id;
    schedule();
  };

  const onNode = (target: EventTarget | null): void => {
    const element = target instanceof Element ? target.closest("[data-node-id]") : null;
    const id = element?.getAttribute("data-node-id");
    const node = model.get("graph").nodes.find((n: GraphNode) => n.id === id);
    if (!node) return;
    select(node.id);
    if (node.kind === "group") panel.showGroup(node);
    else panel.load(node.id, node.name);
  };
  canvas.addEventListener("click", (event) => onNode(event.target), { signal });
  canvas.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      onNode(event.target);
    }
  }, { signal });
  enablePanning(canvas, signal);

  const onMessage = (message: unknown): void => {
    if (isDetailsReply(message)) panel.receive(message);
  };
  model.on("change:graph", schedule);
  model.on("msg:custom", onMessage);
  const resize = new ResizeObserver(schedule);
  resize.observe(canvas);
  draw();

  return () => {
    controller.abort();
    cancelAnimationFrame(frame);
    resize.disconnect();
    panel.close();
    model.off("change:graph", schedule);
    model.off("msg:custom", onMessage);
  };
}

function headerOf(graph: GraphPayload): Node[] {
  const run = graph.run;
  if (!run) return [h("span", { class: "tb-muted" }, "Run graph")];
  const tally = new Map<string, number>();
  for (const node of graph.nodes) {
    for (const [state, n] of Object.entries(node.counts)) tally.set(state, (tally.get(state) ?? 0) + n);
  }
  const parts = [...tally].map(([state, n]) =>
    h("span", { class: `tb-count ${stateClass(state)}` }, h("i", { class: "tb-dot" }), `${count(n)} ${state}`),
  );
  return [
    h("strong", { class: "tb-run-name", title: run.id }, `${run.flow_name} / ${run.name}`),
    h("span", { class: `tb-pill ${stateClass(run.state, run.state_type)}`, title: run.message ?? "" }, run.state),
    run.duration !== null ? h("span", { class: "tb-muted" }, formatDuration(run.duration)) : "",
    h("span", { class: "tb-muted" }, `${count(graph.task_runs)} task run${graph.task_runs === 1 ? "" : "s"}`),
    ...parts,
    graph.hidden > 0 ? h("span", { class: "tb-muted" }, `(${count(graph.hidden)} nodes not drawn)`) : "",
    openInConsole(run.id),
  ].filter((part): part is HTMLElement => part !== "");
}

/**
 * In JupyterLab with the Taskbook console (it marks the page), a button that opens the
 * run in a console tab, asked for with a DOM event; elsewhere nothing.
 */
function openInConsole(runId: string): HTMLElement | "" {
  if (document.body.dataset["taskbookConsole"] !== "1") return "";
  const button = h("button", { type: "button", class: "tb-open-console", title: "Open this run in a Taskbook tab: timeline, logs, history" },
    "Open run \u2197");
  button.addEventListener("click", () =>
    window.dispatchEvent(new CustomEvent("taskbook:open-run", { detail: { id: runId } })));
  return button;
}

/** Drag the background to scroll a graph larger than its frame. */
function enablePanning(canvas: HTMLElement, signal: AbortSignal): void {
  let start: { x: number; y: number; left: number; top: number } | null = null;
  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || (event.target as Element).closest("[data-node-id]")) return;
    start = { x: event.clientX, y: event.clientY, left: canvas.scrollLeft, top: canvas.scrollTop };
    canvas.setPointerCapture(event.pointerId);
    canvas.classList.add("tb-panning");
  }, { signal });
  canvas.addEventListener("pointermove", (event) => {
    if (!start) return;
    canvas.scrollLeft = start.left - (event.clientX - start.x);
    canvas.scrollTop = start.top - (event.clientY - start.y);
  }, { signal });
  const stop = (): void => {
    start = null;
    canvas.classList.remove("tb-panning");
  };
  canvas.addEventListener("pointerup", stop, { signal });
  canvas.addEventListener("pointercancel", stop, { signal });
}

function isDetailsReply(message: unknown): message is DetailsReply {
  return typeof message === "object" && message !== null && (message as { type?: unknown }).type === "details";
}

export default { render };
