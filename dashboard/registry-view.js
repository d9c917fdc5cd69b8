// The registry: entries of one kind, and one entry by its version id (what a lineage link opens).

import { describeError } from "./api.js";
import {
  byId, formatTime, h, isolateText, jsonNodes, navLink, prettyJson, replace, setState, userText,
} from "./dom.js";
import { entryHref, href } from "./router.js";
import { renderDocument, schemaOutline } from "./schema-view.js";

const KINDS = ["summarizer-model", "summarizer-prompt", "translator-model", "translator-prompt", "schema",
  "system", "eval-result", "embedding-model"];

// Kinds whose records can be re-translated by version (POST /refresh selectors).
const REFRESH_FIELD = { "translator-model": "translator_model_version", "translator-prompt": "translator_prompt_version",
  schema: "schema_version" };

export class RegistryList {
  constructor(api, router) {
    this.api = api;
    this.form = byId("registry-form");
    this.list = byId("registry-list");
    this.state = byId("registry-state");
    this.more = byId("registry-more");
    this.kind = "";
    this.next = null;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      router.go(href({ view: "registry", kind: byId("registry-kind").value }));
    });
    this.more.addEventListener("click", () => this.load({ append: true }));
  }

  show(kind) {
    this.kind = KINDS.includes(kind) ? kind : "schema";
    byId("registry-kind").value = this.kind;
    return this.load();
  }

  async load({ append = false } = {}) {
    const kind = this.kind;
    setState(this.state, "loading", `Loading ${kind} entries…`);
    try {
      const page = await this.api.registry(kind, append ? this.next : undefined);
      if (kind !== this.kind) return;
      const rows = page.items.map((entry) => this.entry(entry));
      if (append) this.list.append(...rows);
      else replace(this.list, rows);
      this.next = page.next;
      this.more.hidden = !this.next;
      const empty = !this.list.children.length;
      setState(this.state, empty ? "empty" : "", empty ? `No ${kind} entries yet.` : "");
    } catch (error) {
      if (!append) replace(this.list);
      this.more.hidden = true;
      setState(this.state, "error", describeError(error));
    }
  }

  entry(entry) {
    return h("li", { class: "card registry-entry", dataset: { versionId: entry.version_id } },
      h("div", { class: "history-head" },
        navLink(entryHref(entry.version_id), { class: "version-id" }, entry.version_id),
        h("time", { datetime: entry.created_at, class: "muted" }, formatTime(entry.created_at))),
      h("p", { class: "entry-gist muted" }, gist(entry)));
  }
}

// One line saying what an entry is, e.g. "SmolLM2 · weights 1a2b…" or "Planner record: tasks, events".
function gist(entry) {
  const content = entry.content || {};
  const names = (object) => Object.keys(object || {}).flatMap((key, i) => [i ? ", " : "", userText(key)]);
  if (entry.kind === "schema") return [userText(content.title || "Schema"), ": ", names(content.properties)];
  if (entry.kind === "system") return [userText(content.name), ": ", userText(content.description || "")];
  const named = content.model_id || content.name || content.system || content.title;
  return named ? userText(String(named)) : names(content);
}

function entryContent(entry) {
  const content = entry.content || {};
  if (entry.kind === "schema") {
    return h("section", { "aria-labelledby": "entry-fields" }, h("h3", { id: "entry-fields" }, "Fields"),
      schemaOutline(content));
  }
  if (entry.kind === "system") {
    const { schema, examples, ...rest } = content;
    return [renderDocument(rest, null, { level: 3 }),
      h("section", { "aria-labelledby": "entry-fields" }, h("h3", { id: "entry-fields" }, "Fields of its records"),
        schemaOutline(schema || {})),
      h("p", { class: "muted" }, `${(examples || []).length} labelled examples (in the raw JSON).`)];
  }
  return renderDocument(content, null, { level: 3 });
}

export class EntryView {
  constructor(api, tracker) {
    this.api = api;
    this.tracker = tracker;
    this.body = byId("entry-body");
    this.state = byId("entry-state");
    this.heading = byId("entry-heading");
    this.versionId = null;
  }

  async show(versionId) {
    this.versionId = versionId;
    replace(this.heading, userText(versionId)); // from the address
    replace(this.body);
    setState(this.state, "loading", "Looking up the registry…");
    try {
      const entry = await this.api.registryEntry(versionId);
      if (versionId !== this.versionId) return;
      if (!entry) {
        setState(this.state, "empty", `No registry entry ${isolateText(versionId)} (yet).`);
        return;
      }
      setState(this.state, "", "");
      this.render(entry);
    } catch (error) {
      if (versionId === this.versionId) setState(this.state, "error", describeError(error));
    }
  }

  render(entry) {
    const readable = h("div", { class: "readable-host" }, entryContent(entry));
    const raw = h("pre", { class: "json", tabindex: 0, hidden: true, "aria-label": "Entry JSON" },
      jsonNodes(prettyJson(entry.content)));
    const toggle = h("button", { type: "button", class: "secondary toggle-raw", "aria-pressed": "false",
      onclick: () => {
        const rawShown = toggle.getAttribute("aria-pressed") !== "true";
        toggle.setAttribute("aria-pressed", String(rawShown));
        readable.hidden = rawShown;
        raw.hidden = !rawShown;
      } }, "Raw JSON");
    const field = REFRESH_FIELD[entry.kind];
    replace(this.body,
      h("dl", { class: "facts" },
        h("dt", {}, "Kind"), h("dd", {}, navLink(href({ view: "registry", kind: entry.kind }), {}, entry.kind)),
        h("dt", {}, "Version id"), h("dd", {}, h("code", { class: "version-id" }, entry.version_id)),
        h("dt", {}, "Created"), h("dd", {}, h("time", { datetime: entry.created_at }, formatTime(entry.created_at)))),
      h("p", { class: "hint" }, "A version id is the hash of this content: the same content always has the same id."),
      field ? h("div", { class: "record-actions" }, h("button", { type: "button",
        onclick: (event) => this.tracker.request({ [field]: entry.version_id }, event.currentTarget) },
      "Re-translate the records made with it")) : null,
      h("div", { class: "card" }, toggle, readable, raw));
  }
}
