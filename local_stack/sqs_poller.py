"""Deliver SQS messages to a function in batches, honouring ReportBatchItemFailures like Lambda's poller."""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections.abc import Callable

from local_stack.runtime import FunctionError, InvocationStopped

log = logging.getLogger("local_stack.sqs")


def sqs_record(message: dict, queue_arn: str) -> dict:
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


def failed_ids(result: object, message_ids: list[str], reports_item_failures: bool) -> set[str]:
    """Which messages go back to the queue, by Lambda's rules for a batch response."""
    if not reports_item_failures or not isinstance(result, dict) or not result.get("batchItemFailures"):
        return set()
    failed = {item.get("itemIdentifier") for item in result["batchItemFailures"]}
    if not failed <= set(message_ids):  # an unknown or empty identifier fails the whole batch
        return set(message_ids)
    return failed


class QueuePoller:
    def __init__(
        self,
        sqs,
        queue_url: str,
        queue_arn: str,
        function: str,
        invoke: Callable[[str, dict], object],
        *,
        batch_size: int,
        reports_item_failures: bool,
        retry_delay_s: int = 1,
    ) -> None:
        self.sqs, self.queue_url, self.queue_arn = sqs, queue_url, queue_arn
        self.function, self.invoke = function, invoke
        self.batch_size, self.reports_item_failures = min(batch_size, 10), reports_item_failures
        self.retry_delay_s = retry_delay_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"sqs-{function}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def signal_stop(self) -> None:
        """Take no more work; the work in hand ends as its function's runtime is closed."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def poll_once(self, wait_s: int = 1) -> int:
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        ids = [m["MessageId"] for m in messages]
        delay_s = self.retry_delay_s
        try:
            result = self.invoke(self.function, {"Records": [sqs_record(m, self.queue_arn) for m in messages]})
            failed = failed_ids(result, ids, self.reports_item_failures)
        except InvocationStopped:
            log.info("batch cut short by the stop: its %d message(s) go back to the queue", len(ids))
            failed = set(ids)
        except FunctionError as exc:
            # as on AWS, where the visibility timeout outlasts the function's: what a dead worker held has expired
            delay_s = max(delay_s, math.ceil(exc.redeliver_after_s))
            log.warning("batch failed (its %d message(s) come back in %d s): %s", len(ids), delay_s, exc)
            failed = set(ids)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        retry = [m for m in messages if m["MessageId"] in failed]
        if retry:
            # Locally a failed item comes back after a short delay instead of the full visibility timeout.
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": delay_s}
                    for i, m in enumerate(retry)
                ],
            )
        return len(messages)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:  # keep polling through transient errors, as the managed poller does
                if not self._stop.is_set():
                    log.exception("polling %s failed", self.queue_url)
                    self._stop.wait(1)
