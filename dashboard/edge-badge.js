// The edge worker in the top bar: online (or when it was last seen), its model (marked when it is the offline demo
// model), its queue and the job in flight. Read from GET /edges when the API has it, again on every live change and
// once a minute (so "last seen" stays true).

import { h, replace, userText } from "./dom.js";

const TICK_MS = 60000;

export function seenText(seconds) {
  if (seconds < 90) return "just now";
  const minutes = Math.round(seconds / 60);
  return minutes < 90 ? `${minutes} min ago` : `${Math.round(minutes / 60)} h ago`;
}

function jobText(job) {
  const summaries = job?.summaries || [];
  if (!summaries.length) return "idle";
  const [first] = summaries;
  const more = summaries.length > 1 ? ` and ${summaries.length - 1} more` : "";
  return `translating ${first.summary_id} (${first.done}/${first.total})${more}`;
}

export class EdgeBadge {
  // onChange(): the edge's job or queue moved (queued sessions' positions and estimates with it).
  constructor(api, el, onChange = () => {}) {
    this.api = api;
    this.el = el;
    this.onChange = onChange;
    this.timer = null;
    this.reading = null;
    this.seen = null;
  }

  start() {
    this.read();
    this.timer = setInterval(() => this.read(), TICK_MS);
  }

  // Read again (one read at a time; a change during a read reads once more after it).
  read() {
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = this.api.edges().then((answer) => this.show(answer.items || []), (error) => {
      if (error.status === 404) { // an API without GET /edges: no badge
        clearInterval(this.timer);
        this.el.hidden = true;
      }
    }).finally(() => {
      this.reading = null;
      if (this.again) {
        this.again = false;
        this.read();
      }
    });
    return this.reading;
  }

  show(edges) {
    this.el.hidden = false;
    const moved = JSON.stringify(edges.map((e) => [e.name, e.online, e.queue,
      (e.job?.summaries || []).map((s) => s.summary_id)]));
    if (this.seen !== null && moved !== this.seen) this.onChange();
    this.seen = moved;
    if (!edges.length) {
      this.el.dataset.state = "none";
      replace(this.el, h("span", { class: "edge-state" }, "Edge: not seen yet"));
      return;
    }
    const edge = edges.reduce((best, e) => (e.seen_seconds_ago < best.seen_seconds_ago ? e : best));
    const state = edge.online ? (edge.state === "translating" ? "translating" : "online") : "offline";
    this.el.dataset.state = state;
    const queue = edge.queue || {};
    const waiting = (queue.edge ?? 0) + (queue.backfill ?? 0);
    replace(this.el,
      h("span", { class: "edge-state" },
        "Edge ", userText(edge.name), edge.online ? " online" : ` last seen ${seenText(edge.seen_seconds_ago)}`),
      edge.model_id ? h("span", { class: "edge-model" }, userText(edge.model_id),
        edge.offline_demo_model ? h("span", { class: "demo-model-tag" }, "offline demo model") : null) : null,
      edge.queue ? h("span", { class: "edge-queue" }, `queue ${waiting}`) : null,
      edge.online ? h("span", { class: "edge-job" }, jobText(edge.job)) : null);
  }
}
