/**
 * An artifact's content as DOM, shared by the run console and the graph's side panel:
 * a table (whichever of Prefect's three shapes it was made in) with a row cap, a progress
 * bar, an image. Markdown is drawn by a function the caller hands in: JupyterLab's
 * sanitizing renderer in the console, `safeMarkdown` in a widget (which has no
 * rendermime). Nothing here parses HTML, and nothing is fetched but an image's own URL.
 */

import type { ArtifactRecord } from "./contract";
import { count, h } from "./dom";
import { renderMarkdown } from "./markdown";

export type MarkdownDrawer = (source: string) => Node;

export interface BodyOptions {
  markdown: MarkdownDrawer;
  /** Table rows drawn; the rest are counted in an "N more rows" line. */
  maxRows: number;
  /** Table rows (or characters) the sender already left out. */
  omitted?: number;
}

/** The artifact's key, or what it is when it has none. */
export function artifactTitle(artifact: ArtifactRecord): string {
  return artifact.key ?? `Untitled ${artifact.type}`;
}

export function drawArtifactBody(artifact: ArtifactRecord, options: BodyOptions): Node {
  const { data } = artifact;
  switch (artifact.type) {
    case "markdown":
      return options.markdown(typeof data === "string" ? data : String(data ?? ""));
    case "table":
      return drawTable(data, options.maxRows, options.omitted ?? 0, artifactTitle(artifact));
    case "progress":
      return drawProgress(data, artifactTitle(artifact));
    case "image":
      return drawImage(typeof data === "string" ? data : "", artifact.description || artifactTitle(artifact));
    default:
      return h("pre", { class: "tb-artifact-raw" }, JSON.stringify(data, null, 2));
  }
}

/** A table's columns (null for a list of lists) and rows, as `_artifact_view.table_rows`. */
export function tableRows(data: unknown): { columns: string[] | null; rows: unknown[][] } {
  if (Array.isArray(data)) {
    if (data.length > 0 && data.every(isRecord)) {
      const columns = [...new Set(data.flatMap((row) => Object.keys(row)))];
      return { columns, rows: data.map((row) => columns.map((column) => row[column])) };
    }
    return { columns: null, rows: data.map((row) => (Array.isArray(row) ? row : [row])) };
  }
  if (isRecord(data)) {
    const columns = Object.keys(data);
    const lists = columns.map((column) => (Array.isArray(data[column]) ? (data[column] as unknown[]) : []));
    const depth = Math.max(0, ...lists.map((list) => list.length));
    return { columns, rows: Array.from({ length: depth }, (_, i) => lists.map((list) => list[i])) };
  }
  return { columns: null, rows: [] };
}

export function drawTable(data: unknown, maxRows: number, omitted: number, label: string): HTMLElement {
  const { columns, rows } = tableRows(data);
  const more = Math.max(0, rows.length - maxRows) + omitted;
  const head = columns
    ? h("thead", {}, h("tr", {}, ...columns.map((column) => h("th", { scope: "col" }, column))))
    : null;
  const body = h("tbody", {}, ...rows.slice(0, maxRows).map((row) =>
    h("tr", {}, ...row.map((value) => h("td", { class: typeof value === "number" ? "tb-num" : "" }, cellText(value))))));
  return h("div", { class: "tb-artifact-table" },
    rows.length || columns?.length
      ? h("table", { class: "tb-table", "aria-label": label }, head, body)
      : h("p", { class: "tb-muted" }, "An empty table."),
    more > 0 ? h("p", { class: "tb-muted tb-artifact-more" }, `${count(more)} more row${more === 1 ? "" : "s"}`) : null);
}

/** A cell as text: null is empty, an object is its JSON. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function drawProgress(data: unknown, label: string): HTMLElement {
  const value = Math.min(100, Math.max(0, typeof data === "number" && Number.isFinite(data) ? data : 0));
  const percent = `${Math.round(value * 10) / 10}%`;
  return h("div", { class: "tb-artifact-progress" },
    h("progress", { max: 100, value, "aria-label": `${label}: ${percent}` }),
    h("span", { class: "tb-artifact-percent" }, percent));
}

/** An image by its own URL (http(s) or a data: image), linked to it when it is a web URL. */
export function drawImage(url: string, alt: string): HTMLElement {
  if (!isImageUrl(url)) {
    return h("p", { class: "tb-muted" }, "Not shown (only http(s) and data: image URLs are): ", h("code", {}, url));
  }
  const image = h("img", { class: "tb-artifact-image", src: url, alt, loading: "lazy", referrerpolicy: "no-referrer" });
  return isWebUrl(url)
    ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer", title: "Open the image" }, image)
    : image;
}

export function isWebUrl(url: string): boolean {
  return /^https?:\/\//i.test(url.trim());
}

function isImageUrl(url: string): boolean {
  return isWebUrl(url) || /^data:image\//i.test(url.trim());
}

/**
 * Markdown without rendermime: the widgets' DOM-building renderer (text stays text),
 * with links kept only to http(s) URLs and headings demoted under the panel's own.
 */
export function safeMarkdown(source: string): Node {
  const content = h("div", { class: "tb-artifact-markdown" }, renderMarkdown(source));
  for (const link of [...content.querySelectorAll("a")]) {
    if (isWebUrl(link.getAttribute("href") ?? "")) link.setAttribute("rel", "noopener noreferrer");
    else link.replaceWith(...link.childNodes);
  }
  for (const heading of [...content.querySelectorAll("h3, h4, h5, h6")]) {
    const level = Math.min(6, Number(heading.tagName.slice(1)) + 2);
    const demoted = document.createElement(`h${level}`);
    demoted.append(...heading.childNodes);
    heading.replaceWith(demoted);
  }
  return content;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
