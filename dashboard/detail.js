// One summary: its text, lineage, cost, similar sessions, each system's JSON side by side, history diffs and refresh
// buttons.

import { describeError } from "./api.js";
import { badge, byId, formatCost, formatCount, formatTime, h, prettyJson, replace, setState } from "./dom.js";
import { renderHistory } from "./history.js";
import { SimilarPanel } from "./similar.js";

function field(label, value) {
  return [h("dt", {}, label), h("dd", {}, value ?? "—")];
}

function facts(summary) {
  return h("dl", { class: "facts" },
    field("Source", summary.source),
    field("User", summary.user_id),
    field("Status", h("span", { class: `status status-${(summary.status || "").toLowerCase()}` }, summary.status)),
    field("Received", formatTime(summary.received_at)),
    field("Updated", formatTime(summary.updated_at)),
    field("Turns", summary.turn_count),
    field("Attempts", summary.attempts),
    summary.error ? field("Error", h("span", { class: "row-error" }, summary.error)) : null);
}

function costPanel(summary) {
  const usage = summary.usage || {};
  return h("section", { class: "card cost-card", "aria-labelledby": "cost-heading" },
    h("h3", { id: "cost-heading" }, "Cost and tokens"),
    h("dl", { class: "facts compact" },
      field("Cost", formatCost(summary.cost_usd)),
      field("Input tokens", formatCount(usage.input_tokens)),
      field("Output tokens", formatCount(usage.output_tokens)),
      field("Cache read", formatCount(usage.cache_read_input_tokens)),
      field("Cache write", formatCount(usage.cache_creation_input_tokens)),
      field("Latency", summary.latency_ms === undefined ? "—" : `${summary.latency_ms} ms`)));
}

export class SummaryDetail {
  constructor(api, tracker, { onBack, onOpen }) {
    this.api = api;
    this.tracker = tracker;
    this.body = byId("detail-body");
    this.state = byId("detail-state");
    this.heading = byId("detail-heading");
    this.summaryId = null;
    this.openHistories = new Set();
    this.similar = new SimilarPanel(api, { onOpen });
    byId("back-to-list").addEventListener("click", onBack);
  }

  async open(summaryId) {
    if (summaryId !== this.summaryId) this.openHistories.clear();
    this.summaryId = summaryId;
    this.heading.textContent = `Summary ${summaryId}`;
    this.similar.reset(summaryId);
    replace(this.body);
    await this.load();
    this.heading.focus();
  }

  close() {
    this.summaryId = null;
    this.similar.reset(null);
  }

  async load() {
    const summaryId = this.summaryId;
    setState(this.state, "loading", "Loading summary…");
    try {
      const [summary, systems] = await Promise.all([
        this.api.summary(summaryId), this.api.systems().catch(() => ({ items: [] }))]);
      if (summaryId !== this.summaryId) return;
      setState(this.state, "", "");
      this.render(summary, systems.items);
    } catch (error) {
      if (summaryId !== this.summaryId) return;
      replace(this.body);
      setState(this.state, "error", describeError(error));
    }
  }

  render(summary, activeSystems) {
    const focusKey = this.body.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
    const retranslateAll = h("button", { type: "button", dataset: { focusKey: "refresh-all" },
      onclick: (event) => this.tracker.request({ summary_id: summary.session_id }, event.currentTarget) },
    "Re-translate every system");
    replace(this.body,
      h("div", { class: "detail-top" },
        h("section", { class: "card", "aria-labelledby": "facts-heading" },
          h("h3", { id: "facts-heading" }, "Session"),
          facts(summary),
          h("div", { class: "badges", "aria-label": "Summary lineage" },
            badge("summarizer_model_version", summary.summarizer_model_version),
            badge("summarizer_prompt_version", summary.summarizer_prompt_version))),
        costPanel(summary)),
      h("section", { class: "card summary-text-card", "aria-labelledby": "text-heading" },
        h("h3", { id: "text-heading" }, "Summary"),
        summary.text
          ? h("p", { class: "summary-text" }, summary.text)
          : h("p", { class: "muted" }, summary.status === "FAILED" ? "Summarizing failed." : "Not summarized yet.")),
      this.similar.show(summary),
      h("section", { "aria-labelledby": "records-heading" },
        h("div", { class: "section-head" },
          h("h3", { id: "records-heading" }, "System records"),
          summary.status === "SUMMARIZED" ? retranslateAll : null),
        this.recordGrid(summary, activeSystems)));
    if (focusKey) this.body.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
    for (const system of this.openHistories) this.loadHistory(system);
  }

  recordGrid(summary, activeSystems) {
    const records = new Map((summary.records || []).map((record) => [record.system, record]));
    const active = new Map(activeSystems.map((system) => [system.name, system]));
    const names = [...new Set([...records.keys(), ...active.keys()])].sort();
    if (!names.length) return h("p", { class: "state", dataset: { kind: "empty" } }, "No systems are published yet.");
    return h("div", { class: "record-grid" },
      names.map((name) => this.recordCard(summary, name, records.get(name), active.get(name))));
  }

  recordCard(summary, system, record, active) {
    const headingId = `record-${system}-heading`;
    const historyId = `record-${system}-history`;
    const stale = record && active && record.schema_version !== active.schema_version;
    const historyOpen = this.openHistories.has(system);
    return h("article", { class: "card record-card", "aria-labelledby": headingId,
      dataset: { system, version: record ? record.version : 0 } },
    h("header", { class: "record-head" },
      h("h4", { id: headingId }, system),
      record ? h("span", { class: "version", dataset: { version: record.version } }, `version ${record.version}`)
        : h("span", { class: "muted" }, "no record yet"),
      record ? h("time", { datetime: record.updated_at, class: "muted" }, formatTime(record.updated_at)) : null),
    record ? h("div", { class: "badges", "aria-label": `${system} lineage` },
      badge("translator_model_version", record.translator_model_version),
      badge("translator_prompt_version", record.translator_prompt_version),
      badge("schema_version", record.schema_version)) : null,
    stale ? h("p", { class: "notice" }, "The schema changed since this record was made; refresh to update it.") : null,
    record ? h("pre", { class: "json", tabindex: 0, "aria-label": `${system} JSON` }, prettyJson(record.document))
      : null,
    h("div", { class: "record-actions" },
      h("button", { type: "button", class: "refresh-system", dataset: { focusKey: `refresh-${system}` },
        disabled: summary.status !== "SUMMARIZED",
        onclick: (event) => this.tracker.request({ summary_id: summary.session_id, system }, event.currentTarget) },
      `Refresh ${system}`),
      record ? h("button", { type: "button", class: "secondary toggle-history", "aria-expanded": String(historyOpen),
        "aria-controls": historyId, dataset: { focusKey: `history-${system}` },
        onclick: (event) => this.toggleHistory(system, event.currentTarget) }, "History") : null),
    h("div", { id: historyId, class: "history", hidden: !historyOpen, dataset: { system } }));
  }

  toggleHistory(system, button) {
    const open = !this.openHistories.has(system);
    if (open) this.openHistories.add(system);
    else this.openHistories.delete(system);
    button.setAttribute("aria-expanded", String(open));
    byId(`record-${system}-history`).hidden = !open;
    if (open) this.loadHistory(system);
  }

  async loadHistory(system) {
    const container = byId(`record-${system}-history`);
    if (!container) return;
    const summaryId = this.summaryId;
    container.setAttribute("aria-busy", "true");
    try {
      const entries = [];
      let next;
      for (let page = 0; page < 5; page += 1) { // up to 500 versions; older ones show without old values
        const data = await this.api.history(summaryId, system, next);
        entries.push(...data.items);
        next = data.next;
        if (!next) break;
      }
      if (summaryId === this.summaryId) renderHistory(container, entries, Boolean(next));
    } catch (error) {
      replace(container, h("p", { class: "state", dataset: { kind: "error" } }, describeError(error)));
    } finally {
      container.setAttribute("aria-busy", "false");
    }
  }

  // A live change to this summary or one of its records.
  reloadIfShowing(summaryId) {
    if (summaryId === this.summaryId) this.load();
  }
}
