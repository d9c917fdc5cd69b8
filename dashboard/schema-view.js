// A JSON document rendered from its JSON Schema (draft 2020-12 words), for any system: keys in schema order, lists of
// objects as items led by their title-like field, `format: date`/`date-time` in the reader's time zone, enum values
// as labels, optional fields only when present. Without a schema the document's own key order is used.

import { formatDate, formatDateTime, h, isolated, isolateText, userText } from "./dom.js";

const TITLE_KEYS = ["title", "name", "text", "label", "summary", "subject"];
const LONG_TEXT = 120;

// "open_questions" / "openQuestions" -> "Open questions".
function humanize(key) {
  const words = String(key).replace(/([a-z0-9])([A-Z])/g, "$1 $2").replaceAll(/[_-]+/g, " ").trim().toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function pointer(root, ref) {
  if (!ref.startsWith("#")) return {};
  const parts = ref.slice(1).split("/").filter(Boolean)
    .map((part) => decodeURIComponent(part).replaceAll("~1", "/").replaceAll("~0", "~"));
  return parts.reduce((node, part) => (node && typeof node === "object" ? node[part] : undefined), root) || {};
}

// Follow local $refs and fold allOf into one schema (properties and required merged, in order).
function resolve(schema, root, depth = 0) {
  if (!schema || typeof schema !== "object" || depth > 20) return {};
  let merged = schema;
  if (schema.$ref) {
    const { $ref, ...rest } = schema;
    merged = { ...resolve(pointer(root, $ref), root, depth + 1), ...rest };
  }
  if (Array.isArray(merged.allOf)) {
    const { allOf, ...rest } = merged;
    for (const part of [rest, ...allOf.map((s) => resolve(s, root, depth + 1))]) {
      merged = { ...merged, ...part,
        properties: { ...merged.properties, ...part.properties },
        required: [...new Set([...(merged.required || []), ...(part.required || [])])] };
    }
    delete merged.allOf;
  }
  return merged;
}

function jsonType(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (Number.isInteger(value)) return "integer";
  return typeof value;
}

function typeFits(type, value) {
  const actual = jsonType(value);
  const types = Array.isArray(type) ? type : [type];
  return types.some((t) => t === actual || (t === "number" && actual === "integer"));
}

function branches(schema) {
  return schema.oneOf || schema.anyOf || null;
}

// A structural check, enough to pick the anyOf/oneOf branch a value belongs to.
function fits(schema, value, root) {
  const s = resolve(schema, root);
  if ("const" in s) return JSON.stringify(s.const) === JSON.stringify(value);
  if (Array.isArray(s.enum)) return s.enum.some((option) => JSON.stringify(option) === JSON.stringify(value));
  if (s.type && !typeFits(s.type, value)) return false;
  const options = branches(s);
  if (options && !options.some((option) => fits(option, value, root))) return false;
  if (jsonType(value) === "object" && s.properties) {
    if ((s.required || []).some((key) => !(key in value))) return false;
    if (s.additionalProperties === false && Object.keys(value).some((key) => !(key in s.properties))) return false;
  }
  return true;
}

// Labelled enums in standard words: oneOf/anyOf of {const, title}.
function constLabels(s) {
  const options = branches(s);
  if (!options?.length || !options.every((o) => o && "const" in o)) return null;
  return new Map(options.map((o) => [JSON.stringify(o.const), o.title || null]));
}

// The schema that describes `value`: refs resolved, the matching anyOf/oneOf branch chosen.
function schemaFor(schema, value, root) {
  let s = resolve(schema, root);
  for (let depth = 0; depth < 10; depth += 1) {
    const options = branches(s);
    if (!options || constLabels(s)) break;
    const branch = options.find((option) => fits(option, value, root));
    if (!branch) break;
    const { oneOf, anyOf, ...outer } = s;
    s = { ...resolve(branch, root), title: outer.title ?? resolve(branch, root).title,
      description: outer.description ?? resolve(branch, root).description };
  }
  return s;
}

function label(key, propertySchema, root) {
  return resolve(propertySchema, root).title || humanize(key);
}

// Keys in schema order (present ones only), then any the schema does not name, in the document's order.
function orderedKeys(object, s) {
  const named = Object.keys(s.properties || {});
  return [...named.filter((key) => key in object), ...Object.keys(object).filter((key) => !named.includes(key))];
}

// The field that names an item: a title-like key ("title", "name", "text", ... or one ending in _title/_name).
function titleKey(object, s, root) {
  const props = s.properties || {};
  const plainString = (key) => {
    const p = schemaFor(props[key] || {}, object[key], root);
    return typeof object[key] === "string" && !p.format && !p.enum && !constLabels(p);
  };
  const titled = (key) => /(^|_)(title|name)$/i.test(key);
  return TITLE_KEYS.find((key) => key in object && plainString(key))
    || orderedKeys(object, s).find((key) => titled(key) && plainString(key)) || null;
}

function scalar(value, s) {
  if (value === null) return h("span", { class: "muted" }, "none");
  const labels = constLabels(s);
  if (labels || Array.isArray(s.enum) || "const" in s) {
    const text = labels?.get(JSON.stringify(value)) || humanize(value);
    return isolated("span", { class: "enum", dataset: { value: String(value) } }, text);
  }
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") return value.toLocaleString();
  if (typeof value !== "string") return JSON.stringify(value);
  const text = s.format === "date-time" ? formatDateTime(value) : s.format === "date" ? formatDate(value) : null;
  if (text) return h("time", { datetime: value, title: value }, text);
  if (s.format === "uri" && /^https?:\/\//i.test(value)) {
    return h("a", { href: value, rel: "noopener noreferrer", target: "_blank" }, userText(value));
  }
  return value.length > LONG_TEXT || value.includes("\n") ? isolated("span", { class: "long-text" }, value)
    : userText(value);
}

function fieldList(object, s, root, skip) {
  const keys = orderedKeys(object, s).filter((key) => key !== skip);
  if (!keys.length) return null;
  return h("dl", { class: "fields" }, keys.map((key) => {
    const propertySchema = (s.properties || {})[key] || {};
    return h("div", { class: "field-row", dataset: { key } },
      h("dt", {}, userText(label(key, propertySchema, root))),
      h("dd", {}, renderValue(object[key], propertySchema, root)));
  }));
}

function item(value, itemSchema, root) {
  const s = schemaFor(itemSchema, value, root);
  if (jsonType(value) !== "object") return h("li", { class: "item" }, renderValue(value, itemSchema, root));
  const key = titleKey(value, s, root);
  return h("li", { class: "item" },
    key ? isolated("p", { class: "item-title", dataset: { key } }, value[key]) : null,
    fieldList(value, s, root, key));
}

function list(values, s, root) {
  if (!values.length) return h("span", { class: "muted" }, "none");
  const itemSchema = s.items || {};
  const objects = values.some((value) => jsonType(value) === "object");
  if (!objects) {
    return h("ul", { class: "values" }, values.map((value) => h("li", {}, renderValue(value, itemSchema, root))));
  }
  return h("ol", { class: "items" }, values.map((value) => item(value, itemSchema, root)));
}

// One value under its (sub)schema; `root` is the whole schema, for $refs.
function renderValue(value, schema = {}, root = schema) {
  const s = schemaFor(schema, value, root);
  if (Array.isArray(value)) return list(value, s, root);
  if (value && typeof value === "object") return fieldList(value, s, root, null) || h("span", { class: "muted" }, "empty");
  return scalar(value, s);
}

// A whole document: its top-level fields as sections with headings of `level` (2-6), in schema order.
export function renderDocument(document, schema, { level = 5 } = {}) {
  const root = schema || {};
  const s = schemaFor(root, document, root);
  if (!document || typeof document !== "object" || Array.isArray(document)) {
    return h("div", { class: "readable" }, renderValue(document, root, root));
  }
  return h("div", { class: "readable" }, orderedKeys(document, s).map((key) => {
    const propertySchema = (s.properties || {})[key] || {};
    return h("section", { class: "readable-section", dataset: { key } },
      h(`h${Math.min(Math.max(level, 2), 6)}`, {}, userText(label(key, propertySchema, root))),
      renderValue(document[key], propertySchema, root));
  }));
}

function describeType(schema, root) {
  const s = resolve(schema, root);
  const labels = constLabels(s);
  const named = (v) => isolateText(labels.get(v) || humanize(JSON.parse(v)));
  if (labels) return `one of ${[...labels.keys()].map(named).join(", ")}`;
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v) => isolateText(humanize(v))).join(", ")}`;
  const options = branches(s);
  if (options) return options.map((option) => describeType(option, root)).join(" or ");
  const type = Array.isArray(s.type) ? s.type.join(" or ") : s.type || "any value";
  if (type === "array") return `list of ${describeType(s.items || {}, root)}`;
  if (type === "object") return s.title ? `object (${isolateText(s.title)})` : "object";
  return s.format ? `${type} (${isolateText(s.format)})` : type;
}

function objectBranches(schema, root) {
  const s = resolve(schema, root);
  if (s.type === "array") return objectBranches(s.items || {}, root);
  if (s.properties) return [s];
  return (branches(s) || []).flatMap((option) => objectBranches(option, root));
}

// A schema's fields as a nested list: name, what it holds, whether it is optional. `schema` is a JSON Schema.
export function schemaOutline(schema, root = schema) {
  const objects = objectBranches(schema, root);
  if (!objects.length) return h("p", {}, describeType(schema, root));
  return objects.map((s) => h("ul", { class: "outline" }, Object.entries(s.properties).map(([key, property]) => {
    const nested = objectBranches(property, root);
    return h("li", { dataset: { key } },
      h("code", {}, userText(key)), ` — ${describeType(property, root)}`,
      (s.required || []).includes(key) ? null : h("span", { class: "muted" }, " (optional)"),
      nested.length ? schemaOutline(property, root) : null);
  })));
}
