// The published systems: what each one records, its definition and schema versions, and re-translation by system.

import { describeError } from "./api.js";
import { byId, formatTime, h, isolated, replace, setState } from "./dom.js";
import { lineageLinks } from "./lineage.js";

export class SystemsView {
  constructor(api, tracker) {
    this.api = api;
    this.tracker = tracker;
    this.body = byId("systems-body");
    this.state = byId("systems-state");
  }

  async show() {
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
      isolated("p", {}, system.description),
      lineageLinks(system, ["definition_version", "schema_version"], `${system.name} versions`),
      h("p", { class: "muted" }, `Published ${formatTime(system.updated_at)}`),
      h("div", { class: "record-actions" },
        h("button", { type: "button", onclick: refresh({ system: system.name }) },
          `Re-translate all for ${system.name}`),
        h("button", { type: "button", class: "secondary", onclick: refresh({ schema_version: system.schema_version }) },
          "Re-translate records of this schema")));
  }
}
