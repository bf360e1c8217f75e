/**
 * One input per notebook parameter, with its type and help, pre-filled with its default
 * (or a given value); `values()` reads them back as JSON values, throwing on a bad one.
 */

import { h } from "../widgets/dom";
import type { Parameter } from "./types";

export class ParametersForm {
  readonly node: HTMLElement;
  private readonly inputs = new Map<string, { parameter: Parameter; input: HTMLInputElement }>();

  constructor(parameters: Parameter[], values: Record<string, unknown> = {}) {
    this.node = h("fieldset", { class: "tb-parameters" }, h("legend", {}, "Parameters"));
    if (!parameters.length) {
      this.node.append(h("div", { class: "tb-muted" }, "This notebook has no parameters cell."));
    }
    for (const parameter of parameters) {
      const value = parameter.name in values ? values[parameter.name] : parameter.default;
      const input = inputFor(parameter, value);
      this.inputs.set(parameter.name, { parameter, input });
      this.node.append(h("label", { class: "tb-field" },
        h("span", { class: "tb-field-label" }, parameter.name, " ", h("code", { class: "tb-muted" }, parameter.type)),
        input,
        parameter.help ? h("span", { class: "tb-field-help tb-muted" }, parameter.help) : null));
    }
  }

  /** The parameters' values; throws an Error naming the first one that does not parse. */
  values(): Record<string, unknown> {
    const values: Record<string, unknown> = {};
    for (const [name, { parameter, input }] of this.inputs) {
      values[name] = read(parameter, input);
    }
    return values;
  }
}

function inputFor(parameter: Parameter, value: unknown): HTMLInputElement {
  const input = h("input", { class: "jp-mod-styled tb-input", name: parameter.name, "data-type": parameter.type });
  switch (parameter.type) {
    case "bool":
      input.type = "checkbox";
      input.checked = Boolean(value);
      break;
    case "int":
    case "float":
      input.type = "number";
      input.step = parameter.type === "int" ? "1" : "any";
      input.value = value === null || value === undefined ? "" : String(value);
      break;
    case "str":
      input.type = "text";
      input.value = typeof value === "string" ? value : value === null || value === undefined ? "" : String(value);
      break;
    default:
      input.type = "text";
      input.placeholder = "JSON";
      input.value = JSON.stringify(value ?? null);
  }
  return input;
}

function read(parameter: Parameter, input: HTMLInputElement): unknown {
  switch (parameter.type) {
    case "bool":
      return input.checked;
    case "int":
    case "float": {
      const value = Number(input.value);
      if (input.value.trim() === "" || !Number.isFinite(value)) throw new Error(`${parameter.name}: not a number`);
      if (parameter.type === "int" && !Number.isInteger(value)) throw new Error(`${parameter.name}: not an integer`);
      return value;
    }
    case "str":
      return input.value;
    default:
      try {
        return JSON.parse(input.value) as unknown;
      } catch {
        if (parameter.type === "any") return input.value;
        throw new Error(`${parameter.name}: not valid JSON`);
      }
  }
}
