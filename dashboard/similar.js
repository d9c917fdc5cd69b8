// The "Similar sessions" panel of the session view (GET /summaries/{id}/similar), loaded once per opened session.

import { ApiError } from "./api.js";
import { h, replace, setState } from "./dom.js";
import { showAnswer, showError, withSummaries } from "./search.js";

const SIMILAR_K = 5;
const RETRY_MS = 3000; // a new summary reaches the index within seconds (the stream batches for up to 5 s)
const AUTO_RETRIES = 5;

export class SimilarPanel {
  constructor(api) {
    this.api = api;
    this.summaryId = null;
    this.requested = false;
    this.asked = 0;
    this.retries = 0;
    this.timer = null;
    this.state = h("div", { class: "state", role: "status", "aria-live": "polite" });
    this.retry = h("button", { type: "button", class: "secondary retry-similar", hidden: true,
      dataset: { focusKey: "retry-similar" }, onclick: () => this.load() }, "Try again");
    this.results = h("div", { class: "search-results" });
    // One element kept across re-renders of the detail view, so a live update does not refetch it.
    this.element = h("section", { class: "card similar-card", "aria-labelledby": "similar-heading" },
      h("h3", { id: "similar-heading" }, "Similar sessions"), this.state, this.retry, this.results);
  }

  // A summary was opened: forget what the panel showed before.
  reset(summaryId) {
    clearTimeout(this.timer);
    this.asked += 1;
    this.retries = 0;
    this.summaryId = summaryId;
    this.requested = false;
    this.retry.hidden = true;
    replace(this.results);
    setState(this.state, "", "");
  }

  // Called on every render of the detail view: load once the summary is summarized.
  show(summary) {
    if (summary.session_id !== this.summaryId) this.reset(summary.session_id);
    if (summary.status !== "SUMMARIZED") {
      setState(this.state, "empty", "Similar sessions are found once this session is summarized.");
    } else if (!this.requested) {
      this.load();
    }
    return this.element;
  }

  async load() {
    clearTimeout(this.timer);
    const asked = ++this.asked;
    const summaryId = this.summaryId;
    this.requested = true;
    this.retry.hidden = true;
    setState(this.state, "loading", "Looking for similar sessions…");
    try {
      const answer = await this.api.similar(summaryId, { k: SIMILAR_K });
      const items = await withSummaries(this.api, answer.items || []);
      if (asked !== this.asked) return;
      showAnswer(this.state, this.results, answer, { items, noMatches: "No other summary shares enough with this one." });
    } catch (error) {
      if (asked !== this.asked) return;
      showError(this.state, this.results, error);
      // 409 not_indexed_yet, throttling, server and network trouble pass with time: offer to ask again.
      this.retry.hidden = error instanceof ApiError && ![409, 429].includes(error.status) && error.status < 500;
      // Not indexed yet: also ask again by itself a few times, the index catches up within seconds.
      if (error instanceof ApiError && error.status === 409 && this.retries < AUTO_RETRIES) {
        this.retries += 1;
        this.timer = setTimeout(() => this.load(), RETRY_MS);
      }
    }
  }
}
