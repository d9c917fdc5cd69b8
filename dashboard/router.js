// Every view has its own address: query parameters on the dashboard's own page, so links, Back, reload and new
// tabs work without any server-side route. The token never goes here (it lives in sessionStorage).

export const LIST_FILTERS = ["q", "status", "source", "user", "from", "to"];
// Re-translation requests the page follows (refresh.js): kept in every address until they are done.
export const FOLLOW_PARAM = "refresh";

const clean = (value) => (value || "").trim();

// location.search -> {view, ...}: sessions (list or search), session, record, entry, registry, systems, costs.
export function parseRoute(search = location.search) {
  const params = new URLSearchParams(search);
  const get = (key) => clean(params.get(key));
  if (get("entry")) return { view: "entry", versionId: get("entry") };
  if (get("session")) {
    return get("system") ? { view: "record", sessionId: get("session"), system: get("system") }
      : { view: "session", sessionId: get("session") };
  }
  const view = get("view");
  if (view === "systems") return { view };
  if (view === "registry") return { view, kind: get("kind") || "schema" };
  if (view === "costs") return { view, from: get("from"), to: get("to"), metric: get("metric") };
  const filters = {};
  for (const key of LIST_FILTERS) if (get(key)) filters[key] = get(key);
  return { view: "sessions", filters };
}

// The address of a route, relative to the dashboard page: "?session=abc", "?q=dentist&source=planner", "?".
export function href(route) {
  const params = new URLSearchParams();
  const set = (key, value) => { if (value) params.set(key, value); };
  switch (route.view) {
    case "entry": set("entry", route.versionId); break;
    case "session": set("session", route.sessionId); break;
    case "record": set("session", route.sessionId); set("system", route.system); break;
    case "systems": set("view", "systems"); break;
    case "registry": set("view", "registry"); set("kind", route.kind); break;
    case "costs": set("view", "costs"); set("from", route.from); set("to", route.to); set("metric", route.metric); break;
    default: for (const key of LIST_FILTERS) set(key, route.filters?.[key]);
  }
  const following = new URLSearchParams(location.search).get(FOLLOW_PARAM);
  if (following) params.set(FOLLOW_PARAM, following);
  const query = params.toString();
  return `${location.pathname}${query ? `?${query}` : ""}`;
}

export const entryHref = (versionId) => href({ view: "entry", versionId });
export const sessionHref = (sessionId) => href({ view: "session", sessionId });
export const recordHref = (sessionId, system) => href({ view: "record", sessionId, system });

// Follows in-page links (<a data-nav>) without reloading; modified clicks keep the browser's own behaviour.
export class Router {
  constructor(onChange) {
    this.onChange = onChange;
    this.route = parseRoute();
    document.addEventListener("click", (event) => {
      const link = event.target.closest?.("a[data-nav]");
      if (!link || event.defaultPrevented || event.button !== 0 || link.target) return;
      if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      this.go(link.getAttribute("href"));
    });
    window.addEventListener("popstate", () => this.changed());
  }

  go(address, { replace = false } = {}) {
    const url = new URL(address, location.href);
    if (url.href !== location.href) history[replace ? "replaceState" : "pushState"](null, "", url);
    this.changed();
  }

  changed() {
    const previous = this.route;
    this.route = parseRoute();
    this.onChange(this.route, previous);
  }
}
