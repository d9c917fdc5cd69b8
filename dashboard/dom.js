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

export function formatTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function formatCost(usd) {
  if (usd === null || usd === undefined) return "—";
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

// A labelled version badge, e.g. "schema  schema:1956a6…".
export function badge(label, value) {
  return h("span", { class: "badge", title: value || "none", dataset: { lineage: label } },
    h("span", { class: "badge-label" }, label),
    h("span", { class: "badge-value" }, value || "none"));
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
