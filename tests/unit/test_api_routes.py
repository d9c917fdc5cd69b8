"""The API's routers over fake-backed services: every route is declared with its scopes, ids are checked by
name before a handler runs, and errors keep the ErrorBody shape."""

from __future__ import annotations

import json
import re

import pytest
from cloud_fakes import (
    ApiWorld,
    FakeSessionStore,
    FakeSummarizeQueue,
    UserDataWorld,
    add_summarized,
    http_event,
    system_definition,
)

from functions.api.routers import resolver
from functions.api.wiring import Api
from functions.ingest.router import resolver as ingest_resolver
from functions.ingest.service import IngestService
from functions.user_data.router import resolver as user_data_resolver
from schemas import routes
from schemas.contracts import ErrorBody
from schemas.edge_api import RecordStored, SystemPublished

SAMPLE = {
    "session_id": "s-1",
    "summary_id": "s-1",
    "system": "planner",
    "request_id": "rf-00",
    "version_id": "schema:abc",
    "query_id": "q-1",
    "asset": "index.html",
    "user_id": "user-1",
}
INGEST_ROUTES = {f"POST {routes.SESSIONS}", f"GET {routes.SESSION}", f"POST {routes.SESSION_RETRY}"}
USER_DATA_ROUTES = {
    f"DELETE {routes.SESSION}",
    f"DELETE {routes.USER}",
    f"GET {routes.USER_DELETION}",
    f"GET {routes.USER_EXPORT}",
}
PUBLIC_ROUTES = {f"GET {routes.DASHBOARD}", f"GET {routes.DASHBOARD_ASSET}"}


@pytest.fixture
def world() -> ApiWorld:
    world = ApiWorld()
    add_summarized(world.sessions, "s-1")
    return world


@pytest.fixture
def api(world):
    app = resolver(
        Api(
            world.reads,
            world.search,
            world.refresh,
            world.edge,
            world.embedding_sync,
            world.edits,
            world.edge_status,
            world.distill,
        )
    )

    def call(method: str, path: str, **event) -> tuple[int, dict | str]:
        response = app.resolve(http_event(method, path, **event), None)
        body = response["body"]
        is_json = response["headers"]["Content-Type"] == "application/json"
        return response["statusCode"], json.loads(body) if is_json else body

    return call


@pytest.fixture
def ingest():
    app = ingest_resolver(IngestService(FakeSessionStore(), FakeSummarizeQueue(), max_turns=10), 10_000)
    return lambda method, path, **event: app.resolve(http_event(method, path, **event), None)


def concrete(route_key: str) -> tuple[str, str]:
    method, path = route_key.split(" ", 1)
    return method, re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], path)


@pytest.fixture
def user_data():
    world = UserDataWorld()
    app = user_data_resolver(world.deletions, world.exporter)
    return lambda method, path, **event: app.resolve(http_event(method, path, **event), None)


@pytest.mark.parametrize("route_key", sorted(USER_DATA_ROUTES))
def test_every_user_data_route_exists_and_needs_a_scope(user_data, route_key):
    response = user_data(*concrete(route_key), scopes="ingest edge refresh edit")
    assert response["statusCode"] == 403 and json.loads(response["body"])["error"] == "forbidden"


@pytest.mark.parametrize("route_key", sorted(routes.ROUTE_KEYS - INGEST_ROUTES - PUBLIC_ROUTES - USER_DATA_ROUTES))
def test_every_api_route_exists_and_needs_a_scope(api, route_key):
    status, body = api(*concrete(route_key))
    assert status == 403, (route_key, body)
    assert ErrorBody.model_validate(body).error == "forbidden"


@pytest.mark.parametrize("route_key", sorted(INGEST_ROUTES))
def test_every_ingest_route_exists_and_needs_a_scope(ingest, route_key):
    response = ingest(*concrete(route_key))
    assert response["statusCode"] == 403 and json.loads(response["body"])["error"] == "forbidden"


@pytest.mark.parametrize("route_key", sorted(PUBLIC_ROUTES))
def test_the_dashboard_is_public(api, route_key):
    status, body = api(*concrete(route_key))
    assert status == 200 and "<html" in body.lower()


@pytest.mark.parametrize(
    ("scopes", "method", "path", "status"),
    [
        ("edge", "GET", "/summaries", 403),
        ("read", "GET", "/summaries", 200),
        ("admin", "GET", "/summaries", 200),
        ("read", "GET", "/edge/pending", 403),
        ("edge", "GET", "/edge/pending", 200),
        ("read", "POST", "/refresh", 403),
        ("read", "GET", "/refresh/rf-00", 404),
        ("refresh", "GET", "/refresh/rf-00", 404),
    ],
)
def test_scopes_open_their_own_routes(api, scopes, method, path, status):
    assert api(method, path, scopes=scopes, body={} if method == "POST" else None)[0] == status


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/summaries/has%20space", "summary_id"),
        ("/summaries/s-1/systems/Planner/history", "system"),
        ("/refresh/key:abc", "request_id"),
        ("/edge/registry/no-colon", "version_id"),
    ],
)
def test_path_ids_are_checked_by_name_before_the_handler(api, path, named):
    status, body = api("GET" if "edge" not in path else "PUT", path, scopes="admin", body={})
    assert status == 400 and body["error"] == "invalid_path" and body["message"].startswith(named)


def test_encoded_ids_reach_the_handler_decoded(api, world):
    add_summarized(world.sessions, "s:2")
    status, body = api("GET", "/summaries/s%3A2", scopes="read")
    assert status == 200 and body["session_id"] == "s:2"


def test_unknown_routes_and_bad_bodies_keep_the_error_shape(api):
    status, body = api("GET", "/nowhere", scopes="admin")
    assert status == 404 and ErrorBody.model_validate(body).error == "not_found"
    status, body = api("POST", "/refresh", scopes="refresh", body="{}", content_type="text/plain")
    assert (status, body["error"]) == (415, "unsupported_media_type")
    status, body = api("POST", "/refresh", scopes="refresh", body="{nope")
    assert (status, body["error"]) == (400, "invalid_json")
    status, body = api("POST", "/refresh", scopes="refresh", body={"task": "paint"})
    assert (status, body["error"]) == (422, "validation_failed") and body["details"][0]["field"] == "task"
    status, body = api("POST", "/refresh", scopes="refresh", body={"summary_id": "s-1", "force": "yes"})
    assert (status, body["error"]) == (422, "validation_failed") and body["details"][0]["field"] == "force"


def test_records_of_an_unpublished_system_are_a_404_naming_it(api):
    for query in (None, {"since": "0"}):
        status, body = api("GET", "/systems/fitness/records", scopes="read", query=query)
        assert (status, ErrorBody.model_validate(body).error) == (404, "unknown_system")
        assert "fitness" in body["message"]


def test_retiring_a_system_takes_it_out_of_the_sessions_pipeline_state(api):
    for name in ("planner", "mood"):
        assert api("PUT", f"/edge/systems/{name}", scopes="edge", body=system_definition(name))[0] == 200
    assert api("GET", "/summaries/s-1", scopes="read")[1]["pipeline"]["missing"] == 2
    status, body = api("DELETE", "/edge/systems/mood", scopes="edge")
    assert status == 200 and body["name"] == "mood"
    assert api("GET", "/summaries/s-1", scopes="read")[1]["pipeline"]["missing"] == 1
    assert [item["name"] for item in api("GET", "/systems", scopes="read")[1]["items"]] == ["planner"]
    assert api("DELETE", "/edge/systems/mood", scopes="edge")[1]["error"] == "unknown_system"
    assert api("DELETE", "/edge/systems/planner", scopes="read")[0] == 403


def test_the_edge_round_trip_answers_with_its_contracts(api, world):
    status, body = api("PUT", "/edge/systems/planner", scopes="edge", body=system_definition())
    published = SystemPublished.model_validate(body)
    assert status == 200 and published.changed
    record = {
        "document": {"title": "Dentist"},
        "lineage": {
            "translator_model_version": "translator-model:m",
            "translator_prompt_version": "translator-prompt:p",
            "schema_version": published.schema_version,
        },
        "expected_version": 0,
        "request_id": published.backfill_request_id,
    }
    status, body = api("PUT", "/edge/summaries/s-1/systems/planner", scopes="edge", body=record)
    assert status == 201 and RecordStored.model_validate(body) == RecordStored(outcome="created", version=1)
    status, body = api("PUT", "/edge/summaries/s-1/systems/planner", scopes="edge", body=record)
    assert (status, body["error"]) == (409, "stale_version")
    status, body = api("GET", "/edge/pending", scopes="edge", query={"limit": "5"})
    assert status == 200 and body["items"][0]["systems"]["planner"]["version"] == 1 and body["next"] is None
    status, body = api("GET", f"/refresh/{published.backfill_request_id}", scopes="read")
    assert body["status"] == "done" and body["completed"] == 1
    asked = {"request_id": published.backfill_request_id}
    status, body = api("GET", "/edge/summaries/s-1", scopes="edge", query=asked)
    assert status == 200 and body["stored_for_request"] == ["planner"]
    status, body = api("GET", "/edge/summaries/s-1", scopes="edge", query={"request_id": "r" * 129})
    assert (status, body["error"]) == (400, "invalid_request_id")


def test_ingest_binds_tokens_to_their_source(ingest):
    session = {
        "session_id": "s-9",
        "source": "planner",
        "user_id": "u",
        "started_at": "2026-11-24T09:00:00Z",
        "ended_at": "2026-11-24T09:10:00Z",
        "turns": [{"role": "user", "content": "hi"}],
    }
    refused = ingest("POST", "/sessions", scopes="ingest", source="nudge", body=session)
    assert refused["statusCode"] == 403
    accepted = ingest("POST", "/sessions", scopes="ingest", source="planner", body=session)
    assert accepted["statusCode"] == 202 and accepted["headers"]["Location"] == "/sessions/s-9"
    assert ingest("POST", "/sessions", scopes="ingest", source="planner", body=session)["statusCode"] == 200
    assert ingest("GET", "/sessions/s-9", scopes="ingest", source="nudge")["statusCode"] == 404  # as an unknown id
    assert json.loads(ingest("GET", "/sessions/s-9", scopes="read")["body"])["status"] == "RECEIVED"
