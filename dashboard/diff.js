// RFC 6902 patches made readable: each op becomes added / removed / changed lines.

import { escapeBidi } from "./dom.js";

const clone = (value) => (value === undefined ? undefined : structuredClone(value));

export function parsePointer(pointer) {
  if (pointer === "") return [];
  return pointer.slice(1).split("/").map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"));
}

// "/tasks/0/title" -> "tasks[0].title"; the root is "(whole document)". Bidi controls in keys are escaped.
export function readablePath(pointer) {
  const parts = parsePointer(escapeBidi(pointer));
  if (!parts.length) return "(whole document)";
  return parts.map((part, i) => {
    if (part === "-") return "[end]";
    return /^\d+$/.test(part) ? `[${part}]` : (i ? "." : "") + part;
  }).join("");
}

function lookup(doc, parts) {
  let node = doc;
  for (const part of parts) {
    if (node === null || typeof node !== "object") return undefined;
    node = node[part];
  }
  return node;
}

function setAt(doc, parts, value, insert) {
  if (!parts.length) return value;
  const parent = lookup(doc, parts.slice(0, -1));
  const key = parts[parts.length - 1];
  if (Array.isArray(parent)) {
    const index = key === "-" ? parent.length : Number(key);
    parent.splice(index, insert ? 0 : 1, value);
  } else if (parent && typeof parent === "object") {
    parent[key] = value;
  } else {
    throw new Error(`no parent for /${parts.join("/")}`);
  }
  return doc;
}

function removeAt(doc, parts) {
  const parent = lookup(doc, parts.slice(0, -1));
  const key = parts[parts.length - 1];
  if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else if (parent && typeof parent === "object") delete parent[key];
  return doc;
}

export function applyOp(doc, op) {
  const parts = parsePointer(op.path);
  switch (op.op) {
    case "add": return setAt(doc, parts, clone(op.value), true);
    case "replace": return setAt(doc, parts, clone(op.value), false);
    case "remove": return removeAt(doc, parts);
    case "copy": return setAt(doc, parts, clone(lookup(doc, parsePointer(op.from))), true);
    case "move": {
      const value = lookup(doc, parsePointer(op.from));
      return setAt(removeAt(doc, parsePointer(op.from)), parts, value, true);
    }
    default: return doc; // "test" changes nothing
  }
}

// Lines for one patch. `before` is the document the patch applies to, or null when unknown.
export function describePatch(patch, before) {
  let doc = before === null ? null : clone(before);
  const lines = [];
  for (const op of patch) {
    const old = doc === null ? undefined : lookup(doc, parsePointer(op.path));
    const path = readablePath(op.path);
    if (op.op === "add") lines.push({ kind: "added", path, value: op.value });
    else if (op.op === "remove") lines.push({ kind: "removed", path, value: old });
    else if (op.op === "replace") lines.push({ kind: "changed", path, from: old, value: op.value });
    else if (op.op === "copy") lines.push({ kind: "added", path, note: "copied from", from: readablePath(op.from) });
    else if (op.op === "move") lines.push({ kind: "changed", path, note: "moved from", from: readablePath(op.from) });
    if (doc !== null) {
      try { doc = applyOp(doc, op); } catch { doc = null; }
    }
  }
  return lines;
}

// History entries (any order) -> entries newest first, each with its lines and the document it produced.
export function explainHistory(entries) {
  const ascending = [...entries].sort((a, b) => a.version - b.version);
  let doc = ascending.length && ascending[0].version === 1 ? {} : null;
  const explained = ascending.map((entry) => {
    const lines = describePatch(entry.patch, doc);
    if (doc !== null) {
      try { doc = entry.patch.reduce(applyOp, clone(doc)); } catch { doc = null; }
    }
    return { ...entry, lines };
  });
  return explained.reverse();
}

// One line of JSON, at most `max` characters, its bidi controls escaped ("\u202e": shown, not obeyed).
export function shortJson(value, max = 160) {
  if (value === undefined) return "";
  const text = escapeBidi(JSON.stringify(value));
  if (text.length <= max) return text;
  return `${text.slice(0, max - 1).replace(/\\u[0-9a-f]{0,3}$|[\ud800-\udbff]$/, "")}…`; // no half escape or pair
}
