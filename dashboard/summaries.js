// The summary list: server-side filters and paging, a search box over what is loaded, live upserts.

import { describeError } from "./api.js";
import { byId, filledFields, formatCost, formatTime, h, replace, setState, todayUtc } from "./dom.js";

function scopeText(filters) {
  if (filters.status || filters.source) {
    const what = filters.status ? `status ${filters.status}` : `source ${filters.source}`;
    const range = filters.from || filters.to ? ` received ${filters.from || "…"} to ${filters.to || "…"}` : "";
    return `Newest first: ${what}${range}.`;
  }
  return `Sessions received on ${filters.from || todayUtc()} (UTC), newest first. ` +
    "Pick a status or source to look across days.";
}

export function matchesFilters(item, filters) {
  const day = (item.received_at || "").slice(0, 10);
  if (filters.status && item.status !== filters.status) return false;
  if (filters.source && item.source !== filters.source) return false;
  if (!filters.status && !filters.source) return day === (filters.from || todayUtc());
  return (!filters.from || day >= filters.from) && (!filters.to || day <= filters.to);
}

function searchText(item) {
  return [item.session_id, item.source, item.status, item.user_id, item.error,
    ...Object.keys(item.systems || {})].filter(Boolean).join(" ").toLowerCase();
}

function systemsCell(systems = {}) {
  const names = Object.keys(systems).sort();
  if (!names.length) return h("span", { class: "muted" }, "none yet");
  return h("ul", { class: "chips", "aria-label": "System records" },
    names.map((name) => h("li", { class: "chip", dataset: { system: name } }, `${name} v${systems[name].version}`)));
}

export class SummaryList {
  constructor(api, { onOpen }) {
    this.api = api;
    this.onOpen = onOpen;
    this.items = []; // newest first, as the API returns them
    this.next = null;
    this.filters = {};
    this.form = byId("filters");
    this.rows = byId("summary-rows");
    this.state = byId("list-state");
    this.more = byId("load-more");
    this.search = byId("search");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.load();
    });
    this.more.addEventListener("click", () => this.load({ append: true }));
    this.search.addEventListener("input", () => this.render());
  }

  async load({ append = false } = {}) {
    if (!append) this.filters = filledFields(this.form, ["status", "source", "from", "to"]);
    byId("list-scope").textContent = scopeText(this.filters);
    setState(this.state, "loading", append ? "Loading more…" : "Loading summaries…");
    this.more.disabled = true;
    try {
      const page = await this.api.summaries(this.filters, append ? this.next : undefined);
      this.items = append ? [...this.items, ...page.items] : page.items;
      this.next = page.next;
      this.render();
      return null;
    } catch (error) {
      if (!append) this.items = [];
      this.render();
      setState(this.state, "error", describeError(error));
      return error;
    } finally {
      this.more.disabled = false;
    }
  }

  // A live change: refetch the one summary and place it if it belongs to the current filters.
  async refreshOne(summaryId) {
    let item;
    try {
      item = await this.api.summary(summaryId);
    } catch {
      return;
    }
    const index = this.items.findIndex((i) => i.session_id === summaryId);
    if (index >= 0) this.items[index] = item;
    else if (matchesFilters(item, this.filters)) this.items.unshift(item);
    else return;
    this.render();
  }

  render() {
    const query = this.search.value.trim().toLowerCase();
    const shown = query ? this.items.filter((item) => searchText(item).includes(query)) : this.items;
    replace(this.rows, shown.map((item) => this.row(item)));
    this.more.hidden = !this.next;
    if (!this.items.length) setState(this.state, "empty", "No summaries match these filters yet.");
    else if (!shown.length) setState(this.state, "empty", `No loaded summary matches “${query}”.`);
    else setState(this.state, "", query ? `${shown.length} of ${this.items.length} loaded summaries match.` : "");
  }

  row(item) {
    const id = item.session_id;
    const status = h("span", { class: `status status-${(item.status || "").toLowerCase()}`, title: item.error || null },
      item.status || "?");
    return h("tr", { dataset: { summaryId: id, status: item.status || "" } },
      h("th", { scope: "row", "data-label": "Session" },
        h("button", { type: "button", class: "link-button open-summary", "aria-label": `Open summary ${id}`,
          onclick: () => this.onOpen(id) }, id)),
      h("td", { "data-label": "Source" }, item.source || "—"),
      h("td", { "data-label": "Status" }, status,
        item.error ? h("span", { class: "row-error" }, item.error) : null),
      h("td", { "data-label": "Received" }, h("time", { datetime: item.received_at }, formatTime(item.received_at))),
      h("td", { "data-label": "Systems" }, systemsCell(item.systems)),
      h("td", { "data-label": "Cost", class: "num" }, formatCost(item.cost_usd)));
  }

  focusRow(summaryId) {
    this.rows.querySelector(`tr[data-summary-id="${CSS.escape(summaryId)}"] button`)?.focus();
  }
}
