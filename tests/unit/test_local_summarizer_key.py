"""The local summarizer's stand-in API key is redacted from error text like a real one, so it is no word there."""

from __future__ import annotations

from functions.summarize.providers import AnthropicSummarizer
from local_stack.summarizer_choice import DEMO_MODEL, LOCAL_API_KEY, LOCAL_MODEL_ID


def test_an_error_names_the_local_model_unredacted():
    summarizer = AnthropicSummarizer(None, model_id=LOCAL_MODEL_ID, max_tokens=384, secrets=(LOCAL_API_KEY,))
    text = f"anthropic model {LOCAL_MODEL_ID} ({DEMO_MODEL}, run locally) stopped with stop_reason=max_tokens"
    assert str(summarizer._error(text, retryable=False)) == text
    leaked = f"authentication failed for key {LOCAL_API_KEY}"
    assert LOCAL_API_KEY not in str(summarizer._error(leaked, retryable=False))
