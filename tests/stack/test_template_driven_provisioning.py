"""The local stack reads template.yaml: a resource added to the template appears with no code change."""

from __future__ import annotations

import yaml

from local_stack.stack import LocalStack, StackOptions
from local_stack.template import DEFAULT_TEMPLATE, load_app


def test_added_queue_and_gsi_appear_without_code_change(tmp_path):
    text = DEFAULT_TEMPLATE.read_text()
    text = text.replace(
        "  # ---------- queues ----------",
        """  # ---------- queues ----------
  AuditQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 42
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt SummarizeDLQ.Arn
        maxReceiveCount: 7
""",
        1,
    )
    text = text.replace(
        """        - IndexName: by_day
""",
        """        - IndexName: by_user
          KeySchema:
            - { AttributeName: user_id, KeyType: HASH }
            - { AttributeName: received_at, KeyType: RANGE }
          Projection: { ProjectionType: KEYS_ONLY }
        - IndexName: by_day
""",
        1,
    ).replace(
        """        - { AttributeName: session_id, AttributeType: S }
""",
        """        - { AttributeName: session_id, AttributeType: S }
        - { AttributeName: user_id, AttributeType: S }
""",
        1,
    )
    copy = tmp_path / "template.yaml"
    copy.write_text(text)
    assert "AuditQueue" in load_app(copy).resources

    with (
        LocalStack(StackOptions(template=copy, event_sources=False, serve_http=False)) as stack,
        stack.aws_environment_applied(),
    ):
        attrs = stack.client("sqs").get_queue_attributes(QueueUrl=stack.resolved("AuditQueue"), AttributeNames=["All"])[
            "Attributes"
        ]
        assert attrs["VisibilityTimeout"] == "42"
        assert '"maxReceiveCount": 7' in attrs["RedrivePolicy"]
        table = stack.client("dynamodb").describe_table(TableName=stack.resolved("SessionsTable"))["Table"]
        assert "by_user" in {index["IndexName"] for index in table["GlobalSecondaryIndexes"]}


def test_every_data_resource_and_environment_comes_from_the_template():
    raw = yaml.safe_load(DEFAULT_TEMPLATE.read_text().replace("!", ""))  # names only
    declared = {
        name
        for name, res in raw["Resources"].items()
        if res["Type"] in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::S3::Bucket")
    }
    with LocalStack(StackOptions(event_sources=False, serve_http=False)) as stack:
        assert set(stack.provisioned.physical) >= declared
        env = stack.function_environment("SummarizeFunction")
        assert env["SESSIONS_TABLE"] == stack.physical_id("SessionsTable")
        assert env["EDGE_QUEUE_URL"].endswith("-edge.fifo")
        assert env["SUMMARIZE_MAX_ATTEMPTS"] == "3"
        streams = stack.client("dynamodb").describe_table(TableName=env["SESSIONS_TABLE"])["Table"]
        assert streams["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        ttl = stack.client("dynamodb").describe_time_to_live(TableName=env["IDEMPOTENCY_TABLE"])
        assert ttl["TimeToLiveDescription"]["AttributeName"] == "expiration"
        versioning = stack.client("s3").get_bucket_versioning(Bucket=env["DATA_BUCKET"])
        assert versioning["Status"] == "Enabled"
        assert stack.started_in_s is not None
