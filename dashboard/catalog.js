// The systems list and the model registry.

import { describeError } from "./api.js";
import { badge, byId, formatTime, h, prettyJson, replace, setState } from "./dom.js";

export class SystemsView {
  constructor(api, tracker) {
    this.api = api;
    this.tracker = tracker;
    this.body = byId("systems-body");
    this.state = byId("systems-state");
  }

  async load() {
    setState(this.state, "loading", "Loading systems…");
    try {
      const { items } = await this.api.systems();
      setState(this.state, items.length ? "" : "empty",
        items.length ? "" : "No systems are published yet. The edge worker publishes schemas/systems/*.json.");
      replace(this.body, h("div", { class: "system-grid" }, items.map((system) => this.card(system))));
    } catch (error) {
      replace(this.body);
      setState(this.state, "error", describeError(error));
    }
  }

  card(system) {
    const refresh = (selector) => (event) => this.tracker.request(selector, event.currentTarget);
    return h("article", { class: "card", dataset: { system: system.name }, "aria-labelledby": `system-${system.name}` },
      h("h3", { id: `system-${system.name}` }, system.name),
      h("p", {}, system.description),
      h("div", { class: "badges" },
        badge("definition_version", system.definition_version),
        badge("schema_version", system.schema_version)),
      h("p", { class: "muted" }, `Published ${formatTime(system.updated_at)}`),
      h("div", { class: "record-actions" },
        h("button", { type: "button", onclick: refresh({ system: system.name }) },
          `Re-translate all for ${system.name}`),
        h("button", { type: "button", class: "secondary", onclick: refresh({ schema_version: system.schema_version }) },
          "Re-translate records of this schema")));
  }
}

export class RegistryView {
  constructor(api) {
    this.api = api;
    this.form = byId("registry-form");
    this.list = byId("registry-list");
    this.state = byId("registry-state");
    this.more = byId("registry-more");
    this.kind = "";
    this.next = null;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.load();
    });
    this.more.addEventListener("click", () => this.load({ append: true }));
  }

  async load({ append = false } = {}) {
    if (!append) this.kind = byId("registry-kind").value;
    setState(this.state, "loading", `Loading ${this.kind} entries…`);
    try {
      const page = await this.api.registry(this.kind, append ? this.next : undefined);
      const rows = page.items.map((entry) => this.entry(entry));
      if (append) this.list.append(...rows);
      else replace(this.list, rows);
      this.next = page.next;
      this.more.hidden = !this.next;
      const empty = !this.list.children.length;
      setState(this.state, empty ? "empty" : "", empty ? `No ${this.kind} entries yet.` : "");
    } catch (error) {
      if (!append) replace(this.list);
      this.more.hidden = true;
      setState(this.state, "error", describeError(error));
    }
  }

  entry(entry) {
    return h("li", { class: "card registry-entry", dataset: { versionId: entry.version_id } },
      h("div", { class: "history-head" },
        h("code", { class: "version-id" }, entry.version_id),
        h("time", { datetime: entry.created_at, class: "muted" }, formatTime(entry.created_at))),
      h("details", {},
        h("summary", {}, "Content"),
        h("pre", { class: "json", tabindex: 0 }, prettyJson(entry.content))));
  }
}
