"""Deliver DynamoDB stream records to a function in batches, as Lambda's stream event source does."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from local_stack.runtime import FunctionError

log = logging.getLogger("local_stack.streams")


def stream_record(record: dict, stream_arn: str) -> dict:
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }


class StreamPoller:
    def __init__(
        self,
        streams,
        stream_arn: str,
        function: str,
        invoke: Callable[[str, dict], object],
        *,
        batch_size: int,
        reports_item_failures: bool,
        max_retries: int,
        interval_s: float = 0.2,
        iterator_type: str = "TRIM_HORIZON",
        replay: Sequence[dict] = (),
    ) -> None:
        """`replay`: event records a previous run left undelivered (its `backlog()`), delivered before the stream."""
        self.streams, self.stream_arn, self.function, self.invoke = streams, stream_arn, function, invoke
        self.batch_size, self.reports_item_failures = batch_size, reports_item_failures
        self.max_retries, self.interval_s = max_retries, interval_s
        self._iterators: dict[str, str] = {}
        self._replay = [{**record, "eventSourceARN": stream_arn} for record in replay]  # this run's table names
        self._cut: list[dict] = []  # records a stop kept from being delivered
        self._in_hand: list[dict] = []  # the batch being delivered
        self.empty_polls = 0  # polls that found no record (LocalStack.idle waits for two more)
        self._open_shards(iterator_type)  # the shards there now are read from here; later ones from their start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"stream-{function}", daemon=True)

    def start(self) -> None:
        self._open_shards()
        self._thread.start()

    def signal_stop(self) -> None:
        """Take no more work; the work in hand ends as its function's runtime is closed."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _open_shards(self, iterator_type: str = "TRIM_HORIZON") -> None:
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            if shard["ShardId"] not in self._iterators:
                self._iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType=iterator_type
                )["ShardIterator"]

    def poll_once(self) -> int:
        delivered = 0
        for shard_id, iterator in list(self._iterators.items()):
            response = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
            records = response.get("Records", [])
            if records:
                self._deliver([stream_record(r, self.stream_arn) for r in records])
                delivered += len(records)
            if response.get("NextShardIterator"):
                self._iterators[shard_id] = response["NextShardIterator"]
        return delivered

    def _deliver(self, records: list[dict]) -> None:
        """Retry from the first failed record, then move past it after max_retries (as with no destination)."""
        attempts = 0
        self._in_hand = records
        while records and not self._stop.is_set():
            try:
                result = self.invoke(self.function, {"Records": records})
                failures = (result or {}).get("batchItemFailures") if self.reports_item_failures else None
            except FunctionError as exc:
                log.warning("stream batch failed: %s", exc)
                failures = [{"itemIdentifier": records[0]["dynamodb"].get("SequenceNumber")}]
            if not failures:
                self._in_hand = []
                return
            attempts += 1
            first = min(failures, key=lambda f: str(f.get("itemIdentifier")))["itemIdentifier"]
            start = next((i for i, r in enumerate(records) if r["dynamodb"].get("SequenceNumber") == first), 0)
            if attempts > self.max_retries:
                log.error("dropping stream record %s after %d retries", first, self.max_retries)
                start += 1
                attempts = 0
            records = self._in_hand = records[start:]
        self._cut += records
        self._in_hand = []

    def pending(self) -> list[dict]:
        """While running: the records in hand (a batch being delivered, what is left to replay), without reading
        the stream; a crash loses none of them once a checkpoint holds them, at the price of a second delivery."""
        return self._in_hand + self._replay

    def backlog(self) -> list[dict]:
        """After stop(): the event records not delivered, in order: a batch the stop cut short, what was left to
        replay, and what the stream held past the last read (reads the stream)."""
        left = self._cut + self._replay
        for iterator in self._iterators.values():
            while iterator:
                response = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                records = response.get("Records", [])
                if not records:
                    break
                left += [stream_record(record, self.stream_arn) for record in records]
                iterator = response.get("NextShardIterator")
        return left

    def _loop(self) -> None:
        while self._replay and not self._stop.is_set():
            batch, self._replay = self._replay[: self.batch_size], self._replay[self.batch_size :]
            self._deliver(batch)
        while not self._stop.is_set():
            try:
                if self.poll_once() == 0:
                    self.empty_polls += 1
                    self._stop.wait(self.interval_s)
            except Exception:
                if not self._stop.is_set():
                    log.exception("stream polling failed")
                    self._stop.wait(1)
