// A system record's document, readable (rendered from the schema its record names) with a raw-JSON toggle.

import { describeError } from "./api.js";
import { between, formatDuration, h, jsonNodes, prettyJson, replace, timeTag } from "./dom.js";
import { renderDocument } from "./schema-view.js";

const showingRaw = new Set(); // "<session>/<system>" whose raw JSON is shown, kept across re-renders

function readable(document, entry, level) {
  return renderDocument(document, entry?.content, { level });
}

function withoutSchema(document, level, message) {
  return [h("p", { class: "notice" }, message), renderDocument(document, null, { level })];
}

// `record` is a record view from GET /summaries/{id}; `level` the heading level for its top-level fields.
export function recordDocument(api, sessionId, record, { level = 5 } = {}) {
  const key = `${sessionId}/${record.system}`;
  const host = h("div", { class: "readable-host" });
  const raw = h("pre", { class: "json", tabindex: 0, "aria-label": `${record.system} JSON` },
    jsonNodes(prettyJson(record.document)));
  const toggle = h("button", { type: "button", class: "secondary toggle-raw", dataset: { focusKey: `raw-${record.system}` },
    onclick: () => show(!showingRaw.has(key)) });

  function show(rawShown) {
    if (rawShown) showingRaw.add(key);
    else showingRaw.delete(key);
    toggle.setAttribute("aria-pressed", String(rawShown));
    toggle.textContent = "Raw JSON";
    host.hidden = rawShown;
    raw.hidden = !rawShown;
  }

  const cached = api.cachedEntry(record.schema_version);
  if (cached) replace(host, readable(record.document, cached, level));
  else {
    host.setAttribute("aria-busy", "true");
    replace(host, h("p", { class: "muted" }, "Reading the schema…"));
    api.registryEntry(record.schema_version).then((entry) => {
      replace(host, entry ? readable(record.document, entry, level) : withoutSchema(record.document, level,
        `Schema ${record.schema_version} is not in the registry; fields are shown in the document's order.`));
    }, (error) => {
      replace(host, withoutSchema(record.document, level, `Could not read the schema: ${describeError(error)}`));
    }).finally(() => host.setAttribute("aria-busy", "false"));
  }
  show(showingRaw.has(key));
  return h("div", { class: "record-document", dataset: { system: record.system } }, toggle, host, raw);
}

// When the record's current version was written, how long after the session was received, how long the translation
// took when the record says (translate_ms), and a mark when the offline demo model made it.
export function recordTiming(summary, record) {
  const after = between(summary.received_at, record.updated_at);
  return [h("p", { class: "record-timing muted" },
    "Written ", timeTag(record.updated_at),
    after === null || after < 0 ? null : ` · ${formatDuration(after)} after the session was received`,
    record.translate_ms === undefined ? null : ` · translated in ${formatDuration(record.translate_ms)}`),
  record.offline_demo_model ? h("p", { class: "notice demo-model" },
    h("span", { class: "demo-model-tag" }, "offline demo model"),
    " Translated by the small model bundled for trying the pipeline offline: expect rough output.") : null];
}
