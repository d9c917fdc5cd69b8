"""EdgeSync over fakes: what the edge reads, the validated records it writes, and systems it publishes."""

from __future__ import annotations

import json

import pytest
from cloud_fakes import ApiWorld, add_summarized, make_session, system_definition

from functions.errors import ClientError
from schemas.contracts import RefreshSelector
from schemas.edge_api import RecordUpload, RegistryUpload
from schemas.lineage import content_version
from schemas.system_definition import SystemDefinition

DEFINITION = SystemDefinition.from_dict(system_definition())
UNIQUE_TAGS = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
    },
    "required": ["title"],
}


@pytest.fixture
def world() -> ApiWorld:
    return ApiWorld()


def upload(
    document: dict, expected_version: int = 0, request_id: str | None = None, prompt: str = "translator-prompt:p1"
) -> RecordUpload:
    return RecordUpload.model_validate(
        {
            "document": document,
            "lineage": {
                "translator_model_version": "translator-model:m1",
                "translator_prompt_version": prompt,
                "schema_version": DEFINITION.schema_version,
            },
            "expected_version": expected_version,
            "request_id": request_id,
        }
    )


def errors_of(call) -> tuple[int, str]:
    with pytest.raises(ClientError) as error:
        call()
    return error.value.status, error.value.code


def test_only_summarized_sessions_are_served(world):
    session = make_session("s-new")
    world.sessions.create(session, session.content_hash(), "sessions/s-new/x.json")
    assert errors_of(lambda: world.edge.summary("s-new")) == (404, "not_found")
    assert errors_of(lambda: world.edge.summary("s-none")) == (404, "not_found")
    add_summarized(world.sessions, "s-1", text="The dentist text.")
    summary = world.edge.summary("s-1")
    assert (summary.text, summary.source, summary.systems) == ("The dentist text.", "planner", {})


def test_pending_lists_summarized_sessions_oldest_first_in_pages(world):
    for n in range(5):
        add_summarized(world.sessions, f"s-{n}")
    first = world.edge.pending(2, None)
    second = world.edge.pending(2, first.next)
    third = world.edge.pending(2, second.next)
    ids = [item.summary_id for p in (first, second, third) for item in p.items]
    assert ids == [f"s-{n}" for n in range(5)] and third.next is None
    assert errors_of(lambda: world.edge.pending(2, "not-a-token")) == (400, "invalid_next_token")


def test_publishing_a_system_registers_it_and_backfills_every_summary(world):
    add_summarized(world.sessions, "s-1")
    add_summarized(world.sessions, "s-2")
    published = world.edge.publish_system("planner", system_definition())
    assert published.changed and published.backfill_request_id
    assert published.schema_version == DEFINITION.schema_version
    assert world.registry.entry(DEFINITION.schema_version, "schema")["content"] == DEFINITION.schema
    assert world.registry.entry(DEFINITION.definition_version, "system")
    assert world.edge_queue.sent == []  # users' work only: a backfill waits in its own queue
    assert [(m.summary_id, m.system, m.reason) for m in world.backfill_queue.sent] == [
        ("s-1", "planner", "backfill"),
        ("s-2", "planner", "backfill"),
    ]
    again = world.edge.publish_system("planner", system_definition())
    assert not again.changed and again.backfill_request_id is None and len(world.backfill_queue.sent) == 2
    edited = world.edge.publish_system("planner", system_definition(description="Calendar entries, v2"))
    assert edited.changed and edited.definition_version != published.definition_version
    # a new definition is a new backfill, but both pairs are still queued by the first one
    assert edited.backfill_request_id != published.backfill_request_id
    assert world.refresh.get(edited.backfill_request_id)["queued"] == 0 and len(world.backfill_queue.sent) == 2


def test_a_backfill_skips_pairs_an_earlier_backfill_still_has_queued(world, monkeypatch):
    import functions.api.refresh as refresh_module

    add_summarized(world.sessions, "s-1")
    add_summarized(world.sessions, "s-2")
    clock = iter(range(1_000_000, 2_000_000, 1000))  # each request well past the coalescing window
    monkeypatch.setattr(refresh_module, "epoch_seconds", lambda: next(clock))
    world.edge.publish_system("planner", system_definition(description="v1"))
    second = world.edge.publish_system("planner", system_definition(description="v2"))
    assert world.refresh.get(second.backfill_request_id)["queued"] == 0  # the edge uses its newest definition
    assert world.refresh.get(second.backfill_request_id)["status"] == "done"
    world.edge.put_record("s-1", "planner", upload({"title": "A"}))  # v1's pair for s-1 is stored
    third = world.edge.publish_system("planner", system_definition(description="v3"))
    assert world.refresh.get(third.backfill_request_id)["queued"] == 1
    assert [(m.summary_id, m.request_id) for m in world.backfill_queue.sent][-1] == ("s-1", third.backfill_request_id)


def test_a_backfill_skips_pairs_whose_record_is_already_current(world, monkeypatch):
    import functions.api.refresh as refresh_module

    clock = iter(range(1_000_000, 2_000_000, 1000))  # each request well past the coalescing window
    monkeypatch.setattr(refresh_module, "epoch_seconds", lambda: next(clock))
    for summary_id in ("s-1", "s-2", "s-3"):
        add_summarized(world.sessions, summary_id)
    prompt = {"template": "t", "name": "planner", "instructions": "i", "schema_outline": "o", "examples": []}
    prompt_version = content_version("translator-prompt", prompt)
    world.edge.put_registry(prompt_version, RegistryUpload(kind="translator-prompt", content=prompt))
    world.edge.publish_system("planner", system_definition(description="first"))
    current = upload({"title": "A"}).model_copy(
        update={"lineage": upload({}).lineage.model_copy(update={"translator_prompt_version": prompt_version})}
    )
    world.edge.put_record("s-1", "planner", current)  # made with the newest prompt and this schema
    world.edge.put_record("s-2", "planner", upload({"title": "B"}))  # made with another prompt
    world.backfill_queue.sent.clear()  # s-3's pair is still queued by the first backfill
    republished = world.edge.publish_system("planner", system_definition(description="second"))
    assert [m.summary_id for m in world.backfill_queue.sent] == ["s-2"]
    assert world.refresh.get(republished.backfill_request_id)["queued"] == 1


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("nudge", system_definition("planner"), "name_mismatch"),
        ("planner", {**system_definition(), "max_output_tokens": 0}, "invalid_system_definition"),
        ("planner", [], "invalid_system_definition"),
        ("planner", {**system_definition(), "schema": UNIQUE_TAGS}, "invalid_system_definition"),
    ],
)
def test_a_bad_definition_is_refused_and_nothing_is_published(world, name, data, code):
    add_summarized(world.sessions, "s-1")
    assert errors_of(lambda: world.edge.publish_system(name, data)) == (422, code)
    assert world.registry.active_systems() == [] and world.edge_queue.sent == []
    assert world.registry.page("schema", 10, None)[0] == []  # nothing of it stored


def test_a_schema_constrained_decoding_cannot_enforce_is_refused_naming_why(world):
    with pytest.raises(ClientError) as refused:
        world.edge.publish_system("planner", {**system_definition(), "schema": UNIQUE_TAGS})
    assert "uniqueItems at /properties/tags" in refused.value.message


def test_registry_entries_must_be_named_by_their_content(world):
    entry = RegistryUpload(kind="translator-model", content={"model_id": "smollm2"})
    version = content_version(entry.kind, entry.content)
    assert errors_of(lambda: world.edge.put_registry("translator-model:wrong", entry)) == (422, "version_mismatch")
    assert world.edge.put_registry(version, entry).created
    assert not world.edge.put_registry(version, entry).created


def test_records_are_checked_against_their_schema_version(world):
    add_summarized(world.sessions, "s-1")
    assert errors_of(lambda: world.edge.put_record("s-1", "planner", upload({"title": "x"}))) == (
        404,
        "unknown_system",
    )
    assert errors_of(lambda: world.edge.put_record("s-9", "planner", upload({"title": "x"}))) == (404, "not_found")
    world.edge.publish_system("planner", system_definition())
    wrong_schema = upload({"title": "x"})
    wrong_schema.lineage.schema_version = "schema:unknown"
    assert errors_of(lambda: world.edge.put_record("s-1", "planner", wrong_schema)) == (422, "unknown_schema_version")
    with pytest.raises(ClientError) as violation:
        world.edge.put_record("s-1", "planner", upload({"title": 5, "extra": True}))
    assert violation.value.code == "schema_violation" and len(violation.value.details) == 2
    assert world.records.items == {} and world.sessions.get("s-1")["systems"] == {}


def test_versions_advance_with_history_and_the_session_keeps_each_systems_state(world):
    add_summarized(world.sessions, "s-1")
    world.edge.publish_system("planner", system_definition())
    created = world.edge.put_record("s-1", "planner", upload({"title": "Dentist"}))
    assert (created.outcome, created.version) == ("created", 1)
    unchanged = world.edge.put_record("s-1", "planner", upload({"title": "Dentist"}, expected_version=1))
    assert (unchanged.outcome, unchanged.version) == ("unchanged", 1)
    updated = world.edge.put_record("s-1", "planner", upload({"title": "Dentist", "day": "2025-03-14"}, 1))
    assert (updated.outcome, updated.version) == ("updated", 2)
    assert errors_of(lambda: world.edge.put_record("s-1", "planner", upload({"title": "Late"}, 1))) == (
        409,
        "stale_version",
    )
    assert [json.loads(h["patch"]) for h in world.records.history] == [
        [{"op": "add", "path": "/title", "value": "Dentist"}],
        [{"op": "add", "path": "/day", "value": "2025-03-14"}],
    ]
    state = world.sessions.record("s-1").systems["planner"]
    assert state.version == 2 and state.schema_version == DEFINITION.schema_version
    assert world.edge.summary("s-1").systems["planner"].version == 2


def test_a_translation_by_new_versions_that_changes_nothing_is_remembered_so_it_is_not_redone(world):
    add_summarized(world.sessions, "s-1")
    world.edge.publish_system("planner", system_definition())
    world.edge.put_record("s-1", "planner", upload({"title": "Dentist"}))
    again = world.edge.put_record("s-1", "planner", upload({"title": "Dentist"}, 1, prompt="translator-prompt:p2"))
    assert (again.outcome, again.version) == ("unchanged", 1)
    state = world.edge.summary("s-1").systems["planner"]
    assert (state.version, state.translator_prompt_version) == (1, "translator-prompt:p2")
    record = world.records.get("s-1", "planner")  # the version keeps the lineage that made it
    assert record["translator_prompt_version"] == "translator-prompt:p1" and len(world.records.history) == 1
    assert [item.systems["planner"].translator_prompt_version for item in world.edge.pending(10, None).items] == [
        "translator-prompt:p2"
    ]


def test_each_stored_pair_counts_once_towards_its_requests(world):
    add_summarized(world.sessions, "s-1")
    add_summarized(world.sessions, "s-2")
    backfill = world.edge.publish_system("planner", system_definition()).backfill_request_id
    assert world.refresh.get(backfill)["status"] == "queued"
    world.edge.put_record("s-1", "planner", upload({"title": "A"}))  # the backfill's pair, whoever stored it
    assert {k: world.refresh.get(backfill)[k] for k in ("status", "completed")} == {
        "status": "in_progress",
        "completed": 1,
    }
    _, mine = world.refresh.request(RefreshSelector(summary_id="s-1"))
    request_id = mine["request_id"]
    world.edge.put_record("s-1", "planner", upload({"title": "A2"}, expected_version=1, request_id=request_id))
    for _ in range(2):  # the message came back and the pair was translated and sent again: still one pair
        world.edge.put_record("s-1", "planner", upload({"title": "A2"}, expected_version=2, request_id=request_id))
    assert {k: world.refresh.get(mine["request_id"])[k] for k in ("status", "completed", "queued")} == {
        "status": "done",
        "completed": 1,
        "queued": 1,
    }
    assert world.refresh.get(backfill)["completed"] == 1  # its pair s-1 was counted once
    world.edge.put_record("s-2", "planner", upload({"title": "B"}))
    assert {k: world.refresh.get(backfill)[k] for k in ("status", "completed")} == {"status": "done", "completed": 2}


def test_a_refresh_names_the_systems_it_already_stored_so_a_message_that_came_back_is_not_redone(world):
    add_summarized(world.sessions, "s-1")
    for name in ("planner", "nudge"):
        world.edge.publish_system(name, system_definition(name))
        world.edge.put_record("s-1", name, upload({"title": "A"}))
    _, mine = world.refresh.request(RefreshSelector(summary_id="s-1"))
    request_id = mine["request_id"]
    assert world.edge.summary("s-1", request_id).stored_for_request == []
    world.edge.put_record("s-1", "planner", upload({"title": "A"}, 1, request_id=request_id))  # unchanged counts too
    assert world.edge.summary("s-1", request_id).stored_for_request == ["planner"]
    world.edge.put_record("s-1", "nudge", upload({"title": "B"}, 1, request_id=request_id))
    assert world.edge.summary("s-1", request_id).stored_for_request == ["nudge", "planner"]
    _, other = world.refresh.request(RefreshSelector(summary_id="s-1", system="planner"))
    assert world.edge.summary("s-1", other["request_id"]).stored_for_request == []  # another request: all to do
    assert world.edge.summary("s-1").stored_for_request == []


def test_a_retired_system_leaves_the_published_ones_and_its_uploads_are_refused_but_its_records_stay(world):
    add_summarized(world.sessions, "s-1")
    for name in ("planner", "mood"):
        world.edge.publish_system(name, system_definition(name))
    world.edge.put_record("s-1", "mood", upload({"title": "Calm"}))
    retired = world.edge.retire_system("mood")
    assert retired.name == "mood" and retired.definition_version.startswith("system:")
    assert [system["name"] for system in world.registry.active_systems()] == ["planner"]
    assert errors_of(lambda: world.edge.put_record("s-1", "mood", upload({"title": "x"}, 1))) == (
        404,
        "unknown_system",
    )
    assert errors_of(lambda: world.edge.retire_system("mood")) == (404, "unknown_system")
    assert world.records.get("s-1", "mood")["version"] == 1  # kept
    assert world.registry.get(retired.definition_version) is not None  # lineage kept
    world.edge.publish_system("mood", system_definition("mood"))  # published again: a backfill as for a new one
    assert "mood" in [system["name"] for system in world.registry.active_systems()]


def test_retiring_a_system_ends_the_refreshes_that_waited_for_it_and_frees_its_backfill_pieces(world):
    add_summarized(world.sessions, "s-1")
    add_summarized(world.sessions, "s-2")
    for name in ("planner", "mood"):
        world.edge.publish_system(name, system_definition(name))
    _, mine = world.refresh.request(RefreshSelector(summary_id="s-1"))
    world.edge.put_record("s-1", "planner", upload({"title": "A"}, request_id=mine["request_id"]))
    assert world.refresh.get(mine["request_id"])["status"] == "in_progress"  # mood's piece never comes
    world.edge.retire_system("mood")
    assert {k: world.refresh.get(mine["request_id"])[k] for k in ("status", "completed", "queued", "dropped")} == {
        "status": "done",
        "completed": 1,
        "queued": 1,
        "dropped": 1,
    }
    # its first backfill had s-1 and s-2 queued; published again, the new backfill queues them both again
    world.edge.publish_system("mood", system_definition("mood"))
    backfills = [item for item in world.refresh_store.items.values() if item.get("kind") == "backfill"]
    assert [(item["queued"], item["status"], item.get("dropped")) for item in backfills] == [
        (2, "in_progress", None),  # planner's: s-1 stored
        (0, "done", 2),  # mood's first: dropped at its retirement
        (2, "queued", None),  # mood's second
    ]


@pytest.mark.parametrize("title", ["09:30\n", "٠٩:٣٠"])  # a final newline; Arabic-Indic digits (Python's \d takes them)
def test_a_pattern_is_read_as_json_schema_says_ecma_262_not_as_python_re(world, title):
    add_summarized(world.sessions, "s-1")
    definition = system_definition("clock")
    definition["schema"]["properties"]["title"]["pattern"] = r"^\d\d:\d\d$"
    definition["examples"][0]["expected"]["title"] = "09:30"
    version = world.edge.publish_system("clock", definition).schema_version

    def clock(document: dict) -> RecordUpload:
        made = upload(document)
        return made.model_copy(update={"lineage": made.lineage.model_copy(update={"schema_version": version})})

    assert errors_of(lambda: world.edge.put_record("s-1", "clock", clock({"title": title}))) == (
        422,
        "schema_violation",
    )
    assert world.edge.put_record("s-1", "clock", clock({"title": "09:30"})).outcome == "created"
