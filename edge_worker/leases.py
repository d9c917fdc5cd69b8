"""SQS leases: a received message stays invisible to other consumers while it is worked on, then is deleted or
given back at once."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from edge_worker.ports import QueueClient

RENEWAL_JOIN_S = 10.0  # at stop: the longest wait for a renewal call in flight before the release


class QueueLeases:
    """One queue's messages. `visibility_seconds` None: the queue's own visibility timeout, never renewed.

    Errors of renew, release and delete go to `on_error` (the message then comes back after its timeout);
    receive raises them.
    """

    def __init__(
        self,
        sqs: QueueClient,
        queue_url: str,
        *,
        wait_seconds: int,
        visibility_seconds: int | None = None,
        on_error: Callable[[str], None],
    ) -> None:
        self.sqs, self.queue_url = sqs, queue_url
        self.wait_seconds, self.visibility_seconds = wait_seconds, visibility_seconds
        self.on_error = on_error
        self._held: dict[str, tuple[threading.Event, threading.Thread]] = {}
        self._lock = threading.Lock()

    def receive(self, max_messages: int, wait_seconds: int | None = None) -> list[dict[str, Any]]:
        """Long-poll for up to `max_messages` messages (SQS's own dicts: Body, ReceiptHandle, MessageId);
        `wait_seconds` overrides the queue's long-poll wait (0: answer at once)."""
        wait = self.wait_seconds if wait_seconds is None else wait_seconds
        options: dict[str, Any] = {"MaxNumberOfMessages": max_messages, "WaitTimeSeconds": wait}
        if self.visibility_seconds is not None:
            options["VisibilityTimeout"] = self.visibility_seconds
        return self.sqs.receive_message(QueueUrl=self.queue_url, **options).get("Messages", [])

    @contextlib.contextmanager
    def hold(self, message: dict[str, Any]) -> Iterator[str]:
        """Renew the message's visibility every third of its timeout while the block runs; yields its receipt."""
        if self.visibility_seconds is None:
            raise ValueError(f"holding a message of {self.queue_url} needs a visibility timeout to renew")
        receipt, done = message["ReceiptHandle"], threading.Event()
        renewal = threading.Thread(
            target=self._renew, args=(receipt, done, self.visibility_seconds), name="lease-renewal", daemon=True
        )
        with self._lock:
            self._held[receipt] = (done, renewal)
        renewal.start()
        try:
            yield receipt
        finally:
            done.set()
            renewal.join()  # before a release, so that a late renewal cannot hide the message again
            with self._lock:
                self._held.pop(receipt, None)

    @property
    def held(self) -> int:
        """How many messages are being worked on (held by `hold`)."""
        with self._lock:
            return len(self._held)

    def release(self, receipt: str) -> None:
        """Make an unfinished message visible again now, for the next worker or the next start."""
        try:
            self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
        except Exception as error:
            self.on_error(f"releasing a message of {self.queue_url}: {error}")

    def delete(self, receipt: str) -> None:
        try:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)
        except Exception as error:
            self.on_error(f"deleting a message of {self.queue_url}: {error}")

    def release_held(self) -> int:
        """At stop, for work that cannot be waited for: end the renewals and give the messages back. Returns how many."""
        with self._lock:
            held = list(self._held.items())
        for receipt, (done, renewal) in held:
            done.set()
            renewal.join(RENEWAL_JOIN_S)
            self.release(receipt)
        return len(held)

    def _renew(self, receipt: str, done: threading.Event, visibility_seconds: int) -> None:
        while not done.wait(max(1.0, visibility_seconds / 3)):
            try:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=visibility_seconds
                )
            except Exception as error:
                self.on_error(f"extending visibility: {error}")
