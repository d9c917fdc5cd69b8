// Search answers (free text and "similar to one summary") rendered one way everywhere: a mode line and ranked rows.

import { describeError } from "./api.js";
import { formatTime, h, replace, setState } from "./dom.js";

// "hybrid (embeddings + words)" or "words only — <why embeddings were not used>".
export function modeText(answer) {
  if (answer.mode === "hybrid") return "hybrid (embeddings + words)";
  const reason = answer.semantic?.reason;
  return reason ? `words only — ${reason}` : "words only";
}

function modeLine(answer) {
  const version = answer.semantic?.used ? answer.semantic.embedding_version : null;
  return h("p", { class: "search-mode", dataset: { mode: answer.mode } },
    h("span", { class: "search-mode-label" }, "Ranking: "),
    h("span", { class: "search-mode-text" }, modeText(answer)),
    version ? h("span", { class: "search-mode-version" }, ` (${version})`) : null);
}

const score = (value) => (value === null || value === undefined ? "—" : Number(value).toFixed(2));

function when(item) {
  if (item.received_at) return h("time", { datetime: item.received_at }, formatTime(item.received_at));
  if (item.day) return h("time", { datetime: item.day }, item.day);
  return "—";
}

function resultRow(item, rank, onOpen) {
  const id = item.summary_id;
  return h("li", { class: "result-row", dataset: { summaryId: id, rank, score: item.score } },
    h("span", { class: "result-id" },
      h("button", { type: "button", class: "link-button open-result", dataset: { focusKey: `result-${id}` },
        onclick: () => onOpen(id) }, id)),
    h("span", { class: "result-source" }, h("span", { class: "visually-hidden" }, "Source: "), item.source || "—"),
    h("span", { class: "result-when" }, h("span", { class: "visually-hidden" }, "Received: "), when(item)),
    h("span", { class: "result-score" },
      h("span", { class: "score-total" }, `score ${score(item.score)}`),
      h("span", { class: "score-parts" }, ` words ${score(item.lexical)} · embeddings ${score(item.semantic)}`)));
}

// Show a 200 answer in `results`, and a one-line count or "no matches" in the aria-live `state`.
export function showAnswer(state, results, answer, { onOpen, noMatches }) {
  const items = answer.items || [];
  replace(results, modeLine(answer),
    items.length ? h("ol", { class: "results" }, items.map((item, i) => resultRow(item, i + 1, onOpen))) : null);
  if (items.length) setState(state, "", `${items.length} ${items.length === 1 ? "match" : "matches"}.`);
  else setState(state, "empty", noMatches);
}

// Show a failed search: the API's own message (or the scope hint for 401/403).
export function showError(state, results, error) {
  replace(results);
  setState(state, "error", describeError(error));
}
