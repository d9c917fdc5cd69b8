"""Invoke a function on its template schedule (Schedule and ScheduleV2 events), as EventBridge does."""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from local_stack.runtime import FunctionError

log = logging.getLogger("local_stack.schedule")

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int | None:
    """Seconds between runs of `rate(5 minutes)`; None for cron(...) and at(...) expressions."""
    found = _RATE.match(expression.strip())
    if not found:
        if expression.strip().startswith(("cron(", "at(")):
            return None
        raise ValueError(f"not a schedule expression: {expression!r} (expected rate(...), cron(...) or at(...))")
    value, unit = int(found.group(1)), found.group(2).rstrip("s")
    if value < 1 or (value == 1) != (found.group(2) == unit):
        raise ValueError(f"{expression!r}: use the singular unit for 1 and the plural otherwise, e.g. rate(5 minutes)")
    return value * _UNIT_SECONDS[unit]


def is_enabled(value: Any) -> bool:
    """A resolved Enabled (true/false) or State (ENABLED/DISABLED) value."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "enabled")


def scheduled_event(kind: str, resource_arn: str, account: str, region: str) -> dict:
    """The event EventBridge sends a scheduled target (`sam local generate-event cloudwatch scheduled-event`)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events" if kind == "Schedule" else "aws.scheduler",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [resource_arn],
        "detail": {},
    }


class Scheduler:
    """Runs one schedule: waits the interval, invokes, repeats; one invocation at a time."""

    def __init__(
        self,
        function: str,
        kind: str,
        interval_s: float,
        resource_arn: str,
        invoke: Callable[[str, dict], object],
        *,
        account: str,
        region: str,
        input_text: str | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"schedule interval must be positive, got {interval_s}")
        self.function, self.kind, self.interval_s = function, kind, interval_s
        self.resource_arn, self.invoke = resource_arn, invoke
        self.account, self.region = account, region
        self.input = json.loads(input_text) if input_text else None
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"schedule-{function}", daemon=True)

    def event(self) -> dict:
        if self.input is not None:
            return self.input
        return scheduled_event(self.kind, self.resource_arn, self.account, self.region)

    def start(self) -> None:
        self._thread.start()

    def signal_stop(self) -> None:
        """Take no more work; the work in hand ends as its function's runtime is closed."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def run_once(self) -> object:
        self.runs += 1
        return self.invoke(self.function, self.event())

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except FunctionError as exc:  # EventBridge's async invoke would retry; the next tick does here
                log.warning("scheduled run of %s failed: %s", self.function, exc)
            except Exception:
                if not self._stop.is_set():
                    log.exception("scheduled run of %s failed", self.function)
