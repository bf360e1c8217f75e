/**
 * Node positions from dagre. A layout is reused while the graph's structure (its node
 * ids and edges) is unchanged, so live updates that only change states are cheap and
 * nothing jumps around.
 */

import dagre from "@dagrejs/dagre";
import type { GraphPayload } from "./contract";

export const NODE_WIDTH = 208;
export const NODE_HEIGHT = 50;

export interface Point {
  x: number;
  y: number;
}

export interface Layout {
  key: string;
  width: number;
  height: number;
  /** Top-left corner of each node's box. */
  nodes: Map<string, Point>;
  edges: { source: string; target: string; points: Point[] }[];
}

export function structureKey(graph: GraphPayload): string {
  const nodes = graph.nodes.map((node) => node.id).join(",");
  const edges = graph.edges.map(([source, target]) => `${source}>${target}`).join(",");
  return `${nodes}|${edges}`;
}

export function layoutGraph(graph: GraphPayload, previous: Layout | null): Layout {
  const key = structureKey(graph);
  if (previous && previous.key === key) return previous;
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 14, ranksep: 44, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of graph.nodes) g.setNode(node.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const [source, target] of graph.edges) g.setEdge(source, target);
  dagre.layout(g);
  const nodes = new Map<string, Point>();
  for (const id of g.nodes()) {
    const label = g.node(id);
    nodes.set(id, { x: (label.x ?? 0) - NODE_WIDTH / 2, y: (label.y ?? 0) - NODE_HEIGHT / 2 });
  }
  const edges = g.edges().map((edge) => ({
    source: edge.v,
    target: edge.w,
    points: (g.edge(edge).points ?? []).map((p: Point) => ({ x: p.x, y: p.y })),
  }));
  const size = g.graph();
  return { key, width: size.width ?? 0, height: size.height ?? 0, nodes, edges };
}
