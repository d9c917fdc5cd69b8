"""Every HttpApi route in the template has an auth decision, and each scope opens exactly its own routes."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import pytest
from stack_helpers import api_client, make_token, running_stack, session_body
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from functions.stores.tokens import TokenStore, hash_token
from local_stack.apigw_events import authorizer_event, http_event
from local_stack.template import load_app

# route key -> scopes that open it (any one of them; admin opens everything), from the handlers' require calls.
ROUTE_SCOPES: dict[str, frozenset[str]] = {
    "POST /sessions": frozenset({"ingest"}),
    "GET /sessions/{session_id}": frozenset({"ingest", "read"}),
    "POST /sessions/{session_id}/retry": frozenset({"ingest"}),
    "DELETE /sessions/{session_id}": frozenset({"delete"}),
    "DELETE /users/{user_id}": frozenset({"delete"}),
    "GET /users/{user_id}/deletion": frozenset({"delete", "read"}),
    "GET /users/{user_id}/export": frozenset({"read"}),
    "GET /summaries/{summary_id}/systems/{system}": frozenset({"read", "edit"}),
    "PATCH /summaries/{summary_id}/systems/{system}": frozenset({"edit"}),
    "POST /summaries/{summary_id}/systems/{system}/proposal/accept": frozenset({"edit"}),
    "DELETE /summaries/{summary_id}/systems/{system}/proposal": frozenset({"edit"}),
    "GET /summaries": frozenset({"read"}),
    "GET /summaries/{summary_id}": frozenset({"read"}),
    "GET /summaries/{summary_id}/systems/{system}/history": frozenset({"read"}),
    "GET /systems": frozenset({"read"}),
    "GET /systems/{system}/records": frozenset({"read"}),
    "GET /registry": frozenset({"read"}),
    "GET /registry/{version_id}": frozenset({"read"}),
    "GET /summaries/{summary_id}/conversation": frozenset({"read"}),
    "GET /edges": frozenset({"read"}),
    "GET /usage": frozenset({"read"}),
    "POST /refresh": frozenset({"refresh"}),
    "GET /refresh/{request_id}": frozenset({"refresh", "read"}),
    "GET /edge/pending": frozenset({"edge"}),
    "GET /edge/summaries/{summary_id}": frozenset({"edge"}),
    "PUT /edge/summaries/{summary_id}/systems/{system}": frozenset({"edge"}),
    "PUT /edge/systems/{system}": frozenset({"edge"}),
    "DELETE /edge/systems/{system}": frozenset({"edge"}),
    "PUT /edge/registry/{version_id}": frozenset({"edge"}),
    "GET /search": frozenset({"read"}),
    "GET /summaries/{summary_id}/similar": frozenset({"read"}),
    "PUT /edge/summaries/{summary_id}/embedding": frozenset({"edge"}),
    "PUT /edge/queries/{query_id}/embedding": frozenset({"edge"}),
    "PUT /edge/heartbeat": frozenset({"edge"}),
    "POST /edge/distill": frozenset({"edge"}),
}
PUBLIC_ROUTES = {"GET /", "GET /dashboard/{asset}"}
SCOPES = ("ingest", "read", "refresh", "edit", "delete", "edge")
PATH_VALUES = {
    "session_id": "scope-probe",
    "summary_id": "scope-probe",
    "system": "planner",
    "request_id": "rf-scope-probe",
    "version_id": "schema:scope-probe",
    "asset": "index.html",
    "query_id": "q-scope-probe",
    "user_id": "user-scope-probe",
}

APP = load_app()
AUTHORIZED = [route for route in APP.http_routes if route.authorized]


def _path(template_path: str) -> str:
    return re.sub(r"\{([A-Za-z0-9_]+)\+?\}", lambda m: PATH_VALUES[m.group(1)], template_path)


def _call(client: httpx.Client, route, headers: dict[str, str] | None = None) -> httpx.Response:
    if route.method in ("POST", "PUT"):
        return client.request(
            route.method,
            _path(route.path),
            content=b"{}",
            headers={"content-type": "application/json", **(headers or {})},
        )
    return client.request(route.method, _path(route.path), headers=headers)


@pytest.fixture(scope="module")
def stack():
    with running_stack(event_sources=False) as running:
        yield running


@pytest.fixture(scope="module")
def scoped(stack) -> dict[str, str]:
    return {
        scope: make_token(stack, [scope], source="planner" if scope == "ingest" else None, name=f"only-{scope}")
        for scope in (*SCOPES, "admin")
    }


def _store(stack) -> TokenStore:
    return TokenStore(stack.resolved("TokensTable"))


def _revoked_token(stack, scopes: list[str], source: str | None = None) -> str:
    name = f"revoked-{uuid.uuid4().hex[:8]}"
    token = make_token(stack, scopes, source=source, name=name)
    assert _store(stack).revoke(name) == 1
    return token


def _expired_token(stack, scopes: list[str], source: str | None = None) -> str:
    token = make_token(stack, scopes, source=source, name=f"expired-{uuid.uuid4().hex[:8]}")
    stack.client("dynamodb").update_item(
        TableName=stack.resolved("TokensTable"),
        Key={"token_hash": {"S": hash_token(token)}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 5)}},
    )
    return token


# ----- the template itself -----
def test_every_template_route_has_an_auth_decision():
    in_template = {route.route_key for route in APP.http_routes}
    missing = in_template - set(ROUTE_SCOPES) - PUBLIC_ROUTES
    assert not missing, f"routes without an auth decision in ROUTE_SCOPES: {sorted(missing)}"
    gone = (set(ROUTE_SCOPES) | PUBLIC_ROUTES) - in_template
    assert not gone, f"ROUTE_SCOPES names routes the template no longer has: {sorted(gone)}"


def test_only_the_dashboard_page_and_assets_are_public():
    public = {route.route_key for route in APP.http_routes if not route.authorized}
    assert public == PUBLIC_ROUTES
    assert APP.http_authorizer == "AuthorizerFunction"


def test_public_routes_serve_without_a_token(stack):
    with api_client(stack, None) as client:
        assert client.get("/").status_code == 200
        assert client.get("/dashboard/app.js").status_code == 200
        assert client.get("/dashboard/..%2Ftemplate.yaml").status_code == 404


# ----- no token, forged, revoked, expired -----
def test_no_token_is_401_on_every_authorized_route(stack):
    with api_client(stack, None) as client:
        for route in AUTHORIZED:
            for headers in (None, {"authorization": ""}):
                response = _call(client, route, headers)
                assert response.status_code == 401, (route.route_key, headers, response.text)
                assert response.json() == {"message": "Unauthorized"}


def test_forged_tokens_are_403_on_every_authorized_route(stack, scoped):
    real = scoped["admin"]
    forged = [
        f"Bearer ssp_{uuid.uuid4().hex}",
        f"Bearer {hash_token(real)}",
        f"Basic {real}",
        f"Token {real}",
        "Bearer",
        f"Bearer {real}x",
        f"Bearer {real[:-1]}",
        f"Bearer {real} {real}",
        "Bearer " + "A" * 4000,
    ]
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        for route in AUTHORIZED:
            for header in forged:
                response = _call(client, route, {"authorization": header})
                assert response.status_code == 403, (route.route_key, header[:30], response.text)


@pytest.mark.parametrize("kind", ["revoked", "expired"])
def test_revoked_and_expired_tokens_are_403_on_every_authorized_route(stack, kind):
    make = _revoked_token if kind == "revoked" else _expired_token
    token = make(stack, ["admin"])  # revoked/expired before its first use, so no cached allow exists
    with api_client(stack, token) as client:
        for route in AUTHORIZED:
            response = _call(client, route)
            assert response.status_code == 403, (route.route_key, response.text)


def test_the_edge_worker_names_a_refused_token_and_a_missing_scope_apart(stack, scoped):
    from edge_worker.api_client import ApiRejected, EdgeApi

    for token, expected in (
        (_revoked_token(stack, ["edge"]), "HTTP 403: the API does not know this token (mistyped, revoked or expired)"),
        (None, "HTTP 401: no token was sent"),
        (scoped["read"], "HTTP 403: this token lacks the edge scope"),
    ):
        api = EdgeApi(stack.api_url, token or "unsent")
        if token is None:
            del api.client.headers["authorization"]  # e.g. a proxy that drops it
        with pytest.raises(ApiRejected) as refused:
            api.summary("s-none")
        assert str(refused.value).startswith(expected), str(refused.value)


def test_the_authorizer_denies_a_token_once_revoked(stack):
    name = f"rotating-{uuid.uuid4().hex[:8]}"
    token = make_token(stack, ["read"], name=name)
    request = http_event(
        method="GET",
        path="/summaries",
        raw_query="",
        body=b"",
        route_key="GET /summaries",
        headers=[("authorization", f"Bearer {token}")],
        path_parameters={},
        source_ip="127.0.0.1",
        authorizer_context=None,
    )
    event = authorizer_event(request, [f"Bearer {token}"])
    allowed = stack.invoke("AuthorizerFunction", event)
    assert allowed["isAuthorized"] is True
    assert allowed["context"] == {"name": name, "scopes": "read", "source": ""}
    _store(stack).revoke(name)
    assert stack.invoke("AuthorizerFunction", event) == {"isAuthorized": False, "context": {}}


# ----- each scope opens its own routes and nothing else -----
@pytest.mark.parametrize("scope", SCOPES)
def test_a_single_scope_token_opens_only_its_routes(stack, scoped, scope):
    with api_client(stack, scoped[scope]) as client:
        for route in AUTHORIZED:
            response = _call(client, route)
            if scope in ROUTE_SCOPES[route.route_key]:
                assert response.status_code not in (401, 403), (scope, route.route_key, response.text)
                assert response.status_code < 500, (scope, route.route_key, response.text)
            else:
                assert response.status_code == 403, (scope, route.route_key, response.text)
                body = response.json()
                assert body["error"] == "forbidden"
                assert any(s in body["message"] for s in ROUTE_SCOPES[route.route_key])


def test_admin_opens_every_route(stack, scoped):
    with api_client(stack, scoped["admin"]) as client:
        for route in AUTHORIZED:
            response = _call(client, route)
            assert response.status_code not in (401, 403), (route.route_key, response.text)
            assert response.status_code < 500, (route.route_key, response.text)


# ----- ingest tokens are bound to one subsystem -----
def test_an_ingest_token_acts_only_for_its_own_subsystem(stack, scoped):
    synapse = make_token(stack, ["ingest"], source="synapse", name="bound-synapse")
    with api_client(stack, synapse) as client:
        assert client.post("/sessions", json=session_body("bound-synapse-1", source="synapse")).status_code == 202
    with api_client(stack, scoped["ingest"]) as planner:
        posted = planner.post("/sessions", json=session_body("bound-planner-1", source="synapse"))
        assert posted.status_code == 403 and posted.json()["error"] == "forbidden", posted.text
        assert "planner" in posted.json()["message"]
        for other in (planner.get("/sessions/bound-synapse-1"), planner.post("/sessions/bound-synapse-1/retry")):
            # answered as an unknown id is: a subsystem does not learn which ids the others use
            assert (other.status_code, other.json()["error"], other.json()["message"]) == (
                404,
                "not_found",
                "no session bound-synapse-1",
            )
        assert planner.post("/sessions", json=session_body("bound-planner-2")).status_code == 202
        assert planner.get("/sessions/bound-planner-2").status_code == 200
    assert (
        stack.client("dynamodb")
        .get_item(TableName=stack.resolved("SessionsTable"), Key={"session_id": {"S": "bound-planner-1"}})
        .get("Item")
        is None
    )


# ----- the WebSocket $connect -----
def _ws_status(stack, query: str) -> int:
    try:
        with connect(f"{stack.websocket_api.url}{query}", open_timeout=10):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


def test_websocket_needs_a_live_read_token(stack, scoped):
    assert _ws_status(stack, "") == 401
    assert _ws_status(stack, "?token=") == 401
    assert _ws_status(stack, f"?token=ssp_{uuid.uuid4().hex}") == 403
    assert _ws_status(stack, f"?token={hash_token(scoped['read'])}") == 403
    for scope in ("ingest", "refresh", "edit", "delete", "edge"):
        assert _ws_status(stack, f"?token={scoped[scope]}") == 403, scope
    assert _ws_status(stack, f"?token={_revoked_token(stack, ['read'])}") == 403
    assert _ws_status(stack, f"?token={_expired_token(stack, ['read'])}") == 403
    assert _ws_status(stack, f"?token={scoped['read']}") == 101
    assert _ws_status(stack, f"?token={scoped['admin']}") == 101


def test_tokens_are_stored_only_as_hashes(stack, scoped):
    with stack.aws_environment_applied():
        items = _store(stack).list()
    stored = repr(items)
    for token in scoped.values():
        assert token not in stored
        assert hash_token(token) in stored
