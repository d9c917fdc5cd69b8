// Search answers (free text and "similar to one summary") rendered one way everywhere: a mode line and ranked rows,
// each with a text snippet whose matched words are highlighted.

import { describeError } from "./api.js";
import { formatTime, h, isolated, navLink, replace, setState } from "./dom.js";
import { sessionHref } from "./router.js";

const SNIPPET_CHARS = 320;
const WORD_CHAR = "[\\p{L}\\p{M}\\p{N}]";
// Scripts written without spaces: the API finds a word anywhere in a run of them, so it is marked where it is.
const UNSPACED = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]+$/u;

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

// The words of a query, lowercased (one letter words and punctuation dropped).
function queryWords(query) {
  return [...new Set((query || "").toLowerCase().match(new RegExp(`${WORD_CHAR}{2,}`, "gu")) || [])];
}

// [start, end) ranges of words in `text` that begin with one of `words` (the index stems "dentists" to "dentist");
// a word of a script without spaces is marked wherever it occurs, and only itself.
function wordRanges(text, words) {
  if (!words.length) return [];
  const escape = (word) => word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const spaced = words.filter((word) => !UNSPACED.test(word)).map(escape);
  const alternatives = words.filter((word) => UNSPACED.test(word)).map(escape);
  if (spaced.length) alternatives.push(`(?<!${WORD_CHAR})(?:${spaced.join("|")})${WORD_CHAR}*`);
  const pattern = new RegExp(alternatives.join("|"), "giu");
  return [...text.matchAll(pattern)].map((match) => [match.index, match.index + match[0].length]);
}

// Text with <mark> around each range (ranges sorted, not overlapping, in UTF-16 offsets).
function highlighted(text, ranges) {
  const parts = [];
  let at = 0;
  for (const [start, end] of [...ranges].sort((a, b) => a[0] - b[0])) {
    if (start < at || end > text.length || start >= end) continue;
    parts.push(text.slice(at, start), h("mark", {}, text.slice(start, end)));
    at = end;
  }
  parts.push(text.slice(at));
  return parts.filter((part) => part !== "");
}

// A line that is a section heading of a summary: "Overview", "Open questions:".
export const SECTION_HEADING = /^[\p{L} ]{1,30}:?$/u;
const EMPTY_SECTION = "None.";

// The summary's first lines (headings skipped); when no query word is in them, the first later line with one is added.
function leadingLines(text, words) {
  const lines = (text || "").split(/\n+/).map((line) => line.trim()).filter((line) => line && line !== EMPTY_SECTION && !SECTION_HEADING.test(line));
  let lead = lines.slice(0, 2).join(" ");
  if (lead.length > SNIPPET_CHARS) lead = `${lead.slice(0, SNIPPET_CHARS - 1)}…`;
  if (!words.length || wordRanges(lead, words).length) return lead;
  const later = lines.slice(2).find((line) => wordRanges(line, words).length);
  if (!later) return lead;
  const [start] = wordRanges(later, words)[0];
  const from = Math.max(0, start - 80);
  return `${lead} … ${from ? "…" : ""}${later.slice(from, from + 200)}`;
}

// [start, end) offsets in code points (Python's str indices) -> UTF-16 offsets (JavaScript's).
function utf16Ranges(text, ranges) {
  const points = Array.from(text);
  const at = (index) => points.slice(0, index).join("").length;
  return ranges.map(([start, end]) => [at(start), at(end)]);
}

// The API's snippet ({text, highlights: [[start, end]]} in code points, or a string) when it gives one, else the
// summary's first lines.
function snippetParts(item, words) {
  const snippet = item.snippet;
  if (snippet && typeof snippet === "object" && typeof snippet.text === "string") {
    const ranges = Array.isArray(snippet.highlights) ? utf16Ranges(snippet.text, snippet.highlights)
      : wordRanges(snippet.text, words);
    return { source: "api", parts: highlighted(snippet.text, ranges) };
  }
  const text = typeof snippet === "string" ? snippet : leadingLines(item.summary?.text, words);
  if (!text) return null;
  return { source: typeof snippet === "string" ? "api" : "summary", parts: highlighted(text, wordRanges(text, words)) };
}

const score = (value) => (value === null || value === undefined ? "—" : Number(value).toFixed(2));

function when(item) {
  if (item.received_at) return h("time", { datetime: item.received_at }, formatTime(item.received_at));
  if (item.day) return h("time", { datetime: item.day }, item.day);
  return "—";
}

function resultRow(item, rank, words) {
  const id = item.summary_id;
  const snippet = snippetParts(item, words);
  return h("li", { class: "result-row", dataset: { summaryId: id, rank, score: item.score } },
    h("span", { class: "result-id" },
      navLink(sessionHref(id), { class: "open-result", dataset: { focusKey: `result-${id}` } }, id)),
    h("span", { class: "result-source" }, h("span", { class: "visually-hidden" }, "Source: "), item.source || "—"),
    h("span", { class: "result-when" }, h("span", { class: "visually-hidden" }, "Received: "), when(item)),
    h("span", { class: "result-score" },
      h("span", { class: "score-total" }, `score ${score(item.score)}`),
      h("span", { class: "score-parts" }, ` words ${score(item.lexical)} · embeddings ${score(item.semantic)}`)),
    snippet ? isolated("p", { class: "snippet", dataset: { from: snippet.source } }, snippet.parts) : null);
}

// Add each hit's summary ({text, user_id, status}) when the answer lacks a snippet or a field `needs` names.
export async function withSummaries(api, items, needs = []) {
  const missing = (item) => item.snippet === undefined || needs.some((field) => item[field] === undefined);
  return Promise.all(items.map(async (item) => {
    if (!missing(item)) return item;
    try {
      return { ...item, summary: await api.summary(item.summary_id) };
    } catch {
      return item;
    }
  }));
}

// Show a 200 answer in `results`, and a one-line count or "no matches" in the aria-live `state`.
export function showAnswer(state, results, answer, { noMatches, query = "", items = answer.items || [] }) {
  const words = queryWords(query);
  replace(results, modeLine(answer),
    items.length ? h("ol", { class: "results" }, items.map((item, i) => resultRow(item, i + 1, words))) : null);
  if (items.length) setState(state, "", `${items.length} ${items.length === 1 ? "match" : "matches"}.`);
  else setState(state, "empty", noMatches);
}

// Show a failed search: the API's own message (or the scope hint for 401/403).
export function showError(state, results, error) {
  replace(results);
  setState(state, "error", describeError(error));
}
