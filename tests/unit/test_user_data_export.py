"""Export over fakes: one archive of JSON lines with every session as received, its summary, records with lineage
and author, and every history entry; sessions being deleted are left out."""

from __future__ import annotations

import gzip
import io
import json

import pytest
from cloud_fakes import UserDataWorld, add_summarized, make_session, system_definition

from functions.errors import ClientError
from functions.http.auth import Principal
from schemas.contracts import Session
from schemas.edge_api import RecordUpload
from schemas.system_definition import SystemDefinition
from schemas.user_data import ExportLink

LINEAGE = {
    "translator_model_version": "translator-model:m1",
    "translator_prompt_version": "translator-prompt:p1",
    "schema_version": SystemDefinition.from_dict(system_definition()).schema_version,
}


@pytest.fixture
def world() -> UserDataWorld:
    world = UserDataWorld()
    world.api.edge.publish_system("planner", system_definition())
    return world


def archive_lines(world: UserDataWorld, link: ExportLink) -> list[dict]:
    with gzip.GzipFile(fileobj=io.BytesIO(world.archives.objects[link.key])) as archive:
        return [json.loads(line) for line in archive.read().decode().splitlines()]


def test_the_archive_holds_every_session_summary_record_and_version(world):
    add_summarized(world.api.sessions, "s-1", text="Overview: dentist.")
    world.api.edge.put_record(
        "s-1", "planner", RecordUpload(document={"title": "A"}, lineage=LINEAGE, expected_version=0)
    )
    me = Principal("me", frozenset({"edit"}), None)
    world.api.edits.edit("s-1", "planner", [{"op": "replace", "path": "/title", "value": "B"}], '"1"', me)
    received = make_session("s-2", text="Not summarized yet")
    world.api.sessions.create(received, received.content_hash(), world.api.sessions.put_raw(received, "h")[0])
    add_summarized(world.api.sessions, "s-3")
    world.api.sessions.items["s-3"]["status"] = "DELETING"

    link = world.exporter.export("user-1")
    lines = archive_lines(world, link)
    assert [line["type"] for line in lines] == [
        "export",
        "session",
        "summary",
        "record",
        "history",
        "history",
        "session",
        "end",
    ]
    assert (link.sessions, link.records, link.history) == (2, 1, 2) and lines[-1]["sessions"] == 2
    session = Session.model_validate(lines[1]["session"])
    assert session.content_hash() == lines[1]["content_hash"] == world.api.sessions.items["s-1"]["content_hash"]
    assert (lines[2]["text"], lines[2]["stop_reason"]) == ("Overview: dentist.", "end_turn")
    assert (lines[3]["document"], lines[3]["author"], lines[3]["lineage"]) == ({"title": "B"}, "user", LINEAGE)
    assert [(h["version"], h["author"]) for h in lines[4:6]] == [(1, "edge"), (2, "user")]
    assert lines[5]["patch"] == [{"op": "replace", "path": "/title", "value": "B"}]
    assert link.url.endswith("?expires=900") and link.bytes == len(world.archives.objects[link.key])


def test_a_user_without_sessions_gets_a_404_and_no_archive(world):
    with pytest.raises(ClientError) as error:
        world.exporter.export("nobody")
    assert error.value.status == 404 and world.archives.objects == {}
