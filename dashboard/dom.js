// Small helpers for building and updating the page without a framework.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
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
  el.textContent = message || "";
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

export function prettyJson(value) {
  return JSON.stringify(value, null, 2);
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
