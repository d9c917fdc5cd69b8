"""Every table, queue and bucket in template.yaml keeps its data-protection settings."""

from __future__ import annotations

import pytest

from local_stack.template import load_template

RESOURCES = load_template()["Resources"]
MAX_SQS_RETENTION = 1_209_600  # 14 days, SQS's maximum


def _of(kind: str) -> dict[str, dict]:
    return {name: res.get("Properties", {}) for name, res in RESOURCES.items() if res["Type"] == kind}


TABLES, QUEUES, BUCKETS = _of("AWS::DynamoDB::Table"), _of("AWS::SQS::Queue"), _of("AWS::S3::Bucket")
# Search queries waiting for the edge: worthless after seconds (the search has already answered lexically).
EPHEMERAL_QUEUES = {"QueryQueue"}


def test_the_template_has_the_stores_we_protect():
    assert {"SessionsTable", "RecordsTable", "HistoryTable", "RegistryTable", "TokensTable"} <= set(TABLES)
    assert {"SummarizeQueue", "SummarizeDLQ", "EdgeQueue", "EdgeDLQ"} <= set(QUEUES)
    assert "DataBucket" in BUCKETS


@pytest.mark.parametrize("name", sorted(TABLES))
def test_tables_are_encrypted_and_point_in_time_recoverable(name):
    props = TABLES[name]
    assert props.get("SSESpecification", {}).get("SSEEnabled") is True, f"{name}: encryption at rest"
    assert props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True, f"{name}: PITR"


@pytest.mark.parametrize("name", ["SessionsTable", "RecordsTable", "HistoryTable", "RegistryTable", "TokensTable"])
def test_tables_holding_lasting_data_are_retained(name):
    assert RESOURCES[name].get("DeletionPolicy") == "Retain"
    assert RESOURCES[name].get("UpdateReplacePolicy") == "Retain"


@pytest.mark.parametrize("name", sorted(set(QUEUES) - EPHEMERAL_QUEUES))
def test_queues_are_encrypted_and_keep_messages_as_long_as_sqs_allows(name):
    props = QUEUES[name]
    assert props.get("SqsManagedSseEnabled") is True or props.get("KmsMasterKeyId"), f"{name}: encryption at rest"
    assert props.get("MessageRetentionPeriod") == MAX_SQS_RETENTION, f"{name}: retention"


@pytest.mark.parametrize("name", sorted(EPHEMERAL_QUEUES))
def test_ephemeral_queues_are_encrypted_and_drop_messages_within_minutes(name):
    props = QUEUES[name]
    assert props.get("SqsManagedSseEnabled") is True, f"{name}: encryption at rest"
    assert props.get("MessageRetentionPeriod") <= 300 and "RedrivePolicy" not in props


@pytest.mark.parametrize(
    "name", sorted(n for n, p in QUEUES.items() if not n.endswith("DLQ") and n not in EPHEMERAL_QUEUES)
)
def test_work_queues_redrive_to_a_dead_letter_queue(name):
    target = QUEUES[name].get("RedrivePolicy", {}).get("deadLetterTargetArn", {})
    assert target.get("Fn::GetAtt", [None])[0] in QUEUES, f"{name}: no DLQ"


@pytest.mark.parametrize("name", sorted(BUCKETS))
def test_buckets_are_versioned_encrypted_and_private(name):
    props = BUCKETS[name]
    assert props.get("VersioningConfiguration", {}).get("Status") == "Enabled"
    rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    assert rules and all(
        r["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms", "aws:kms:dsse") for r in rules
    )
    block = props.get("PublicAccessBlockConfiguration", {})
    assert all(
        block.get(k) is True
        for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    ), block
    assert RESOURCES[name].get("DeletionPolicy") == "Retain"


@pytest.mark.parametrize("name", sorted(BUCKETS))
def test_buckets_refuse_plain_http(name):
    policies = [
        p["Properties"]
        for p in RESOURCES.values()
        if p["Type"] == "AWS::S3::BucketPolicy" and p["Properties"].get("Bucket") == {"Ref": name}
    ]
    statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    deny_http = [
        s
        for s in statements
        if s.get("Effect") == "Deny"
        and s.get("Principal") == "*"
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in ("false", False)
    ]
    assert deny_http, f"{name}: no TLS-only policy"
    resources = deny_http[0]["Resource"]
    assert {"Fn::GetAtt": [name, "Arn"]} in resources and {"Fn::Sub": f"${{{name}.Arn}}/*"} in resources
    assert deny_http[0]["Action"] in ("s3:*", ["s3:*"])


def test_the_http_api_is_throttled_and_the_websocket_stage_too():
    api = RESOURCES["HttpApi"]["Properties"]["DefaultRouteSettings"]
    assert api["ThrottlingBurstLimit"] > 0 and api["ThrottlingRateLimit"] > 0
    stage = next(r for r in RESOURCES.values() if r["Type"] == "AWS::ApiGatewayV2::Stage")["Properties"]
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0
