"""What the edge tells the cloud about its work: the job (systems stored per summary), queue depths, its pace and
models in the heartbeat, on each change; and how long each system's translation took, with its record."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from edge_fakes import EDGE_QUEUE, FakeTranslator, edge_rig

from schemas.contracts import TranslateRequest
from schemas.system_definition import load_systems

NAMES = sorted(load_systems().systems)


@dataclass
class TimedTranslator(FakeTranslator):
    """Each translation says its decoding took 0.25 s, as the MLX translator's stats do."""

    def translate(self, summary_id, summary_text, systems, *, checkpoint):
        return [
            SimpleNamespace(**vars(t), stats=SimpleNamespace(seconds=0.25))
            for t in super().translate(summary_id, summary_text, systems, checkpoint=checkpoint)
        ]


@pytest.fixture
def rig(tmp_path):
    rig = edge_rig(tmp_path / "edge", translator=TimedTranslator())
    yield rig
    rig.worker.stop(grace_s=5)


def request(summary_id: str) -> TranslateRequest:
    return TranslateRequest(summary_id=summary_id, reason="new", request_id=f"new-{summary_id}")


def test_each_change_of_the_work_is_seen_as_it_happens(rig):
    progress = rig.worker.progress
    seen: list[tuple[str, list[tuple[str, int, int]]]] = []
    for name in ("start", "stored", "finish"):
        original = getattr(progress, name)

        def spy(*args, _original=original, **kwargs):
            _original(*args, **kwargs)
            fields = progress.fields()
            job = fields["job"]
            seen.append((fields["state"], [(s.summary_id, s.done, s.total) for s in job.summaries] if job else []))
            assert progress.changed.is_set()  # the heartbeat thread is woken for each

        setattr(progress, name, spy)
    rig.api.add_summary("s1")
    rig.api.add_summary("s2")
    rig.worker.translations.process_many([request("s1"), request("s2")])
    n = len(NAMES)
    assert seen[0] == ("translating", [("s1", 0, n), ("s2", 0, n)])
    assert seen[n] == ("translating", [("s1", n, n), ("s2", 0, n)])
    assert seen[2 * n] == ("translating", [("s1", n, n), ("s2", n, n)])
    assert seen[-1] == ("idle", []) and len(seen) == 2 * n + 2
    assert progress.fields()["seconds_per_summary"] is not None


def test_the_heartbeat_names_the_models_the_queue_depths_and_the_state(rig):
    rig.sqs.send(EDGE_QUEUE, request("s9").model_dump_json())
    rig.worker.heartbeat()
    beat = rig.api.beats[-1]
    assert (beat.model_id, beat.model_version) == ("fake-model", rig.translator.model_version)
    assert beat.embedding_version == rig.embedder.version and beat.state == "idle" and beat.job is None
    assert (beat.queue.edge, beat.queue.edge_in_flight) == (1, 0)


def test_without_sqs_the_heartbeat_goes_without_depths(rig):
    rig.sqs.failing.add("get_queue_attributes")
    rig.worker.heartbeat()
    assert rig.api.beats[-1].queue is None and rig.api.beats[-1].state == "idle"


def test_an_edge_without_an_embedder_still_reports(tmp_path):
    rig = edge_rig(tmp_path / "edge", embedder=False)
    try:
        rig.worker.heartbeat()
        assert rig.api.beats[-1].embedding_version is None and rig.api.beats[-1].model_id == "fake-model"
    finally:
        rig.worker.stop(grace_s=5)


def test_each_record_carries_how_long_its_translation_took(rig):
    rig.api.add_summary("s1")
    rig.worker.translations.process(request("s1"))
    assert [upload.translate_ms for upload in rig.api.uploads] == [250] * len(NAMES)


def test_a_translation_without_timing_uploads_none(tmp_path):
    rig = edge_rig(tmp_path / "edge")
    try:
        rig.api.add_summary("s1")
        rig.worker.translations.process(request("s1"))
        assert {upload.translate_ms for upload in rig.api.uploads} == {None}
    finally:
        rig.worker.stop(grace_s=5)


def logged(caplog, message: str) -> list:
    return [record for record in caplog.records if record.getMessage() == message]


def test_a_batch_logs_what_each_request_asked_for_what_it_stored_and_what_a_deletion_dropped(rig, caplog):
    rig.api.add_summary("s1")
    rig.api.add_summary("s2")

    def deleted_meanwhile(summary_id: str, system: str) -> None:
        if summary_id == "s2":
            rig.api.summaries.pop("s2", None)

    rig.api.before_record = deleted_meanwhile
    rig.worker.translations.process_many([request("s1"), request("s2")])
    [started] = logged(caplog, "translating")
    assert started.systems == {"s1": NAMES, "s2": NAMES}
    [done] = logged(caplog, "translated")  # only s1's records were stored; s2's were all dropped
    assert (done.stored, done.dropped, done.pairs) == ({"s1": len(NAMES)}, {"s2": len(NAMES)}, 2 * len(NAMES))

    caplog.clear()
    rig.worker.translations.process(
        TranslateRequest(summary_id="s1", system="planner", reason="refresh", request_id="rf-1")
    )
    [started] = logged(caplog, "translating")
    [done] = logged(caplog, "translated")
    assert (started.systems, done.stored, done.dropped) == ({"s1": ["planner"]}, {"s1": 1}, {})
