"""The whole cloud side on one machine: moto provisioned from template.yaml plus the template's functions."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from local_stack.gateway import LocalHttpApi
from local_stack.moto_process import STORED_COUNTS_PATH, MotoServer
from local_stack.persistence import Checkpoints, Counts, StateStore
from local_stack.provision import ACCOUNT, REGION, Provisioned, aws_client, provision
from local_stack.runtime import FunctionRuntime, Telemetry
from local_stack.scheduler import Scheduler, is_enabled, rate_seconds
from local_stack.sqs_poller import QueuePoller
from local_stack.stream_poller import StreamPoller
from local_stack.template import DEFAULT_TEMPLATE, SamApp, ScheduleSource, load_app
from local_stack.websocket_api import LocalWebSocketApi

log = logging.getLogger("local_stack")


@dataclass
class StackOptions:
    template: Path = DEFAULT_TEMPLATE
    host: str = "127.0.0.1"
    api_port: int = 0
    websocket_port: int = 0  # 0 picks a free one
    parameters: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. the local Messages API endpoint
    retry_delay_s: int = 1
    event_sources: bool = True  # queue and stream pollers, schedules
    schedule_interval_s: float | None = None  # run every schedule this often instead of its rate (tests)
    serve_http: bool = True
    worker_preload: tuple[str, ...] = ()  # modules each function worker imports first (e.g. fault hooks)
    # "forkserver" (tests): workers fork from one server process that imported multiprocessing's forkserver preload
    worker_start_method: str = "spawn"
    telemetry: Telemetry | None = None  # receives each invocation's platform.start / platform.report event
    state_dir: Path | None = None  # keep tables, objects and queued messages here across restarts (persistence.py)
    checkpoint_s: float = 30.0  # with state_dir: a snapshot this often while running, and one on a clean stop
    on_checkpoint_error: Callable[[Exception], None] | None = None


class LocalStack:
    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        self.app: SamApp = load_app(self.options.template)
        self.moto = MotoServer(self.options.host)
        self.provisioned: Provisioned | None = None
        self.runtimes: dict[str, FunctionRuntime] = {}
        self.http_api: LocalHttpApi | None = None
        self.websocket_api: LocalWebSocketApi | None = None
        self.pollers: list[QueuePoller | StreamPoller | Scheduler] = []
        self.started_in_s: float | None = None
        self.state: StateStore | None = None
        self.restored: Counts | None = None  # what start() loaded from state_dir, if anything
        self.saved: Counts | None = None  # what stop() kept in state_dir
        self._checkpoints: Checkpoints | None = None
        self._stream_pollers: dict[str, StreamPoller] = {}  # by event source, "<function> <table>"
        self._running = False

    # ----- lifecycle -----
    def start(self) -> LocalStack:
        began = time.monotonic()
        self.moto.start()
        try:
            self.provisioned = provision(self.app, self.moto.url, parameters=self.options.parameters)
            if self.options.state_dir is not None:
                self.state = StateStore(self.options.state_dir, self.provisioned, self.moto.url)
                if self.state.exists():
                    try:
                        self.restored = self.state.restore()
                    except Exception as exc:  # e.g. a key schema the template changed since the snapshot
                        raise RuntimeError(
                            f"could not load the local data kept in {self.options.state_dir} ({exc}); "
                            "`python -m local_stack up --reset` starts clean"
                        ) from exc
            if self.options.event_sources:  # streams are read from here on: restored items are not new changes
                self._make_pollers(stream_start="LATEST" if self.restored else "TRIM_HORIZON")
            if self.options.serve_http:  # bound before the functions start, so their URLs are known
                self.http_api = LocalHttpApi(
                    self.app.http_routes,
                    self.app.http_authorizer,
                    self.invoke,
                    host=self.options.host,
                    port=self.options.api_port,
                )
                if self.app.websocket_routes:
                    self.websocket_api = LocalWebSocketApi(
                        self.app.websocket_routes,
                        self.invoke,
                        stage=self.app.websocket_stage,
                        host=self.options.host,
                        port=self.options.websocket_port,
                    )
            for name in self.app.functions:
                self.runtimes[name] = self._runtime(name)
            if self.http_api:
                self.http_api.start()
            if self.websocket_api:
                self.websocket_api.start()
            for poller in self.pollers:
                poller.start()
            if self.state is not None:
                self._checkpoints = Checkpoints(
                    self.state, self.options.checkpoint_s, self.options.on_checkpoint_error, self._streams_in_hand
                ).start()
        except BaseException:
            self.stop()
            raise
        self.started_in_s = time.monotonic() - began
        self._running = True
        return self

    def stop(self) -> None:
        """Stop taking work, end the function workers (an invocation in flight is cut short and reported as
        stopped; its message, or its stream records, are kept for the next start), then moto. Takes a few seconds
        at most, whatever is running."""
        if self._checkpoints:
            self._checkpoints.stop()
            self._checkpoints = None
        for poller in self.pollers:
            poller.signal_stop()
        if self.http_api:
            self.http_api.stop()
            self.http_api = None
        if self.websocket_api:
            self.websocket_api.stop()
            self.websocket_api = None
        with ThreadPoolExecutor(max_workers=max(1, len(self.runtimes))) as closing:
            list(closing.map(lambda runtime: runtime.close(grace_s=1.0), self.runtimes.values()))
        self.runtimes.clear()
        for poller in self.pollers:
            poller.stop()
        self.pollers.clear()
        try:
            if self.state is not None and self._running:  # never over a snapshot with a stack that did not start
                self.saved = self.state.save(
                    {source: poller.backlog() for source, poller in self._stream_pollers.items()}
                )
        finally:
            self._running = False
            self._stream_pollers.clear()
            self.moto.stop()

    def _streams_in_hand(self) -> dict[str, list[dict]]:
        return {source: poller.pending() for source, poller in self._stream_pollers.items()}

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ----- access -----
    @property
    def api_url(self) -> str:
        return self.http_api.url if self.http_api else ""

    def client(self, service: str):
        return aws_client(service, self.moto.url)

    def physical_id(self, logical_id: str) -> str:
        return self.provisioned.physical[logical_id]

    def resolved(self, logical_id: str, attribute: str | None = None) -> str:
        resolver = self.provisioned.resolver
        return resolver.get_att(logical_id, attribute) if attribute else resolver.ref(logical_id)

    def aws_environment(self) -> dict[str, str]:
        """What a boto3 process needs to talk to this stack's moto server."""
        return {
            "AWS_ENDPOINT_URL": self.moto.url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }

    def local_urls(self) -> dict[str, str]:
        """The template's API Gateway URLs (as resolved) -> where the local servers listen."""
        refs, urls = self.provisioned.resolver.refs, {}
        suffix = f"execute-api.{REGION}.amazonaws.com"
        for name, res in self.app.resources.items():
            if res["Type"] == "AWS::Serverless::HttpApi" and self.http_api:
                urls[f"https://{refs[name]}.{suffix}"] = self.http_api.url
            if res["Type"] == "AWS::ApiGatewayV2::Api" and self.websocket_api:
                stage = self.app.websocket_stage
                urls[f"wss://{refs[name]}.{suffix}/{stage}"] = self.websocket_api.url
                urls[f"https://{refs[name]}.{suffix}/{stage}"] = self.websocket_api.management_url
        return urls

    @contextlib.contextmanager
    def aws_environment_applied(self):
        """Point this process's boto3 at the stack while the block runs, then restore what was there."""
        values = self.aws_environment()
        saved = {key: os.environ.get(key) for key in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def function_environment(self, name: str) -> dict[str, str]:
        resolved = self.provisioned.resolver.resolve(self.app.function_environment(name))
        local_urls = self.local_urls()
        return {
            **{key: local_urls.get(str(value), str(value)) for key, value in resolved.items()},
            **self.aws_environment(),
            "AWS_LAMBDA_FUNCTION_NAME": f"{self.provisioned.stack_name}-{name}",
            "POWERTOOLS_TRACE_DISABLED": "true",
            **self.options.extra_env,
        }

    def invoke(self, function: str, event: dict):
        return self.runtimes[function].invoke(event)

    # ----- work in hand (tests wait on it instead of on the clock) -----
    def outstanding(self) -> dict[str, int]:
        """Work the stack holds now, by function: messages on the queues its pollers read for it (visible, in
        flight or delayed) and its invocations not yet returned. Only non-zero entries; stream records not yet
        read are not seen here (`idle` waits for them)."""
        with urllib.request.urlopen(f"{self.moto.url}{STORED_COUNTS_PATH}", timeout=30) as response:
            queued = json.loads(response.read())["queues"]
        work = {}
        for poller in self.pollers:
            if isinstance(poller, QueuePoller):
                name = poller.queue_url.rstrip("/").rsplit("/", 1)[1]
                work[poller.function] = work.get(poller.function, 0) + queued.get(name, 0)
        for name, runtime in self.runtimes.items():
            work[name] = work.get(name, 0) + runtime.running
        return {name: count for name, count in work.items() if count}

    def idle(self, poll_s: float = 0.05) -> bool:
        """True if nothing is left to do: nothing `outstanding`, every stream poller has read its streams to the
        end twice since, and no invocation started meanwhile. Takes about two stream polling intervals."""
        started = sum(runtime.invocations for runtime in self.runtimes.values())
        if self.outstanding():
            return False
        streams = [poller for poller in self.pollers if isinstance(poller, StreamPoller)]
        marks = [poller.empty_polls + 2 for poller in streams]
        while self._running and any(poller.empty_polls < mark for poller, mark in zip(streams, marks, strict=True)):
            time.sleep(poll_s)
        return not self.outstanding() and sum(runtime.invocations for runtime in self.runtimes.values()) == started

    # ----- wiring -----
    def _runtime(self, name: str) -> FunctionRuntime:
        reserved = self.app.functions[name].get("ReservedConcurrentExecutions")
        return FunctionRuntime(
            name,
            self.app.functions[name]["Handler"],
            self.function_environment(name),
            memory_mb=int(self.app.function_setting(name, "MemorySize", 128)),
            timeout_s=int(self.provisioned.resolver.resolve(self.app.function_setting(name, "Timeout", 3))),
            concurrency=min(int(reserved or 2), 2),
            preload=self.options.worker_preload,
            start_method=self.options.worker_start_method,
            telemetry=self.options.telemetry,
        )

    def _make_pollers(self, stream_start: str) -> None:
        sqs, streams = self.client("sqs"), self.client("dynamodbstreams")
        for source in self.app.queue_sources:
            self.pollers.append(
                QueuePoller(
                    sqs,
                    self.resolved(source.queue),
                    self.resolved(source.queue, "Arn"),
                    source.function,
                    self.invoke,
                    batch_size=source.batch_size,
                    reports_item_failures=source.reports_item_failures,
                    retry_delay_s=self.options.retry_delay_s,
                )
            )
        backlog = self.state.stream_backlog if self.state else {}
        for source in self.app.stream_sources:
            key = f"{source.function} {source.table}"
            poller = StreamPoller(
                streams,
                self.resolved(source.table, "StreamArn"),
                source.function,
                self.invoke,
                batch_size=source.batch_size,
                reports_item_failures=source.reports_item_failures,
                max_retries=source.max_retries,
                iterator_type=stream_start,
                replay=backlog.get(key, ()),
            )
            self.pollers.append(poller)
            self._stream_pollers[key] = poller
        for source in self.app.schedule_sources:
            scheduler = self._scheduler(source)
            if scheduler:
                self.pollers.append(scheduler)

    def _scheduler(self, source: ScheduleSource) -> Scheduler | None:
        resolver = self.provisioned.resolver
        where = f"{source.function}.{source.event}"
        if not is_enabled(resolver.resolve(source.enabled)):
            log.info("schedule %s is disabled in the template", where)
            return None
        expression = str(resolver.resolve(source.expression))
        interval = self.options.schedule_interval_s or rate_seconds(expression)
        if interval is None:
            log.warning(
                "schedule %s (%s) is not run locally: only rate(...) expressions are, "
                "unless StackOptions.schedule_interval_s is set",
                where,
                expression,
            )
            return None
        name = f"{self.provisioned.stack_name}-{source.function}{source.event}"
        arn = (
            f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"
            if source.kind == "Schedule"
            else f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{name}"
        )
        return Scheduler(
            source.function,
            source.kind,
            interval,
            arn,
            self.invoke,
            account=ACCOUNT,
            region=REGION,
            input_text=resolver.resolve(source.input),
        )
