"""The user's own data through the local gateway: deleting a session or a user leaves nothing, work in flight does
not bring a deleted session back, a deleted id can be posted again, and an export holds everything kept."""

from __future__ import annotations

import gzip
import json
import threading
import uuid
from pathlib import Path

import httpx
import pytest
from data_traces import indexed_ids, none_left, traces
from stack_helpers import api_client, make_token, queue_messages, running_stack, session_body, wait_for, wait_for_stack
from websockets.sync.client import connect

from local_stack.messages_server import ScriptedBackend, hang, reply
from schemas.changes import EVENT_SOURCE
from schemas.contracts import Session
from schemas.lineage import content_version

PLANNER = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "systems" / "planner.json").read_text())
JOURNAL = {  # a system whose records can outgrow an item (documents over 100 KB live in S3)
    "name": "journal",
    "description": "The day in the user's words",
    "instructions": "Write down what the user said about the day.",
    "schema": {
        "type": "object",
        "properties": {"text": {"type": "string", "maxLength": 400000}},
        "required": ["text"],
        "additionalProperties": False,
    },
    "examples": [{"summary": "A quiet day.", "expected": {"text": "A quiet day."}}],
    "max_output_tokens": 256,
}
EMBEDDER = {"model_id": "test-embedder", "weights_digest": "0" * 64, "pooling": "mean", "dims": 4}
EMBEDDING_VERSION = content_version("embedding-model", EMBEDDER)
LIVE_WAIT_S = 30


@pytest.fixture(scope="module")
def backend() -> ScriptedBackend:
    return ScriptedBackend()


@pytest.fixture(scope="module")
def stack(backend):
    with running_stack(backend) as running:
        yield running


@pytest.fixture(scope="module")
def client(stack):
    scopes = ["ingest", "read", "edge", "edit", "delete", "refresh"]
    with api_client(stack, make_token(stack, scopes, source="planner", name="owner")) as http:
        yield http


@pytest.fixture(scope="module")
def systems(client) -> dict[str, str]:
    """Each published system's schema version; the edge's embedding model registered and reported."""
    versions = {}
    for definition in (PLANNER, JOURNAL):
        published = client.put(f"/edge/systems/{definition['name']}", json=definition)
        assert published.status_code == 200, published.text
        versions[definition["name"]] = published.json()["schema_version"]
    assert client.put(
        f"/edge/registry/{EMBEDDING_VERSION}", json={"kind": "embedding-model", "content": EMBEDDER}
    ).status_code in (200, 201)
    assert client.put("/edge/heartbeat", json={"embedding_version": EMBEDDING_VERSION}).status_code == 200
    return versions


@pytest.fixture(scope="module")
def events(stack):
    """Every event on the change bus, through a rule to a queue (as a subsystem would subscribe)."""
    sqs, rules = stack.client("sqs"), stack.client("events")
    url = sqs.create_queue(QueueName=f"subscriber-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = stack.resolved("ChangeBus")
    rules.put_rule(Name="all-changes", EventBusName=bus, EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
    rules.put_targets(Rule="all-changes", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
    seen: list[dict] = []

    def received() -> list[dict]:
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            seen.extend(json.loads(m["Body"]) for m in batch)
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)]
            )
        return seen

    return received


def new_user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def post(client: httpx.Client, session_id: str, user_id: str, text: str = "Book the dentist for Friday") -> dict:
    body = {**session_body(session_id, text=text), "user_id": user_id}
    response = client.post("/sessions", json=body)
    assert response.status_code == 202, response.text
    return body


def summarized(stack, client: httpx.Client, session_id: str) -> None:
    wait_for_stack(stack, lambda: client.get(f"/sessions/{session_id}").json().get("status") == "SUMMARIZED")


def lineage(systems: dict[str, str], system: str) -> dict[str, str]:
    return {"translator_model_version": "m", "translator_prompt_version": "p", "schema_version": systems[system]}


def put_record(client, systems, session_id: str, system: str, document: dict, expected: int = 0) -> httpx.Response:
    body = {"document": document, "lineage": lineage(systems, system), "expected_version": expected}
    return client.put(f"/edge/summaries/{session_id}/systems/{system}", json=body)


def gone(stack, client: httpx.Client, session_id: str) -> None:
    wait_for_stack(stack, lambda: client.get(f"/sessions/{session_id}").status_code == 404)


def content_hash(body: dict) -> str:
    return Session.model_validate(body).content_hash()


def test_deleting_a_session_removes_every_trace_and_tells_the_dashboard(stack, client, systems, events):
    user = new_user()
    body, kept = post(client, "del-all", user), post(client, "del-kept", user)
    for session_id in ("del-all", "del-kept"):
        summarized(stack, client, session_id)
        assert put_record(client, systems, session_id, "planner", {"tasks": [], "events": []}).status_code == 201
    assert put_record(client, systems, "del-all", "journal", {"text": "x" * 150_000}).status_code == 201
    edit = [
        {
            "op": "add",
            "path": "/tasks/-",
            "value": {"title": "Dentist", "due": None, "priority": "high", "status": "todo"},
        }
    ]
    patched = client.patch(
        "/summaries/del-all/systems/planner",
        content=json.dumps(edit),
        headers={"content-type": "application/json-patch+json", "if-match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    vector = {"embedding_version": EMBEDDING_VERSION, "vector": [0.5, 0.1, 0.2, 0.3]}
    assert client.put("/edge/summaries/del-all/embedding", json=vector).status_code == 200
    assert client.get(f"/users/{user}/export").status_code == 200
    wait_for_stack(stack, lambda: {"del-all", "del-kept"} <= indexed_ids(stack))
    sessions = {"del-all": content_hash(body)}
    before = traces(stack, sessions, [user])
    assert all(before.values()), before  # every kind of trace is there to be removed
    kept_before = traces(stack, {"del-kept": content_hash(kept)})

    token = make_token(stack, ["read"], name="dashboard-tab")
    with connect(f"{stack.websocket_api.url}?token={token}", open_timeout=10) as socket:
        deleted = client.delete("/sessions/del-all")
        assert deleted.status_code == 202 and deleted.json()["status"] == "DELETING", deleted.text
        assert client.get("/summaries/del-all").status_code == 404  # hidden at once
        listed = client.get("/summaries", params={"source": "planner", "limit": 100}).json()["items"]
        assert "del-all" not in {item["session_id"] for item in listed}
        heard = []
        while not any(m.get("summary_id") == "del-all" and m.get("status") == "DELETED" for m in heard):
            heard.append(json.loads(socket.recv(timeout=LIVE_WAIT_S)))
    gone(stack, client, "del-all")

    assert none_left(traces(stack, sessions, [user])), traces(stack, sessions, [user])
    assert traces(stack, {"del-kept": content_hash(kept)}) | {"export objects": 0} == kept_before | {
        "export objects": 0
    }
    feed = client.get("/systems/planner/records", params={"since": "0", "limit": 100}).json()["items"]
    assert [c["change"] for c in feed if c["summary_id"] == "del-all"] == ["deleted"]
    wait_for_stack(
        stack,
        lambda: any(e["detail-type"] == "Record Deleted" and e["detail"]["summary_id"] == "del-all" for e in events()),
    )
    assert put_record(client, systems, "del-all", "planner", {"tasks": [], "events": []}, 2).status_code == 404
    assert client.put("/edge/summaries/del-all/embedding", json=vector).status_code == 404
    assert traces(stack, sessions) == traces(stack, sessions) and none_left(traces(stack, sessions))


def test_a_session_deleted_while_it_is_summarized_is_not_brought_back(stack, client, backend):
    user, marker = new_user(), f"marker-{uuid.uuid4().hex[:8]}"
    backend.script([hang(3), reply()], when=marker)
    body = post(client, "del-busy", user, text=f"Call the plumber {marker}")
    wait_for_stack(stack, lambda: backend.calls_matching(marker) >= 1, interval=0.05)  # the model is writing
    assert client.delete("/sessions/del-busy").status_code == 202
    assert client.get("/summaries/del-busy").status_code == 404
    gone(stack, client, "del-busy")
    assert none_left(traces(stack, {"del-busy": content_hash(body)}))
    edge_requests = _queued_translations(stack)
    assert "del-busy" not in edge_requests

    again = client.post("/sessions", json=body)  # the same id and content, after its deletion: a new session
    assert again.status_code == 202, again.text
    summarized(stack, client, "del-busy")
    assert backend.calls_matching(marker) == 2  # summarized again, not served from the deleted one's result


def test_an_edge_upload_racing_a_deletion_stores_nothing(stack, client, systems):
    user = new_user()
    body = post(client, "del-race", user)
    summarized(stack, client, "del-race")
    results: list[int] = []
    uploads = threading.Thread(
        target=lambda: results.extend(
            put_record(client, systems, "del-race", "planner", {"tasks": [], "events": []}, n).status_code
            for n in range(40)
        )
    )
    uploads.start()
    wait_for(lambda: results, timeout=30, interval=0.01)
    assert client.delete("/sessions/del-race").status_code == 202
    uploads.join()
    gone(stack, client, "del-race")
    assert 404 in results and set(results) <= {200, 201, 404, 409}
    assert none_left(traces(stack, {"del-race": content_hash(body)}))


def test_deleting_a_user_is_a_job_that_removes_only_their_sessions(stack, client, systems):
    user, other = new_user(), new_user()
    mine = [post(client, f"{user}-{n}", user) for n in range(8)]
    theirs = post(client, f"{other}-0", other)
    for body in [*mine, theirs]:
        summarized(stack, client, body["session_id"])
    assert put_record(client, systems, mine[0]["session_id"], "planner", {"tasks": [], "events": []}).status_code == 201
    assert client.get(f"/users/{user}/deletion").status_code == 404

    started = client.delete(f"/users/{user}")
    assert started.status_code == 202 and started.headers["location"] == f"/users/{user}/deletion", started.text
    job = started.json()
    assert (job["status"], job["user_id"]) == ("running", user)
    wait_for_stack(stack, lambda: client.get(f"/users/{user}/deletion").json()["status"] == "done")
    done = client.get(f"/users/{user}/deletion").json()
    assert (done["job_id"], done["sessions_found"], done["sessions_deleted"]) == (job["job_id"], 8, 8)
    assert none_left(traces(stack, {b["session_id"]: content_hash(b) for b in mine}, [user]))
    assert client.get(f"/sessions/{theirs['session_id']}").json()["status"] == "SUMMARIZED"
    assert client.get(f"/users/{user}/export").status_code == 404


def test_deleting_a_user_again_keeps_the_figures_of_what_was_deleted(stack, client):
    user = new_user()
    for n in range(3):
        summarized(stack, client, post(client, f"{user}-{n}", user)["session_id"])
    first = client.delete(f"/users/{user}").json()
    wait_for_stack(stack, lambda: client.get(f"/users/{user}/deletion").json()["status"] == "done")
    assert client.get(f"/users/{user}/deletion").json()["sessions_deleted"] == 3

    again = client.delete(f"/users/{user}")
    assert again.status_code == 202 and again.json()["job_id"] != first["job_id"], again.text
    wait_for_stack(stack, lambda: client.get(f"/users/{user}/deletion").json()["status"] == "done")
    done = client.get(f"/users/{user}/deletion").json()
    assert (done["sessions_found"], done["sessions_deleted"]) == (3, 3), done

    post(client, f"{user}-3", user)  # posted after the deletions: the next one finds it and counts on
    client.delete(f"/users/{user}")
    wait_for_stack(stack, lambda: client.get(f"/users/{user}/deletion").json()["status"] == "done")
    done = client.get(f"/users/{user}/deletion").json()
    assert (done["sessions_found"], done["sessions_deleted"]) == (4, 4), done
    assert client.get(f"/sessions/{user}-3").status_code == 404


def test_an_export_holds_everything_and_comes_back_whole(stack, client, systems):
    user = new_user()
    plain = post(client, "exp-plain", user)
    blocks = {
        **session_body("exp-blocks"),
        "user_id": user,
        "turns": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is on this receipt?"},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/receipt.png"}},
                ],
            },
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "ocr", "input": {"page": 1}}]},
        ],
    }
    messages = {**{k: v for k, v in session_body("exp-openai").items() if k != "turns"}, "user_id": user}
    messages["messages"] = [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "Remind me to pay rent", "name": "ana"},
    ]
    bodies = [plain]
    for body in (blocks, messages):
        assert client.post("/sessions", json=body).status_code == 202
        bodies.append(body)
    for body in bodies:
        summarized(stack, client, body["session_id"])
    assert put_record(client, systems, "exp-plain", "planner", {"tasks": [], "events": []}).status_code == 201
    client.patch(
        "/summaries/exp-plain/systems/planner",
        content=json.dumps(
            [{"op": "add", "path": "/events/-", "value": {"title": "Rent", "start": "2026-12-01T09:00:00Z"}}]
        ),
        headers={"content-type": "application/json-patch+json", "if-match": '"1"'},
    ).raise_for_status()

    link = client.get(f"/users/{user}/export")
    assert link.status_code == 200, link.text
    answer = link.json()
    assert (answer["sessions"], answer["records"], answer["history"]) == (3, 1, 2)
    archive = httpx.get(answer["url"], timeout=30)
    assert archive.status_code == 200 and len(archive.content) == answer["bytes"]
    lines = [json.loads(line) for line in gzip.decompress(archive.content).decode().splitlines()]
    assert lines[0]["type"] == "export" and lines[-1] == {"type": "end", "sessions": 3, "records": 1, "history": 2}
    exported = {line["session_id"]: line for line in lines if line["type"] == "session"}
    for body in bodies:
        line = exported[body["session_id"]]
        assert line["content_hash"] == content_hash(body) == Session.model_validate(line["session"]).content_hash()
    summaries = {line["summary_id"]: line["text"] for line in lines if line["type"] == "summary"}
    assert summaries["exp-plain"] == client.get("/summaries/exp-plain").json()["text"]
    record = next(line for line in lines if line["type"] == "record")
    assert record["document"]["events"][0]["title"] == "Rent" and record["author"] == "user"

    assert client.delete(f"/users/{user}").status_code == 202
    wait_for_stack(stack, lambda: client.get(f"/users/{user}/deletion").json()["status"] == "done")
    assert httpx.get(answer["url"], timeout=30).status_code == 404  # the archive went with the user's data
    for body in bodies:  # what was exported can be posted again as it is
        again = client.post("/sessions", json=exported[body["session_id"]]["session"])
        assert again.status_code == 202, again.text
    for body in bodies:
        summarized(stack, client, body["session_id"])
        assert client.get(f"/sessions/{body['session_id']}").json()["content_hash"] == content_hash(body)


def _queued_translations(stack) -> set[str]:
    """Summary ids of the translate requests waiting on the edge queue (peeked, then left as they were)."""
    sqs, url = stack.client("sqs"), stack.resolved("EdgeQueue")
    ids = set()
    for _ in range(queue_messages(stack, "EdgeQueue") // 10 + 2):
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        ):
            ids.add(json.loads(message["Body"])["summary_id"])
    return ids
