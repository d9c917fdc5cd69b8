// The dashboard: sign in with a token, then one view per address (router.js), with live updates.

import { Api, ApiError, describeError } from "./api.js";
import * as credentials from "./credentials.js";
import { byId, isolateText, replace } from "./dom.js";
import { EdgeBadge } from "./edge-badge.js";
import { LiveUpdates } from "./live.js";
import { RecordView } from "./record-view.js";
import { RefreshTracker } from "./refresh.js";
import { EntryView, RegistryList } from "./registry-view.js";
import { href, Router } from "./router.js";
import { SessionView } from "./session-view.js";
import { SessionsView } from "./sessions-view.js";
import { SystemsView } from "./systems-view.js";
import { UsageView } from "./usage.js";

const VIEWS = ["sessions", "session", "record", "entry", "systems", "registry", "costs"];
const TAB_OF = { session: "sessions", record: "sessions", entry: "registry" };
const LIVE_DEBOUNCE_MS = 150;

function showAlert(message) {
  const alert = byId("alert");
  replace(alert, message || "");
  alert.hidden = !message;
}

function showOnly(view) {
  byId("token-view").hidden = view !== "token";
  for (const name of VIEWS) byId(`${name}-view`).hidden = name !== view;
  const tab = TAB_OF[view] || view;
  for (const link of document.querySelectorAll(".tabs a")) {
    if (link.dataset.view === tab) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function askForToken(message) {
  showAlert(message);
  byId("sign-out").hidden = true;
  document.querySelector(".tabs").hidden = true;
  byId("refresh-panel").hidden = true;
  showOnly("token");
  byId("token-input").focus();
}

function title(route) {
  const own = isolateText; // the address names them
  const names = { sessions: route.filters?.q ? `Search “${own(route.filters.q)}”` : "Sessions",
    session: `Session ${own(route.sessionId)}`, record: `${own(route.system)} record · ${own(route.sessionId)}`,
    entry: own(route.versionId), systems: "Systems", registry: "Registry", costs: "Costs" };
  return `${names[route.view]} · Session summaries`;
}

class Dashboard {
  constructor({ token, wsUrl }) {
    this.api = new Api(token);
    this.router = new Router((route, previous) => this.show(route, previous));
    this.tracker = new RefreshTracker(this.api);
    this.views = {
      sessions: new SessionsView(this.api, this.router),
      session: new SessionView(this.api, this.tracker),
      record: new RecordView(this.api, this.tracker),
      entry: new EntryView(this.api, this.tracker),
      systems: new SystemsView(this.api, this.tracker),
      registry: new RegistryList(this.api, this.router),
      costs: new UsageView(this.api, this.router),
    };
    this.listAddress = href({ view: "sessions", filters: {} });
    this.edge = new EdgeBadge(this.api, byId("edge-badge"), () => this.views.sessions.onEdgeMoved());
    this.live = new LiveUpdates(wsUrl, token, byId("live-status"), (message) => this.onLive(message));
    this.pending = new Map();
  }

  async start() {
    byId("sign-out").hidden = false;
    document.querySelector(".tabs").hidden = false;
    const error = await this.show(this.router.route, null);
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      askForToken(describeError(error));
      return;
    }
    this.tracker.resume();
    this.edge.start();
    this.live.start();
  }

  // Show the view an address names; focus its heading when it was reached by navigation. Returns a load error.
  async show(route, previous) {
    showAlert("");
    document.title = title(route);
    if (route.view !== "session") this.views.session.close();
    if (route.view !== "record") this.views.record.close();
    if (route.view === "sessions") this.listAddress = location.pathname + location.search;
    for (const link of document.querySelectorAll("a.back-to-list")) link.href = this.listAddress;
    showOnly(route.view);
    if (previous) this.focus(route, previous);
    switch (route.view) {
      case "session": return this.views.session.open(route.sessionId);
      case "record": return this.views.record.open(route.sessionId, route.system);
      case "entry": return this.views.entry.show(route.versionId);
      case "registry": return this.views.registry.show(route.kind);
      case "costs": return this.views.costs.show(route);
      case "systems": return this.views.systems.show();
      default: {
        const loaded = this.views.sessions.show(route.filters);
        const from = previous?.sessionId;
        if (from) loaded.then(() => this.views.sessions.focusSession(from) || byId("sessions-heading").focus());
        return loaded;
      }
    }
  }

  focus(route, previous) {
    const backToList = route.view === "sessions" && previous.sessionId;
    const sameSearch = route.view === "sessions" && previous.view === "sessions";
    if (!backToList && !sameSearch) byId(`${route.view}-heading`).focus();
  }

  // Change messages are small: refetch what they name, at most once per burst. The edge's state and open refresh
  // requests move with the same changes.
  onLive(message) {
    if (!message.summary_id || !["summary", "record"].includes(message.type)) return;
    const id = message.summary_id;
    this.edge.read();
    this.tracker.poke();
    clearTimeout(this.pending.get(id));
    this.pending.set(id, setTimeout(() => {
      this.pending.delete(id);
      this.views.sessions.onLive(id);
      this.views.session.reloadIfShowing(id);
      this.views.record.reloadIfShowing(id);
    }, LIVE_DEBOUNCE_MS));
  }
}

async function boot() {
  credentials.takeFromFragment();
  // A pasted link that differs only in its fragment does not reload the page: sign in with its token now.
  window.addEventListener("hashchange", () => {
    if (credentials.takeFromFragment()) location.reload();
  });
  byId("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    credentials.save(byId("token-input").value, byId("ws-input").value);
    location.reload();
  });
  byId("sign-out").addEventListener("click", () => {
    credentials.forget();
    location.reload();
  });
  const saved = credentials.load().token ? credentials.load() : await credentials.askOpenTabs();
  if (!saved?.token) {
    askForToken("");
    return;
  }
  credentials.shareWithNewTabs();
  new Dashboard(saved).start();
}

boot();
