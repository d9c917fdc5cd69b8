"""One LLM call per session, under duplicate POSTs and SQS redelivery; nothing accepted is lost."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

from stack_helpers import api_client, make_token, queue_messages, running_stack, session_body, wait_for_stack

from local_stack.messages_server import ScriptedBackend
from schemas.contracts import Session, SummarizeRequest

SESSIONS = 200


def _summarized(stack) -> int:
    table = stack.client("dynamodb")
    count, kwargs = 0, {}
    while True:
        page = table.query(
            TableName=stack.resolved("SessionsTable"),
            IndexName="by_status",
            Select="COUNT",
            KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": "SUMMARIZED"}},
            **kwargs,
        )
        count += page["Count"]
        if "LastEvaluatedKey" not in page:
            return count
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_200_sessions_with_duplicates_and_redeliveries_make_exactly_200_calls():
    rng = random.Random(7)
    backend = ScriptedBackend()
    bodies = [session_body(f"load-{n:03d}", text=f"Session {n}: plan item {rng.random()}") for n in range(SESSIONS)]
    posted_twice = rng.sample(range(SESSIONS), SESSIONS // 5)
    redelivered = rng.sample(range(SESSIONS), SESSIONS // 10)
    with running_stack(backend) as stack:
        token = make_token(stack, ["ingest"], source="planner")
        with api_client(stack, token) as client, ThreadPoolExecutor(4) as pool:
            statuses = list(
                pool.map(
                    lambda b: client.post("/sessions", json=b).status_code, bodies + [bodies[i] for i in posted_twice]
                )
            )
        assert statuses.count(202) == SESSIONS
        assert statuses.count(200) == len(posted_twice)
        sqs = stack.client("sqs")
        for i in redelivered:  # at-least-once delivery: the same request arrives again
            request = SummarizeRequest(
                session_id=bodies[i]["session_id"], content_hash=Session.model_validate(bodies[i]).content_hash()
            )
            sqs.send_message(QueueUrl=stack.resolved("SummarizeQueue"), MessageBody=request.model_dump_json())

        wait_for_stack(stack, lambda: _summarized(stack) == SESSIONS and queue_messages(stack, "SummarizeQueue") == 0)
        assert backend.calls == SESSIONS
        assert queue_messages(stack, "SummarizeDLQ") == 0
        s3 = stack.client("s3")
        summaries = s3.list_objects_v2(Bucket=stack.resolved("DataBucket"), Prefix="summaries/", MaxKeys=1000)
        assert summaries["KeyCount"] == SESSIONS
        item = stack.client("dynamodb").get_item(
            TableName=stack.resolved("SessionsTable"), Key={"session_id": {"S": "load-000"}}
        )["Item"]
        assert item["summarizer_model_version"]["S"].startswith("summarizer-model:")
        assert item["summarizer_prompt_version"]["S"].startswith("summarizer-prompt:")
        assert int(item["usage"]["M"]["output_tokens"]["N"]) > 0
        usage = stack.client("dynamodb").query(
            TableName=stack.resolved("UsageTable"),
            KeyConditionExpression="#d = :d",
            ExpressionAttributeNames={"#d": "day"},
            ExpressionAttributeValues={":d": {"S": item["summarized_at"]["S"][:10]}},
        )["Items"]
        assert sum(int(row["calls"]["N"]) for row in usage) == SESSIONS
