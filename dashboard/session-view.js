// One session as a trace: the conversation received, the summary (model, prompt, time, tokens, cost), then each
// system's record (readable, with its lineage and when it arrived), and similar sessions below.

import { describeError } from "./api.js";
import {
  between, byId, formatCost, formatCount, formatDuration, h, isolated, navLink, replace, setState, timeTag, userText,
} from "./dom.js";
import { lineageLinks, recordLineageLinks } from "./lineage.js";
import { pipelineBadge } from "./pipeline.js";
import { recordDocument, recordTiming } from "./record-doc.js";
import { recordHref } from "./router.js";
import { SECTION_HEADING } from "./search.js";
import { SimilarPanel } from "./similar.js";

function fact(label, value) {
  return h("div", { class: "fact" }, h("dt", {}, label), h("dd", {}, value ?? "—"));
}

function step(name, title, ...body) {
  return h("li", { class: "trace-step", dataset: { step: name } },
    h("h3", { class: "trace-title" }, title), ...body);
}

function turn(item) {
  return h("li", { class: "turn", dataset: { role: item.role } },
    h("p", { class: "turn-head" }, h("strong", {}, userText(item.role)),
      item.timestamp ? [" · ", timeTag(item.timestamp)] : null),
    isolated("p", { class: "turn-text" }, item.content));
}

// The original conversation, loaded on request when the API links to it.
function conversationBlock(api, summary) {
  if (!summary.links?.conversation) {
    return h("p", { class: "muted conversation-missing" },
      "The original conversation is stored, but this API does not serve it to the dashboard yet.");
  }
  const body = h("div", { class: "conversation", id: "conversation" });
  const button = h("button", { type: "button", class: "secondary", "aria-expanded": "false",
    "aria-controls": "conversation", dataset: { focusKey: "conversation" },
    onclick: async () => {
      const open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", String(open));
      button.textContent = open ? "Hide conversation" : "Show conversation";
      if (!open) return replace(body);
      const state = h("p", { class: "state" });
      replace(body, state);
      setState(state, "loading", "Loading the conversation…");
      try {
        const session = await api.conversation(summary);
        replace(body, h("ol", { class: "turns", "aria-label": "Conversation" }, (session.turns || []).map(turn)));
      } catch (error) {
        replace(body, h("p", { class: "state", dataset: { kind: "error" } }, describeError(error)));
      }
    } }, "Show conversation");
  return h("div", {}, button, body);
}

function receivedStep(api, summary) {
  return step("received", "Conversation received",
    h("dl", { class: "fact-grid" },
      fact("Received", timeTag(summary.received_at)),
      fact("Source", summary.source),
      fact("User", summary.user_id),
      fact("Session started", timeTag(summary.started_at)),
      fact("Turns", summary.turn_count)),
    conversationBlock(api, summary));
}

// The summary's text with its section headings ("Overview", "People", ...) shown as headings.
function summaryText(text) {
  const lines = text.split(/\n+/).map((line) => line.trim()).filter(Boolean);
  return h("div", { class: "summary-text" }, lines.map((line) => (SECTION_HEADING.test(line)
    ? isolated("h4", { class: "summary-heading" }, line.replace(/:$/, "")) : isolated("p", {}, line))));
}

function summaryStep(summary) {
  const usage = summary.usage || {};
  const summarizedAt = summary.summarized_at;
  const text = summary.text ? summaryText(summary.text)
    : h("p", { class: "muted" }, summary.status === "FAILED" ? "Summarizing failed." : "Not summarized yet.");
  return step("summary", "Summary",
    h("dl", { class: "fact-grid" },
      fact("Status", h("span", { class: `status status-${(summary.status || "").toLowerCase()}` }, summary.status)),
      summary.pipeline ? fact("Pipeline", pipelineBadge(summary.pipeline)) : null,
      summarizedAt ? fact("Summarized", [timeTag(summarizedAt), ` (${formatDuration(
        between(summary.received_at, summarizedAt))} after it was received)`]) : fact("Last updated", timeTag(summary.updated_at)),
      fact("Model call", summary.latency_ms === undefined ? "—" : formatDuration(summary.latency_ms)),
      fact("Stop reason", summary.stop_reason ? h("code", { class: "stop-reason" }, summary.stop_reason) : "—"),
      fact("Cost", formatCost(summary.cost_usd)),
      fact("Tokens", usage.input_tokens === undefined ? "—"
        : `${formatCount(usage.input_tokens)} in · ${formatCount(usage.output_tokens)} out` +
          ` · ${formatCount(usage.cache_read_input_tokens)} cache read · ${formatCount(usage.cache_creation_input_tokens)} cache write`),
      fact("Attempts", summary.attempts),
      summary.error ? fact("Error", isolated("span", { class: "row-error" }, summary.error)) : null),
    lineageLinks(summary, ["summarizer_model_version", "summarizer_prompt_version"], "Summary lineage"),
    text);
}

export class SessionView {
  constructor(api, tracker) {
    this.api = api;
    this.tracker = tracker;
    this.body = byId("session-body");
    this.state = byId("session-state");
    this.heading = byId("session-heading");
    this.sessionId = null;
    this.similar = new SimilarPanel(api);
  }

  async open(sessionId) {
    this.sessionId = sessionId;
    replace(this.heading, "Session ", userText(sessionId)); // from the address
    this.similar.reset(sessionId);
    replace(this.body);
    await this.load();
  }

  close() {
    this.sessionId = null;
    this.similar.reset(null);
  }

  async load() {
    const sessionId = this.sessionId;
    setState(this.state, "loading", "Loading the session…");
    try {
      const [summary, systems] = await Promise.all([
        this.api.summary(sessionId), this.api.systems().catch(() => ({ items: [] }))]);
      if (sessionId !== this.sessionId) return;
      setState(this.state, "", "");
      this.render(summary, systems.items);
    } catch (error) {
      if (sessionId !== this.sessionId) return;
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
      h("ol", { class: "trace", "aria-label": "Trace" },
        receivedStep(this.api, summary),
        summaryStep(summary),
        step("records", "System records",
          summary.status === "SUMMARIZED" ? h("div", { class: "record-actions" }, retranslateAll) : null,
          this.recordGrid(summary, activeSystems))),
      this.similar.show(summary));
    if (focusKey) this.body.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
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
    const stale = record && active && record.schema_version !== active.schema_version;
    return h("article", { class: "card record-card", "aria-labelledby": headingId,
      dataset: { system, version: record ? record.version : 0 } },
    h("header", { class: "record-head" },
      h("h4", { id: headingId }, record ? navLink(recordHref(summary.session_id, system),
        { class: "record-link", dataset: { focusKey: `open-${system}` } }, system) : system),
      record ? h("span", { class: "version", dataset: { version: record.version } }, `version ${record.version}`)
        : h("span", { class: "muted" }, "no record yet")),
    record ? recordTiming(summary, record) : null,
    record ? recordLineageLinks(record, active) : null,
    stale ? h("p", { class: "notice" }, "The schema changed since this record was made; refresh to update it.") : null,
    record?.proposal ? h("p", { class: "notice proposal-notice" }, "A newer translation is waiting beside your edit: ",
      navLink(recordHref(summary.session_id, system), {}, "review it")) : null,
    record ? recordDocument(this.api, summary.session_id, record) : null,
    h("div", { class: "record-actions" },
      h("button", { type: "button", class: "refresh-system", dataset: { focusKey: `refresh-${system}` },
        disabled: summary.status !== "SUMMARIZED",
        onclick: (event) => this.tracker.request({ summary_id: summary.session_id, system }, event.currentTarget) },
      `Refresh ${system}`),
      record ? navLink(recordHref(summary.session_id, system), { class: "button secondary" },
        "History and details") : null));
  }

  // A live change to this session or one of its records.
  reloadIfShowing(sessionId) {
    if (sessionId === this.sessionId) this.load();
  }
}
