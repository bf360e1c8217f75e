/**
 * A tiny Markdown renderer for input request descriptions: headings, paragraphs, lists,
 * fenced code, block quotes; inline code, bold, italics and links. It builds DOM nodes
 * and never parses HTML, so text is always text (`<script>` shows as written); links
 * keep only http(s), mailto and relative targets.
 */

import { h } from "./dom";

const INLINE =
  /`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)|\*\*(.+?)\*\*|__(.+?)__|\*([^*\s](?:[^*]*?[^*\s])?)\*|(?<![\w])_([^_\s](?:[^_]*?[^_\s])?)_(?![\w])/g;
const SAFE_URL = /^(https?:|mailto:|#|\/|\.{0,2}\/|[\w.-]+(?:[/?#]|$))/i;

export function renderMarkdown(source: string): DocumentFragment {
  const out = document.createDocumentFragment();
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? "";
    const fence = /^\s*(```|~~~)/.exec(line);
    if (fence) {
      const code: string[] = [];
      for (i += 1; i < lines.length && !(lines[i] ?? "").trim().startsWith(fence[1] ?? "```"); i += 1) {
        code.push(lines[i] ?? "");
      }
      out.append(h("pre", {}, h("code", {}, code.join("\n"))));
      i += 1;
      continue;
    }
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const level = Math.min((heading[1] ?? "#").length + 2, 6); // h1 in a form is too loud
      const element = document.createElement(`h${level}`);
      element.append(inline(heading[2] ?? ""));
      out.append(element);
      i += 1;
      continue;
    }
    const list = listKind(line);
    if (list) {
      const element = h(list);
      for (; i < lines.length && listKind(lines[i] ?? "") === list; i += 1) {
        element.append(h("li", {}, inline((lines[i] ?? "").replace(/^\s*(?:[-*+]|\d+[.)])\s+/, ""))));
      }
      out.append(element);
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quoted: string[] = [];
      for (; i < lines.length && /^\s*>/.test(lines[i] ?? ""); i += 1) quoted.push((lines[i] ?? "").replace(/^\s*>\s?/, ""));
      out.append(h("blockquote", {}, renderMarkdown(quoted.join("\n"))));
      continue;
    }
    if (line.trim() === "") {
      i += 1;
      continue;
    }
    const paragraph: string[] = [];
    for (; i < lines.length && isParagraphLine(lines[i] ?? ""); i += 1) paragraph.push((lines[i] ?? "").trim());
    out.append(h("p", {}, inline(paragraph.join(" "))));
  }
  return out;
}

function listKind(line: string): "ul" | "ol" | null {
  if (/^\s*[-*+]\s+/.test(line)) return "ul";
  if (/^\s*\d+[.)]\s+/.test(line)) return "ol";
  return null;
}

function isParagraphLine(line: string): boolean {
  return line.trim() !== "" && !listKind(line) && !/^(#{1,6}\s|\s*(```|~~~|>))/.test(line);
}

export function inline(text: string): DocumentFragment {
  const out = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    const start = match.index ?? 0;
    if (start > last) out.append(text.slice(last, start));
    out.append(inlineElement(match));
    last = start + match[0].length;
  }
  if (last < text.length) out.append(text.slice(last));
  return out;
}

function inlineElement(match: RegExpMatchArray): Node {
  const [, code, label, url, bold1, bold2, italic1, italic2] = match;
  if (code !== undefined) return h("code", {}, code);
  if (label !== undefined && url !== undefined) {
    if (!SAFE_URL.test(url)) return document.createTextNode(match[0]);
    return h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, inline(label));
  }
  const strong = bold1 ?? bold2;
  if (strong !== undefined) return h("strong", {}, inline(strong));
  return h("em", {}, inline(italic1 ?? italic2 ?? ""));
}
