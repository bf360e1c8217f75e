/**
 * A WAI-ARIA tab strip: buttons with role "tab" over panels with role "tabpanel", a
 * roving tabindex, and the arrow, Home and End keys moving between tabs (and selecting).
 */

import { h } from "../widgets/dom";

export interface TabSpec {
  id: string;
  label: string;
  panel: HTMLElement;
}

let stripCount = 0;

export class TabStrip {
  readonly node: HTMLElement;
  private readonly buttons = new Map<string, HTMLButtonElement>();
  private current: string;

  constructor(private readonly tabs: TabSpec[], private readonly onSelect: (id: string) => void, label: string) {
    const first = tabs[0];
    if (!first) throw new Error("[taskbook] a tab strip needs at least one tab");
    this.current = first.id;
    const prefix = `tb-tabs-${++stripCount}`;
    this.node = h("div", { class: "tb-tabs", role: "tablist", "aria-label": label });
    for (const tab of tabs) {
      const button = h("button", {
        type: "button", class: "tb-tab", role: "tab", id: `${prefix}-${tab.id}`, "data-view": tab.id,
        "aria-controls": `${prefix}-${tab.id}-panel`,
      }, tab.label);
      tab.panel.id = `${prefix}-${tab.id}-panel`;
      tab.panel.setAttribute("role", "tabpanel");
      tab.panel.setAttribute("aria-labelledby", button.id);
      button.addEventListener("click", () => this.select(tab.id));
      button.addEventListener("keydown", (event) => this.onKey(event));
      this.buttons.set(tab.id, button);
      this.node.append(button);
    }
    this.mark();
  }

  get selected(): string {
    return this.current;
  }

  select(id: string, focus = false): void {
    if (!this.buttons.has(id)) return;
    const changed = id !== this.current;
    this.current = id;
    this.mark();
    if (focus) this.buttons.get(id)?.focus();
    if (changed) this.onSelect(id);
  }

  /** Set a tab's label (a count, say) without disturbing focus. */
  setLabel(id: string, label: string): void {
    const button = this.buttons.get(id);
    if (button && button.textContent !== label) button.textContent = label;
  }

  private mark(): void {
    for (const tab of this.tabs) {
      const on = tab.id === this.current;
      const button = this.buttons.get(tab.id);
      button?.setAttribute("aria-selected", String(on));
      button?.setAttribute("tabindex", on ? "0" : "-1");
      tab.panel.hidden = !on;
    }
  }

  private onKey(event: KeyboardEvent): void {
    const ids = this.tabs.map((tab) => tab.id);
    const at = ids.indexOf(this.current);
    const next: Record<string, number> = {
      ArrowRight: (at + 1) % ids.length,
      ArrowLeft: (at - 1 + ids.length) % ids.length,
      Home: 0,
      End: ids.length - 1,
    };
    const index = next[event.key];
    if (index === undefined) return;
    event.preventDefault();
    this.select(ids[index] ?? this.current, true);
  }
}
