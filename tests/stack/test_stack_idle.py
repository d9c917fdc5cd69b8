"""The local stack tells when it has work in hand, so tests wait on the work instead of a clock: a session being
summarized keeps it busy, and a wait for something the work will never bring fails once the work is done."""

from __future__ import annotations

import threading

import pytest
from stack_helpers import StackIdle, api_client, make_token, running_stack, session_body, wait_for_stack

from local_stack.messages_server import ScriptedBackend

MARKER = "held-at-the-model"


class HeldBackend(ScriptedBackend):
    """Holds the request for the marked session until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.reached, self.release = threading.Event(), threading.Event()

    def decide(self, body, headers):
        if MARKER in str(body):
            self.reached.set()
            self.release.wait(120)
        return super().decide(body, headers)


def test_work_in_hand_keeps_the_stack_busy_and_a_wait_ends_with_the_work():
    backend = HeldBackend()
    with (
        running_stack(backend) as stack,
        api_client(stack, make_token(stack, ["ingest", "read"], source="planner")) as client,
    ):
        assert client.post("/sessions", json=session_body("held-1", text=f"Text {MARKER}")).status_code == 202
        assert backend.reached.wait(120), "the summarizer never called the model"
        try:
            assert stack.outstanding().get("SummarizeFunction", 0) >= 1
            assert not stack.idle()
        finally:
            backend.release.set()

        def status() -> str:
            return client.get("/sessions/held-1").json()["status"]

        assert wait_for_stack(stack, lambda: status() == "SUMMARIZED")
        with pytest.raises(StackIdle):
            wait_for_stack(stack, lambda: status() == "FAILED")
        assert stack.outstanding() == {}
