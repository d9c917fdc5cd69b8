"""Lambda's SQS semantics locally: a bad record is retried, then redriven to the DLQ; good ones run once."""

from __future__ import annotations

import json
import time

from stack_helpers import api_client, make_token, queue_messages, running_stack, session_body

from local_stack.messages_server import ScriptedBackend
from local_stack.sqs_poller import QueuePoller


def test_one_bad_record_is_retried_then_redriven_and_good_ones_run_once():
    backend = ScriptedBackend()
    with running_stack(backend, event_sources=False) as stack:
        token = make_token(stack, ["ingest"], source="planner")
        with api_client(stack, token) as client:
            for n in range(3):
                assert client.post("/sessions", json=session_body(f"batch-{n}")).status_code == 202
        sqs = stack.client("sqs")
        sqs.send_message(QueueUrl=stack.resolved("SummarizeQueue"), MessageBody=json.dumps({"not": "a request"}))
        source = next(s for s in stack.app.queue_sources if s.function == "SummarizeFunction")
        poller = QueuePoller(
            sqs,
            stack.resolved("SummarizeQueue"),
            stack.resolved("SummarizeQueue", "Arn"),
            source.function,
            stack.invoke,
            batch_size=source.batch_size,
            reports_item_failures=source.reports_item_failures,
            retry_delay_s=0,
        )

        assert poller.poll_once(wait_s=1) == 4
        assert backend.calls == 3
        assert queue_messages(stack, "SummarizeQueue") == 1  # only the bad one went back

        deadline = time.monotonic() + 30
        while queue_messages(stack, "SummarizeDLQ") == 0 and time.monotonic() < deadline:
            poller.poll_once(wait_s=1)
        dead = sqs.receive_message(QueueUrl=stack.resolved("SummarizeDLQ"), MessageSystemAttributeNames=["All"])
        assert json.loads(dead["Messages"][0]["Body"]) == {"not": "a request"}
        assert int(dead["Messages"][0]["Attributes"]["ApproximateReceiveCount"]) >= 3
        assert queue_messages(stack, "SummarizeQueue") == 0
        assert backend.calls == 3  # the good records were never delivered again
        table = stack.client("dynamodb")
        for n in range(3):
            item = table.get_item(TableName=stack.resolved("SessionsTable"), Key={"session_id": {"S": f"batch-{n}"}})
            assert item["Item"]["status"]["S"] == "SUMMARIZED"
