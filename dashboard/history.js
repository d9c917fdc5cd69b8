// A record's version history rendered as readable diffs.

import { explainHistory, shortJson } from "./diff.js";
import { formatTime, h, replace } from "./dom.js";
import { RECORD_FIELDS, lineageLinks } from "./lineage.js";

const SIGN = { added: "+", removed: "−", changed: "~" };

function diffLine(line) {
  let text;
  if (line.note) text = `${line.path} (${line.note})`;
  else if (line.kind === "changed") {
    text = line.from === undefined ? `${line.path}: ${shortJson(line.value)}`
      : `${line.path}: ${shortJson(line.from)} → ${shortJson(line.value)}`;
  } else text = line.value === undefined ? line.path : `${line.path}: ${shortJson(line.value)}`;
  return h("li", { class: `diff-line diff-${line.kind}`, dataset: { kind: line.kind } },
    h("span", { class: "diff-sign", "aria-hidden": "true" }, SIGN[line.kind]),
    h("span", { class: "visually-hidden" }, `${line.kind}: `),
    h("span", { class: "diff-text" }, text));
}

function historyEntry(entry) {
  const lines = entry.lines.length ? entry.lines.map(diffLine)
    : [h("li", { class: "diff-line muted" }, "no change to the document")];
  return h("li", { class: "history-entry", dataset: { version: entry.version } },
    h("div", { class: "history-head" },
      h("strong", {}, `Version ${entry.version}`),
      h("time", { datetime: entry.created_at, class: "muted" }, formatTime(entry.created_at)),
      h("span", { class: "author-badge", dataset: { author: entry.author || "edge" } },
        entry.author === "user" ? `edited by ${entry.author_name || "you"}` : "translated"),
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
