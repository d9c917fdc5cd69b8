"""SQS leases: a held message is renewed, then deleted or given back; what is still held is given back at stop."""

from __future__ import annotations

import threading

import pytest
from edge_fakes import EDGE_QUEUE, FakeSqs

from edge_worker.leases import QueueLeases


@pytest.fixture
def sqs() -> FakeSqs:
    return FakeSqs()


def leases(sqs: FakeSqs, errors: list[str], visibility_seconds: int | None = 3) -> QueueLeases:
    return QueueLeases(sqs, EDGE_QUEUE, wait_seconds=1, visibility_seconds=visibility_seconds, on_error=errors.append)


def visibility_changes(sqs: FakeSqs) -> list[int]:
    return [kwargs["VisibilityTimeout"] for operation, kwargs in sqs.calls if operation == "change_message_visibility"]


def test_receive_asks_for_the_lease_and_the_long_poll(sqs):
    sqs.send(EDGE_QUEUE, "job")
    [message] = leases(sqs, []).receive(1)
    assert message["Body"] == "job" and sqs.in_flight(EDGE_QUEUE) == ["job"]
    (_, kwargs) = sqs.calls[0]
    assert (kwargs["MaxNumberOfMessages"], kwargs["WaitTimeSeconds"], kwargs["VisibilityTimeout"]) == (1, 1, 3)
    leases(sqs, [], visibility_seconds=None).receive(10)
    assert "VisibilityTimeout" not in sqs.calls[-1][1]  # the queue's own timeout


def test_a_held_message_is_renewed_until_its_work_ends(sqs):
    """Every third of the visibility timeout (at least a second): the one slow test of this file."""
    sqs.send(EDGE_QUEUE, "job")
    queue = leases(sqs, [])
    [message] = queue.receive(1)
    with queue.hold(message) as receipt:
        assert sqs.wait_for(lambda: visibility_changes(sqs) == [3], timeout=5)
    queue.delete(receipt)
    assert sqs.visible(EDGE_QUEUE) == [] and sqs.in_flight(EDGE_QUEUE) == []
    assert visibility_changes(sqs) == [3]  # no renewal after the block


def test_release_gives_the_message_back_at_once(sqs):
    sqs.send(EDGE_QUEUE, "job")
    queue = leases(sqs, [])
    [message] = queue.receive(1)
    with queue.hold(message) as receipt:
        pass
    queue.release(receipt)
    assert sqs.visible(EDGE_QUEUE) == ["job"] and visibility_changes(sqs) == [0]


def test_at_stop_what_is_still_held_is_released_after_its_renewal_ended(sqs):
    sqs.send(EDGE_QUEUE, "job")
    queue, working, finish = leases(sqs, []), threading.Event(), threading.Event()
    [message] = queue.receive(1)

    def stuck_work() -> None:  # a forward pass that cannot be interrupted
        with queue.hold(message):
            working.set()
            finish.wait(10)

    worker = threading.Thread(target=stuck_work)
    worker.start()
    assert working.wait(5)
    assert queue.release_held() == 1
    assert sqs.visible(EDGE_QUEUE) == ["job"] and visibility_changes(sqs) == [0]
    finish.set()
    worker.join(5)
    assert queue.release_held() == 0


def test_errors_of_delete_and_release_are_reported_not_raised(sqs):
    errors: list[str] = []
    sqs.send(EDGE_QUEUE, "job")
    queue = leases(sqs, errors)
    [message] = queue.receive(1)
    sqs.failing = {"delete_message", "change_message_visibility"}
    queue.delete(message["ReceiptHandle"])
    queue.release(message["ReceiptHandle"])
    assert len(errors) == 2 and all("could not connect" in error for error in errors)
    assert sqs.in_flight(EDGE_QUEUE) == ["job"]  # it comes back after its timeout


def test_holding_needs_a_visibility_timeout(sqs):
    sqs.send(EDGE_QUEUE, "query")
    queue = leases(sqs, [], visibility_seconds=None)
    [message] = queue.receive(10)
    with pytest.raises(ValueError, match="visibility timeout"), queue.hold(message):
        pass
