"""Read template.yaml (SAM) into plain data: the one source of truth for the local stack."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short tags (!Ref, !GetAtt, !Sub...) into their long form."""


def _construct_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict:
    key = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {key: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path | str = DEFAULT_TEMPLATE) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_CfnLoader)


@dataclass(frozen=True)
class HttpRoute:
    function: str
    method: str
    path: str
    authorized: bool

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method.upper() != self.method and self.method != "ANY":
            return None
        pattern = re.sub(r"\\\{([A-Za-z0-9_]+)\\\+\\\}", r"(?P<\1>.+)", re.escape(self.path))
        pattern = re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", pattern)
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class QueueSource:
    function: str
    queue: str  # logical id of the queue
    batch_size: int
    reports_item_failures: bool


@dataclass(frozen=True)
class StreamSource:
    function: str
    table: str  # logical id of the table
    batch_size: int
    reports_item_failures: bool
    max_retries: int


@dataclass(frozen=True)
class ScheduleSource:
    function: str
    event: str  # the event's name under the function's Events
    kind: str  # Schedule (EventBridge rule) or ScheduleV2 (EventBridge Scheduler)
    expression: Any  # rate(...), cron(...) or at(...), possibly an intrinsic
    enabled: Any = True  # possibly an intrinsic
    input: Any = None  # JSON text sent instead of the default event


@dataclass(frozen=True)
class WebSocketRoute:
    route_key: str
    function: str
    authorizer_function: str | None
    identity_query: str | None


@dataclass
class SamApp:
    """What the local stack needs to know about a SAM template."""

    raw: dict
    functions: dict[str, dict] = field(default_factory=dict)
    http_routes: list[HttpRoute] = field(default_factory=list)
    http_authorizer: str | None = None
    queue_sources: list[QueueSource] = field(default_factory=list)
    stream_sources: list[StreamSource] = field(default_factory=list)
    schedule_sources: list[ScheduleSource] = field(default_factory=list)
    websocket_routes: list[WebSocketRoute] = field(default_factory=list)
    websocket_stage: str = "live"

    @property
    def resources(self) -> dict[str, dict]:
        return self.raw.get("Resources", {})

    def parameter_defaults(self) -> dict[str, str]:
        return {name: str(spec.get("Default", "")) for name, spec in self.raw.get("Parameters", {}).items()}

    def function_environment(self, name: str) -> dict[str, Any]:
        globals_env = self.raw.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        own = self.functions[name].get("Environment", {}).get("Variables", {})
        return {**globals_env, **own}

    def function_setting(self, name: str, key: str, default: Any = None) -> Any:
        own = self.functions[name]
        return own.get(key, self.raw.get("Globals", {}).get("Function", {}).get(key, default))


def _logical_id(value: Any) -> str:
    """The logical id behind `!Ref X`, `!GetAtt X.Arn` or a plain string."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return str(value)


def _authorizer_function(raw: dict, api_props: dict) -> str | None:
    auth = api_props.get("Auth", {})
    default = auth.get("DefaultAuthorizer")
    if not default:
        return None
    return _logical_id(auth["Authorizers"][default]["FunctionArn"])


def parse_app(raw: dict) -> SamApp:
    app = SamApp(raw=raw)
    resources = raw.get("Resources", {})
    apis = {name: res for name, res in resources.items() if res["Type"] == "AWS::Serverless::HttpApi"}
    for name, res in resources.items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        props = res.get("Properties", {})
        app.functions[name] = props
        for event_name, event in props.get("Events", {}).items():
            kind, ev = event["Type"], event.get("Properties", {})
            if kind == "HttpApi":
                api = apis.get(_logical_id(ev.get("ApiId", "")), {}).get("Properties", {})
                authorizer = _authorizer_function(raw, api)
                app.http_authorizer = app.http_authorizer or authorizer
                explicit = ev.get("Auth", {}).get("Authorizer")
                authorized = authorizer is not None and explicit != "NONE"
                app.http_routes.append(HttpRoute(name, ev["Method"].upper(), ev["Path"], authorized))
            elif kind == "SQS":
                app.queue_sources.append(
                    QueueSource(
                        name,
                        _logical_id(ev["Queue"]),
                        int(ev.get("BatchSize", 10)),
                        "ReportBatchItemFailures" in ev.get("FunctionResponseTypes", []),
                    )
                )
            elif kind in ("Schedule", "ScheduleV2"):
                app.schedule_sources.append(_schedule_source(name, event_name, kind, ev))
            elif kind == "DynamoDB":
                app.stream_sources.append(
                    StreamSource(
                        name,
                        _logical_id(ev["Stream"]),
                        int(ev.get("BatchSize", 100)),
                        "ReportBatchItemFailures" in ev.get("FunctionResponseTypes", []),
                        int(ev.get("MaximumRetryAttempts", 3)),
                    )
                )
    app.websocket_routes = _websocket_routes(resources)
    for res in resources.values():
        if res["Type"] == "AWS::ApiGatewayV2::Stage":
            app.websocket_stage = res["Properties"]["StageName"]
    return app


def _schedule_source(function: str, event_name: str, kind: str, ev: dict) -> ScheduleSource:
    expression = ev.get("Schedule") if kind == "Schedule" else ev.get("ScheduleExpression")
    if expression is None:
        raise ValueError(
            f"{function}.Events.{event_name}: a {kind} event needs "
            f"{'Schedule' if kind == 'Schedule' else 'ScheduleExpression'}"
        )
    enabled: Any = ev.get("Enabled", True)
    if "State" in ev:
        state = ev["State"]
        enabled = state if isinstance(state, dict) else str(state).upper() == "ENABLED"
    return ScheduleSource(function, event_name, kind, expression, enabled, ev.get("Input"))


def _function_from_uri(uri: Any) -> str | None:
    """`arn:...functions/${NotifyFunction.Arn}/invocations` -> NotifyFunction."""
    text = uri.get("Fn::Sub", "") if isinstance(uri, dict) else str(uri)
    if isinstance(text, list):
        text = text[0]
    found = re.search(r"\$\{([A-Za-z0-9]+)\.Arn\}", text)
    return found.group(1) if found else None


def _websocket_routes(resources: dict) -> list[WebSocketRoute]:
    routes = []
    for res in resources.values():
        if res["Type"] != "AWS::ApiGatewayV2::Route":
            continue
        props = res["Properties"]
        target = props.get("Target", {})
        target_text = target.get("Fn::Sub", "") if isinstance(target, dict) else str(target)
        integration = re.search(r"integrations/\$\{([A-Za-z0-9]+)\}", target_text)
        if not integration:
            continue
        function = _function_from_uri(resources[integration.group(1)]["Properties"]["IntegrationUri"])
        authorizer_fn = identity = None
        if props.get("AuthorizerId"):
            auth = resources[_logical_id(props["AuthorizerId"])]["Properties"]
            authorizer_fn = _function_from_uri(auth["AuthorizerUri"])
            for source in auth.get("IdentitySource", []):
                if source.startswith("route.request.querystring."):
                    identity = source.rsplit(".", 1)[1]
        routes.append(WebSocketRoute(props["RouteKey"], function, authorizer_fn, identity))
    return routes


def load_app(path: Path | str = DEFAULT_TEMPLATE) -> SamApp:
    return parse_app(load_template(path))
