"""One human line per pipeline step, read from the structured logs the functions and the edge already write.

Input: Powertools JSON log records (the functions' and the edge's), and the runtime's Lambda platform events
(`platform.start`, `platform.report`, shaped like Lambda's JSON log format). Output: short sentences such as
`received s-1 from planner`, `summarizing s-1`, `summarized s-1 in 4.2 s`, `stored planner v1 for s-1 (2/3 systems)`.
"""

from __future__ import annotations

import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

Record = dict[str, Any]
KEPT_REQUESTS = 1000  # start times remembered; the oldest are forgotten


def parse(line: str) -> Record | None:
    """The JSON object a log line holds, or None for plain text."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


class Progress:
    """Turns records into human lines; keeps what a line needs from earlier records (start times, system count).

    `clock` gives seconds (time.monotonic by default): durations are measured as records arrive.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started: OrderedDict[str, float] = OrderedDict()  # request id -> when it (or its last summary) started
        self.systems: list[str] = []
        self.stored: dict[str, set[str]] = {}  # summary id -> systems stored for its latest request
        self.asked: dict[str, int] = {}  # summary id -> systems its latest request asked for (the edge's job)
        self.resumed: dict[str, set[str]] = {}  # summary id -> systems a resumed refresh stored before a stop
        self.told: dict[str, int] = {}  # request id -> its records whose failure was told by their own log line

    def describe(self, record: Record) -> str | None:
        kind = record.get("type")
        if kind == "platform.start":
            self.started[record["record"]["requestId"]] = self.clock()
            while len(self.started) > KEPT_REQUESTS:
                self.started.popitem(last=False)
            return None
        if kind == "platform.report":
            return self._report(record["record"])
        message = record.get("message")
        if not isinstance(message, str):
            return None
        handler = _HANDLERS.get(message)
        if handler:
            return handler(self, record)
        if record.get("level") in ("ERROR", "CRITICAL", "WARNING"):
            return self._problem(record)
        return None

    # ----- one method per event -----
    def _accepted(self, record: Record) -> str:
        again = " (again: already accepted)" if record["message"] == "session already accepted" else ""
        return f"received {record.get('session_id')} from {record.get('source')}{again}"

    def _summarizing(self, record: Record) -> str:
        return f"summarizing {record.get('session_id')}"

    def _summarized(self, record: Record) -> str:
        request_id = str(record.get("function_request_id", ""))
        began, now = self.started.get(request_id), self.clock()
        self.started[request_id] = now  # the next summary of the same batch starts now
        took = f" in {now - began:.1f} s" if began is not None else ""
        cold = ", with the function's cold start" if record.get("cold_start") else ""
        return f"summarized {record.get('session_id')}{took} ({record.get('output_tokens')} tokens{cold})"

    def _edge_started(self, record: Record) -> str:
        self.systems = list(record.get("systems") or [])
        return f"edge worker ready: {record.get('model')} translates for {', '.join(self.systems)}"

    def _published(self, record: Record) -> str:
        if self.systems and record.get("system") not in self.systems:  # added while the edge runs
            self.systems.append(str(record.get("system")))
        return f"system {record.get('system')} published to the registry"

    def _translating(self, record: Record) -> None:
        """The edge starts a job: each summary's count starts again, out of the systems its request asked for (and
        those a resumed refresh stored before a stop)."""
        for summary_id, systems in (record.get("systems") or {}).items():
            resumed = self.resumed.pop(str(summary_id), set())
            self.stored[str(summary_id)] = set(resumed)
            self.asked[str(summary_id)] = len(resumed) + len(systems or [])

    def _translated(self, record: Record) -> str:
        took = f"in {float(record.get('seconds') or 0):.1f} s ({', '.join(record.get('reason') or [])})"
        stored, dropped = record.get("stored"), record.get("dropped") or {}
        if not isinstance(stored, dict):  # an edge from before `stored`: what it translated
            stored = {", ".join(record.get("summaries") or []): record.get("pairs") or 0}
        line = (
            f"translated {', '.join(stored)}: {sum(stored.values())} system document(s) {took}"
            if stored
            else f"translated {took}, nothing stored"
        )
        if dropped:  # deleted while translated: only what was stored is counted above
            whose = "their summary was" if len(dropped) == 1 else f"their {len(dropped)} summaries were"
            line += f"; {sum(dropped.values())} dropped: {whose} deleted meanwhile ({', '.join(dropped)})"
        return line

    def _stored(self, record: Record) -> str:
        summary_id, system = str(record.get("summary_id")), str(record.get("system"))
        done = self.stored.setdefault(summary_id, set())
        done.add(system)
        total = self.asked.get(summary_id, len(self.systems))
        count = f" ({len(done)}/{max(total, len(done))} systems)" if total else ""
        outcome = record.get("outcome")
        verb = {"unchanged": "unchanged:", "proposed": "proposed"}.get(str(outcome), "stored")
        return f"{verb} {system} v{record.get('version')} for {summary_id}{count}"

    def _resumed(self, record: Record) -> str:
        systems = [str(name) for name in record.get("systems") or []]
        self.stored.setdefault(str(record.get("summary_id")), set()).update(systems)
        self.resumed[str(record.get("summary_id"))] = set(systems)
        return f"refresh of {record.get('summary_id')} goes on: {', '.join(systems)} stored before the stop"

    def _embedded(self, record: Record) -> str:
        return f"embedded {record.get('summary_id')} for search"

    def _summary_failed(self, record: Record) -> str:
        self._told(record)
        attempt, attempts = record.get("attempt"), record.get("max_attempts")
        if not record.get("final"):
            then = f"attempt {attempt} of {attempts}; it will be tried again"
        elif isinstance(attempt, int) and isinstance(attempts, int) and attempt < attempts:
            then = f"attempt {attempt}; retrying cannot help: the session is now FAILED"
        else:
            then = f"attempt {attempt} of {attempts}; the session is now FAILED"
        return f"summary of {record.get('session_id')} failed ({then}): {_first_line(record.get('error'))}"

    def _told(self, record: Record) -> None:
        """Count a record of this request whose failure has its own line (or needs none)."""
        request_id = str(record.get("function_request_id", ""))
        self.told[request_id] = self.told.get(request_id, 0) + 1
        while len(self.told) > KEPT_REQUESTS:
            del self.told[next(iter(self.told))]

    def _failed_session(self, record: Record) -> str:
        return f"session {record.get('session_id')} FAILED after {record.get('attempts')} attempt(s): retry it later"

    def _released(self, record: Record) -> str:
        return f"edge worker put {record.get('count')} unfinished message(s) back for later"

    def _report(self, report: Record) -> str | None:
        # The request's start stays: its workers' last log lines may still be on their way through the pipe.
        if report.get("status") == "success":
            return None
        function = report.get("functionName", "a function")
        error = report.get("errorType", "")
        if report.get("status") == "stopped":
            return f"{function} was stopped mid-run: its work runs again on the next start"
        if report.get("status") == "timeout":
            return f"error: {function} ran out of time after {report.get('durationMs', 0) / 1000:.0f} s"
        if error == "Runtime.ExitError":  # its worker process died: an OOM kill or a native crash
            return (
                f"error: {function}'s worker process died mid-run (out of memory or a crash); a fresh one takes the "
                "next event, and a queue's messages it held come back once the function's timeout has passed"
            )
        told = self.told.pop(str(report.get("requestId", "")), 0)
        if error == "BatchProcessingError" and told and told == _failed_records(report.get("errorMessage")):
            return None  # every record's failure was said on its own line
        return f"error: {function} failed: {error}: {_error_line(report.get('errorMessage'))}".rstrip(": ")

    def _problem(self, record: Record) -> str:
        where = record.get("function_name") or (
            "edge worker" if str(record.get("service", "")).endswith("edge") else ""
        )
        detail = record.get("error") or record.get("problem") or record.get("exception", "").splitlines()[-1:] or ""
        if isinstance(detail, list):
            detail = detail[0] if detail else ""
        detail = _first_line(detail)
        word = "warning" if record.get("level") == "WARNING" else "error"
        about = record.get("session_id") or record.get("summary_id")
        return " ".join(
            part
            for part in (f"{word}:", f"{where}:" if where else "", record["message"], f"[{about}]" if about else "")
            if part
        ) + (f" ({detail})" if detail else "")


def _first_line(text: Any) -> str:
    """An error's first non-empty line."""
    return next((line.strip() for line in str(text or "").splitlines() if line.strip()), "")


def _failed_records(text: Any) -> int | None:
    """How many records a batch's error says failed, when every one did (Powertools' BatchProcessingError)."""
    count = re.match(r"All records failed processing\. (\d+) individual errors", _first_line(text))
    return int(count[1]) if count else None


def _error_line(text: Any) -> str:
    """An invocation's error in one line. A batch whose every record failed (BatchProcessingError: a first line,
    then each record's traceback) is told by its count and the last exception raised."""
    count = _failed_records(text)
    raised = [
        line
        for line in str(text or "").splitlines()
        if line and not line[0].isspace() and not line.startswith(_TRACEBACK_LINES)
    ]
    if count is None or len(raised) < 2:
        return _first_line(text)
    last = re.sub(r"^[\w.]+\.(\w+): ", r"\1: ", raised[-1])  # the exception's class without its module
    return f"all {count} record(s) of the batch failed; the last: {last}"


_TRACEBACK_LINES = ("Traceback (most recent call last)", "The above exception", "During handling of the above")


_HANDLERS: dict[str, Callable[[Progress, Record], str | None]] = {
    "session accepted": Progress._accepted,
    "session already accepted": Progress._accepted,
    "summarizing": Progress._summarizing,
    "summarized": Progress._summarized,
    "edge worker started": Progress._edge_started,
    "system published": Progress._published,
    "translating": Progress._translating,
    "translated": Progress._translated,
    "record stored": Progress._stored,
    "refresh resumed": Progress._resumed,
    "embedded": Progress._embedded,
    "summary failed": Progress._summary_failed,
    "message for a FAILED session sent on to the DLQ": Progress._told,
    "dead-lettered session marked FAILED": Progress._failed_session,
    "in-flight messages released for later": Progress._released,
}
