"""The terminal's human lines come from the functions' and the edge's own structured log records."""

from __future__ import annotations

import json
import sys

from local_stack.progress import Progress, parse


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lambda_log(message: str, request_id: str = "req-1", **fields) -> dict:
    return {"level": "INFO", "message": message, "function_name": "F", "function_request_id": request_id, **fields}


def platform(kind: str, request_id: str = "req-1", **fields) -> dict:
    return {"type": kind, "record": {"requestId": request_id, "functionName": "SummarizeFunction", **fields}}


def test_each_pipeline_step_reads_as_one_sentence():
    clock = Clock()
    progress = Progress(clock)
    said = []

    def feed(record: dict) -> None:
        line = progress.describe(record)
        if line:
            said.append(line)

    feed(lambda_log("session accepted", session_id="s-1", source="planner"))
    feed(lambda_log("http authorization", allowed=True))
    feed(platform("platform.start"))
    feed(lambda_log("summarizing", session_id="s-1"))
    clock.now += 4.2
    feed(lambda_log("summarized", session_id="s-1", output_tokens=120, cold_start=False))
    clock.now += 1.5
    feed(lambda_log("summarized", session_id="s-2", output_tokens=80, cold_start=False))  # same batch
    feed(platform("platform.report", status="success", durationMs=5700.0))
    feed({"message": "edge worker started", "model": "tiny", "systems": ["nudge", "planner", "synapse"]})
    feed(lambda_log("record stored", summary_id="s-1", system="planner", outcome="created", version=1))
    feed(lambda_log("record stored", summary_id="s-1", system="nudge", outcome="unchanged", version=2))
    feed({"message": "translated", "summaries": ["s-1"], "pairs": 3, "reason": ["refresh"], "seconds": 12.34})
    feed({"message": "refresh resumed", "summary_id": "s-2", "systems": ["nudge", "planner"]})
    feed(lambda_log("record stored", summary_id="s-2", system="synapse", outcome="updated", version=4))
    assert said == [
        "received s-1 from planner",
        "summarizing s-1",
        "summarized s-1 in 4.2 s (120 tokens)",
        "summarized s-2 in 1.5 s (80 tokens)",
        "edge worker ready: tiny translates for nudge, planner, synapse",
        "stored planner v1 for s-1 (1/3 systems)",
        "unchanged: nudge v2 for s-1 (2/3 systems)",
        "translated s-1: 3 system document(s) in 12.3 s (refresh)",
        "refresh of s-2 goes on: nudge, planner stored before the stop",
        "stored synapse v4 for s-2 (3/3 systems)",
    ]
    said.clear()
    feed({"message": "system published", "system": "fitness"})  # added while the edge runs
    feed(lambda_log("record stored", summary_id="s-2", system="fitness", outcome="created", version=1))
    assert said == ["system fitness published to the registry", "stored fitness v1 for s-2 (4/4 systems)"]


def test_a_batch_counts_and_names_only_what_it_stored_and_says_what_deletions_dropped():
    progress = Progress(Clock())
    progress.describe({"message": "edge worker started", "model": "tiny", "systems": ["nudge", "planner", "synapse"]})
    summaries = ["s-1", "t-3", "t-4"]
    progress.describe({"message": "translating", "systems": {i: ["nudge", "planner", "synapse"] for i in summaries}})
    for gone in ("t-3", "t-4"):
        assert progress.describe({"message": "summary gone: results dropped", "summary_id": gone}) is None
    batch = {"message": "translated", "summaries": summaries, "pairs": 9, "reason": ["new"], "seconds": 296.71}
    assert progress.describe({**batch, "stored": {"s-1": 3}, "dropped": {"t-3": 3, "t-4": 3}}) == (
        "translated s-1: 3 system document(s) in 296.7 s (new); 6 dropped: their 2 summaries were deleted "
        "meanwhile (t-3, t-4)"
    )
    assert progress.describe({**batch, "stored": {}, "dropped": {"t-3": 1}}) == (
        "translated in 296.7 s (new), nothing stored; 1 dropped: their summary was deleted meanwhile (t-3)"
    )
    assert progress.describe({**batch, "stored": {"s-1": 3, "t-3": 2}, "dropped": {}}) == (
        "translated s-1, t-3: 5 system document(s) in 296.7 s (new)"
    )


def test_a_refresh_counts_the_systems_it_asked_for():
    progress = Progress(Clock())
    progress.describe({"message": "edge worker started", "model": "tiny", "systems": ["nudge", "planner", "synapse"]})

    def stored(summary_id: str, system: str, outcome: str = "created", version: int = 1) -> str | None:
        record = lambda_log("record stored", summary_id=summary_id, system=system, outcome=outcome, version=version)
        return progress.describe(record)

    progress.describe({"message": "translating", "systems": {"s-1": ["nudge", "planner", "synapse"]}})
    assert [stored("s-1", name) for name in ("nudge", "planner", "synapse")] == [
        "stored nudge v1 for s-1 (1/3 systems)",
        "stored planner v1 for s-1 (2/3 systems)",
        "stored synapse v1 for s-1 (3/3 systems)",
    ]
    progress.describe({"message": "translating", "systems": {"s-1": ["planner"]}})  # a one-system refresh
    assert stored("s-1", "planner", "proposed", 10) == "proposed planner v10 for s-1 (1/1 systems)"
    progress.describe({"message": "refresh resumed", "summary_id": "s-1", "systems": ["nudge", "planner"]})
    progress.describe({"message": "translating", "systems": {"s-1": ["synapse"]}})  # the rest of a refresh of all
    assert stored("s-1", "synapse", "updated", 2) == "stored synapse v2 for s-1 (3/3 systems)"


def test_errors_are_said_in_plain_words():
    progress = Progress(Clock())
    failed = platform("platform.report", status="error", errorType="ValueError", errorMessage="bad session")
    assert progress.describe(failed) == "error: SummarizeFunction failed: ValueError: bad session"
    timed_out = platform("platform.report", status="timeout", durationMs=900000.0, errorType="Sandbox.Timedout")
    assert progress.describe(timed_out) == "error: SummarizeFunction ran out of time after 900 s"
    died = platform("platform.report", status="error", errorType="Runtime.ExitError", errorMessage="pool broke")
    assert progress.describe(died) == (
        "error: SummarizeFunction's worker process died mid-run (out of memory or a crash); a fresh one takes the "
        "next event, and a queue's messages it held come back once the function's timeout has passed"
    )
    logged = {
        "level": "ERROR",
        "message": "translation failed",
        "service": "session-summary-pipeline-edge",
        "summary_id": "s-9",
        "error": "model crashed",
    }
    assert progress.describe(logged) == "error: edge worker: translation failed [s-9] (model crashed)"
    assert progress.describe({"level": "DEBUG", "message": "something internal"}) is None


def raised(error: Exception, cause: Exception | None = None):
    try:
        raise error from cause
    except Exception:
        return sys.exc_info()


def test_a_batch_whose_every_record_failed_is_said_in_one_line_with_the_last_error():
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    from functions.summarize.service import SessionFailed

    batch = BatchProcessingError(
        "All records failed processing. 2 individual errors logged separately below.",
        [
            raised(ValueError("session s-1 is FAILED: cut off")),
            raised(SessionFailed("model stopped with stop_reason=max_tokens"), KeyError("usage")),
        ],
    )
    assert str(batch).count("Traceback") == 2 and "KeyError" in str(batch)  # each record's traceback, with causes
    report = platform("platform.report", status="error", errorType="BatchProcessingError", errorMessage=str(batch))
    assert Progress(Clock()).describe(report) == (
        "error: SummarizeFunction failed: BatchProcessingError: all 2 record(s) of the batch failed; "
        "the last: SessionFailed: model stopped with stop_reason=max_tokens"
    )
    logged = {"level": "ERROR", "message": "upload failed", "service": "x-edge", "error": "first\nsecond"}
    assert Progress(Clock()).describe(logged) == "error: edge worker: upload failed (first)"


def test_a_failed_summary_names_its_session_its_attempt_and_why():
    progress = Progress(Clock())
    failed = lambda_log(
        "summary failed", session_id="s-1", attempt=1, max_attempts=3, final=False, error="cut off\nat 384 tokens"
    )
    failed["level"] = "WARNING"
    assert progress.describe(failed) == "summary of s-1 failed (attempt 1 of 3; it will be tried again): cut off"
    failed.update(attempt=3, final=True)
    assert progress.describe(failed) == "summary of s-1 failed (attempt 3 of 3; the session is now FAILED): cut off"
    failed.update(attempt=1, final=True)
    assert progress.describe(failed) == (
        "summary of s-1 failed (attempt 1; retrying cannot help: the session is now FAILED): cut off"
    )


def test_a_batch_whose_records_each_said_why_they_failed_adds_no_line_of_its_own():
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    from functions.summarize.service import SessionFailed

    def all_failed(request_id: str, records: int) -> dict:
        batch = BatchProcessingError(
            f"All records failed processing. {records} individual errors logged separately below.",
            [raised(SessionFailed("session s-1 is FAILED: cut off"))] * records,
        )
        return platform(
            "platform.report", request_id, status="error", errorType=str(type(batch).__name__), errorMessage=str(batch)
        )

    progress = Progress(Clock())
    failed = lambda_log("summary failed", "req-1", session_id="s-1", attempt=1, max_attempts=3, final=True, error="x")
    assert progress.describe(failed)
    assert progress.describe(all_failed("req-1", 1)) is None
    assert progress.describe(lambda_log("message for a FAILED session sent on to the DLQ", "req-2")) is None
    assert progress.describe(all_failed("req-2", 1)) is None  # a redelivery for a FAILED session: nothing new
    assert progress.describe(lambda_log("message for a FAILED session sent on to the DLQ", "req-3")) is None
    told_of_one = progress.describe(all_failed("req-3", 2))  # the other record's failure was not said
    assert told_of_one and told_of_one.startswith("error: SummarizeFunction failed: BatchProcessingError: all 2")


def test_only_json_objects_are_records():
    assert parse(json.dumps({"message": "x"})) == {"message": "x"}
    assert parse("Traceback (most recent call last):") is None
    assert parse("{not json") is None
    assert parse("[1, 2]") is None
