/**
 * A cell-level diff between two versions of a deployment's notebook: the summary, the
 * parameters that changed, and each cell added, removed or edited (with its line diff);
 * runs of unchanged cells are folded.
 */

import { h } from "../widgets/dom";
import type { CellChange, DiffCell, VersionDiff } from "./types";
import { notice } from "./view";

const OP_LABEL: Record<CellChange["op"], string> = {
  equal: "unchanged", insert: "added", delete: "removed", replace: "edited",
};

export function drawDiff(diff: VersionDiff): HTMLElement {
  const parameters = diff.parameters.map((change) => h("li", {},
    h("code", {}, change.name), ` ${change.op}`,
    change.op === "changed" ? h("span", { class: "tb-muted" }, `: ${JSON.stringify(change.old)} \u2192 ${JSON.stringify(change.new)}`) : ""));
  const changed = diff.cells.filter((cell) => cell.op !== "equal");
  return h("div", { class: "tb-diff", "aria-label": `Changes from version ${diff.from} to version ${diff.to}` },
    h("div", { class: "tb-section-title" }, diff.from === null ? `v${diff.to}` : `v${diff.from} \u2192 v${diff.to}`),
    h("ul", { class: "tb-diff-summary" }, ...diff.changes.map((change) => h("li", {}, change))),
    parameters.length ? h("div", {}, h("strong", {}, "Parameters"), h("ul", {}, ...parameters)) : "",
    changed.length ? "" : notice("No cell changed."),
    ...folded(diff.cells).map(cellChange));
}

/** Runs of unchanged cells as one entry each, with their count. */
function folded(cells: CellChange[]): CellChange[] {
  const out: CellChange[] = [];
  for (const cell of cells) {
    const last = out[out.length - 1];
    if (cell.op === "equal" && last?.op === "equal") last.count = (last.count ?? 1) + (cell.count ?? 1);
    else out.push({ ...cell });
  }
  return out;
}

function cellChange(change: CellChange): HTMLElement {
  if (change.op === "equal") {
    const count = change.count ?? 1;
    return h("div", { class: "tb-diff-cell tb-diff-equal tb-muted" }, `${count} unchanged cell${count === 1 ? "" : "s"}`);
  }
  const where = change.new ?? change.old;
  const title = `Cell ${where?.index ?? "?"} ${OP_LABEL[change.op]}${where ? ` (${where.cell_type})` : ""}`;
  const body = change.op === "replace" ? unified(change.diff) : source(change.op === "insert" ? change.new : change.old, change.op);
  return h("div", { class: `tb-diff-cell tb-diff-${change.op}`, "data-op": change.op },
    h("div", { class: "tb-diff-title" }, title), body);
}

function source(cell: DiffCell | null, op: CellChange["op"]): HTMLElement {
  const sign = op === "insert" ? "+" : "-";
  const lines = (cell?.source ?? "").split("\n").map((line) =>
    h("div", { class: op === "insert" ? "tb-diff-add" : "tb-diff-del" }, `${sign} ${line}`));
  return h("pre", { class: "tb-diff-source" }, ...lines);
}

function unified(text: string): HTMLElement {
  // The two header lines ("--- v1 cell 2", "+++ v2 cell 2") name what the cell's title
  // already says; a content line may start with "---" too (a Markdown rule removed).
  const all = text.split("\n");
  const lines = all[0]?.startsWith("--- ") && all[1]?.startsWith("+++ ") ? all.slice(2) : all;
  return h("pre", { class: "tb-diff-source" }, ...lines.map((line) => {
    const kind = line.startsWith("+") ? "tb-diff-add" : line.startsWith("-") ? "tb-diff-del"
      : line.startsWith("@@") ? "tb-diff-hunk" : "";
    return h("div", { class: kind }, line);
  }));
}
