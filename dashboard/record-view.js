// One system's record within a session: the readable document, its lineage, when it was written, and every
// version's changes.

import { describeError } from "./api.js";
import { byId, h, isolateText, replace, setState, userText } from "./dom.js";
import { renderHistory } from "./history.js";
import { recordLineageLinks } from "./lineage.js";
import { recordDocument, recordTiming } from "./record-doc.js";
import { authorNote, editControl, openDraft, proposalCard, reopenDraft } from "./record-edit.js";
import { sessionHref } from "./router.js";

const HISTORY_PAGES = 5; // up to 500 versions; older ones show without old values

export class RecordView {
  constructor(api, tracker) {
    this.api = api;
    this.tracker = tracker;
    this.body = byId("record-body");
    this.state = byId("record-state");
    this.heading = byId("record-heading");
    this.sessionId = null;
    this.system = null;
  }

  async open(sessionId, system) {
    this.sessionId = sessionId;
    this.system = system;
    replace(this.heading, userText(system), " record"); // the address names the system
    const crumb = byId("record-crumb-session");
    crumb.href = sessionHref(sessionId);
    crumb.textContent = `Session ${isolateText(sessionId)}`; // a flex box: one text, not a text and a <bdi>
    replace(this.body);
    await this.load();
  }

  close() {
    this.sessionId = null;
  }

  async load() {
    const { sessionId, system } = this;
    setState(this.state, "loading", "Loading the record…");
    try {
      const [summary, systems] = await Promise.all([
        this.api.summary(sessionId), this.api.systems().catch(() => ({ items: [] }))]);
      if (sessionId !== this.sessionId || system !== this.system) return;
      const record = (summary.records || []).find((r) => r.system === system);
      const active = systems.items.find((s) => s.name === system);
      const missing = `Session ${isolateText(sessionId)} has no ${isolateText(system)} record yet.`;
      setState(this.state, record ? "" : "empty", record ? "" : missing);
      this.render(summary, record, active);
    } catch (error) {
      if (sessionId !== this.sessionId) return;
      replace(this.body);
      setState(this.state, "error", describeError(error));
    }
  }

  render(summary, record, active) {
    const focusKey = this.body.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
    const draft = openDraft(this.body, record);
    const history = h("div", { class: "history", "aria-busy": "true" }, h("p", { class: "muted" }, "Loading history…"));
    const refresh = h("button", { type: "button", class: "refresh-system", dataset: { focusKey: "refresh" },
      disabled: summary.status !== "SUMMARIZED",
      onclick: (event) => this.tracker.request({ summary_id: summary.session_id, system: this.system },
        event.currentTarget) }, `Refresh ${isolateText(this.system)}`);
    const changed = () => this.load();
    replace(this.body,
      record?.proposal ? proposalCard(this.api, summary.session_id, record, changed) : null,
      record ? h("article", { class: "card record-card", dataset: { system: this.system, version: record.version } },
        h("div", { class: "record-head" }, h("span", { class: "version", dataset: { version: record.version } },
          `version ${record.version}`), authorNote(record), recordTiming(summary, record)),
        recordLineageLinks(record, active),
        recordDocument(this.api, summary.session_id, record, { level: 3 }),
        h("div", { class: "record-actions" }, refresh, editControl(this.api, summary.session_id, record, changed)))
        : h("div", { class: "record-actions" }, refresh),
      record ? h("section", { "aria-labelledby": "history-heading" },
        h("h3", { id: "history-heading" }, "History"), history) : null);
    if (draft !== null) reopenDraft(this.body, draft);
    if (focusKey) this.body.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
    if (record) this.loadHistory(history);
  }

  async loadHistory(container) {
    const { sessionId, system } = this;
    try {
      const entries = [];
      let next;
      for (let page = 0; page < HISTORY_PAGES; page += 1) {
        const data = await this.api.history(sessionId, system, next);
        entries.push(...data.items);
        next = data.next;
        if (!next) break;
      }
      if (sessionId === this.sessionId && system === this.system) renderHistory(container, entries, Boolean(next));
    } catch (error) {
      replace(container, h("p", { class: "state", dataset: { kind: "error" } }, describeError(error)));
    } finally {
      container.setAttribute("aria-busy", "false");
    }
  }

  reloadIfShowing(sessionId) {
    if (sessionId === this.sessionId) this.load();
  }
}
