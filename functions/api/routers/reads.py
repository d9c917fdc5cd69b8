"""Read routes: summaries (and the conversation each was made from), record history, systems, registry entries,
the edge workers' state and usage."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.api.reads import Reads
from functions.http.params import page_args, query
from functions.http.responses import contract_response, json_response
from functions.http.routing import rule, scoped
from schemas import routes


def build(reads: Reads) -> Router:
    router = Router()

    @router.get(rule(routes.SUMMARIES), middlewares=scoped("read"))
    def list_summaries() -> Response:
        params = query(router.current_event)
        return json_response(reads.list_summaries(params, *page_args(params)))

    @router.get(rule(routes.SUMMARY), middlewares=scoped("read"))
    def get_summary(summary_id: str) -> Response:
        return json_response(reads.summary(summary_id))

    @router.get(rule(routes.SUMMARY_CONVERSATION), middlewares=scoped("read"))
    def get_conversation(summary_id: str) -> Response:
        return json_response(reads.conversation(summary_id))

    @router.get(rule(routes.RECORD_HISTORY), middlewares=scoped("read"))
    def record_history(summary_id: str, system: str) -> Response:
        return json_response(reads.history(summary_id, system, *page_args(query(router.current_event))))

    @router.get(rule(routes.SYSTEMS), middlewares=scoped("read"))
    def list_systems() -> Response:
        return json_response(reads.systems())

    @router.get(rule(routes.SYSTEM_RECORDS), middlewares=scoped("read"))
    def system_records(system: str) -> Response:
        params = query(router.current_event)
        if "since" in params:  # the change feed: every change after the cursor, in order
            return contract_response(reads.system_changes(system, params["since"], page_args(params)[0]))
        return json_response(reads.system_records(system, *page_args(params)))

    @router.get(rule(routes.REGISTRY), middlewares=scoped("read"))
    def list_registry() -> Response:
        params = query(router.current_event)
        return json_response(reads.registry_entries(params.get("kind"), *page_args(params)))

    @router.get(rule(routes.REGISTRY_ENTRY), middlewares=scoped("read"))
    def get_registry_entry(version_id: str) -> Response:
        return json_response(reads.registry_entry(version_id))

    @router.get(rule(routes.EDGES), middlewares=scoped("read"))
    def list_edges() -> Response:
        return json_response(reads.edges())

    @router.get(rule(routes.USAGE), middlewares=scoped("read"))
    def usage() -> Response:
        return json_response(reads.usage_totals(query(router.current_event)))

    return router
