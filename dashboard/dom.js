// Small helpers for building and updating the page without a framework.

// ----- user- and model-written text among the page's own (Unicode bidi, UAX #9) -----
// The explicit embedding, override and isolate controls: LRE RLE PDF LRO RLO (U+202A–E), LRI RLI FSI PDI (U+2066–9)
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;
const HAS_BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/;
const BIDI_OPENERS = { "\u202a": "\u202c", "\u202b": "\u202c", "\u202d": "\u202c", "\u202e": "\u202c",
  "\u2066": "\u2069", "\u2067": "\u2069", "\u2068": "\u2069" };
const PARAGRAPH_END = /[\n\r\u001c-\u001e\u0085\u2029]/;
// Right-to-left scripts (Hebrew, Arabic, Syriac, Thaana, N'Ko, ... and their presentation forms).
const RTL_TEXT = /[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\u{10800}-\u{10fff}\u{1e800}-\u{1efff}]/u;

// Each control shown, not obeyed: as its JSON escape ("\u202e"), for JSON and other code-like text.
export function escapeBidi(text) {
  return String(text).replace(BIDI_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

// The text with its controls paired as UAX #9 pairs them: a closer that closes nothing is dropped, and what is still
// open at a line's or the text's end is closed there. So the text cannot reorder anything after it (a stray PDI
// would even end the isolate of its own <bdi>).
export function balanceBidi(value) {
  const text = String(value);
  if (!HAS_BIDI_CONTROL.test(text)) return text;
  const open = []; // the closers owed, innermost last
  const close = () => open.splice(0).reverse().join("");
  let out = "";
  for (const c of text) {
    if (BIDI_OPENERS[c]) open.push(BIDI_OPENERS[c]);
    else if (c === "\u202c" && open.at(-1) !== "\u202c") continue; // a PDF ends no isolate
    else if (c === "\u2069") {
      const at = open.lastIndexOf("\u2069");
      if (at < 0) continue;
      open.splice(at); // a PDI also ends the embeddings opened inside its isolate
    } else if (PARAGRAPH_END.test(c)) out += close();
    out += c;
  }
  return out + close();
}

// For text that can only be a string (the tab's title, a sentence built around an id from the address): text with
// right-to-left letters or bidi controls, balanced and between FSI and PDI; any other text as it is.
export function isolateText(value) {
  const text = String(value ?? "");
  return RTL_TEXT.test(text) || HAS_BIDI_CONTROL.test(text) ? `\u2068${balanceBidi(text)}\u2069` : text;
}

// User- or model-written text in its own element: dir="auto" isolates it and takes its direction from its first
// strong letter, so Arabic or Hebrew reads right to left in it and nothing in it reorders the page around it.
export function isolated(tag, attrs, ...children) {
  return h(tag, { ...attrs, dir: "auto" }, ...children);
}

export const userText = (value, attrs = {}) => isolated("bdi", attrs, value ?? "");

// JSON text (already escaped, see prettyJson) as nodes, each string in its own <bdi>: a right-to-left key or value
// keeps the JSON's punctuation and order around it. An unclosed string (cut short) runs to the end.
export function jsonNodes(text) {
  const nodes = [];
  let at = 0;
  for (const match of text.matchAll(/"(?:[^"\\\n]|\\.)*(?:"|$)/g)) {
    nodes.push(text.slice(at, match.index), userText(match[0], { class: "json-string" }));
    at = match.index + match[0].length;
  }
  nodes.push(text.slice(at));
  return nodes.filter((node) => node !== "");
}

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "text") el.textContent = balanceBidi(value);
    else if (key === "title") el.setAttribute(key, balanceBidi(value)); // a tooltip may show user text
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(balanceBidi(child)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export const byId = (id) => document.getElementById(id);

// One line for a loading, empty or error state; the element is an aria-live region.
export function setState(el, kind, message) {
  el.dataset.kind = kind || "";
  el.textContent = balanceBidi(message || "");
  el.hidden = !message;
  el.parentElement?.setAttribute("aria-busy", kind === "loading" ? "true" : "false");
}

// An in-page link to another view (router.js follows it without reloading; a new tab opens it as is).
export function navLink(href, attrs, ...children) {
  return h("a", { ...attrs, href, "data-nav": true }, ...children);
}

export function formatTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

// A <time> element with the moment in the reader's locale; "—" when there is none.
export function timeTag(iso) {
  return iso ? h("time", { datetime: iso }, formatTime(iso)) : "—";
}

const DATE_TIME = { weekday: "short", year: "numeric", month: "short", day: "numeric", hour: "numeric",
  minute: "2-digit", timeZoneName: "short" };
const DATE_ONLY = { weekday: "short", year: "numeric", month: "short", day: "numeric", timeZone: "UTC" };

// An ISO 8601 date-time in the reader's time zone, e.g. "Fri, Nov 27, 2026, 6:00 PM GMT+9"; null if unparsable.
export function formatDateTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? null : new Intl.DateTimeFormat(undefined, DATE_TIME).format(date);
}

// A calendar date "YYYY-MM-DD" as the same day in words (no time zone shift); null if unparsable.
export function formatDate(day) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return null;
  const date = new Date(`${day}T00:00:00Z`);
  return Number.isNaN(date.getTime()) ? null : new Intl.DateTimeFormat(undefined, DATE_ONLY).format(date);
}

// Milliseconds as "850 ms", "4.2 s", "3 min 5 s", "2 h 10 min".
export function formatDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

// The time between two ISO timestamps in ms, or null when either is missing.
export function between(startIso, endIso) {
  const start = Date.parse(startIso);
  const end = Date.parse(endIso);
  return Number.isNaN(start) || Number.isNaN(end) ? null : end - start;
}

// null is a cost the API does not know (a model without a price); undefined is no cost at all.
export function formatCost(usd, unpricedCalls = 0) {
  if (usd === null) return "unknown";
  if (usd === undefined) return "—";
  if (unpricedCalls) return `${formatCost(usd)} + unknown`;
  if (usd === 0) return "$0";
  return usd < 0.01 ? `$${usd.toFixed(5)}` : `$${usd.toFixed(2)}`;
}

export const formatCount = (n) => (n ?? 0).toLocaleString();

export const todayUtc = () => new Date().toISOString().slice(0, 10);

export function daysAgoUtc(days) {
  return new Date(Date.now() - days * 86400000).toISOString().slice(0, 10);
}

// JSON text with its bidi controls escaped (escapeBidi): still valid JSON for the same value.
export function prettyJson(value) {
  return escapeBidi(JSON.stringify(value, null, 2));
}

// The named fields of a form that hold something, trimmed: {name: value}.
export function filledFields(form, names) {
  const data = new FormData(form);
  const values = {};
  for (const name of names) {
    const value = String(data.get(name) || "").trim();
    if (value) values[name] = value;
  }
  return values;
}
