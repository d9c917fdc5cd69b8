// Re-translation requests: POST /refresh, then poll GET /refresh/{id} until it is done.

import { describeError } from "./api.js";
import { byId, h, replace } from "./dom.js";

const POLL_MS = 1000;
const MAX_POLL_MS = 10 * 60 * 1000;

function describeSelector(selector) {
  return Object.entries(selector).map(([key, value]) => `${key.replaceAll("_", " ")} ${value}`).join(" · ");
}

export class RefreshTracker {
  constructor(api) {
    this.api = api;
    this.list = byId("refresh-list");
    this.panel = byId("refresh-panel");
    this.rows = new Map(); // request_id -> <li>
    byId("refresh-dismiss").addEventListener("click", () => this.hide());
  }

  // Hide the panel and forget finished requests; ones still running stay listed for next time.
  hide() {
    this.panel.hidden = true;
    for (const row of [...this.list.children]) {
      if (row.dataset.state !== "queued" && row.dataset.state !== "sending") {
        row.remove();
        this.rows.delete(row.dataset.requestId);
      }
    }
  }

  // Ask for a re-translation; returns the request item (with `coalesced`) or null after showing the error.
  async request(selector, button) {
    if (button) button.disabled = true;
    const row = this.placeholder(selector);
    try {
      const { status, data } = await this.api.refresh(selector);
      row.remove();
      this.track(data, selector, status === 200 && data.coalesced === true);
      return data;
    } catch (error) {
      this.render(row, { selector, message: describeError(error, "refresh"), state: "error" });
      return null;
    } finally {
      if (button) button.disabled = false;
    }
  }

  placeholder(selector) {
    const row = h("li", { class: "refresh-item", dataset: { state: "sending" } });
    this.render(row, { selector, message: "sending…", state: "sending" });
    this.panel.hidden = false;
    this.list.prepend(row);
    return row;
  }

  track(item, selector, coalesced) {
    let row = this.rows.get(item.request_id);
    const fresh = !row;
    if (fresh) {
      row = h("li", { class: "refresh-item", dataset: { requestId: item.request_id } });
      this.rows.set(item.request_id, row);
    }
    if (coalesced) row.dataset.coalesced = "true";
    this.panel.hidden = false;
    this.list.prepend(row);
    this.update(row, item, selector, coalesced);
    if (fresh) this.poll(row, item.request_id, selector, Date.now());
  }

  update(row, item, selector, coalesced) {
    const done = item.status === "done";
    const progress = `${item.completed ?? 0}/${item.queued ?? 0} translated`;
    const note = coalesced ? "joined an identical request made moments ago" : "new request";
    this.render(row, { selector, state: done ? "done" : "queued",
      message: `${done ? "done" : "in progress"} · ${progress} · ${note}`, requestId: item.request_id });
  }

  render(row, { selector, message, state, requestId }) {
    row.dataset.state = state;
    replace(row,
      h("span", { class: "refresh-what" }, describeSelector(selector)),
      h("span", { class: "refresh-progress" }, message),
      requestId ? h("code", { class: "refresh-id" }, requestId) : null);
  }

  async poll(row, requestId, selector, started) {
    while (Date.now() - started < MAX_POLL_MS) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      try {
        const item = await this.api.refreshStatus(requestId);
        this.update(row, item, selector, row.dataset.coalesced === "true");
        if (item.status === "done") return;
      } catch (error) {
        this.render(row, { selector, message: describeError(error, "refresh"), state: "error", requestId });
        return;
      }
    }
  }
}
