"""Every HTTP route of the API, written once: the functions' routers use these paths, and template.yaml's
HttpApi events must declare exactly ROUTE_KEYS. Paths use the template's `{name}` syntax.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from schemas.patterns import ID_PATTERN, REFRESH_REQUEST_ID_PATTERN, SYSTEM_NAME_PATTERN, VERSION_ID_PATTERN

# ----- subsystems (IngestFunction) -----
SESSIONS = "/sessions"
SESSION = "/sessions/{session_id}"
SESSION_RETRY = "/sessions/{session_id}/retry"

# ----- the user's own data: delete, export (UserDataFunction) -----
USER = "/users/{user_id}"
USER_DELETION = "/users/{user_id}/deletion"
USER_EXPORT = "/users/{user_id}/export"

# ----- the dashboard page and its files (public) -----
DASHBOARD = "/"
DASHBOARD_ASSET = "/dashboard/{asset}"

# ----- reads -----
SUMMARIES = "/summaries"
SUMMARY = "/summaries/{summary_id}"
SUMMARY_CONVERSATION = "/summaries/{summary_id}/conversation"
RECORD = "/summaries/{summary_id}/systems/{system}"
RECORD_HISTORY = "/summaries/{summary_id}/systems/{system}/history"
RECORD_PROPOSAL = "/summaries/{summary_id}/systems/{system}/proposal"
RECORD_PROPOSAL_ACCEPT = "/summaries/{summary_id}/systems/{system}/proposal/accept"
SYSTEMS = "/systems"
SYSTEM_RECORDS = "/systems/{system}/records"
REGISTRY = "/registry"
REGISTRY_ENTRY = "/registry/{version_id}"
EDGES = "/edges"
USAGE = "/usage"

# ----- search -----
SEARCH = "/search"
SIMILAR = "/summaries/{summary_id}/similar"

# ----- refresh -----
REFRESH = "/refresh"
REFRESH_REQUEST = "/refresh/{request_id}"

# ----- the edge worker -----
EDGE_PENDING = "/edge/pending"
EDGE_SUMMARY = "/edge/summaries/{summary_id}"
EDGE_RECORD = "/edge/summaries/{summary_id}/systems/{system}"
EDGE_SYSTEM = "/edge/systems/{system}"
EDGE_REGISTRY = "/edge/registry/{version_id}"
EDGE_EMBEDDING = "/edge/summaries/{summary_id}/embedding"
EDGE_QUERY_EMBEDDING = "/edge/queries/{query_id}/embedding"
EDGE_HEARTBEAT = "/edge/heartbeat"
EDGE_DISTILL = "/edge/distill"

# API Gateway route keys: "<METHOD> <path>".
ROUTE_KEYS = frozenset(
    {
        f"POST {SESSIONS}",
        f"GET {SESSION}",
        f"POST {SESSION_RETRY}",
        f"DELETE {SESSION}",
        f"DELETE {USER}",
        f"GET {USER_DELETION}",
        f"GET {USER_EXPORT}",
        f"GET {DASHBOARD}",
        f"GET {DASHBOARD_ASSET}",
        f"GET {SUMMARIES}",
        f"GET {SUMMARY}",
        f"GET {SUMMARY_CONVERSATION}",
        f"GET {RECORD_HISTORY}",
        f"GET {RECORD}",
        f"PATCH {RECORD}",
        f"DELETE {RECORD_PROPOSAL}",
        f"POST {RECORD_PROPOSAL_ACCEPT}",
        f"GET {SYSTEMS}",
        f"GET {SYSTEM_RECORDS}",
        f"GET {REGISTRY}",
        f"GET {REGISTRY_ENTRY}",
        f"GET {EDGES}",
        f"GET {USAGE}",
        f"GET {SEARCH}",
        f"GET {SIMILAR}",
        f"POST {REFRESH}",
        f"GET {REFRESH_REQUEST}",
        f"GET {EDGE_PENDING}",
        f"GET {EDGE_SUMMARY}",
        f"PUT {EDGE_RECORD}",
        f"PUT {EDGE_SYSTEM}",
        f"DELETE {EDGE_SYSTEM}",
        f"PUT {EDGE_REGISTRY}",
        f"PUT {EDGE_EMBEDDING}",
        f"PUT {EDGE_QUERY_EMBEDDING}",
        f"PUT {EDGE_HEARTBEAT}",
        f"POST {EDGE_DISTILL}",
    }
)

# What each path parameter must match (decoded); `asset` is a dashboard file name, looked up, never a key.
PATH_PARAMETERS: dict[str, str] = {
    "session_id": ID_PATTERN,
    "summary_id": ID_PATTERN,
    "user_id": ID_PATTERN,
    "query_id": ID_PATTERN,
    "system": SYSTEM_NAME_PATTERN,
    "version_id": VERSION_ID_PATTERN,
    "request_id": REFRESH_REQUEST_ID_PATTERN,
}


_PARAMETER = re.compile(r"\{(\w+)\}")


def path(route: str, **parameters: str) -> str:
    """`route` with each `{name}` filled by its value, percent-encoded as one path segment (":" is kept, as RFC 3986
    allows it in a segment): path(EDGE_REGISTRY, version_id="schema:0a1b") -> "/edge/registry/schema:0a1b".

    Raises ValueError when a parameter is missing or not part of the route.
    """
    names = set(_PARAMETER.findall(route))
    if names != set(parameters):
        raise ValueError(f"{route} takes {sorted(names)}, got {sorted(parameters)}")
    return _PARAMETER.sub(lambda match: quote(str(parameters[match[1]]), safe=":"), route)
