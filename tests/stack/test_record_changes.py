"""Record changes through the local gateway: a user's edit and the re-translation that follows it, and the change
feed as subsystems see it (EventBridge events through a rule to a queue, and paging with a cursor) across 400
changes made by four concurrent writers while a subsystem pages through the feed."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import pytest
from stack_helpers import api_client, make_token, running_stack, session_body, wait_for_stack

from schemas.changes import EVENT_SOURCE, ChangePage, RecordChange

PLANNER = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "systems" / "planner.json").read_text())
PATCH = "application/json-patch+json"
CHANGES = 400
WRITERS = 4
SESSIONS = 12


@pytest.fixture(scope="module")
def stack():
    with running_stack() as running:
        yield running


@pytest.fixture(scope="module")
def client(stack):
    scopes = ["ingest", "read", "edge", "edit", "refresh"]
    with api_client(stack, make_token(stack, scopes, source="planner", name="owner")) as http:
        yield http


@pytest.fixture(scope="module")
def lineage(client) -> dict[str, str]:
    published = client.put("/edge/systems/planner", json=PLANNER)
    assert published.status_code == 200, published.text
    return {"translator_model_version": "m", "translator_prompt_version": "p", **published.json()}


def summarized(stack, client, *session_ids: str) -> None:
    for session_id in session_ids:
        assert client.post("/sessions", json=session_body(session_id)).status_code == 202
    for session_id in session_ids:
        wait_for_stack(
            stack, lambda sid=session_id: client.get(f"/sessions/{sid}").json().get("status") == "SUMMARIZED"
        )


def upload(client, lineage, session_id: str, document: dict, expected: int, request_id: str | None = None):
    body = {
        "document": document,
        "expected_version": expected,
        "request_id": request_id,
        "lineage": {k: lineage[k] for k in ("translator_model_version", "translator_prompt_version", "schema_version")},
    }
    return client.put(f"/edge/summaries/{session_id}/systems/planner", json=body)


def task(title: str) -> dict:
    return {"title": title, "due": None, "priority": "medium", "status": "todo"}


def test_an_edit_survives_retranslation_as_the_users_version(stack, client, lineage):
    summarized(stack, client, "edit-1")
    assert upload(client, lineage, "edit-1", {"tasks": [task("Dentist")], "events": []}, 0).status_code == 201
    url, rename = (
        "/summaries/edit-1/systems/planner",
        [{"op": "replace", "path": "/tasks/0/title", "value": "Dentist 9:00"}],
    )

    assert client.patch(url, content=json.dumps(rename), headers={"content-type": PATCH}).status_code == 428
    current = client.get(url)  # the record where it is edited, its version the ETag to send back
    assert (current.status_code, current.headers["etag"], current.json()["version"]) == (200, '"1"', 1), current.text
    assert client.patch(url, json=rename, headers={"if-match": '"1"'}).status_code == 415
    stale = client.patch(url, content=json.dumps(rename), headers={"content-type": PATCH, "if-match": '"7"'})
    assert stale.status_code == 412 and stale.json()["error"] == "precondition_failed"
    bad = [{"op": "replace", "path": "/tasks/0/priority", "value": "urgent"}]
    refused = client.patch(url, content=json.dumps(bad), headers={"content-type": PATCH, "if-match": '"1"'})
    assert refused.status_code == 422 and refused.json()["error"] == "schema_violation"
    edited = client.patch(url, content=json.dumps(rename), headers={"content-type": PATCH, "if-match": '"1"'})
    assert edited.status_code == 200 and edited.headers["etag"] == '"2"', edited.text
    assert (edited.json()["author"], edited.json()["document"]["tasks"][0]["title"]) == ("user", "Dentist 9:00")

    refresh = client.post("/refresh", json={"summary_id": "edit-1", "system": "planner"}).json()
    model = {"tasks": [task("Dentist on Friday")], "events": []}
    proposed = upload(client, lineage, "edit-1", model, 2, refresh["request_id"])
    assert proposed.json() == {"outcome": "proposed", "version": 2}
    record = client.get("/summaries/edit-1").json()["records"][0]
    assert (record["version"], record["document"]["tasks"][0]["title"]) == (2, "Dentist 9:00")
    assert record["proposal"]["document"] == model and record["proposal"]["request_id"] == refresh["request_id"]
    assert client.get(f"/refresh/{refresh['request_id']}").json()["status"] == "done"

    accepted = client.post(f"{url}/proposal/accept", headers={"if-match": '"2"'})
    assert accepted.status_code == 200 and accepted.json()["version"] == 3 and "proposal" not in accepted.json()
    history = client.get(f"{url}/history").json()["items"]
    assert [(h["version"], h["author"]) for h in history] == [(3, "edge"), (2, "user"), (1, "edge")]

    client.patch(url, content=json.dumps(rename), headers={"content-type": PATCH, "if-match": '"3"'}).raise_for_status()
    assert upload(client, lineage, "edit-1", model, 4).json()["outcome"] == "proposed"
    assert client.delete(f"{url}/proposal", headers={"if-match": '"4"'}).status_code == 200
    assert "proposal" not in client.get("/summaries/edit-1").json()["records"][0]
    forced = client.post("/refresh", json={"summary_id": "edit-1", "system": "planner", "force": True}).json()
    assert upload(client, lineage, "edit-1", model, 4, forced["request_id"]).json() == {
        "outcome": "updated",
        "version": 5,
    }


@pytest.fixture(scope="module")
def subscriber(stack):
    """A subsystem's subscription: a rule on the change bus for the planner's changes, to a queue it reads."""
    sqs, rules = stack.client("sqs"), stack.client("events")
    url = sqs.create_queue(QueueName=f"planner-changes-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": [EVENT_SOURCE], "detail": {"system": ["planner"]}}
    bus = stack.resolved("ChangeBus")
    rules.put_rule(Name="planner-changes", EventBusName=bus, EventPattern=json.dumps(pattern))
    rules.put_targets(Rule="planner-changes", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
    events: list[dict] = []

    def drain() -> list[dict]:
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            events.extend(json.loads(message["Body"]) for message in batch)
            entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        return events

    return drain


def test_concurrent_changes_arrive_once_each_in_order_as_events_and_pages(stack, client, lineage, subscriber):
    since = client.get("/systems/planner/records", params={"since": "0", "limit": 100}).json()
    while since["more"]:
        since = client.get("/systems/planner/records", params={"since": since["next"], "limit": 100}).json()
    start = int(since["next"])
    ids = [f"feed-{n}" for n in range(SESSIONS)]
    summarized(stack, client, *ids)

    def write(owned: list[str]) -> None:
        versions = dict.fromkeys(owned, 0)
        for n in range(CHANGES // WRITERS):
            session_id = owned[n % len(owned)]
            document = {"tasks": [task(f"{session_id} step {versions[session_id]}")], "events": []}
            answer = upload(client, lineage, session_id, document, versions[session_id])
            assert answer.status_code in (200, 201), answer.text
            versions[session_id] = answer.json()["version"]

    writers = [threading.Thread(target=write, args=(ids[w::WRITERS],)) for w in range(WRITERS)]
    polled: list[RecordChange] = []
    cursor, done = str(start), threading.Event()

    def poll() -> None:  # a subsystem polling while the writers write
        nonlocal cursor
        while True:
            finished = done.is_set()
            page = ChangePage.model_validate(
                client.get("/systems/planner/records", params={"since": cursor, "limit": 37}).json()
            )
            polled.extend(page.items)
            cursor = page.next
            if finished and not page.items and not page.more:
                return

    poller = threading.Thread(target=poll)
    poller.start()
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    done.set()
    poller.join()

    assert [c.seq for c in polled] == list(range(start + 1, start + CHANGES + 1))  # no gap, no repeat, in order
    per_record: dict[str, list[int]] = {}
    for change in polled:
        per_record.setdefault(change.summary_id, []).append(change.version)
    assert all(versions == list(range(1, len(versions) + 1)) for versions in per_record.values())
    assert sum(len(v) for v in per_record.values()) == CHANGES and set(per_record) == set(ids)

    def ours() -> list[dict]:
        return [event for event in subscriber() if event["detail"]["seq"] > start]

    wait_for_stack(stack, lambda: len(ours()) >= CHANGES, interval=0.5)
    events = ours()
    details = [RecordChange.model_validate(event["detail"]) for event in events]
    assert [d.seq for d in details] == [c.seq for c in polled]  # published once each, in feed order
    assert all(e["source"] == EVENT_SOURCE and e["detail-type"].startswith("Record ") for e in events)
    by_seq = {c.seq: c for c in polled}
    assert all(d == by_seq[d.seq] for d in details)  # the event carries what the page carries
