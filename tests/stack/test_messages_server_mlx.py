"""MlxBackend on a tiny random llama (real mlx_lm.load), called through the real anthropic client."""

from __future__ import annotations

from pathlib import Path

import anthropic
import pytest
from tiny_model import NO_SYSTEM_ROLE_TEMPLATE, build_tiny_model

from local_stack.messages_server import MlxBackend, start_messages_server

SYSTEM = "You write the single, permanent summary of one session."
USER = "Summarize: the user planned a trip to Lisbon on 2024-05-12."


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("messages-server-tiny"))


@pytest.fixture(scope="module")
def server(model_dir):
    handle = start_messages_server(MlxBackend(str(model_dir), max_tokens=12))
    yield handle
    handle.stop()


def direct_generation(model_dir: Path, max_tokens: int) -> tuple[str, int, int]:
    """What mlx_lm produces for the same chat without the server: (text, prompt tokens, generated tokens)."""
    from mlx_lm import load, stream_generate

    model, tokenizer = load(str(model_dir))
    chat = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]
    prompt = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)
    pieces, generated = [], 0
    for response in stream_generate(model, tokenizer, prompt, max_tokens=max_tokens):
        pieces.append(response.text)
        generated = response.generation_tokens
    return "".join(pieces), len(prompt), generated


def create(client, cache_system: bool):
    system_block = {"type": "text", "text": SYSTEM}
    if cache_system:
        system_block["cache_control"] = {"type": "ephemeral"}
    return client.messages.create(
        model="local-mlx",
        max_tokens=8,
        system=[system_block],
        messages=[{"role": "user", "content": [{"type": "text", "text": USER}]}],
    )


def test_mlx_backend_answers_like_mlx_lm_through_the_sdk(server, model_dir):
    client = anthropic.Anthropic(api_key="local", base_url=server.url, max_retries=0, timeout=120)
    message = create(client, cache_system=False)
    text, prompt_tokens, generated = direct_generation(model_dir, max_tokens=8)
    assert generated > 0 and text
    assert message.content[0].text == text
    assert message.usage.input_tokens == prompt_tokens
    assert message.usage.cache_creation_input_tokens == 0 and message.usage.cache_read_input_tokens == 0
    assert message.usage.output_tokens == generated
    assert message.stop_reason == ("max_tokens" if generated == 8 else "end_turn")
    assert message.model == "local-mlx"

    counted = client.messages.count_tokens(
        model="local-mlx", system=SYSTEM, messages=[{"role": "user", "content": USER}]
    )
    assert counted.input_tokens == prompt_tokens


def test_cache_control_reuses_the_system_prefix_and_keeps_the_answer(server, model_dir):
    client = anthropic.Anthropic(api_key="local", base_url=server.url, max_retries=0, timeout=120)
    text, prompt_tokens, _ = direct_generation(model_dir, max_tokens=8)
    first, second = create(client, cache_system=True), create(client, cache_system=True)
    written = first.usage.cache_creation_input_tokens
    assert 0 < written < prompt_tokens
    assert first.usage.input_tokens + written == prompt_tokens
    assert second.usage.cache_read_input_tokens == written and second.usage.cache_creation_input_tokens == 0
    assert second.usage.input_tokens == first.usage.input_tokens
    assert first.content[0].text == second.content[0].text == text


def test_backend_caps_generated_tokens(server):
    client = anthropic.Anthropic(api_key="local", base_url=server.url, max_retries=0, timeout=120)
    message = client.messages.create(model="local-mlx", max_tokens=4000, messages=[{"role": "user", "content": USER}])
    assert message.usage.output_tokens <= 12


def test_only_the_latest_cached_prefixes_are_kept_and_a_partly_cached_one_answers_the_same(model_dir):
    def ask(client, system: str):
        block = {"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}
        message = client.messages.create(
            model="local-mlx", max_tokens=6, system=[block], messages=[{"role": "user", "content": USER}]
        )
        return message.usage.cache_read_input_tokens > 0, message.content[0].text

    with start_messages_server(MlxBackend(str(model_dir), max_tokens=6, cached_prefixes=1)) as one_prefix:
        client = anthropic.Anthropic(api_key="local", base_url=one_prefix.url, max_retries=0, timeout=120)
        read, first = ask(client, SYSTEM)
        assert not read
        assert ask(client, SYSTEM) == (True, first)
        assert not ask(client, "A different system prompt for another job.")[0]
        assert ask(client, SYSTEM) == (False, first)  # pushed out by the newer prefix, whose shared start it reuses


def test_a_chat_template_without_a_system_role_gets_the_system_text_in_the_first_user_turn(tmp_path):
    folder = build_tiny_model(tmp_path / "no-system-role", chat_template=NO_SYSTEM_ROLE_TEMPLATE)
    backend = MlxBackend(str(folder), max_tokens=6)
    with start_messages_server(backend) as server:
        client = anthropic.Anthropic(api_key="local", base_url=server.url, max_retries=0, timeout=120)
        for system in (SYSTEM, [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]):
            message = client.messages.create(
                model="local-mlx", max_tokens=6, system=system, messages=[{"role": "user", "content": USER}]
            )
            assert message.usage.output_tokens > 0 and message.stop_reason in ("end_turn", "max_tokens")
        counted = client.messages.count_tokens(
            model="local-mlx", system=SYSTEM, messages=[{"role": "user", "content": USER}]
        )
    from mlx_lm import load

    _, tokenizer = load(str(folder))
    folded = [{"role": "user", "content": f"{SYSTEM}\n\n{USER}"}]
    assert counted.input_tokens == len(tokenizer.apply_chat_template(folded, add_generation_prompt=True))
