// Lineage: the registry versions that made a summary or record, each a link to its registry entry view.

import { h, navLink } from "./dom.js";
import { entryHref } from "./router.js";

const LABELS = {
  summarizer_model_version: "summary model",
  summarizer_prompt_version: "summary prompt",
  translator_model_version: "translator model",
  translator_prompt_version: "translator prompt",
  translator_adapter_version: "translator adapter",
  schema_version: "schema",
  definition_version: "system definition",
  embedding_version: "embedding model",
};

// One version as a labelled link, e.g. "schema · schema:1956a6…"; "none" (not a link) when missing.
export function lineageLink(field, versionId) {
  const parts = [h("span", { class: "badge-label" }, LABELS[field] || field.replaceAll("_", " ")),
    h("span", { class: "badge-value" }, versionId || "none")];
  const attrs = { class: "badge", dataset: { lineage: field }, title: versionId || "none" };
  return versionId ? navLink(entryHref(versionId), attrs, ...parts) : h("span", attrs, ...parts);
}

// Shown only when set: a record made without a LoRA adapter has no adapter version.
const OPTIONAL = new Set(["translator_adapter_version"]);

// The lineage fields of `item` (those named in `fields`) as a labelled group of links.
export function lineageLinks(item, fields, label) {
  return h("div", { class: "badges", role: "group", "aria-label": label },
    fields.filter((field) => item[field] || !OPTIONAL.has(field)).map((field) => lineageLink(field, item[field])));
}

export const RECORD_FIELDS = ["translator_model_version", "translator_prompt_version", "translator_adapter_version",
  "schema_version"];

// A record's lineage, plus the definition of its system as published now (`active`, from GET /systems).
export function recordLineageLinks(record, active) {
  const links = lineageLinks(record, RECORD_FIELDS, `${record.system} lineage`);
  if (active) links.append(lineageLink("definition_version", active.definition_version));
  return links;
}
