"""Read API, refresh requests, edge sync and the dashboard page (one Powertools router)."""

from __future__ import annotations

import json

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from functions.api.assets import asset
from functions.api.edge_sync import EdgeSync, RecordUpload, RegistryUpload
from functions.api.embeddings import EmbeddingSync, EmbeddingUpload, Heartbeat, QueryEmbeddingUpload
from functions.api.reads import Reads
from functions.api.refresh import RefreshSelector, RefreshService
from functions.common.auth import Principal
from functions.common.errors import register_error_handlers
from functions.common.paging import parse_limit
from functions.common.path_params import checked
from functions.common.queues import Queues
from functions.common.record_store import RecordStore
from functions.common.registry_store import RegistryStore
from functions.common.request_body import parse_contract, parse_json, raw_body, require_json_content_type
from functions.common.session_store import SessionStore
from functions.common.settings import Settings
from functions.common.views import plain
from functions.search.embedding_store import EmbeddingStore
from functions.search.index_file import IndexFile
from functions.search.service import SearchService, parse_filters, parse_k

settings = Settings.from_env()
logger = Logger()
app = APIGatewayHttpResolver()
register_error_handlers(app)
sessions = SessionStore(settings.sessions_table, settings.data_bucket)
records = RecordStore(settings.records_table, settings.history_table, settings.sessions_table, settings.data_bucket)
registry = RegistryStore(settings.registry_table)
reads = Reads(sessions, records, registry, settings.usage_table)
edge = EdgeSync(sessions, records, registry)
refresh = RefreshService(
    settings.refresh_table,
    settings.sessions_table,
    records,
    registry,
    Queues(settings.summarize_queue_url, settings.edge_queue_url),
    settings.refresh_window_seconds,
)
embeddings = EmbeddingStore(settings.embeddings_table, settings.query_embeddings_table)
embedding_sync = EmbeddingSync(sessions, registry, embeddings)
search = SearchService(
    IndexFile(settings.data_bucket),
    embeddings,
    sessions,
    registry,
    settings.query_queue_url,
    settings.search_edge_wait_seconds,
    settings.edge_online_seconds,
)
MAX_BODY_BYTES = 2 * 1024 * 1024


def _json(body: dict, status: int = 200) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body, default=str))


def _require(*scopes: str) -> None:
    Principal.from_event(app.current_event.raw_event).require(*scopes)


def _params() -> dict[str, str]:
    return app.current_event.query_string_parameters or {}


def _page_args() -> tuple[int, str | None]:
    params = _params()
    return parse_limit(params.get("limit")), params.get("next")


def _body(model):
    require_json_content_type(app.current_event.raw_event)
    return parse_contract(model, parse_json(raw_body(app.current_event.raw_event, MAX_BODY_BYTES)))


# ----- dashboard (public static files; every data call needs a token) -----
@app.get("/")
def dashboard() -> Response:
    return asset("index.html")


@app.get("/dashboard/<name>")
def dashboard_asset(name: str) -> Response:
    return asset(name)


# ----- reads -----
@app.get("/summaries")
def list_summaries() -> Response:
    _require("read")
    return _json(reads.list_summaries(_params(), *_page_args()))


@app.get("/summaries/<summary_id>")
def get_summary(summary_id: str) -> Response:
    _require("read")
    summary_id = checked(summary_id, "id", "summary_id")
    return _json(reads.summary(summary_id))


@app.get("/summaries/<summary_id>/systems/<system>/history")
def record_history(summary_id: str, system: str) -> Response:
    _require("read")
    summary_id = checked(summary_id, "id", "summary_id")
    system = checked(system, "system", "system")
    return _json(reads.history(summary_id, system, *_page_args()))


@app.get("/systems")
def list_systems() -> Response:
    _require("read")
    return _json(reads.systems())


@app.get("/systems/<system>/records")
def system_records(system: str) -> Response:
    _require("read")
    system = checked(system, "system", "system")
    return _json(reads.system_records(system, *_page_args()))


@app.get("/registry")
def list_registry() -> Response:
    _require("read")
    return _json(reads.registry_entries(_params().get("kind"), *_page_args()))


@app.get("/usage")
def usage() -> Response:
    _require("read")
    return _json(reads.usage_totals(_params()))


# ----- search -----
@app.get("/search")
def search_summaries() -> Response:
    _require("read")
    params = _params()
    return _json(search.search(params.get("q"), parse_k(params.get("k")), parse_filters(params)))


@app.get("/summaries/<summary_id>/similar")
def similar_summaries(summary_id: str) -> Response:
    _require("read")
    summary_id = checked(summary_id, "id", "summary_id")
    params = _params()
    return _json(search.similar(summary_id, parse_k(params.get("k")), parse_filters(params)))


# ----- refresh -----
@app.post("/refresh")
def post_refresh() -> Response:
    _require("refresh")
    created, item = refresh.request(_body(RefreshSelector))
    return _json({**plain(item), "coalesced": not created}, 202 if created else 200)


@app.get("/refresh/<request_id>")
def get_refresh(request_id: str) -> Response:
    _require("refresh", "read")
    request_id = checked(request_id, "request", "request_id")
    return _json(plain(refresh.get(request_id)))


# ----- edge sync -----
@app.get("/edge/pending")
def edge_pending() -> Response:
    _require("edge")
    return _json(edge.summarized_page(*_page_args()))


@app.get("/edge/summaries/<summary_id>")
def edge_summary(summary_id: str) -> Response:
    _require("edge")
    summary_id = checked(summary_id, "id", "summary_id")
    return _json(edge.summary_for_edge(summary_id))


@app.put("/edge/summaries/<summary_id>/systems/<system>")
def edge_put_record(summary_id: str, system: str) -> Response:
    _require("edge")
    summary_id = checked(summary_id, "id", "summary_id")
    system = checked(system, "system", "system")
    upload = _body(RecordUpload)
    outcome, item = edge.put_record(summary_id, system, upload)
    if upload.request_id:
        refresh.complete_one(upload.request_id)
    logger.info("record stored", summary_id=summary_id, system=system, outcome=outcome, version=int(item["version"]))
    return _json({"outcome": outcome, "version": int(item["version"])}, 201 if outcome == "created" else 200)


@app.put("/edge/systems/<system>")
def edge_put_system(system: str) -> Response:
    _require("edge")
    system = checked(system, "system", "system")
    require_json_content_type(app.current_event.raw_event)
    published = edge.publish_system(system, parse_json(raw_body(app.current_event.raw_event, MAX_BODY_BYTES)))
    if published["changed"]:
        _, item = refresh.request(RefreshSelector(system=system))
        published["backfill_request_id"] = item["request_id"]
    return _json(published)


@app.put("/edge/registry/<version_id>")
def edge_put_registry(version_id: str) -> Response:
    _require("edge")
    version_id = checked(version_id, "version", "version_id")
    created = edge.put_registry(version_id, _body(RegistryUpload))
    return _json({"version_id": version_id, "created": created}, 201 if created else 200)


@app.put("/edge/summaries/<summary_id>/embedding")
def edge_put_embedding(summary_id: str) -> Response:
    _require("edge")
    summary_id = checked(summary_id, "id", "summary_id")
    upload = _body(EmbeddingUpload)
    embedding_sync.put_summary_embedding(summary_id, upload)
    if upload.request_id:
        refresh.complete_one(upload.request_id)
    return _json({"summary_id": summary_id, "embedding_version": upload.embedding_version})


@app.put("/edge/queries/<query_id>/embedding")
def edge_put_query_embedding(query_id: str) -> Response:
    _require("edge")
    query_id = checked(query_id, "id", "query_id")
    upload = _body(QueryEmbeddingUpload)
    embedding_sync.put_query_embedding(query_id, upload)
    return _json({"query_id": query_id, "embedding_version": upload.embedding_version})


@app.put("/edge/heartbeat")
def edge_heartbeat() -> Response:
    _require("edge")
    beat = embedding_sync.heartbeat(_body(Heartbeat))
    if beat["changed"]:  # a new embedding model: every summary gets a new vector
        _, item = refresh.request(RefreshSelector(task="embed"))
        beat["reembed_request_id"] = item["request_id"]
        logger.info(
            "embedding model changed: re-embedding queued",
            embedding_version=beat["embedding_version"],
            request_id=item["request_id"],
        )
    return _json(beat)


@logger.inject_lambda_context
def lambda_handler(event: dict, context) -> dict:
    return app.resolve(event, context)
