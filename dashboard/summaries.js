// The sessions table: one page at a time from GET /summaries (which applies every filter), live upserts placed by
// the same filters. The last loaded filters stay cached, so Back shows them at once.

import { describeError } from "./api.js";
import { byId, formatCost, formatTime, h, isolated, isolateText, navLink, replace, setState } from "./dom.js";
import { pipelineBadge } from "./pipeline.js";
import { sessionHref } from "./router.js";

const MAX_REREAD = 20;

// GET /summaries takes every filter: status, source, user and the sessions' own dates from..to.
function serverFilters(filters) {
  const { status, source, from, to, user } = filters;
  return { status, source, user, from, to };
}

// A session's own date (the date of started_at in its own offset), as the API's date filters mean it.
export const sessionDay = (item) => item.session_day || (item.started_at || "").slice(0, 10);

export function matchesFilters(item, filters) {
  const day = sessionDay(item);
  if (filters.status && item.status !== filters.status) return false;
  if (filters.source && item.source !== filters.source) return false;
  if (filters.user && item.user_id !== filters.user) return false;
  return (!filters.from || day >= filters.from) && (!filters.to || day <= filters.to);
}

export function scopeText(filters) {
  const named = (key) => filters[key] && `${key} ${isolateText(filters[key])}`; // the address names them
  const what = ["status", "source", "user"].map(named).filter(Boolean).join(", ");
  const [from, to] = [filters.from, filters.to].map((day) => (day ? isolateText(day) : "…"));
  const range = filters.from || filters.to ? ` that took place ${from} to ${to} (each session's own date)` : "";
  return `Sessions${what ? ` with ${what}` : ""}${range}, newest first.`;
}

function systemsCell(systems = {}, pipeline = null) {
  const names = Object.keys(systems).sort();
  if (!names.length) return h("span", { class: "muted" }, pipeline ? "not yet" : "none yet");
  return h("ul", { class: "chips", "aria-label": "System records" },
    names.map((name) => h("li", { class: "chip", dataset: { system: name } }, `${name} v${systems[name].version}`)));
}

export class SummaryList {
  constructor(api) {
    this.api = api;
    this.items = []; // newest first, as the API returns them
    this.next = null;
    this.filters = null;
    this.key = null;
    this.table = byId("summary-table");
    this.rows = byId("summary-rows");
    this.state = byId("find-state");
    this.more = byId("load-more");
    this.more.addEventListener("click", () => this.load(this.filters, { append: true }));
  }

  // Show the sessions for `filters`; a Back to the same filters shows the cached page first. Returns an error or null.
  async show(filters) {
    const key = JSON.stringify(filters);
    this.table.hidden = false;
    if (key === this.key) {
      this.render();
      return null;
    }
    return this.load(filters);
  }

  hide() {
    this.table.hidden = true;
    this.more.hidden = true;
  }

  async load(filters, { append = false } = {}) {
    this.filters = filters;
    this.key = JSON.stringify(filters);
    setState(this.state, "loading", append ? "Loading more…" : "Loading sessions…");
    this.more.disabled = true;
    try {
      const page = await this.api.summaries(serverFilters(filters), append ? this.next : undefined);
      if (this.key !== JSON.stringify(filters)) return null;
      const items = page.items.filter((item) => matchesFilters(item, filters));
      this.items = append ? [...this.items, ...items] : items;
      this.next = page.next;
      this.render();
      return null;
    } catch (error) {
      if (!append) this.items = [];
      this.key = null;
      this.render();
      setState(this.state, "error", describeError(error));
      return error;
    } finally {
      this.more.disabled = false;
    }
  }

  // A live change: refetch the one summary and place it if it belongs to the current filters.
  async refreshOne(summaryId) {
    if (!this.filters) return;
    let item;
    try {
      item = await this.api.summary(summaryId);
    } catch (error) {
      if (error.status === 404) this.drop(summaryId); // deleted (or being deleted)
      return;
    }
    const index = this.items.findIndex((i) => i.session_id === summaryId);
    if (index >= 0) this.items[index] = item;
    else if (matchesFilters(item, this.filters)) this.items.unshift(item);
    else return;
    if (!this.table.hidden) this.render();
  }

  // Read again the listed sessions waiting for the edge (their position and estimate changed), at most MAX_REREAD.
  refreshQueued() {
    const queued = this.items.filter((item) => ["queued", "translating"].includes(item.pipeline?.state));
    for (const item of queued.slice(0, MAX_REREAD)) this.refreshOne(item.session_id);
  }

  drop(summaryId) {
    const before = this.items.length;
    this.items = this.items.filter((i) => i.session_id !== summaryId);
    if (this.items.length !== before && !this.table.hidden) this.render();
  }

  render() {
    replace(this.rows, this.items.map((item) => this.row(item)));
    this.more.hidden = !this.next;
    if (!this.items.length) {
      setState(this.state, "empty", this.next ? "No session on this page matches; load more to look further."
        : "No sessions match these filters yet.");
    } else setState(this.state, "", "");
  }

  row(item) {
    const id = item.session_id;
    const status = h("span", { class: `status status-${(item.status || "").toLowerCase()}`, title: item.error || null },
      item.status || "?");
    return h("tr", { dataset: { summaryId: id, status: item.status || "" } },
      h("th", { scope: "row", "data-label": "Session" },
        navLink(sessionHref(id), { class: "open-summary", "aria-label": `Open session ${id}` }, id)),
      h("td", { "data-label": "Source", class: "cell-source" }, item.source || "—"),
      h("td", { "data-label": "Status", class: "cell-status" }, status, pipelineBadge(item.pipeline),
        item.error ? isolated("span", { class: "row-error" }, item.error) : null),
      h("td", { "data-label": "Received", class: "cell-received" },
        h("time", { datetime: item.received_at }, formatTime(item.received_at))),
      h("td", { "data-label": "Systems", class: "cell-systems" }, systemsCell(item.systems, item.pipeline)),
      h("td", { "data-label": "Cost", class: "num cell-cost" }, formatCost(item.cost_usd)));
  }

  focusRow(summaryId) {
    const link = this.rows.querySelector(`tr[data-summary-id="${CSS.escape(summaryId)}"] a`);
    link?.focus();
    return Boolean(link);
  }
}
