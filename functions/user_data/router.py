"""UserDataFunction's routes: delete a session or a user's data, follow a user's deletion, export it all."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.http.responses import contract_response, register_error_handlers
from functions.http.routing import principal, rule, scoped
from functions.user_data.deletion import Deletions
from functions.user_data.export import Exporter
from schemas import routes


def build(deletions: Deletions, exporter: Exporter) -> Router:
    router = Router()

    @router.delete(rule(routes.SESSION), middlewares=scoped("delete"))
    def delete_session(session_id: str) -> Response:
        accepted = deletions.delete_session(session_id, principal(router))
        response = contract_response(accepted, 202)
        response.headers["Location"] = accepted.status_url
        return response

    @router.delete(rule(routes.USER), middlewares=scoped("delete"))
    def delete_user(user_id: str) -> Response:
        started, job = deletions.delete_user(user_id, principal(router))
        response = contract_response(job, 202 if started else 200)
        response.headers["Location"] = job.status_url
        return response

    @router.get(rule(routes.USER_DELETION), middlewares=scoped("delete", "read"))
    def deletion_status(user_id: str) -> Response:
        return contract_response(deletions.status(user_id))

    @router.get(rule(routes.USER_EXPORT), middlewares=scoped("read"))
    def export(user_id: str) -> Response:
        return contract_response(exporter.export(user_id))

    return router


def resolver(deletions: Deletions, exporter: Exporter) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()
    register_error_handlers(app)
    app.include_router(build(deletions, exporter))
    return app
