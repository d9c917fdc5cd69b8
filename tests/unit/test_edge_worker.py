"""The edge worker's decisions over in-memory clients: what to translate, a 409, the outbox, leases, status."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from edge_fakes import EDGE_QUEUE, FakeTranslator, edge_rig

from edge_worker.jobs import lineage_for
from edge_worker.logs import SERVICE
from edge_worker.model_thread import Cancelled
from schemas.contracts import TranslateRequest
from schemas.system_definition import default_systems_dir, load_systems

SYSTEMS = load_systems().systems
NAMES = sorted(SYSTEMS)


@pytest.fixture
def rig(tmp_path):
    rig = edge_rig(tmp_path / "edge")
    yield rig
    rig.worker.stop(grace_s=5)


def translate(summary_id: str, reason: str = "new", **fields) -> TranslateRequest:
    return TranslateRequest(summary_id=summary_id, reason=reason, request_id=f"req-{summary_id}", **fields)


def versions(rig, summary_id: str) -> dict[str, int]:
    return {name: state["version"] for name, state in rig.api.summaries[summary_id]["systems"].items()}


def test_a_new_summary_is_translated_for_every_system_and_embedded(rig):
    rig.api.add_summary("s1")
    assert rig.worker.translations.process(translate("s1")) == len(NAMES)
    assert rig.translator.calls == [("s1", NAMES)]
    assert versions(rig, "s1") == dict.fromkeys(NAMES, 1)
    assert rig.api.summaries["s1"]["embedding_version"] == rig.embedder.version
    assert (rig.worker.status.translated, rig.worker.status.stored, rig.worker.status.embedded) == (len(NAMES), 3, 1)


def test_only_missing_or_outdated_systems_are_translated_unless_refreshed(rig):
    rig.api.add_summary("s1")
    current, outdated, missing = NAMES
    model_version = rig.translator.model_version
    rig.api.store_record("s1", current, {"old": True}, lineage_for(SYSTEMS[current], model_version))
    rig.api.store_record("s1", outdated, {"old": True}, lineage_for(SYSTEMS[outdated], "translator-model:older"))

    assert rig.worker.translations.process(translate("s1")) == 2
    assert rig.translator.calls == [("s1", sorted([outdated, missing]))]
    assert versions(rig, "s1") == {current: 1, outdated: 2, missing: 1}

    assert rig.worker.translations.process(translate("s1", reason="refresh", system=current)) == 1
    assert rig.translator.calls[-1] == ("s1", [current])
    assert versions(rig, "s1")[current] == 2
    assert rig.worker.translations.process(translate("s1")) == 0  # everything current now


def test_a_request_for_an_unknown_system_is_skipped_without_reading_the_summary(rig):
    rig.api.add_summary("s1")
    assert rig.worker.translations.process(translate("s1", system="nosuch")) == 0
    assert rig.api.sent == [] and rig.translator.calls == []


def test_a_409_for_this_very_translation_is_left_to_the_other_worker(rig):
    rig.api.add_summary("s1")
    system = NAMES[0]

    def another_worker_first(summary_id: str, name: str) -> None:
        if name == system and not rig.api.summaries[summary_id]["systems"].get(name):
            lineage = lineage_for(SYSTEMS[name], rig.translator.model_version)
            rig.api.store_record(summary_id, name, {"summary": "theirs", "system": name}, lineage)

    rig.api.before_record = another_worker_first
    assert rig.worker.translations.process(translate("s1", system=system)) == 1
    assert rig.api.documents[("s1", system)] == [{"summary": "theirs", "system": system}]  # not overwritten
    assert rig.worker.status.stored == 0 and rig.worker.status.last_error is None


def test_a_409_on_a_refresh_is_stored_over_the_newer_version(rig):
    rig.api.add_summary("s1")
    system = NAMES[0]
    lineage = lineage_for(SYSTEMS[system], rig.translator.model_version)
    rig.api.store_record("s1", system, {"first": True}, lineage)

    def someone_else_stores_version_2(summary_id: str, name: str) -> None:
        if versions(rig, summary_id)[name] == 1:
            rig.api.store_record(summary_id, name, {"second": True}, lineage)

    rig.api.before_record = someone_else_stores_version_2
    assert rig.worker.translations.process(translate("s1", reason="refresh", system=system)) == 1
    assert versions(rig, "s1")[system] == 3
    assert rig.api.documents[("s1", system)][-1]["summary"] == rig.api.summaries["s1"]["text"]
    assert rig.worker.status.stored == 1


def test_results_wait_in_the_outbox_in_order_and_are_replayed_when_the_api_is_back(rig):
    rig.api.add_summary("s1")
    rig.api.refused = {"PUT"}  # the summary can be read, nothing can be stored
    assert rig.worker.translations.process(translate("s1")) == len(NAMES)
    outbox = rig.worker.outbox
    assert rig.worker.status.outboxed == len(NAMES) and rig.worker.status.stored == 0
    assert outbox.size() == 2 + 3 * len(NAMES)  # embedding model, embedding; per system: model, prompt, record

    rig.api.refused = set()
    rig.api.sent.clear()
    assert rig.worker.flush_outbox() == 2 + 3 * len(NAMES)
    assert outbox.size() == 0
    paths = [path for method, path in rig.api.sent if method == "PUT"]
    assert paths[0].startswith("/edge/registry/embedding-model:") and paths[1] == "/edge/summaries/s1/embedding"
    for name in NAMES:  # each record after the registry entries of its lineage
        record = paths.index(f"/edge/summaries/s1/systems/{name}")
        lineage = lineage_for(SYSTEMS[name], rig.translator.model_version)
        assert paths.index(f"/edge/registry/{lineage['translator_prompt_version']}") < record
        assert paths.index(f"/edge/registry/{lineage['translator_model_version']}") < record
    assert versions(rig, "s1") == dict.fromkeys(NAMES, 1)
    assert rig.worker.status.last_error is None


def test_a_rejected_outbox_entry_is_set_aside_and_reported_and_the_rest_still_sent(rig, tmp_path):
    rig.worker.outbox.add("PUT", "/edge/systems/planner", {"name": "planner"})
    rig.worker.outbox.add("PUT", "/edge/systems/nudge", {"name": "nudge"})
    rig.api.rejections["/edge/systems/planner"] = (422, "definition is broken")
    assert rig.worker.flush_outbox() == 2
    assert list(rig.api.systems) == ["nudge"]
    assert "definition is broken" in rig.worker.status.last_error
    assert [d.path for d in rig.worker.outbox.dead_letters()] == ["/edge/systems/planner"]
    assert json.loads((tmp_path / "edge" / "status.json").read_text())["dead_letters"] == 1


def test_a_publish_the_api_fails_for_good_is_set_aside_and_the_results_queued_after_it_are_delivered(tmp_path):
    rig = edge_rig(tmp_path / "edge", loaded=False, outbox_retry_seconds=0, outbox_max_attempts=3)
    rig.api.add_summary("s1")
    rig.api.available = False
    rig.worker.start()
    try:
        rig.api.available, rig.api.refused = True, {"PUT"}
        rig.worker.translations.process(translate("s1"))  # results wait behind the systems in the outbox
        rig.api.refused = set()
        rig.api.rejections["/edge/systems/planner"] = (500, "Float types are not supported")
        for _ in range(3):
            rig.worker.flush_outbox()
        assert rig.worker.outbox.size() == 0
        assert sorted(rig.api.systems) == [name for name in NAMES if name != "planner"]
        assert versions(rig, "s1") == dict.fromkeys(NAMES, 1)
        [kept] = rig.worker.outbox.dead_letters()
        assert kept.path == "/edge/systems/planner" and "HTTP 500" in kept.reason and kept.attempts == 3
        status = json.loads((tmp_path / "edge" / "status.json").read_text())
        assert status["dead_letters"] == 1 and "/edge/systems/planner" in status["last_error"]
    finally:
        rig.worker.stop()


def test_one_summary_the_cloud_refuses_does_not_stop_reconcile_for_the_others(rig):
    for summary_id in ("s1", "s2", "s3"):
        rig.api.add_summary(summary_id)
    rig.api.rejections["/edge/summaries/s2"] = (422, "not translatable now")
    rig.api.rejections["/edge/summaries/s3"] = (404, "no summarized session s3")  # deleted since it was listed
    assert rig.worker.translations.reconcile() == len(NAMES)
    assert [summary for summary, _ in rig.translator.calls] == ["s1"]
    assert "s2" in rig.worker.status.last_error and "s3" not in rig.worker.status.last_error


def test_one_system_the_cloud_refuses_does_not_stop_the_others_being_stored(rig):
    rig.api.add_summary("s1")
    rig.api.rejections[f"/edge/summaries/s1/systems/{NAMES[0]}"] = (
        404,
        f"system {NAMES[0]} has not been published",
        "unknown_system",
    )
    assert rig.worker.translations.process(translate("s1")) == len(NAMES)
    assert versions(rig, "s1") == dict.fromkeys(NAMES[1:], 1)
    assert "has not been published" in rig.worker.status.last_error


def test_an_embedding_the_cloud_refuses_does_not_stop_the_translations(rig):
    rig.api.add_summary("s1")
    rig.api.rejections["/edge/summaries/s1/embedding"] = (422, "vector has the wrong length")
    assert rig.worker.translations.process(translate("s1")) == len(NAMES)
    assert versions(rig, "s1") == dict.fromkeys(NAMES, 1)
    assert "wrong length" in rig.worker.status.last_error


def test_a_refresh_message_that_came_back_after_a_stop_does_not_redo_what_that_refresh_stored(rig):
    rig.api.add_summary("s1")
    first, *rest = NAMES
    requests = [translate("s1", reason="refresh", system=name) for name in NAMES]  # one refresh: one request id
    assert rig.worker.translations.process(requests[0]) == 1  # stored before the stop released the messages
    asked = len(rig.translator.calls)
    assert rig.worker.translations.process_many(requests) == [0, 1, 1]
    assert rig.translator.calls[asked:] == [("s1", [rest[0]]), ("s1", [rest[1]])]
    again = TranslateRequest(summary_id="s1", reason="refresh", request_id="req-later", system=first)
    assert rig.worker.translations.process(again) == 1  # a later refresh is done again
    assert rig.translator.calls[-1] == ("s1", [first])


def test_a_summary_deleted_while_it_is_translated_drops_its_results_without_an_error(rig):
    rig.api.add_summary("s1")
    rig.api.before_record = lambda summary_id, system: rig.api.summaries.pop(summary_id, None)
    assert rig.worker.translations.process(translate("s1")) == len(NAMES)
    assert len(rig.api.uploads) == 1  # the first 404 says the summary is gone: the other results are not sent
    assert rig.worker.status.last_error is None and rig.worker.status.stored == 0


def test_a_done_message_is_deleted_and_a_failed_one_stays_for_its_timeout(rig):
    rig.api.add_summary("s1")
    rig.api.add_summary("busy")
    rig.api.rejections["/edge/summaries/busy"] = (422, "not translatable now")
    rig.sqs.send(EDGE_QUEUE, translate("s1").model_dump_json())
    rig.sqs.send(EDGE_QUEUE, translate("busy").model_dump_json())
    rig.worker.start()
    assert rig.sqs.wait_for(lambda: rig.sqs.in_flight(EDGE_QUEUE) and not rig.sqs.visible(EDGE_QUEUE))
    assert rig.sqs.wait_for(lambda: rig.worker.status.last_error is not None)
    held = lambda: [json.loads(body)["summary_id"] for body in rig.sqs.in_flight(EDGE_QUEUE)]  # noqa: E731
    assert rig.sqs.wait_for(lambda: held() == ["busy"]), held()
    assert "HTTP 422" in rig.worker.status.last_error
    assert versions(rig, "s1") == dict.fromkeys(NAMES, 1)


def test_a_request_for_a_deleted_summary_is_dropped(rig):
    rig.api.add_summary("s1")
    rig.sqs.send(EDGE_QUEUE, translate("gone").model_dump_json())  # deleted meanwhile: HTTP 404
    rig.sqs.send(EDGE_QUEUE, translate("s1").model_dump_json())
    rig.worker.start()
    assert rig.sqs.wait_for(lambda: versions(rig, "s1") == dict.fromkeys(NAMES, 1))
    assert rig.sqs.wait_for(lambda: not rig.sqs.in_flight(EDGE_QUEUE) and not rig.sqs.visible(EDGE_QUEUE))
    assert rig.worker.status.last_error is None


def test_stop_past_the_grace_period_cancels_the_translation_and_releases_its_message(tmp_path):
    rig = edge_rig(tmp_path / "edge", translator=FakeTranslator(hold=threading.Event()))
    rig.api.add_summary("s1")
    rig.sqs.send(EDGE_QUEUE, translate("s1").model_dump_json())
    rig.worker.start()
    assert rig.translator.started.wait(10)
    with logged_messages() as messages:
        assert rig.worker.stop(grace_s=0.05) is True
    assert any("grace period over" in message for message in messages)
    assert rig.sqs.visible(EDGE_QUEUE) == [translate("s1").model_dump_json()]  # given back, not held or deleted
    assert not any(operation == "delete_message" for operation, _ in rig.sqs.calls)
    assert rig.api.summaries["s1"]["systems"] == {} and rig.worker.status.last_error is None
    assert rig.worker.stop() is True  # a second stop gives the first answer


def test_an_idle_worker_stopped_during_its_long_poll_says_nothing_of_work_in_flight(tmp_path):
    rig = edge_rig(tmp_path / "edge")
    rig.sqs.max_wait_s = 2.0  # a long poll that outlasts the grace period
    rig.worker.start()
    assert rig.sqs.wait_for(lambda: any(operation == "receive_message" for operation, _ in rig.sqs.calls))
    with logged_messages() as messages:
        assert rig.worker.stop(grace_s=0.05) is True
    assert not any("grace period over" in message for message in messages), messages


@contextlib.contextmanager
def logged_messages():
    """The edge logger's messages while the block runs."""
    messages: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    edge_logger = logging.getLogger(SERVICE)
    edge_logger.addHandler(handler)
    try:
        yield messages
    finally:
        edge_logger.removeHandler(handler)


def test_a_stopping_worker_takes_no_new_work(rig):
    rig.api.add_summary("s1")
    rig.worker.stop_event.set()
    with pytest.raises(Cancelled, match="stopping"):
        rig.worker.translations.process(translate("s1"))
    assert rig.api.sent == []


def test_reconcile_does_what_a_lost_message_left_undone(rig):
    for summary_id in ("s1", "s2"):
        rig.api.add_summary(summary_id)
    rig.worker.translations.process(translate("s1"))
    rig.translator.calls.clear()
    assert rig.worker.translations.reconcile() == len(NAMES)
    assert rig.translator.calls == [("s2", NAMES)]


def test_the_status_file_reports_counts_outbox_systems_and_the_last_error(rig, tmp_path):
    rig.api.add_summary("s1")
    rig.worker.translations.process(translate("s1"))
    status = json.loads((tmp_path / "edge" / "status.json").read_text())
    assert (status["translated"], status["stored"], status["outbox"]) == (len(NAMES), len(NAMES), 0)
    assert status["systems"] == NAMES and status["model_version"] == rig.translator.model_version
    assert status["last_error"] is None and status["embedded"] == 1

    rig.api.refused = {"PUT"}
    rig.worker.translations.process(translate("s1", reason="refresh", system=NAMES[0]))
    status = json.loads((tmp_path / "edge" / "status.json").read_text())
    assert (status["outboxed"], status["outbox"]) == (1, 1)

    rig.api.refused = set()
    rig.api.rejections[f"/edge/summaries/s1/systems/{NAMES[0]}"] = (422, "document does not match")
    rig.worker.flush_outbox()
    status = json.loads((tmp_path / "edge" / "status.json").read_text())
    assert "document does not match" in status["last_error"] and status["last_error_at"].endswith("Z")
    assert status["outbox"] == 0


def unsupported_systems(folder) -> list[str]:
    """The shipped systems plus one no grammar can enforce (uniqueItems) and one llguidance cannot compile."""
    shutil.copytree(default_systems_dir(), folder)
    planner = json.loads((default_systems_dir() / "planner.json").read_text())
    tags = {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
    atomic = {"type": "string", "pattern": "^(?>a)b$"}
    for name, field in (("tagged", tags), ("atomic", atomic)):
        schema = {"type": "object", "properties": {"field": field}, "required": ["field"]}
        definition = {**planner, "name": name, "schema": schema, "examples": []}
        (folder / f"{name}.json").write_text(json.dumps(definition))
    return ["atomic.json", "tagged.json"]


def test_a_definition_that_cannot_be_compiled_is_reported_never_published_and_the_others_go_on(tmp_path):
    broken = unsupported_systems(tmp_path / "systems")
    rig = edge_rig(tmp_path / "edge", loaded=False, systems_dirs=[tmp_path / "systems"])
    rig.api.add_summary("s1")
    rig.worker.start()
    try:
        assert sorted(rig.api.systems) == NAMES  # only the shipped ones were published
        assert sorted(Path(problem.split(":")[0]).name for problem in rig.worker.status.broken_files) == broken
        # the first reconcile pass translates the summary for every loaded system
        assert rig.sqs.wait_for(lambda: versions(rig, "s1") == dict.fromkeys(NAMES, 1))
        assert rig.translator.calls == [("s1", NAMES)]
    finally:
        rig.worker.stop()


def test_a_system_the_translator_cannot_do_is_reported_and_never_published_or_translated(tmp_path):
    unfit = {NAMES[0]: f"system {NAMES[0]!r}: the smallest valid document needs more than 2 tokens"}
    rig = edge_rig(tmp_path / "edge", translator=FakeTranslator(unfit=unfit), loaded=False)
    rig.api.add_summary("s1")
    rig.worker.start()
    try:
        assert sorted(rig.api.systems) == NAMES[1:]
        assert any("smallest valid document" in problem for problem in rig.worker.status.broken_files)
        assert rig.sqs.wait_for(lambda: versions(rig, "s1") == dict.fromkeys(NAMES[1:], 1))
        assert rig.translator.calls == [("s1", NAMES[1:])]
    finally:
        rig.worker.stop()


def test_the_systems_command_and_the_worker_call_the_same_definitions_broken(tmp_path, capsys):
    from edge_worker.catalog import SystemCatalog
    from edge_worker.cli import main

    broken = unsupported_systems(tmp_path / "systems")
    _, errors = SystemCatalog([tmp_path / "systems"]).reload()
    assert main(["systems", "--dir", str(tmp_path / "systems")]) == 1
    reported = [line for line in capsys.readouterr().err.splitlines() if line.startswith("broken:")]
    assert sorted(error.path.name for error in errors) == broken
    assert sorted(Path(line.removeprefix("broken: ").split(":")[0]).name for line in reported) == broken


def test_systems_the_api_cannot_take_at_start_are_published_from_the_outbox(tmp_path):
    rig = edge_rig(tmp_path / "edge", loaded=False)
    rig.api.available = False
    rig.worker.start()
    try:
        assert rig.worker.outbox.size() == 2 * len(NAMES)  # each system's prompt entry, then the system
        rig.api.available = True
        assert rig.worker.flush_outbox() == 2 * len(NAMES)
        assert sorted(rig.api.systems) == NAMES
        prompts = [path for _, path in rig.api.sent if path.startswith("/edge/registry/translator-prompt")]
        assert len(prompts) == len(NAMES)
    finally:
        rig.worker.stop()


def test_a_system_the_api_already_has_is_not_said_to_be_published_again(tmp_path, caplog):
    from edge_worker.catalog import SystemCatalog

    rig = edge_rig(tmp_path / "edge", loaded=False)
    rig.worker.start()
    try:
        definitions, _ = SystemCatalog(rig.worker.config.systems_dirs).reload()
        rig.worker._on_systems_changed(definitions, [])  # as on the next start: every definition is new to it
    finally:
        rig.worker.stop()
    said = [(r.getMessage(), r.system) for r in caplog.records if r.getMessage().startswith("system ")]
    assert said == [("system published", n) for n in NAMES] + [("system already published", n) for n in NAMES]


BACKFILL_QUEUE = "http://sqs.local/000000000000/backfill.fifo"


def test_a_user_refresh_goes_before_the_backfill_waiting(tmp_path):
    rig = edge_rig(
        tmp_path / "edge",
        translator=FakeTranslator(hold=threading.Event()),
        backfill_queue_url=BACKFILL_QUEUE,
        batch_size=2,
    )
    for index in range(5):
        rig.api.add_summary(f"s{index}")
        rig.sqs.send(BACKFILL_QUEUE, translate(f"s{index}", reason="backfill", system="planner").model_dump_json())
    rig.api.add_summary("mine")
    rig.api.pending_page = lambda next_token=None, limit=100: {"items": [], "next": None}  # no reconcile work
    try:
        rig.worker.start()
        assert rig.translator.started.wait(10)  # the first backfill batch is being translated
        rig.sqs.send(EDGE_QUEUE, translate("mine", reason="refresh", system="nudge").model_dump_json())
        rig.translator.hold.set()
        assert rig.sqs.wait_for(lambda: not rig.sqs.visible(BACKFILL_QUEUE) and not rig.sqs.in_flight(BACKFILL_QUEUE))
        assert rig.translator.batches == [["s0", "s1"], ["mine"], ["s2", "s3"], ["s4"]]
        assert versions(rig, "mine") == {"nudge": 1}
    finally:
        rig.worker.stop(grace_s=5)


def test_messages_received_together_are_translated_as_one_batch(tmp_path):
    rig = edge_rig(tmp_path / "edge", batch_size=8)
    for summary_id in ("a", "b", "c"):
        rig.api.add_summary(summary_id)
        rig.sqs.send(EDGE_QUEUE, translate(summary_id).model_dump_json())
    try:
        rig.worker.start()
        assert rig.sqs.wait_for(lambda: not rig.sqs.visible(EDGE_QUEUE) and not rig.sqs.in_flight(EDGE_QUEUE))
        assert rig.translator.batches == [["a", "b", "c"]]
        assert all(versions(rig, s) == dict.fromkeys(NAMES, 1) for s in ("a", "b", "c"))
    finally:
        rig.worker.stop(grace_s=5)


def test_two_requests_for_one_summary_in_a_batch_are_done_one_after_the_other(rig):
    rig.api.add_summary("s1")
    results = rig.worker.translations.process_many(
        [translate("s1"), translate("s1", reason="refresh", system="nudge")], batch_size=8
    )
    assert results == [len(NAMES), 1]
    assert rig.translator.batches == [["s1"], ["s1"]]
    assert rig.translator.calls[-1] == ("s1", ["nudge"])
    assert rig.worker.status.unchanged == 1  # the same document again: the cloud keeps version 1


def test_a_system_that_fails_is_reported_by_name_and_the_others_are_stored(rig):
    rig.api.add_summary("s1")
    failing = SimpleNamespace(system="planner", error="system 'planner': output did not complete within 8 tokens")
    real = rig.translator.translate

    def translate_with_one_failure(summary_id, summary_text, systems, *, checkpoint):
        return [
            failing if s.name == "planner" else t
            for s, t in zip(systems, real(summary_id, summary_text, systems, checkpoint=checkpoint), strict=True)
        ]

    rig.translator.translate = translate_with_one_failure  # type: ignore[method-assign]
    assert rig.worker.translations.process(translate("s1")) == len(NAMES) - 1
    assert set(versions(rig, "s1")) == set(NAMES) - {"planner"}
    assert rig.worker.status.failed == 1
    assert "system planner" in rig.worker.status.last_error and "did not complete" in rig.worker.status.last_error


def test_the_reconcile_pass_drops_dead_letters_of_summaries_deleted_in_the_cloud(rig):
    for summary_id in ("s1", "s2"):
        rig.api.add_summary(summary_id)
        rig.worker.outbox.add("PUT", f"/edge/summaries/{summary_id}/systems/{NAMES[0]}", {"document": {"pin": 4321}})
        rig.worker.outbox.set_aside(rig.worker.outbox.oldest(), "HTTP 500: boom (8 tries)")
    del rig.api.summaries["s1"]  # deleted in the cloud; s2 is still there
    assert rig.worker.forget_deleted_dead_letters() == 1
    assert [letter.path for letter in rig.worker.outbox.dead_letters()] == [f"/edge/summaries/s2/systems/{NAMES[0]}"]
    assert rig.worker.forget_deleted_dead_letters() == 0
