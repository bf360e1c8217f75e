/**
 * One input per notebook parameter, with its type and help, pre-filled with its default
 * (or a given value). Each field says what is wrong with it as one types; `values()`
 * reads them back as JSON values, throwing on a bad one.
 */

import { h } from "../widgets/dom";
import type { Parameter } from "./types";

export class ParametersForm {
  readonly node: HTMLElement;
  private readonly inputs = new Map<string, { parameter: Parameter; input: HTMLInputElement; message: HTMLElement }>();

  /** `onChange` runs after each field is checked (to enable a dialog's OK button). */
  constructor(parameters: Parameter[], values: Record<string, unknown> = {}, private readonly onChange: () => void = () => {}) {
    this.node = h("fieldset", { class: "tb-parameters" }, h("legend", {}, "Parameters"));
    if (!parameters.length) {
      this.node.append(h("div", { class: "tb-muted" }, "This notebook has no parameters cell."));
    }
    for (const parameter of parameters) {
      // An expression default is the notebook's or flow's to evaluate: left empty, it is
      // not sent, and the run gets it.
      const fallback = parameter.expression ? undefined : parameter.default;
      const value = parameter.name in values ? values[parameter.name] : fallback;
      const input = inputFor(parameter, value);
      if (parameter.expression && !(parameter.name in values)) {
        input.value = "";
        input.placeholder = `default: ${String(parameter.default)}`;
      }
      // Read with its field (aria-describedby, aria-invalid), not announced on each key.
      const message = h("span", { class: "tb-field-error tb-error", id: `tb-param-${++fieldCount}` });
      input.setAttribute("aria-describedby", message.id);
      this.inputs.set(parameter.name, { parameter, input, message });
      input.addEventListener("input", () => this.check());
      this.node.append(h("label", { class: "tb-field" },
        h("span", { class: "tb-field-label" }, parameter.name, " ", h("code", { class: "tb-muted" }, parameter.type),
          parameter.required ? h("span", { class: "tb-muted" }, " (required)") : null),
        input,
        parameter.help ? h("span", { class: "tb-field-help tb-muted" }, parameter.help) : null,
        message));
    }
  }

  /** Show every field's problem; the first one ("name: not an integer"), or null. */
  check(): string | null {
    for (const { parameter, input, message } of this.inputs.values()) {
      const error = problem(parameter, input);
      const text = error ? error.replace(`${parameter.name}: `, "") : "";
      if (message.textContent !== text) message.textContent = text;
      input.setAttribute("aria-invalid", String(error !== null));
    }
    this.onChange();
    return this.error();
  }

  /** The first field's problem, without showing anything. */
  error(): string | null {
    for (const { parameter, input } of this.inputs.values()) {
      const error = problem(parameter, input);
      if (error) return error;
    }
    return null;
  }

  /** The parameters' values; throws an Error naming the first one that does not parse. */
  values(): Record<string, unknown> {
    const values: Record<string, unknown> = {};
    for (const [name, { parameter, input }] of this.inputs) {
      const error = problem(parameter, input);
      if (error) throw new Error(error);
      if (!leftToDefault(parameter, input)) values[name] = read(parameter, input);
    }
    return values;
  }
}

let fieldCount = 0;

/** An expression default's field left empty: the run takes the default. */
function leftToDefault(parameter: Parameter, input: HTMLInputElement): boolean {
  return Boolean(parameter.expression) && input.type !== "checkbox" && input.value.trim() === "";
}

function problem(parameter: Parameter, input: HTMLInputElement): string | null {
  if (leftToDefault(parameter, input)) return null;
  try {
    const value = read(parameter, input);
    if (parameter.required && (value === null || value === "")) {
      return `${parameter.name}: required; give a value`;
    }
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
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
      // A number input reads "" for text it cannot parse: say so rather than "empty".
      if (input.validity?.badInput) throw new Error(`${parameter.name}: not a number`);
      if (input.value.trim() === "") throw new Error(`${parameter.name}: give a number`);
      if (!Number.isFinite(value)) throw new Error(`${parameter.name}: not a number`);
      if (parameter.type === "int" && !Number.isInteger(value)) {
        throw new Error(`${parameter.name}: a whole number, such as ${Math.trunc(value)}`);
      }
      return value;
    }
    case "str":
      return input.value;
    default: {
      let value: unknown;
      try {
        value = JSON.parse(input.value) as unknown;
      } catch {
        if (parameter.type === "any") return input.value;
        throw new Error(`${parameter.name}: not valid JSON (${EXAMPLES[parameter.type] ?? "a JSON value"})`);
      }
      const isList = Array.isArray(value);
      const isDict = typeof value === "object" && value !== null && !isList;
      if ((parameter.type === "list" && !isList) || (parameter.type === "dict" && !isDict)) {
        throw new Error(`${parameter.name}: ${EXAMPLES[parameter.type]}`);
      }
      return value;
    }
  }
}

const EXAMPLES: Partial<Record<Parameter["type"], string>> = {
  list: "a list such as [1, 2]",
  dict: 'a dict such as {"a": 1}',
};
