"""The offline demo's sample summaries, served through the real anthropic SDK by ReferenceBackend."""

from __future__ import annotations

import json

import anthropic
import pytest

from functions.summarize.prompt import build_messages
from local_stack.messages_server import ReferenceBackend, ScriptedBackend, start_messages_server
from local_stack.samples import SAMPLES_DIR, reference_summaries, sample_sessions
from schemas.contracts import Session
from schemas.summary_format import SECTIONS, sections


@pytest.fixture
def client():
    server = start_messages_server(
        ReferenceBackend(reference_summaries(), ScriptedBackend(), "local-reference-summaries")
    )
    yield anthropic.Anthropic(api_key="k", base_url=server.url, max_retries=0, timeout=30)
    server.stop()


def ask(client: anthropic.Anthropic, session: dict) -> anthropic.types.Message:
    system, messages = build_messages(Session.model_validate(session))
    return client.messages.create(model="local-smollm2-135m", max_tokens=384, system=system, messages=messages)


def test_every_sample_has_a_summary_in_the_summarizers_sections():
    assert len(reference_summaries()) == len(sample_sessions()) == 3
    for text in reference_summaries().values():
        assert list(sections(text)) == list(SECTIONS)
        assert all(sections(text).values())


def test_a_sample_gets_its_summary_under_its_own_model_and_any_other_session_goes_to_the_fallback(client):
    [sample] = [s for s in sample_sessions() if s["session_id"] == "sample-nudge-0001"]
    message = ask(client, sample)
    assert message.content[0].text == (SAMPLES_DIR / "nudge-water-and-mum.summary.txt").read_text().strip()
    assert message.model == "local-reference-summaries" and message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0

    edited = json.loads(json.dumps(sample))
    edited["turns"][0]["content"] = "Remind me to call Dad on Sunday at 6pm."
    other = ask(client, edited)
    assert other.content[0].text.startswith("Scripted summary") and other.model == "local-smollm2-135m"
