// The token (and live-updates URL) arrive in the fragment once, then live in this tab's sessionStorage only.

const TOKEN_KEY = "ssp.token";
const WS_KEY = "ssp.ws";

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
