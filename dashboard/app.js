// The dashboard: sign in with a token, then list, detail, systems, registry and cost views with live updates.

import { Api, ApiError, describeError } from "./api.js";
import { RegistryView, SystemsView } from "./catalog.js";
import * as credentials from "./credentials.js";
import { SummaryDetail } from "./detail.js";
import { byId } from "./dom.js";
import { LiveUpdates } from "./live.js";
import { RefreshTracker } from "./refresh.js";
import { SearchBox } from "./search-box.js";
import { SummaryList } from "./summaries.js";
import { UsageView } from "./usage.js";

const VIEWS = ["summaries", "detail", "systems", "registry", "costs"];
const LIVE_DEBOUNCE_MS = 150;

function showAlert(message) {
  const alert = byId("alert");
  alert.textContent = message || "";
  alert.hidden = !message;
}

function showOnly(view) {
  byId("token-view").hidden = view !== "token";
  for (const name of VIEWS) byId(`${name}-view`).hidden = name !== view;
  const tab = view === "detail" ? "summaries" : view;
  for (const button of document.querySelectorAll(".tabs button")) {
    if (button.dataset.view === tab) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
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

class Dashboard {
  constructor({ token, wsUrl }) {
    this.api = new Api(token);
    this.tracker = new RefreshTracker(this.api);
    this.list = new SummaryList(this.api, { onOpen: (id) => this.openSummary(id, "list") });
    this.search = new SearchBox(this.api, { onOpen: (id) => this.openSummary(id, "search") });
    this.detail = new SummaryDetail(this.api, this.tracker, {
      onBack: () => this.backToList(), onOpen: (id) => this.openSummary(id, "similar") });
    this.openedFrom = "list";
    this.views = { systems: new SystemsView(this.api, this.tracker), registry: new RegistryView(this.api),
      costs: new UsageView(this.api) };
    this.live = new LiveUpdates(wsUrl, token, byId("live-status"), (message) => this.onLive(message));
    this.pending = new Map();
  }

  async start() {
    for (const button of document.querySelectorAll(".tabs button")) {
      button.addEventListener("click", () => this.show(button.dataset.view));
    }
    byId("sign-out").hidden = false;
    document.querySelector(".tabs").hidden = false;
    showOnly("summaries");
    const error = await this.list.load();
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      askForToken(describeError(error));
      return;
    }
    this.live.start();
  }

  show(view) {
    showAlert("");
    this.detail.close();
    showOnly(view);
    if (view === "summaries") this.list.render();
    else this.views[view].load();
  }

  // `from` is where the summary was opened: back to the list puts focus on that row again.
  openSummary(summaryId, from) {
    if (from !== "similar") this.openedFrom = from;
    showOnly("detail");
    this.detail.open(summaryId);
  }

  backToList() {
    const summaryId = this.detail.summaryId;
    this.detail.close();
    showOnly("summaries");
    this.list.render();
    if (!(this.openedFrom === "search" && this.search.focusResult(summaryId))) this.list.focusRow(summaryId);
  }

  // Change messages are small: refetch what they name, at most once per burst.
  onLive(message) {
    if (!message.summary_id || !["summary", "record"].includes(message.type)) return;
    const id = message.summary_id;
    clearTimeout(this.pending.get(id));
    this.pending.set(id, setTimeout(() => {
      this.pending.delete(id);
      this.list.refreshOne(id);
      this.detail.reloadIfShowing(id);
    }, LIVE_DEBOUNCE_MS));
  }
}

function boot() {
  credentials.takeFromFragment();
  byId("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    credentials.save(byId("token-input").value, byId("ws-input").value);
    location.reload();
  });
  byId("sign-out").addEventListener("click", () => {
    credentials.forget();
    location.reload();
  });
  const saved = credentials.load();
  if (!saved.token) {
    askForToken("");
    return;
  }
  new Dashboard(saved).start();
}

boot();
