/** Drawing a laid-out graph as SVG: boxes coloured by state, arrows for data edges. */

import type { GraphNode, GraphPayload } from "./contract";
import { TIMES, count, formatDuration, s } from "./dom";
import { type Layout, NODE_HEIGHT, NODE_WIDTH, type Point } from "./graph-layout";
import { FAMILY_ORDER, stateClass, stateFamily } from "./states";

let nextId = 0;

export interface DrawOptions {
  selected: string | null;
  scale: number;
}

/** An <svg> of the graph; node boxes carry data-node-id for click handling. */
export function drawGraph(graph: GraphPayload, layout: Layout, options: DrawOptions): SVGSVGElement {
  const arrow = `tb-arrow-${nextId++}`; // ids are global to the page: one per drawing
  const svg = s("svg", {
    class: "tb-graph-svg",
    width: Math.ceil(layout.width * options.scale),
    height: Math.ceil(layout.height * options.scale),
    viewBox: `0 0 ${Math.ceil(layout.width)} ${Math.ceil(layout.height)}`,
    role: "img",
    "aria-label": graph.run ? `Task runs of flow run ${graph.run.name}` : "Run graph",
  });
  svg.append(
    s(
      "defs",
      {},
      s(
        "marker",
        { id: arrow, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" },
        s("path", { d: "M0,0 L10,5 L0,10 z", class: "tb-arrowhead" }),
      ),
    ),
  );
  const edges = s("g", { class: "tb-edges" });
  for (const edge of layout.edges) {
    edges.append(s("path", { d: pathOf(edge.points), "marker-end": `url(#${arrow})` }));
  }
  const nodes = s("g", { class: "tb-nodes" });
  for (const node of graph.nodes) {
    const at = layout.nodes.get(node.id);
    if (at) nodes.append(drawNode(node, at, node.id === options.selected));
  }
  svg.append(edges, nodes);
  return svg;
}

function pathOf(points: Point[]): string {
  return points.map((p, i) => `${i === 0 ? "M" : "L"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
}

function drawNode(node: GraphNode, at: Point, selected: boolean): SVGGElement {
  const classes = ["tb-node", stateClass(node.state, node.state_type), `tb-kind-${node.kind}`];
  if (selected) classes.push("tb-selected");
  const group = s("g", {
    class: classes.join(" "),
    transform: `translate(${at.x},${at.y})`,
    "data-node-id": node.id,
    tabindex: 0,
    role: "button",
  });
  const title = node.kind === "group" ? `${node.name} ${TIMES}${count(node.count)}` : node.name;
  group.append(
    s("title", {}, tooltip(node)),
    s("rect", { class: "tb-box", width: NODE_WIDTH, height: NODE_HEIGHT, rx: 6 }),
    s("rect", { class: "tb-stripe", width: 5, height: NODE_HEIGHT, rx: 2 }),
    s("text", { class: "tb-name", x: 13, y: 20 }, clip(title, 27)),
    s("text", { class: "tb-detail", x: 13, y: 37 }, clip(detailLine(node), 32)),
  );
  if (node.kind === "group") group.append(progressBar(node));
  return group;
}

function detailLine(node: GraphNode): string {
  const parts = [node.state];
  if (node.kind === "group") parts.push(`${count(node.done)}/${count(node.count)}`);
  if (node.duration !== null) parts.push(formatDuration(node.duration));
  if (node.kind === "run" && node.run_count > 1) parts.push(`${TIMES}${node.run_count}`);
  return parts.join(" \u00b7 ");
}

function tooltip(node: GraphNode): string {
  const lines = [`${node.name} (${node.task_key})`, detailLine(node)];
  if (node.kind === "group") {
    lines.push(...Object.entries(node.counts).map(([state, n]) => `${state}: ${count(n)}`));
  }
  if (node.message) lines.push(node.message);
  return lines.join("\n");
}

/** A thin bar along the bottom of a group: one segment per state family. */
function progressBar(node: GraphNode): SVGGElement {
  const bar = s("g", { class: "tb-progress", transform: `translate(13,${NODE_HEIGHT - 8})` });
  const width = NODE_WIDTH - 26;
  const families = new Map<string, number>();
  for (const [state, n] of Object.entries(node.counts)) {
    const family = stateFamily(state);
    families.set(family, (families.get(family) ?? 0) + n);
  }
  bar.append(s("rect", { class: "tb-progress-track", width, height: 3, rx: 1.5 }));
  let x = 0;
  for (const family of FAMILY_ORDER) {
    const n = families.get(family) ?? 0;
    if (n === 0 || family === "pending") continue;
    const w = (n / Math.max(node.count, 1)) * width;
    bar.append(s("rect", { class: `tb-progress-seg tb-s-${family}`, x, width: w, height: 3 }));
    x += w;
  }
  return bar;
}

function clip(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}\u2026`;
}
