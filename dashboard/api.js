// Every call to the pipeline's API: bearer token, JSON in and out, errors with a readable message.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const SCOPE_HINT = {
  read: "This token lacks the read scope.",
  refresh: "This token lacks the refresh scope.",
  edit: "This token lacks the edit scope.",
};
// API Gateway answers these itself (no error code of ours) when the authorizer refuses the token.
const GATEWAY_HINT = {
  401: "No token was sent: paste one.",
  403: "The API does not know this token (mistyped, revoked or expired): paste a current one.",
};

// What to show the user for a failed call that needed `scope`.
export function describeError(error, scope = "read") {
  if (error instanceof ApiError) {
    if ((error.status === 401 || error.status === 403) && error.code === "http_error") return GATEWAY_HINT[error.status];
    if (error.status === 401 || error.status === 403) return SCOPE_HINT[scope] || SCOPE_HINT.read;
    return `${error.message} (HTTP ${error.status})`;
  }
  return `Cannot reach the API: ${error.message}`;
}

export class Api {
  constructor(token, base = new URL(".", location.href)) {
    this.token = token;
    this.base = base;
    this.entries = new Map(); // version id -> registry entry (content-addressed: never changes)
    this.lookups = new Map(); // version id -> pending lookup
  }

  url(path, params = {}) {
    const url = new URL(path.replace(/^\//, ""), this.base);
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
    }
    return url;
  }

  async request(method, path, { params, body, headers: extra = {} } = {}) {
    const headers = { Accept: "application/json" };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    Object.assign(headers, extra);
    const response = await fetch(this.url(path, params), {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new ApiError(response.status, data.error || "http_error", data.message || response.statusText);
    }
    return { status: response.status, data };
  }

  async get(path, params) {
    return (await this.request("GET", path, { params })).data;
  }

  post(path, body) {
    return this.request("POST", path, { body });
  }

  // Read-side endpoints
  summaries(filters, next) { return this.get("summaries", { ...filters, next }); }
  summary(id) { return this.get(`summaries/${encodeURIComponent(id)}`); }
  history(id, system, next) {
    return this.get(`summaries/${encodeURIComponent(id)}/systems/${encodeURIComponent(system)}/history`,
      { limit: 100, next });
  }
  systems() { return this.get("systems"); }
  registry(kind, next, limit) { return this.get("registry", { kind, next, limit }); }
  search(params) { return this.get("search", params); }
  similar(id, params) { return this.get(`summaries/${encodeURIComponent(id)}/similar`, params); }
  usage(range) { return this.get("usage", range); }
  edges() { return this.get("edges"); }
  refresh(selector) { return this.post("refresh", selector); }
  refreshStatus(requestId) { return this.get(`refresh/${encodeURIComponent(requestId)}`); }

  // A user's changes to a record, each naming the version it was made against (If-Match).
  recordPath(id, system) { return `summaries/${encodeURIComponent(id)}/systems/${encodeURIComponent(system)}`; }
  async editRecord(id, system, version, operations) {
    const headers = { "Content-Type": "application/json-patch+json", "If-Match": `"${version}"` };
    return (await this.request("PATCH", this.recordPath(id, system), { body: operations, headers })).data;
  }
  async acceptProposal(id, system, version) {
    const headers = { "If-Match": `"${version}"` };
    return (await this.request("POST", `${this.recordPath(id, system)}/proposal/accept`, { headers })).data;
  }
  async dismissProposal(id, system, version) {
    const headers = { "If-Match": `"${version}"` };
    return (await this.request("DELETE", `${this.recordPath(id, system)}/proposal`, { headers })).data;
  }

  // The original conversation, when the summary links to it (links.conversation); null when the API has no such link.
  conversation(summary) {
    const link = summary.links?.conversation;
    return link ? this.get(link) : Promise.resolve(null);
  }

  cachedEntry(versionId) { return this.entries.get(versionId) || null; }

  // One registry entry by version id ("<kind>:<digest>"), or null when it is not there (yet).
  registryEntry(versionId) {
    if (this.entries.has(versionId)) return Promise.resolve(this.entries.get(versionId));
    if (!this.lookups.has(versionId)) {
      const lookup = this.findEntry(versionId).finally(() => this.lookups.delete(versionId));
      this.lookups.set(versionId, lookup);
    }
    return this.lookups.get(versionId);
  }

  // GET /registry/{version_id}; a 404 means the entry is not there (yet).
  async findEntry(versionId) {
    try {
      const entry = await this.get(`registry/${encodeURIComponent(versionId)}`);
      this.entries.set(entry.version_id, entry);
      return entry;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }
}
