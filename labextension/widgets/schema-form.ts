/**
 * Form fields generated from a pydantic JSON schema: boolean -> checkbox, string -> text
 * (textarea when long), integer/number -> number with min/max, enum/Literal -> select,
 * anything else -> JSON text. Defaults are pre-filled; titles and descriptions label.
 */

import type { JsonSchema } from "./contract";
import { h } from "./dom";

type Control = HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;

export interface Field {
  name: string;
  control: Control;
  element: HTMLElement;
  /** The value to send; `undefined` leaves the field out (the model's default applies). */
  read(): unknown;
  write(value: unknown): void;
}

const LONG_TEXT = 200;

export function buildFields(root: JsonSchema): Field[] {
  const required = new Set(root.required ?? []);
  return Object.entries(root.properties ?? {}).map(([name, raw]) => {
    const { schema, nullable } = resolve(raw, root);
    return buildField(name, schema, required.has(name) && !nullable);
  });
}

/** Follows `$ref`, single-item `allOf`, and `anyOf [X, null]` (an Optional field). */
export function resolve(schema: JsonSchema, root: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  let current: JsonSchema = schema;
  let nullable = false;
  for (let depth = 0; depth < 8; depth += 1) {
    const { $ref, allOf, anyOf, oneOf, ...rest } = current;
    const variants = anyOf ?? oneOf;
    if ($ref !== undefined) {
      current = { ...lookup($ref, root), ...rest };
    } else if (allOf && allOf.length === 1 && allOf[0]) {
      current = { ...allOf[0], ...rest };
    } else if (variants && variants.some((v) => v.type === "null")) {
      const others = variants.filter((v) => v.type !== "null");
      nullable = true;
      current = others.length === 1 && others[0] ? { ...others[0], ...rest } : { ...rest, anyOf: others };
      if (others.length !== 1) break;
    } else {
      break;
    }
  }
  return { schema: current, nullable };
}

function lookup(ref: string, root: JsonSchema): JsonSchema {
  const name = ref.replace(/^#\/(\$defs|definitions)\//, "");
  return root.$defs?.[name] ?? {};
}

/** The choices of an enum field: `enum`, `const`, or `anyOf` of `const`s (Literal). */
export function choices(schema: JsonSchema): unknown[] | null {
  if (schema.enum) return schema.enum;
  if (schema.const !== undefined) return [schema.const];
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants && variants.length > 0 && variants.every((v) => v.const !== undefined || v.enum)) {
    return variants.flatMap((v) => (v.const !== undefined ? [v.const] : (v.enum ?? [])));
  }
  return null;
}

function buildField(name: string, schema: JsonSchema, required: boolean): Field {
  const id = `tb-field-${Math.random().toString(36).slice(2, 10)}`;
  const label = schema.title ?? name;
  const options = choices(schema);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  let field: Omit<Field, "element">;
  if (options) field = selectField(name, options, required || schema.default !== undefined);
  else if (type === "boolean") field = checkboxField(name);
  else if (type === "integer" || type === "number") field = numberField(name, schema, type, required);
  else if (type === "string") field = textField(name, schema, required);
  else field = jsonField(name, required);
  field.control.id = id;
  if (schema.default !== undefined) field.write(schema.default);
  const help = schema.description ? h("div", { class: "tb-help", id: `${id}-help` }, schema.description) : null;
  if (help) field.control.setAttribute("aria-describedby", help.id);
  const caption = h("label", { for: id }, label, required ? h("span", { class: "tb-required", title: "required" }, " *") : null);
  const element = type === "boolean" && !options
    ? h("div", { class: "tb-field tb-field-check" }, field.control, caption, help)
    : h("div", { class: "tb-field" }, caption, field.control, help);
  return { ...field, element };
}

function checkboxField(name: string): Omit<Field, "element"> {
  const control = h("input", { type: "checkbox", name });
  return { name, control, read: () => control.checked, write: (value) => { control.checked = value === true; } };
}

function numberField(name: string, schema: JsonSchema, type: string, required: boolean): Omit<Field, "element"> {
  const control = h("input", {
    type: "number",
    name,
    required,
    min: schema.minimum ?? schema.exclusiveMinimum,
    max: schema.maximum ?? schema.exclusiveMaximum,
    step: schema.multipleOf ?? (type === "integer" ? 1 : "any"),
  });
  return {
    name,
    control,
    read: () => (control.value === "" ? undefined : Number(control.value)),
    write: (value) => { control.value = typeof value === "number" ? String(value) : ""; },
  };
}

function textField(name: string, schema: JsonSchema, required: boolean): Omit<Field, "element"> {
  const long = schema.format === "textarea" || (schema.maxLength ?? 0) > LONG_TEXT;
  const attrs = { name, required, minlength: schema.minLength, maxlength: schema.maxLength };
  const control = long
    ? h("textarea", { ...attrs, rows: 4 })
    : h("input", { ...attrs, type: INPUT_TYPES[schema.format ?? ""] ?? "text", pattern: schema.pattern });
  return {
    name,
    control,
    read: () => (control.value === "" && !required ? undefined : control.value),
    write: (value) => { control.value = value === null || value === undefined ? "" : String(value); },
  };
}

const INPUT_TYPES: Record<string, string> = {
  date: "date",
  "date-time": "datetime-local",
  time: "time",
  email: "email",
  uri: "url",
  password: "password",
};

/** ``filled``: always has a value (required, or defaulted), so no blank choice. */
function selectField(name: string, options: unknown[], filled: boolean): Omit<Field, "element"> {
  const control = h("select", { name, required: filled });
  if (!filled) control.append(h("option", { value: "" }, "\u2014"));
  options.forEach((option, index) => control.append(h("option", { value: String(index) }, String(option))));
  return {
    name,
    control,
    read: () => (control.value === "" ? undefined : options[Number(control.value)]),
    write: (value) => {
      const index = options.findIndex((option) => option === value);
      control.value = index >= 0 ? String(index) : "";
    },
  };
}

/** Lists, nested models and other shapes: edited as JSON text. */
function jsonField(name: string, required: boolean): Omit<Field, "element"> {
  const control = h("textarea", { name, required, rows: 3, class: "tb-json", placeholder: "JSON", spellcheck: false });
  return {
    name,
    control,
    read: () => {
      if (control.value.trim() === "") return undefined;
      try {
        control.setCustomValidity("");
        return JSON.parse(control.value) as unknown;
      } catch {
        control.setCustomValidity("Not valid JSON.");
        throw new Error(`${name}: not valid JSON`);
      }
    },
    write: (value) => { control.value = value === undefined ? "" : JSON.stringify(value, null, 2); },
  };
}
