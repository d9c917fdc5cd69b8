// Re-translation requests: POST /refresh, then GET /refresh/{id} until the request is done, however long it takes.
// Followed requests are in the address (?refresh=<id>,<id>) and this tab's sessionStorage, so a reload (or the link)
// follows them again. Polls back off while nothing changes; a live change asks again at once.

import { ApiError, describeError } from "./api.js";
import { byId, h, isolateText, replace } from "./dom.js";
import { FOLLOW_PARAM } from "./router.js";

const STORE_KEY = "ssp.refresh";
const FIRST_POLL_MS = 1000;
const MAX_POLL_MS = 30000;

// The API's own state names: queued (nothing translated yet) -> in_progress (some translated) -> done.
const WORDS = { queued: "queued", in_progress: "in progress", done: "done" };
const OPEN = ["queued", "in_progress", "sending", "checking"];

function describeSelector(selector = {}) {
  return Object.entries(selector).map(([key, value]) => `${key.replaceAll("_", " ")} ${isolateText(value)}`)
    .join(" · ");
}

function stored() {
  try {
    const value = JSON.parse(sessionStorage.getItem(STORE_KEY) || "[]");
    return Array.isArray(value) ? value.filter((entry) => entry?.request_id) : [];
  } catch {
    return [];
  }
}

// The request ids the address follows.
function inAddress() {
  const value = new URLSearchParams(location.search).get(FOLLOW_PARAM) || "";
  return value.split(",").map((id) => id.trim()).filter((id) => /^rf-[0-9a-f]{1,64}$/.test(id));
}

function setAddress(ids) {
  const url = new URL(location.href);
  if (ids.length) url.searchParams.set(FOLLOW_PARAM, ids.join(","));
  else url.searchParams.delete(FOLLOW_PARAM);
  if (url.href !== location.href) history.replaceState(history.state, "", url);
}

export class RefreshTracker {
  constructor(api) {
    this.api = api;
    this.list = byId("refresh-list");
    this.panel = byId("refresh-panel");
    this.rows = new Map(); // request_id -> <li>
    this.wakers = new Set(); // resolves the waits of running polls
    byId("refresh-dismiss").addEventListener("click", () => this.hide());
  }

  // After a reload or from a link: follow every request the address or this tab was following.
  resume() {
    const entries = new Map(stored().map((entry) => [entry.request_id, entry]));
    for (const id of inAddress()) if (!entries.has(id)) entries.set(id, { request_id: id });
    for (const entry of entries.values()) {
      this.track({ request_id: entry.request_id }, entry.selector, entry.coalesced, { known: false });
    }
  }

  // A live change: every running poll asks again now.
  poke() {
    for (const wake of [...this.wakers]) wake();
  }

  remember(requestId, selector, coalesced) {
    const entries = stored().filter((entry) => entry.request_id !== requestId);
    sessionStorage.setItem(STORE_KEY, JSON.stringify([...entries, { request_id: requestId, selector, coalesced }]));
    setAddress([...new Set([...inAddress(), requestId])]);
  }

  forget(requestId) {
    sessionStorage.setItem(STORE_KEY, JSON.stringify(stored().filter((entry) => entry.request_id !== requestId)));
    setAddress(inAddress().filter((id) => id !== requestId));
  }

  // Hide the panel and drop finished requests; open ones stay listed for next time.
  hide() {
    this.panel.hidden = true;
    for (const row of [...this.list.children]) {
      if (!OPEN.includes(row.dataset.state)) {
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
    const row = h("li", { class: "refresh-item" });
    this.render(row, { selector, message: "sending…", state: "sending" });
    this.panel.hidden = false;
    this.list.prepend(row);
    return row;
  }

  // known: `item` is the API's answer (else only its id is known, and the first poll reads the rest).
  track(item, selector, coalesced, { known = true } = {}) {
    let row = this.rows.get(item.request_id);
    const fresh = !row;
    if (fresh) {
      row = h("li", { class: "refresh-item", dataset: { requestId: item.request_id } });
      this.rows.set(item.request_id, row);
    }
    if (coalesced) row.dataset.coalesced = "true";
    this.panel.hidden = false;
    this.list.prepend(row);
    if (known) this.update(row, item, selector);
    else this.render(row, { selector, state: "checking", message: "checking…", requestId: item.request_id });
    if (!fresh) return;
    if (known && item.status === "done") return;
    this.remember(item.request_id, selector, Boolean(coalesced));
    this.poll(row, item.request_id, selector, !known);
  }

  update(row, item, selector) {
    const state = WORDS[item.status] ? item.status : "queued";
    const dropped = item.dropped ? ` · ${item.dropped} left out (system retired)` : "";
    const progress = (item.queued === 0 ? "nothing to translate" : `${item.completed ?? 0}/${item.queued} translated`)
      + dropped;
    const note = row.dataset.coalesced === "true" ? "joined an identical request made moments ago" : "new request";
    this.render(row, { selector: selector || item.selector, state, message: `${WORDS[state]} · ${progress} · ${note}`,
      requestId: item.request_id });
  }

  render(row, { selector, message, state, requestId }) {
    row.dataset.state = state;
    replace(row,
      h("span", { class: "refresh-what" }, describeSelector(selector)),
      h("span", { class: "refresh-progress" }, message),
      requestId ? h("code", { class: "refresh-id" }, requestId) : null);
  }

  // Wait `ms`, or less when poke() is called.
  wait(ms) {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  async poll(row, requestId, selector, now) {
    let delay = FIRST_POLL_MS;
    let last = null;
    for (let first = now; ; first = false) {
      if (!first) await this.wait(delay);
      try {
        const item = await this.api.refreshStatus(requestId);
        this.update(row, item, selector);
        const seen = `${item.status}/${item.completed}`;
        delay = seen === last ? Math.min(delay * 1.5, MAX_POLL_MS) : FIRST_POLL_MS;
        last = seen;
        if (item.status === "done") break;
      } catch (error) {
        const final = error instanceof ApiError && error.status < 500 && error.status !== 429;
        this.render(row, { selector, message: final ? describeError(error, "refresh")
          : `${describeError(error, "refresh")}; trying again`, state: final ? "error" : row.dataset.state, requestId });
        if (final) break;
        delay = Math.min(delay * 2, MAX_POLL_MS);
      }
    }
    this.forget(requestId);
  }
}
