// The search form over every indexed summary (GET /search), above the summary list.

import { byId, filledFields, replace, setState } from "./dom.js";
import { showAnswer, showError } from "./search.js";

export class SearchBox {
  constructor(api, { onOpen }) {
    this.api = api;
    this.onOpen = onOpen;
    this.form = byId("search-form");
    this.state = byId("search-state");
    this.results = byId("search-results");
    this.clearButton = byId("search-clear");
    this.asked = 0; // only the newest answer is shown
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.search();
    });
    this.clearButton.addEventListener("click", () => this.clear());
  }

  async search() {
    const asked = ++this.asked;
    const params = filledFields(this.form, ["q", "source", "from", "to"]);
    this.clearButton.hidden = false;
    setState(this.state, "loading", "Searching…");
    try {
      const answer = await this.api.search(params);
      if (asked !== this.asked) return;
      showAnswer(this.state, this.results, answer, {
        onOpen: this.onOpen, noMatches: `No matches for “${params.q}”${params.source || params.from || params.to
          ? " with these filters" : ""}.` });
    } catch (error) {
      if (asked === this.asked) showError(this.state, this.results, error);
    }
  }

  clear() {
    this.asked += 1;
    this.form.reset();
    replace(this.results);
    setState(this.state, "", "");
    this.clearButton.hidden = true;
    byId("search-query").focus();
  }

  // Back from a summary opened here: put focus on its row again. True when the row was found.
  focusResult(summaryId) {
    const button = this.results.querySelector(`li[data-summary-id="${CSS.escape(summaryId)}"] button`);
    button?.focus();
    return Boolean(button);
  }
}
