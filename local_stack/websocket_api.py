"""A local WebSocket API: the template's $connect/$disconnect routes, its authorizer, and @connections."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection, serve

from local_stack.runtime import FunctionError
from local_stack.template import WebSocketRoute

API_ID = "localwebsocketapi"


def _request_context(route_key: str, event_type: str, connection_id: str, stage: str) -> dict:
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "connectionId": connection_id,
        "stage": stage,
        "apiId": API_ID,
        "domainName": "localhost",
        "requestId": secrets.token_hex(8),
        "connectedAt": int(time.time() * 1000),
        "requestTimeEpoch": int(time.time() * 1000),
        "messageDirection": "IN",
        "extendedRequestId": secrets.token_hex(8),
    }


class LocalWebSocketApi:
    def __init__(
        self,
        routes: list[WebSocketRoute],
        invoke: Callable[[str, dict], object],
        *,
        stage: str,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.routes = {route.route_key: route for route in routes}
        self.invoke, self.stage, self.host = invoke, stage, host
        self.connections: dict[str, ServerConnection] = {}
        self._lock = threading.Lock()
        self.server = serve(self._serve_connection, host, port, process_request=self._connect)
        self.management = ThreadingHTTPServer((host, 0), self._management_handler())
        self.management.daemon_threads = True

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.server.socket.getsockname()[1]}/{self.stage}"

    @property
    def management_url(self) -> str:
        return f"http://{self.host}:{self.management.server_address[1]}/{self.stage}"

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, name="websocket-api", daemon=True).start()
        threading.Thread(target=self.management.serve_forever, name="websocket-management", daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.management.shutdown()
        self.management.server_close()

    # ----- $connect: authorizer, then the route's function -----
    def _connect(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        if parts.path.rstrip("/") != f"/{self.stage}":
            return connection.respond(404, "Not Found\n")
        route = self.routes.get("$connect")
        connection_id = secrets.token_urlsafe(12) + "="
        query = dict(parse_qsl(parts.query))
        headers = {k.lower(): v for k, v in request.headers.raw_items()}
        context = _request_context("$connect", "CONNECT", connection_id, self.stage)
        if route and route.authorizer_function:
            if route.identity_query and not query.get(route.identity_query):
                return connection.respond(401, "Unauthorized\n")
            policy = self._call(
                route.authorizer_function,
                {
                    "type": "REQUEST",
                    "methodArn": f"arn:aws:execute-api:us-east-1:123456789012:{API_ID}/{self.stage}/$connect",
                    "headers": headers,
                    "queryStringParameters": query,
                    "requestContext": context,
                },
            )
            statements = (policy or {}).get("policyDocument", {}).get("Statement", [])
            if not statements or any(s.get("Effect") != "Allow" for s in statements):
                return connection.respond(403, "Forbidden\n")
            context["authorizer"] = {**(policy.get("context") or {}), "principalId": policy.get("principalId")}
        if route:
            result = self._call(
                route.function,
                {
                    "requestContext": context,
                    "headers": headers,
                    "queryStringParameters": query,
                    "isBase64Encoded": False,
                },
            )
            if not isinstance(result, dict) or int(result.get("statusCode", 500)) != 200:
                return connection.respond(500, "Internal Server Error\n")
        connection.connection_id = connection_id
        return None

    def _call(self, function: str, event: dict):
        try:
            return self.invoke(function, event)
        except FunctionError:
            return None

    def _serve_connection(self, connection: ServerConnection) -> None:
        connection_id = connection.connection_id
        with self._lock:
            self.connections[connection_id] = connection
        try:
            for _message in connection:  # no client-to-server routes are declared; messages are ignored
                pass
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self.connections.pop(connection_id, None)
            route = self.routes.get("$disconnect")
            if route:
                self._call(
                    route.function,
                    {
                        "requestContext": _request_context("$disconnect", "DISCONNECT", connection_id, self.stage),
                        "isBase64Encoded": False,
                    },
                )

    # ----- the @connections management API the functions post to -----
    def post(self, connection_id: str, data: bytes) -> bool:
        with self._lock:
            connection = self.connections.get(connection_id)
        if connection is None:
            return False
        try:
            connection.send(data.decode("utf-8"))
        except ConnectionClosed:
            return False
        return True

    def _management_handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                prefix = f"/{api.stage}/@connections/"
                path = unquote(urlsplit(self.path).path)
                data = self.rfile.read(int(self.headers.get("content-length") or 0))
                if not path.startswith(prefix):
                    self._reply(404, {"message": "Not Found"})
                elif api.post(path[len(prefix) :], data):
                    self._reply(200, {})
                else:
                    self._reply(410, {"message": "GoneException"}, error_type="GoneException")

            def _reply(self, status: int, body: dict, error_type: str | None = None) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args) -> None:
                pass

        return Handler
