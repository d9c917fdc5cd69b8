// Live updates over the WebSocket API: small change messages, reconnect with backoff.

import { replace } from "./dom.js";

const MAX_BACKOFF_MS = 30000;

export class LiveUpdates {
  constructor(url, token, statusEl, onMessage) {
    this.url = url;
    this.token = token;
    this.statusEl = statusEl;
    this.onMessage = onMessage;
    this.backoff = 1000;
    this.socket = null;
    this.stopped = false;
  }

  start() {
    if (!this.url) {
      this.show("off", "Live updates off (no live URL)");
      return;
    }
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.socket?.close();
  }

  connect() {
    const url = new URL(this.url);
    url.searchParams.set("token", this.token);
    this.show("connecting", "Live updates connecting…");
    let socket;
    try {
      socket = new WebSocket(url);
    } catch (error) {
      this.show("error", `Live updates unavailable: ${error.message}`);
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.backoff = 1000;
      this.show("on", "Live updates on");
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", () => this.retry());
  }

  receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (message && typeof message === "object") this.onMessage(message);
  }

  retry() {
    if (this.stopped) return;
    this.show("off", `Live updates disconnected; retrying in ${Math.round(this.backoff / 1000)}s`);
    setTimeout(() => this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
  }

  show(state, text) {
    this.statusEl.dataset.state = state;
    replace(this.statusEl, text); // an error names the URL from the sign-in link
  }
}
