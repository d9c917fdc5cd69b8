"""Content larger than one DynamoDB item (400 KB) through the API: a record's large patch goes to S3 beside its
large document, a registry entry or system definition too large for one item is a 413 that stores nothing, and a
refused version leaves no object in S3.

In-process moto provisioned from template.yaml. moto 5.2 checks item sizes only by its own rough count (405,000
bytes, without the per-element overheads), so a botocore hook refuses PutItem, UpdateItem and TransactWriteItems
with an item over 400 KB by AWS's formula, as AWS does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
import jsonpatch
import pytest
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError as BotoClientError
from cloud_fakes import FakeRecordStore, FakeRegistryStore, FakeSessionStore, add_summarized, http_event
from moto import mock_aws

from functions.api.routers import resolver
from functions.api.wiring import Api, build
from functions.errors import ClientError
from functions.stores import records as records_module
from functions.stores.dynamo import MAX_ITEM_BYTES, item_size
from functions.stores.records import document_prefix
from local_stack.provision import provision
from local_stack.template import load_app
from schemas.contracts import Lineage
from schemas.lineage import RegistryEntry, content_version
from schemas.system_definition import SystemDefinition

WRITES = ("PutItem", "UpdateItem", "TransactWriteItems")
DESERIALIZE = TypeDeserializer().deserialize
SYSTEM = "notes"
SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "notes": {"type": "array", "items": {"type": "string"}}},
    "required": ["title"],
    "additionalProperties": False,
}
LINEAGE = {"translator_model_version": "translator-model:m", "translator_prompt_version": "translator-prompt:p"}


def definition(name: str = SYSTEM, examples_bytes: int = 0) -> dict[str, Any]:
    """A valid definition of `name` whose examples hold about `examples_bytes` of summary text."""
    line = "Overview: the user booked the dentist for Friday 2025-03-14 and asked for a reminder. " * 20
    count = max(1, examples_bytes // len(line))
    return {
        "name": name,
        "description": "Notes the user took",
        "instructions": "Copy the notes.",
        "schema": SCHEMA,
        "examples": [
            {"summary": f"{n}. {line}", "expected": {"title": "Dentist", "notes": ["Friday"]}} for n in range(count)
        ],
        "max_output_tokens": 256,
    }


def document(size: int, word: str = "note") -> dict[str, Any]:
    """A notes document of about `size` bytes of JSON."""
    return {"title": "Big", "notes": [f"{word} {n:06d} " + "x" * 90 for n in range(size // 110)]}


def store_version(records: Any, lineage: Lineage, summary_id: str, expected: int, old: dict, new: dict) -> Any:
    """The edge's next version of SYSTEM's record straight through the store (old -> new)."""
    return records.store_version(
        summary_id=summary_id,
        system=SYSTEM,
        expected_version=expected,
        document=new,
        patch=jsonpatch.make_patch(old, new).patch,
        lineage=lineage,
        request_id=None,
    )


# ----- DynamoDB's item size limit, which moto checks only roughly -----
def written_items(operation: str, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The items (wire format) a write request stores; for an update, its key and values (a lower bound)."""
    if operation == "PutItem":
        yield request["Item"]
    elif operation == "UpdateItem":
        yield {**request["Key"], **request.get("ExpressionAttributeValues", {})}
    else:
        for entry in request["TransactItems"]:
            if "Put" in entry:
                yield entry["Put"]["Item"]
            elif "Update" in entry:
                yield {**entry["Update"]["Key"], **entry["Update"].get("ExpressionAttributeValues", {})}


def enforce_item_limit(model: Any, params: dict[str, Any], **_: Any) -> None:
    """botocore before-call hook: AWS's ValidationException for a write with an item over 400 KB."""
    if model.name not in WRITES:
        return
    for wire in written_items(model.name, json.loads(params["body"])):
        if item_size({name: DESERIALIZE(value) for name, value in wire.items()}) > MAX_ITEM_BYTES:
            raise BotoClientError(
                {
                    "Error": {
                        "Code": "ValidationException",
                        "Message": "Item size has exceeded the maximum allowed size",
                    },
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                model.name,
            )


@dataclass
class Cloud:
    api: Api
    app: Any
    bucket: str

    def call(
        self, method: str, path: str, scopes: str, body: Any = None, query: dict | None = None, **headers: str
    ) -> tuple[int, Any]:
        """The API's answer; an exception the resolver lets through is the 500 API Gateway would answer."""
        event = http_event(method, path, scopes=scopes, body=body, query=query)
        if method == "PATCH":
            event["headers"]["content-type"] = "application/json-patch+json"
        event["headers"].update(headers)
        try:
            response = self.app.resolve(event, None)
        except Exception as error:
            return 500, repr(error)[:300]
        return response["statusCode"], json.loads(response["body"])

    def objects(self, summary_id: str) -> list[tuple[str, str]]:
        """(key, version id) of every object version and delete marker under the summary's records prefix."""
        listed = boto3.client("s3").list_object_versions(Bucket=self.bucket, Prefix=document_prefix(summary_id))
        return sorted(
            (v["Key"], v["VersionId"]) for v in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]
        )


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    aws = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    previous = boto3.DEFAULT_SESSION
    with pytest.MonkeyPatch.context() as env:
        for name, value in aws.items():
            env.setenv(name, value)
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        with mock_aws():
            boto3.setup_default_session()  # the stores' clients are made from it, with the hook
            boto3.DEFAULT_SESSION.events.register("before-call.dynamodb", enforce_item_limit)
            app = load_app()
            provisioned = provision(app, None)  # no endpoint: moto's in-process mock answers
            environ = provisioned.resolver.resolve(app.function_environment("ApiFunction"))
            api = build({name: str(value) for name, value in environ.items()})
            yield Cloud(api, resolver(api), str(environ["DATA_BUCKET"]))
    boto3.DEFAULT_SESSION = previous


@pytest.fixture(scope="module")
def published(cloud) -> dict[str, Any]:
    status, body = cloud.call("PUT", f"/edge/systems/{SYSTEM}", "edge", definition())
    assert status == 200, body
    return body


def summarized(cloud: Cloud, summary_id: str) -> str:
    add_summarized(cloud.api.edge.sessions, summary_id)
    return summary_id


def upload(cloud: Cloud, published: dict, summary_id: str, doc: dict, expected: int = 0) -> tuple[int, Any]:
    lineage = {**LINEAGE, "schema_version": published["schema_version"]}
    body = {"document": doc, "expected_version": expected, "lineage": lineage}
    return cloud.call("PUT", f"/edge/summaries/{summary_id}/systems/{SYSTEM}", "edge", body)


def history(cloud: Cloud, summary_id: str) -> list[dict[str, Any]]:
    status, body = cloud.call("GET", f"/summaries/{summary_id}/systems/{SYSTEM}/history", "read")
    assert status == 200, body
    return body["items"][::-1]


def test_item_size_follows_the_aws_formula():
    """Sizes worked by hand from "DynamoDB item sizes and formats" (names and values in UTF-8 bytes)."""
    assert item_size({"id": "abc"}) == 2 + 3
    assert item_size({"n": Decimal("12345")}) == 1 + 3 + 1  # a byte per two significant digits, plus one
    assert item_size({"n": 1000}) == 1 + 1 + 1  # trailing zeros trimmed
    assert item_size({"é": "ü"}) == 2 + 2
    assert item_size({"ok": True, "none": None}) == (2 + 1) + (4 + 1)
    # map: 3 + per element (name + value + 1); list: 3 + per element (value + 1)
    assert item_size({"m": {"a": "xy", "b": [1, "z"]}}) == 1 + 3 + (1 + 2 + 1) + (1 + (3 + (2 + 1) + (1 + 1)) + 1)
    assert MAX_ITEM_BYTES == 400 * 1024


def test_a_system_definition_too_large_for_one_item_is_a_413_that_publishes_nothing(cloud):
    data = definition("huge", examples_bytes=518_000)
    assert len(json.dumps(data)) > 500_000
    parsed = SystemDefinition.from_dict(data)
    status, body = cloud.call("PUT", "/edge/systems/huge", "edge", data)
    assert status == 413 and body["error"] == "content_too_large", body
    assert f"{MAX_ITEM_BYTES:,} bytes" in body["message"] and parsed.definition_version in body["message"]
    registry = cloud.api.edge.registry
    assert registry.get(parsed.schema_version) is None and registry.get(parsed.definition_version) is None
    assert registry.active_system("huge") is None
    assert "huge" not in [system["name"] for system in cloud.call("GET", "/systems", "read")[1]["items"]]


def test_a_large_system_definition_that_fits_in_one_item_is_published(cloud):
    data = definition("roomy", examples_bytes=300_000)
    status, body = cloud.call("PUT", "/edge/systems/roomy", "edge", data)
    assert status == 200, body
    assert cloud.api.edge.registry.entry(body["definition_version"], "system")["content"] == data


def test_a_large_document_from_the_edge_is_stored_with_its_patch_in_s3(cloud, published):
    sid, doc = summarized(cloud, "big-edge"), document(450_000)
    status, body = upload(cloud, published, sid, doc)
    assert status == 201, body
    [record] = cloud.call("GET", f"/summaries/{sid}", "read")[1]["records"]
    assert record["version"] == 1 and record["document"] == doc
    [entry] = history(cloud, sid)
    assert jsonpatch.apply_patch({}, entry["patch"]) == doc and "patch_key" not in entry
    prefix = f"{document_prefix(sid)}{SYSTEM}/"
    assert [key for key, _ in cloud.objects(sid)] == [f"{prefix}1.json", f"{prefix}1.patch.json"]


def test_a_users_large_edit_is_stored_with_its_patch_in_s3(cloud, published):
    sid, first = summarized(cloud, "big-edit"), document(20_000)
    assert upload(cloud, published, sid, first)[0] == 201
    notes = document(450_000, word="edited")["notes"]
    operations = [{"op": "replace", "path": "/notes", "value": notes}]
    status, body = cloud.call("PATCH", f"/summaries/{sid}/systems/{SYSTEM}", "edit", operations, **{"if-match": '"1"'})
    assert status == 200, body
    assert body["version"] == 2 and body["document"] == {**first, "notes": notes}
    rebuilt: dict[str, Any] = {}
    for entry in history(cloud, sid):
        rebuilt = jsonpatch.apply_patch(rebuilt, entry["patch"])
    assert rebuilt == {**first, "notes": notes}
    prefix = f"{document_prefix(sid)}{SYSTEM}/"
    assert [key for key, _ in cloud.objects(sid)] == [f"{prefix}2.json", f"{prefix}2.patch.json"]


def test_a_history_page_of_large_patches_stops_early_and_goes_on_with_its_token(cloud, published, monkeypatch):
    monkeypatch.setattr(records_module, "PAGE_PATCH_BYTES", 300_000)
    sid = summarized(cloud, "big-pages")
    assert upload(cloud, published, sid, document(20_000))[0] == 201
    operations = [{"op": "replace", "path": "/notes", "value": document(450_000, word="paged")["notes"]}]
    assert (
        cloud.call("PATCH", f"/summaries/{sid}/systems/{SYSTEM}", "edit", operations, **{"if-match": '"1"'})[0] == 200
    )
    path = f"/summaries/{sid}/systems/{SYSTEM}/history"
    status, first = cloud.call("GET", path, "read", query={"limit": "10"})
    assert status == 200 and [e["version"] for e in first["items"]] == [2] and first["next"], first
    status, rest = cloud.call("GET", path, "read", query={"limit": "10", "next": first["next"]})
    assert status == 200 and [e["version"] for e in rest["items"]] == [1] and rest["next"] is None, rest


def test_a_version_refused_after_its_objects_were_put_leaves_none_in_s3(cloud, published):
    records, lineage = cloud.api.edge.records, Lineage(**LINEAGE, schema_version=published["schema_version"])
    sid, doc, late = summarized(cloud, "big-race"), document(150_000), document(150_000, word="late")
    assert upload(cloud, published, sid, doc)[0] == 201
    before = cloud.objects(sid)

    def store(summary_id: str, expected: int, new: dict) -> Any:
        with pytest.raises(ClientError) as refused:
            store_version(records, lineage, summary_id, expected, doc, new)
        return refused.value.status

    assert store(sid, 0, late) == 409  # a writer that lost the race for version 1: same document key
    assert cloud.objects(sid) == before
    assert records.document(records.get(sid, SYSTEM)) == doc
    gone = summarized(cloud, "big-gone")
    assert cloud.api.edge.sessions.mark_deleting(gone, "2026-11-24T10:00:00Z")
    assert store(gone, 0, late) == 404
    assert cloud.objects(gone) == []


def test_a_registry_entry_too_large_for_one_item_is_a_413_that_stores_nothing(cloud):
    content = {"model_id": "m", "notes": ["y" * 1000] * 420}
    version = content_version("eval-result", content)
    status, body = cloud.call("PUT", f"/edge/registry/{version}", "edge", {"kind": "eval-result", "content": content})
    assert status == 413 and body["error"] == "content_too_large" and version in body["message"], body
    assert cloud.call("GET", f"/registry/{version}", "read")[0] == 404
    fits = {"model_id": "m", "notes": ["y" * 1000] * 300}
    version = content_version("eval-result", fits)
    status, body = cloud.call("PUT", f"/edge/registry/{version}", "edge", {"kind": "eval-result", "content": fits})
    assert status == 201 and body["created"], body


def test_a_pointer_too_large_for_one_item_is_refused_before_it_is_written(cloud):
    registry = cloud.api.edge.registry
    with pytest.raises(ClientError) as refused:
        registry.set_edge_state({"name": "edge-big", "job": {"note": "z" * 420_000}})
    assert refused.value.status == 413 and refused.value.code == "content_too_large"
    assert registry.edge_state("edge-big") is None


def scenario(sessions: Any, records: Any, registry: Any, published: dict) -> list[Any]:
    """What the stores answer for large content; run on the real stores and on the unit tier's fakes."""

    def outcome(call: Any) -> Any:
        try:
            return call()
        except ClientError as error:
            return ("client", error.status, error.code)

    seen: list[Any] = []
    entry = RegistryEntry.make("eval-result", {"notes": ["w" * 1000] * 420})
    seen += [outcome(lambda: registry.put(entry)), registry.get(entry.version_id)]
    seen += [outcome(lambda: registry.put_all([RegistryEntry.make("schema", {"k": 1}), entry]))]
    seen += [registry.get(content_version("schema", {"k": 1}))]
    seen += [outcome(lambda: registry.set_edge_state({"name": "e", "blob": "z" * 420_000})), registry.edge_state("e")]
    sid, doc = "agree-1", document(300_000)
    add_summarized(sessions, sid)
    lineage = Lineage(**LINEAGE, schema_version=published["schema_version"])

    def store(expected: int, new: dict, old: dict) -> Any:
        return outcome(lambda: store_version(records, lineage, sid, expected, old, new)["version"])

    seen += [store(0, doc, {}), store(0, document(300_000, word="late"), {}), store(1, {"title": "small"}, doc)]
    seen.append(records.document(records.get(sid, SYSTEM)))
    patches = [jsonpatch.make_patch({}, doc).patch, jsonpatch.make_patch(doc, {"title": "small"}).patch]
    seen.append([json.loads(h["patch"]) for h in records.history_items(sid, SYSTEM)] == patches)
    stored = records.history_items(sid, SYSTEM, patches=False)
    seen.append([sorted(k for k in ("patch", "patch_key") if k in h) for h in stored])
    seen.append([int(h["version"]) for h in records.history_page(sid, SYSTEM, 1, None)[0]])
    return seen


def test_the_fakes_answer_large_content_as_the_real_stores_do(cloud, published):
    expected = scenario(cloud.api.edge.sessions, cloud.api.edge.records, cloud.api.edge.registry, published)
    sessions = FakeSessionStore()
    assert scenario(sessions, FakeRecordStore(sessions), FakeRegistryStore(), published) == expected
    assert expected[0] == ("client", 413, "content_too_large")
    assert expected[6:9] == [1, ("client", 409, "stale_version"), 2]


def test_the_hook_refuses_as_aws_does(cloud):
    """The hook itself: an item over 400 KB by AWS's formula is AWS's ValidationException, including one moto
    alone would take (it counts a list of 210,000 one-byte strings as 210,000 bytes; AWS adds a byte each)."""
    table = cloud.api.edge.registry.table
    many = {"version_id": "raw:many", "kind": "raw", "list": ["b"] * 210_000}
    assert item_size(many) > MAX_ITEM_BYTES
    for item in (many, {"version_id": "raw:big", "kind": "raw", "blob": "b" * MAX_ITEM_BYTES}):
        with pytest.raises(BotoClientError) as refused:
            table.put_item(Item=item)
        assert refused.value.response["Error"]["Code"] == "ValidationException"
    table.put_item(Item={"version_id": "raw:fits", "kind": "raw", "blob": "b" * 400_000})
    assert table.get_item(Key={"version_id": "raw:fits"})["Item"]["kind"] == "raw"
