// The token (and live-updates URL) arrive in the fragment once, then live in this tab's sessionStorage only. A tab
// opened from a link (Ctrl-click, middle click) starts with empty sessionStorage: it asks this origin's open tabs.

const TOKEN_KEY = "ssp.token";
const WS_KEY = "ssp.ws";
const CHANNEL = "ssp.credentials";
const ASK_TIMEOUT_MS = 300;

// A link carrying #token=...[&ws=...] signs this tab in with it; the fragment is then removed from the address.
// True when a token was taken.
export function takeFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (!token) return false;
  save(token, params.get("ws") || "");
  history.replaceState(null, "", location.pathname + location.search);
  return true;
}

export function save(token, wsUrl) {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
  if (wsUrl) sessionStorage.setItem(WS_KEY, wsUrl.trim());
  else sessionStorage.removeItem(WS_KEY);
}

export function load() {
  return { token: sessionStorage.getItem(TOKEN_KEY) || "", wsUrl: sessionStorage.getItem(WS_KEY) || "" };
}

export function forget() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(WS_KEY);
}

// Answer new tabs of this origin that ask for the token (BroadcastChannel never crosses origins).
export function shareWithNewTabs() {
  const channel = new BroadcastChannel(CHANNEL);
  channel.addEventListener("message", (event) => {
    const saved = load();
    if (event.data?.type === "ask" && saved.token) channel.postMessage({ type: "credentials", ...saved });
  });
}

// Ask the open tabs for their token; resolves to {token, wsUrl} (saved in this tab) or null after a short wait.
export function askOpenTabs() {
  const channel = new BroadcastChannel(CHANNEL);
  return new Promise((resolve) => {
    const done = (value) => {
      clearTimeout(timer);
      channel.close();
      resolve(value);
    };
    const timer = setTimeout(() => done(null), ASK_TIMEOUT_MS);
    channel.addEventListener("message", (event) => {
      if (event.data?.type !== "credentials" || !event.data.token) return;
      save(event.data.token, event.data.wsUrl || "");
      done(load());
    });
    channel.postMessage({ type: "ask" });
  });
}
