// A record's version history rendered as readable diffs.

import { explainHistory, shortJson } from "./diff.js";
import { formatTime, h, jsonNodes, replace, userText } from "./dom.js";
import { RECORD_FIELDS, lineageLinks } from "./lineage.js";

const SIGN = { added: "+", removed: "−", changed: "~" };

// A line's text: its path, then its note or values; paths and JSON strings each isolated (user- or model-written).
function diffText(line) {
  const path = userText(line.path, { class: "diff-path" });
  if (line.note) return [path, ` (${line.note} `, userText(line.from, { class: "diff-path" }), ")"];
  if (line.kind === "changed") {
    return line.from === undefined ? [path, ": ", jsonNodes(shortJson(line.value))]
      : [path, ": ", jsonNodes(shortJson(line.from)), " → ", jsonNodes(shortJson(line.value))];
  }
  return line.value === undefined ? [path] : [path, ": ", jsonNodes(shortJson(line.value))];
}

function diffLine(line) {
  return h("li", { class: `diff-line diff-${line.kind}`, dataset: { kind: line.kind } },
    h("span", { class: "diff-sign", "aria-hidden": "true" }, SIGN[line.kind]),
    h("span", { class: "visually-hidden" }, `${line.kind}: `),
    h("span", { class: "diff-text" }, diffText(line)));
}

function historyEntry(entry) {
  const lines = entry.lines.length ? entry.lines.map(diffLine)
    : [h("li", { class: "diff-line muted" }, "no change to the document")];
  return h("li", { class: "history-entry", dataset: { version: entry.version } },
    h("div", { class: "history-head" },
      h("strong", {}, `Version ${entry.version}`),
      h("time", { datetime: entry.created_at, class: "muted" }, formatTime(entry.created_at)),
      h("span", { class: "author-badge", dataset: { author: entry.author || "edge" } },
        entry.author === "user" ? ["edited by ", userText(entry.author_name || "you")] : "translated"),
      entry.request_id ? h("code", { class: "muted" }, entry.request_id) : null),
    lineageLinks(entry, RECORD_FIELDS, `Lineage of version ${entry.version}`),
    h("ul", { class: "diff", "aria-label": `Changes in version ${entry.version}` }, lines));
}

export function renderHistory(container, entries, truncated) {
  if (!entries.length) {
    replace(container, h("p", { class: "state", dataset: { kind: "empty" } }, "No history yet."));
    return;
  }
  replace(container,
    h("ol", { class: "history-list", reversed: true }, explainHistory(entries).map(historyEntry)),
    truncated ? h("p", { class: "muted" }, "Older versions are not shown.") : null);
}
