"""Every sample event in events/ runs through its template function on one local stack."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from stack_helpers import make_token, running_stack, stored_sessions

from functions.stores.tokens import SCOPES
from local_stack.messages_server import ScriptedBackend, fail
from local_stack.runtime import FunctionError
from local_stack.template import load_app
from schemas.contracts import Session

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "events"
INDEX: dict[str, str] = json.loads((EVENTS / "index.json").read_text(encoding="utf-8"))

# Top-level keys of `sam local generate-event apigateway http-api-proxy` (SAM CLI 1.170.0).
HTTP_EVENT_KEYS = {
    "version",
    "routeKey",
    "rawPath",
    "rawQueryString",
    "cookies",
    "headers",
    "queryStringParameters",
    "requestContext",
    "body",
    "pathParameters",
    "isBase64Encoded",
    "stageVariables",
}
HTTP_CONTEXT_KEYS = {
    "accountId",
    "apiId",
    "authentication",
    "authorizer",
    "domainName",
    "domainPrefix",
    "http",
    "requestId",
    "routeKey",
    "stage",
    "time",
    "timeEpoch",
}
# The HTTP API's REQUEST authorizer event, payload format 2.0 (API Gateway developer guide).
AUTHORIZER_V2_KEYS = {
    "version",
    "type",
    "routeArn",
    "identitySource",
    "routeKey",
    "rawPath",
    "rawQueryString",
    "cookies",
    "headers",
    "queryStringParameters",
    "requestContext",
    "pathParameters",
    "stageVariables",
}
# `sam local generate-event sqs receive-message` and `dynamodb update`.
SQS_RECORD_KEYS = {
    "messageId",
    "receiptHandle",
    "body",
    "attributes",
    "messageAttributes",
    "md5OfBody",
    "eventSource",
    "eventSourceARN",
    "awsRegion",
}
STREAM_RECORD_KEYS = {"eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb", "eventSourceARN"}


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def invoke(stack, name: str, event: dict | None = None):
    return stack.invoke(INDEX[name], load(name) if event is None else event)


def body_of(result: dict) -> dict:
    return json.loads(result["body"])


def request_body(name: str) -> dict:
    return json.loads(load(name)["body"])


def with_path(event: dict, **params: str) -> dict:
    """The same request for other path parameters (ids the stack generates at run time)."""
    event = copy.deepcopy(event)
    path = event["routeKey"].split(" ", 1)[1]
    event["pathParameters"].update(params)
    for key, value in event["pathParameters"].items():
        path = path.replace("{" + key + "}", value)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    return event


def sqs_event_for(template: dict, session: dict) -> dict:
    """One SQS record shaped like the sample batch, naming another session."""
    record = copy.deepcopy(template["Records"][0])
    record["body"] = json.dumps(
        {"session_id": session["session_id"], "content_hash": Session.model_validate(session).content_hash()}
    )
    record["md5OfBody"] = hashlib.md5(record["body"].encode()).hexdigest()
    record["messageId"] = "5e0c1c7a-9b1e-4f4e-8c59-2f0d8f6b3a41"
    return {"Records": [record]}


# ---------- the events cover the template ----------
def _files_for(function: str) -> list[tuple[str, dict]]:
    return [(name, load(name)) for name, owner in INDEX.items() if owner == function]


def test_index_names_every_event_file_and_only_existing_ones():
    on_disk = {str(p.relative_to(EVENTS)) for p in EVENTS.rglob("*.json")} - {"index.json"}
    assert set(INDEX) == on_disk
    app = load_app()
    assert set(INDEX.values()) <= set(app.functions)


def test_every_function_route_and_event_source_has_a_sample_event():
    app = load_app()
    missing = [f"function {name}" for name in app.functions if not _files_for(name)]
    for route in app.http_routes:
        if not any(
            event.get("routeKey") == route.route_key and "type" not in event for _, event in _files_for(route.function)
        ):
            missing.append(f"HTTP route {route.route_key} ({route.function})")
    if app.http_authorizer and not any(
        event.get("version") == "2.0" and event.get("type") == "REQUEST" for _, event in _files_for(app.http_authorizer)
    ):
        missing.append(f"HTTP API authorizer event ({app.http_authorizer})")
    for ws in app.websocket_routes:
        if not any(
            event.get("requestContext", {}).get("routeKey") == ws.route_key and "methodArn" not in event
            for _, event in _files_for(ws.function)
        ):
            missing.append(f"WebSocket route {ws.route_key} ({ws.function})")
        if ws.authorizer_function and not any(
            str(event.get("methodArn", "")).endswith("/" + ws.route_key)
            for _, event in _files_for(ws.authorizer_function)
        ):
            missing.append(f"WebSocket authorizer for {ws.route_key} ({ws.authorizer_function})")
    for queue in app.queue_sources:
        if not any(
            r.get("eventSource") == "aws:sqs" and f"-{queue.queue}-" in r.get("eventSourceARN", "")
            for _, event in _files_for(queue.function)
            for r in event.get("Records", [])
        ):
            missing.append(f"SQS batch from {queue.queue} ({queue.function})")
    for stream in app.stream_sources:
        if not any(
            r.get("eventSource") == "aws:dynamodb" and f"-{stream.table}-" in r.get("eventSourceARN", "")
            for _, event in _files_for(stream.function)
            for r in event.get("Records", [])
        ):
            missing.append(f"stream records from {stream.table} ({stream.function})")
    assert not missing, "no sample event in events/ for: " + "; ".join(missing)


def test_http_events_have_the_payload_2_0_shape_and_match_their_route():
    routes = {route.route_key: route for route in load_app().http_routes}
    for name, function in INDEX.items():
        event = load(name)
        if event.get("version") != "2.0" or "type" in event:
            continue
        where = f"{name}: "
        route = routes[event["routeKey"]]
        assert route.function == function, where + "index names the wrong function"
        assert set(event) <= HTTP_EVENT_KEYS and set(event["requestContext"]) <= HTTP_CONTEXT_KEYS, where
        context = event["requestContext"]
        assert context["routeKey"] == event["routeKey"] and context["http"]["path"] == event["rawPath"], where
        assert context["http"]["method"] == route.method, where
        assert route.match(route.method, event["rawPath"]) == event.get("pathParameters", {}), where
        assert dict(parse_qsl(event["rawQueryString"])) == event.get("queryStringParameters", {}), where
        assert all(header == header.lower() for header in event["headers"]), where + "HTTP API lowercases headers"
        if "body" in event:
            assert int(event["headers"]["content-length"]) == len(event["body"].encode("utf-8")), where
        if route.authorized:
            principal = context["authorizer"]["lambda"]
            assert set(principal) == {"name", "scopes", "source"}, where
            assert set(principal["scopes"].split()) <= set(SCOPES), where
            assert event["headers"]["authorization"].startswith("Bearer "), where
        else:
            assert "authorizer" not in context, where + "public routes have no authorizer context"


def test_authorizer_and_event_source_samples_have_the_aws_shapes():
    http = load("authorizer/http_request.json")
    assert set(http) <= AUTHORIZER_V2_KEYS and http["identitySource"] == [http["headers"]["authorization"]]
    assert http["routeArn"].endswith("/$default/" + http["routeKey"].replace(" ", ""))
    ws = load("authorizer/websocket_connect.json")
    assert ws["type"] == "REQUEST" and ws["requestContext"]["eventType"] == "CONNECT"
    for record in load("summarize/sqs_batch.json")["Records"] + load("dead_letter/summarize_dlq_batch.json")["Records"]:
        assert set(record) == SQS_RECORD_KEYS
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
    for name in ("notify/sessions_stream.json", "notify/records_stream.json"):
        for record in load(name)["Records"]:
            assert set(record) == STREAM_RECORD_KEYS
            assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


# ---------- one stack for the whole module ----------
class ConnectionsRecorder:
    """Stands in for the WebSocket management API: records what notify posts to each connection."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("content-length") or 0))
                recorder.posts.append((unquote(self.path), json.loads(data)))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def backend() -> ScriptedBackend:
    return ScriptedBackend()


@pytest.fixture(scope="module")
def recorder():
    recorder = ConnectionsRecorder()
    yield recorder
    recorder.stop()


@pytest.fixture(scope="module")
def stack(backend, recorder):
    extra_env = {"WEBSOCKET_MANAGEMENT_URL": f"{recorder.url}/live"}
    with running_stack(backend, event_sources=False, serve_http=False, extra_env=extra_env) as stack:
        yield stack


def table(stack, logical_id: str):
    return boto3.resource(
        "dynamodb",
        endpoint_url=stack.moto.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    ).Table(stack.resolved(logical_id))


def session_item(stack, session_id: str) -> dict:
    return table(stack, "SessionsTable").get_item(Key={"session_id": session_id}, ConsistentRead=True)["Item"]


@pytest.fixture(scope="module")
def posted(stack) -> dict[str, dict]:
    return {name: invoke(stack, name) for name in ("ingest/post_session.json", "ingest/post_session_nudge.json")}


@pytest.fixture(scope="module")
def summarized(stack, posted) -> dict:
    return invoke(stack, "summarize/sqs_batch.json")


@pytest.fixture(scope="module")
def failed_session_id(stack, backend) -> str:
    """The session the retry sample names, accepted and then FAILED by a non-retryable LLM error."""
    session_id = load("ingest/retry_session.json")["pathParameters"]["session_id"]
    post = load("ingest/post_session.json")
    session = {**json.loads(post["body"]), "session_id": session_id}
    post["body"] = json.dumps(session)
    post["headers"]["content-length"] = str(len(post["body"].encode()))
    assert stack.invoke("IngestFunction", post)["statusCode"] == 202
    backend.script([fail(400, "prompt is too long: 214113 tokens > 200000 maximum")], when=session_id)
    with pytest.raises(FunctionError, match="BatchProcessingError"):  # every record of the batch failed
        stack.invoke("SummarizeFunction", sqs_event_for(load("summarize/sqs_batch.json"), session))
    assert session_item(stack, session_id)["status"] == "FAILED"
    return session_id


@pytest.fixture(scope="module")
def published(stack) -> dict[str, dict]:
    return {name: invoke(stack, name) for name in ("api/edge_put_registry.json", "api/edge_put_system.json")}


@pytest.fixture(scope="module")
def record_stored(stack, summarized, published) -> dict:
    return invoke(stack, "api/edge_put_record.json")


@pytest.fixture(scope="module")
def refresh_requested(stack, summarized) -> dict:
    return invoke(stack, "api/post_refresh.json")


# ---------- ingest ----------
def test_post_session_samples_are_accepted(stack, posted):
    for name, result in posted.items():
        sent = request_body(name)
        assert result["statusCode"] == 202, result
        assert body_of(result) == {
            "session_id": sent["session_id"],
            "status": "RECEIVED",
            "status_url": f"/sessions/{sent['session_id']}",
        }
        assert result["headers"]["Location"] == f"/sessions/{sent['session_id']}"
    again = invoke(stack, "ingest/post_session.json")
    assert again["statusCode"] == 200 and body_of(again)["status"] in ("RECEIVED", "SUMMARIZED")


def test_get_session_sample_reads_the_summarized_session(stack, summarized):
    result = invoke(stack, "ingest/get_session.json")
    assert result["statusCode"] == 200, result
    view = body_of(result)
    sent = request_body("ingest/post_session.json")
    assert (view["session_id"], view["source"], view["status"]) == (sent["session_id"], "planner", "SUMMARIZED")
    assert view["turn_count"] == len(sent["turns"])


def test_retry_session_sample_requeues_a_failed_session(stack, failed_session_id):
    result = invoke(stack, "ingest/retry_session.json")
    assert result["statusCode"] == 202, result
    view = body_of(result)
    assert (view["session_id"], view["status"], view["attempts"]) == (failed_session_id, "RECEIVED", 0)
    assert "error" not in view


# ---------- summarize ----------
def test_dead_letter_sample_leaves_a_summarized_session_as_it_is(stack, summarized):
    session_id = json.loads(load("dead_letter/summarize_dlq_batch.json")["Records"][0]["body"])["session_id"]
    before = session_item(stack, session_id)
    assert invoke(stack, "dead_letter/summarize_dlq_batch.json") == {"batchItemFailures": []}
    assert session_item(stack, session_id) == before and before["status"] == "SUMMARIZED"


def test_an_unreadable_dead_letter_is_logged_not_delivered_again(stack):
    event = load("dead_letter/summarize_dlq_batch.json")
    event["Records"][0]["body"] = "not a summarize request"
    assert stack.invoke("SummarizeDeadLetterFunction", event) == {"batchItemFailures": []}


def test_sqs_batch_sample_summarizes_each_session_once(stack, backend, summarized):
    assert summarized == {"batchItemFailures": []}
    for record in load("summarize/sqs_batch.json")["Records"]:
        request = json.loads(record["body"])
        item = session_item(stack, request["session_id"])
        assert (item["status"], item["content_hash"]) == ("SUMMARIZED", request["content_hash"])
        assert backend.calls_matching(request["session_id"]) == 1
    assert invoke(stack, "summarize/sqs_batch.json") == {"batchItemFailures": []}  # a redelivery
    assert all(
        backend.calls_matching(json.loads(r["body"])["session_id"]) == 1
        for r in load("summarize/sqs_batch.json")["Records"]
    )


# ---------- authorizer ----------
def test_http_authorizer_sample_allows_a_stored_token_only(stack):
    event = load("authorizer/http_request.json")
    assert invoke(stack, "authorizer/http_request.json") == {"isAuthorized": False, "context": {}}
    expected = load("api/list_summaries.json")["requestContext"]["authorizer"]["lambda"]
    token = make_token(stack, expected["scopes"].split(), name=expected["name"])
    event["headers"]["authorization"] = f"Bearer {token}"
    event["identitySource"] = [event["headers"]["authorization"]]
    assert invoke(stack, "authorizer/http_request.json", event) == {"isAuthorized": True, "context": expected}


def test_websocket_authorizer_sample_allows_a_read_token(stack):
    event = load("authorizer/websocket_connect.json")
    denied = invoke(stack, "authorizer/websocket_connect.json")
    assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    expected = load("notify/websocket_connect.json")["requestContext"]["authorizer"]
    event["queryStringParameters"]["token"] = make_token(stack, expected["scopes"].split(), name=expected["name"])
    result = invoke(stack, "authorizer/websocket_connect.json", event)
    statement = result["policyDocument"]["Statement"][0]
    assert (statement["Effect"], statement["Resource"]) == ("Allow", event["methodArn"])
    assert result["principalId"] == expected["principalId"]
    assert result["context"] == {k: expected[k] for k in ("name", "scopes", "source")}


# ---------- notify ----------
def open_connections(stack) -> list[str]:
    items = table(stack, "ConnectionsTable").query(KeyConditionExpression=Key("channel").eq("dashboard"))["Items"]
    return [item["connection_id"] for item in items]


def test_websocket_connect_and_disconnect_samples_track_the_connection(stack):
    connection_id = load("notify/websocket_connect.json")["requestContext"]["connectionId"]
    assert invoke(stack, "notify/websocket_connect.json")["statusCode"] == 200
    assert connection_id in open_connections(stack)
    assert invoke(stack, "notify/websocket_disconnect.json")["statusCode"] == 200
    assert connection_id not in open_connections(stack)


def test_stream_samples_push_one_message_per_change_to_open_dashboards(stack, recorder):
    connection_id = load("notify/websocket_connect.json")["requestContext"]["connectionId"]
    invoke(stack, "notify/websocket_connect.json")
    try:
        recorder.posts.clear()
        assert invoke(stack, "notify/sessions_stream.json") == {"batchItemFailures": []}
        assert invoke(stack, "notify/records_stream.json") == {"batchItemFailures": []}
    finally:
        invoke(stack, "notify/websocket_disconnect.json")
    assert {path for path, _ in recorder.posts} == {f"/live/@connections/{connection_id}"}
    summary_id = request_body("ingest/post_session.json")["session_id"]
    assert [message for _, message in recorder.posts] == [
        {"type": "summary", "event": "INSERT", "summary_id": summary_id, "status": "RECEIVED"},
        {"type": "summary", "event": "MODIFY", "summary_id": summary_id, "status": "SUMMARIZED"},
        {"type": "record", "event": "INSERT", "summary_id": summary_id, "system": "planner", "version": 1},
        {"type": "record", "event": "MODIFY", "summary_id": summary_id, "system": "planner", "version": 2},
    ]


# ---------- api: dashboard ----------
def test_dashboard_samples_serve_the_page_and_an_asset(stack):
    page = invoke(stack, "api/dashboard.json")
    assert page["statusCode"] == 200, page
    assert page["headers"]["Content-Type"].startswith("text/html") and "<html" in page["body"].lower()
    asset = invoke(stack, "api/dashboard_asset.json")
    assert asset["statusCode"] == 200, asset
    name = load("api/dashboard_asset.json")["pathParameters"]["asset"]
    assert asset["body"] == (REPO / "dashboard" / name).read_text(encoding="utf-8")


# ---------- api: edge sync ----------
def test_edge_put_registry_sample_stores_a_content_addressed_entry(stack, published):
    result = published["api/edge_put_registry.json"]
    assert result["statusCode"] == 201, result
    version_id = load("api/edge_put_registry.json")["pathParameters"]["version_id"]
    assert body_of(result) == {"version_id": version_id, "created": True}
    again = invoke(stack, "api/edge_put_registry.json")
    assert (again["statusCode"], body_of(again)["created"]) == (200, False)


def test_edge_put_system_sample_publishes_the_definition(stack, published):
    result = published["api/edge_put_system.json"]
    assert result["statusCode"] == 200, result
    published_system = body_of(result)
    lineage = request_body("api/edge_put_record.json")["lineage"]
    assert (published_system["name"], published_system["changed"]) == ("planner", True)
    assert published_system["schema_version"] == lineage["schema_version"]


def test_edge_pending_sample_lists_summarized_sessions(stack, summarized):
    result = invoke(stack, "api/edge_pending.json")
    assert result["statusCode"] == 200, result
    pending = {item["summary_id"] for item in body_of(result)["items"]}
    assert {json.loads(r["body"])["session_id"] for r in load("summarize/sqs_batch.json")["Records"]} <= pending


def test_edge_get_summary_sample_returns_the_summary_text(stack, summarized):
    result = invoke(stack, "api/edge_get_summary.json")
    assert result["statusCode"] == 200, result
    summary = body_of(result)
    assert summary["summary_id"] == load("api/edge_get_summary.json")["pathParameters"]["summary_id"]
    assert summary["source"] == "planner" and summary["text"].startswith("Scripted summary")
    assert summary["summarizer_model_version"].startswith("summarizer-model:")


def test_edge_put_record_sample_stores_version_one(stack, record_stored):
    assert record_stored["statusCode"] == 201, record_stored
    assert body_of(record_stored) == {"outcome": "created", "version": 1}
    replay = invoke(stack, "api/edge_put_record.json")
    assert (replay["statusCode"], body_of(replay)["error"]) == (409, "stale_version")


# ---------- api: reads ----------
def test_list_summaries_sample_pages_the_planner_sessions(stack, summarized):
    result = invoke(stack, "api/list_summaries.json")
    assert result["statusCode"] == 200, result
    items = body_of(result)["items"]
    assert request_body("ingest/post_session.json")["session_id"] in {item["session_id"] for item in items}
    assert {item["source"] for item in items} == {"planner"}


def test_get_summary_sample_returns_text_and_records(stack, record_stored):
    result = invoke(stack, "api/get_summary.json")
    assert result["statusCode"] == 200, result
    summary = body_of(result)
    assert summary["status"] == "SUMMARIZED" and summary["text"].startswith("Scripted summary")
    stored = request_body("api/edge_put_record.json")
    assert [(r["system"], r["document"]) for r in summary["records"]] == [("planner", stored["document"])]


def test_get_record_history_sample_returns_the_first_patch(stack, record_stored):
    result = invoke(stack, "api/get_record_history.json")
    assert result["statusCode"] == 200, result
    history = body_of(result)["items"]
    assert [entry["version"] for entry in history] == [1]
    assert {op["path"] for op in history[0]["patch"]} == {"/tasks", "/events"}


def test_list_systems_sample_lists_the_published_system(stack, published):
    result = invoke(stack, "api/list_systems.json")
    assert result["statusCode"] == 200, result
    assert "planner" in {system["name"] for system in body_of(result)["items"]}


def test_list_system_records_sample_returns_the_stored_document(stack, record_stored):
    result = invoke(stack, "api/list_system_records.json")
    assert result["statusCode"] == 200, result
    items = body_of(result)["items"]
    stored = request_body("api/edge_put_record.json")
    assert [(i["summary_id"], i["document"], i["schema_version"]) for i in items] == [
        (
            load("api/edge_put_record.json")["pathParameters"]["summary_id"],
            stored["document"],
            stored["lineage"]["schema_version"],
        )
    ]


def test_get_summary_conversation_sample_returns_the_session_as_received(stack, summarized):
    result = invoke(stack, "api/get_summary_conversation.json")
    assert result["statusCode"] == 200, result
    session = body_of(result)
    posted = request_body("ingest/post_session.json")
    assert session["session_id"] == load("api/get_summary_conversation.json")["pathParameters"]["summary_id"]
    assert session["session_id"] == posted["session_id"] and session["turns"] == posted["turns"]


def test_get_registry_entry_sample_returns_the_translator_model(stack, published):
    result = invoke(stack, "api/get_registry_entry.json")
    assert result["statusCode"] == 200, result
    entry = body_of(result)
    assert entry["version_id"] == load("api/get_registry_entry.json")["pathParameters"]["version_id"]
    assert (
        entry["kind"] == "translator-model"
        and entry["content"] == request_body("api/edge_put_registry.json")["content"]
    )


def test_list_edges_sample_shows_the_edge_that_sent_the_heartbeat(stack, embedded):
    result = invoke(stack, "api/list_edges.json")
    assert result["statusCode"] == 200, result
    [edge] = body_of(result)["items"]
    assert edge["name"] == load("api/edge_heartbeat.json")["requestContext"]["authorizer"]["lambda"]["name"]
    assert (
        edge["online"] is True
        and edge["embedding_version"] == request_body("api/edge_heartbeat.json")["embedding_version"]
    )


def test_list_registry_sample_lists_the_summarizer_model(stack, summarized):
    result = invoke(stack, "api/list_registry.json")
    assert result["statusCode"] == 200, result
    entries = body_of(result)["items"]
    assert [entry["content"]["model_id"] for entry in entries] == ["local-scripted"]


def test_get_usage_sample_totals_the_summaries(stack, summarized):
    result = invoke(stack, "api/get_usage.json")
    assert result["statusCode"] == 200, result
    usage = body_of(result)
    assert sum(day["calls"] for day in usage["days"]) == len(load("summarize/sqs_batch.json")["Records"])
    assert [model["model_id"] for model in usage["models"]] == ["local-scripted"]


# ---------- api: refresh ----------
def test_post_refresh_sample_queues_one_translation_and_coalesces_repeats(stack, refresh_requested):
    assert refresh_requested["statusCode"] == 202, refresh_requested
    request = body_of(refresh_requested)
    assert request["selector"] == request_body("api/post_refresh.json")
    assert (request["queued"], request["coalesced"]) == (1, False)
    again = invoke(stack, "api/post_refresh.json")
    assert again["statusCode"] == 200
    assert (body_of(again)["request_id"], body_of(again)["coalesced"]) == (request["request_id"], True)


def test_get_refresh_sample_reads_a_refresh_request(stack, refresh_requested):
    unknown = invoke(stack, "api/get_refresh.json")  # the sample's id was made by another stack
    assert (unknown["statusCode"], body_of(unknown)["error"]) == (404, "not_found")
    request_id = body_of(refresh_requested)["request_id"]
    result = invoke(stack, "api/get_refresh.json", with_path(load("api/get_refresh.json"), request_id=request_id))
    assert result["statusCode"] == 200, result
    assert (body_of(result)["request_id"], body_of(result)["queued"]) == (request_id, 1)


# ---------- search ----------
def with_stream_arn(stack, name: str, table_logical_id: str) -> dict:
    """The sample's records as this stack's stream delivers them (the indexer matches the table by its ARN)."""
    event = load(name)
    for record in event["Records"]:
        record["eventSourceARN"] = stack.resolved(table_logical_id, "StreamArn")
    return event


@pytest.fixture(scope="module")
def embedded(stack, summarized) -> dict[str, dict]:
    names = (
        "api/edge_put_registry_embedding_model.json",
        "api/edge_heartbeat.json",
        "api/edge_put_embedding.json",
        "api/edge_put_query_embedding.json",
    )
    return {name: invoke(stack, name) for name in names}


@pytest.fixture(scope="module")
def indexed(stack, embedded) -> list[dict]:
    assert embedded["api/edge_put_embedding.json"]["statusCode"] == 200, embedded
    return [
        stack.invoke("IndexFunction", with_stream_arn(stack, "index/sessions_stream.json", "SessionsTable")),
        stack.invoke("IndexFunction", with_stream_arn(stack, "index/embeddings_stream.json", "EmbeddingsTable")),
    ]


def test_index_stream_samples_put_the_summary_and_its_vector_in_the_index(stack, indexed):
    from functions.search.index import SearchIndex

    summary_id = load("api/similar_summaries.json")["pathParameters"]["summary_id"]
    assert indexed == [{"batchItemFailures": []}] * 2

    s3 = boto3.client(
        "s3",
        endpoint_url=stack.moto.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    stored = s3.get_object(Bucket=stack.resolved("DataBucket"), Key="search/index.npz")["Body"].read()
    index = SearchIndex.from_bytes(stored)
    position = index.position(summary_id)
    assert position is not None and bool(index.has_vector[position])
    assert index.embedding_version == request_body("api/edge_put_embedding.json")["embedding_version"]


def test_edge_embedding_samples_store_vectors_and_the_heartbeat(stack, embedded):
    version = request_body("api/edge_heartbeat.json")["embedding_version"]
    assert embedded["api/edge_put_registry_embedding_model.json"]["statusCode"] == 201
    assert body_of(embedded["api/edge_heartbeat.json"]) == {"embedding_version": version, "changed": False}
    query = embedded["api/edge_put_query_embedding.json"]
    assert query["statusCode"] == 200 and body_of(query)["embedding_version"] == version
    summary_id = load("api/edge_put_embedding.json")["pathParameters"]["summary_id"]
    assert session_item(stack, summary_id)["embedding_version"] == version
    wrong = load("api/edge_put_embedding.json")
    wrong["body"] = json.dumps({**request_body("api/edge_put_embedding.json"), "vector": [0.5, 0.5]})
    wrong["headers"]["content-length"] = str(len(wrong["body"]))
    refused = invoke(stack, "api/edge_put_embedding.json", wrong)
    assert (refused["statusCode"], body_of(refused)["error"]) == (422, "wrong_dimensions")


def test_search_samples_rank_the_indexed_summary(stack, indexed):
    summary_id = load("api/similar_summaries.json")["pathParameters"]["summary_id"]
    found = invoke(stack, "api/search.json")
    assert found["statusCode"] == 200, found
    answer = body_of(found)
    assert answer["query"] == {"text": load("api/search.json")["queryStringParameters"]["q"]}
    assert answer["mode"] in ("hybrid", "lexical") and answer["k"] == 5
    similar = invoke(stack, "api/similar_summaries.json")
    assert similar["statusCode"] == 200, similar
    assert body_of(similar)["query"] == {"summary_id": summary_id}
    assert summary_id not in [item["summary_id"] for item in body_of(similar)["items"]]


def test_every_stored_session_item_is_what_summary_record_describes(stack, record_stored, embedded, failed_session_id):
    records = {record.session_id: record for record in stored_sessions(stack)}
    summary_id = load("api/edge_put_record.json")["pathParameters"]["summary_id"]
    assert records[summary_id].systems and records[summary_id].embedding_version
    assert {record.status.value for record in records.values()} >= {"SUMMARIZED", "RECEIVED"}


# ---------- the CLI ----------
def test_cli_invoke_runs_the_post_session_sample():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, "-m", "local_stack", "invoke", "IngestFunction", "--event", "events/ingest/post_session.json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # Handlers log JSON lines to stdout as well; the result is the indented document at the end.
    start = done.stdout.rfind("\n{\n") + 1 if not done.stdout.startswith("{\n") else 0
    result = json.loads(done.stdout[start:])
    assert result["statusCode"] == 202
    assert json.loads(result["body"])["session_id"] == request_body("ingest/post_session.json")["session_id"]
