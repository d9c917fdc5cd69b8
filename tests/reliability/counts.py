"""Reconciliation counts read straight from the local stack's storage (tests may scan; handlers never do)."""

from __future__ import annotations


def s3_keys(stack, prefix: str) -> int:
    paginator = stack.client("s3").get_paginator("list_objects_v2")
    return sum(
        page.get("KeyCount", 0) for page in paginator.paginate(Bucket=stack.resolved("DataBucket"), Prefix=prefix)
    )


def sessions_by_status(stack) -> dict[str, int]:
    counts: dict[str, int] = {}
    paginator = stack.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(
        TableName=stack.resolved("SessionsTable"), ProjectionExpression="#s", ExpressionAttributeNames={"#s": "status"}
    ):
        for item in page["Items"]:
            counts[item["status"]["S"]] = counts.get(item["status"]["S"], 0) + 1
    return counts


def queue_depth(stack, logical_id: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.resolved(logical_id),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
