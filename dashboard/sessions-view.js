// The Sessions page: one search box with its filters. Without words it lists sessions (GET /summaries); with words
// it ranks summaries (GET /search). Either way the filters are in the address, so the page can be linked and reloaded.

import { byId, filledFields, isolateText, replace, setState, userText } from "./dom.js";
import { href, LIST_FILTERS } from "./router.js";
import { showAnswer, showError, withSummaries } from "./search.js";
import { scopeText, SummaryList } from "./summaries.js";

const SEARCH_K = 10;
const FILTERS = LIST_FILTERS.filter((name) => name !== "q");

// Filters GET /search does not take (it has source, from, to): applied to the hits' summaries here.
function searchHitMatches(item, filters) {
  const summary = item.summary || item;
  if (filters.user && summary.user_id !== filters.user) return false;
  return !filters.status || summary.status === filters.status;
}

export class SessionsView {
  constructor(api, router) {
    this.api = api;
    this.router = router;
    this.list = new SummaryList(api);
    this.form = byId("find-form");
    this.details = byId("find-filters");
    this.state = byId("find-state");
    this.results = byId("search-results");
    this.scope = byId("find-scope");
    this.asked = 0; // only the newest answer is shown
    this.filters = {};
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.router.go(href({ view: "sessions", filters: filledFields(this.form, LIST_FILTERS) }));
    });
    byId("find-clear").addEventListener("click", () => this.form.elements.q.focus());
  }

  // Fill the form from the address and show the list or the search answer. Returns an error or null.
  async show(filters) {
    this.filters = filters;
    for (const name of LIST_FILTERS) this.form.elements[name].value = filters[name] || "";
    const active = FILTERS.filter((name) => filters[name]).length;
    byId("filter-count").textContent = active ? `(${active} on)` : "";
    byId("find-clear").hidden = !Object.keys(filters).length;
    if (active && !this.details.open) this.details.open = true;
    if (filters.q) {
      this.list.hide();
      return this.search(filters);
    }
    this.asked += 1;
    replace(this.results);
    replace(this.scope, scopeText(filters));
    return this.list.show(filters);
  }

  async search(filters) {
    const asked = ++this.asked;
    const { q, source, from, to, user, status } = filters;
    replace(this.scope, "Summaries ranked by how well they match “", userText(q), "”.",
      user || status ? " The user and status filters apply to the top hits." : "");
    setState(this.state, "loading", "Searching…");
    try {
      const answer = await this.api.search({ q, k: user || status ? 50 : SEARCH_K, source, from, to, user });
      const needs = [user && "user_id", status && "status"].filter(Boolean);
      const enriched = await withSummaries(this.api, answer.items || [], needs);
      if (asked !== this.asked) return null;
      const items = enriched.filter((item) => searchHitMatches(item, filters)).slice(0, SEARCH_K);
      const filtered = FILTERS.some((name) => filters[name]);
      showAnswer(this.state, this.results, answer, { query: q, items,
        noMatches: `No matches for “${isolateText(q)}”${filtered ? " with these filters" : ""}.` });
      return null;
    } catch (error) {
      if (asked === this.asked) showError(this.state, this.results, error);
      return error;
    }
  }

  // Back from a session: focus its row or result again. True when found.
  focusSession(summaryId) {
    const result = this.results.querySelector(`li[data-summary-id="${CSS.escape(summaryId)}"] a`);
    if (result) {
      result.focus();
      return true;
    }
    return this.list.focusRow(summaryId);
  }

  onLive(summaryId) {
    this.list.refreshOne(summaryId);
  }

  // The edge took up other work: the listed queued sessions moved up.
  onEdgeMoved() {
    this.list.refreshQueued();
  }

  clearState() {
    setState(this.state, "", "");
  }
}
