from __future__ import annotations

import pytest

from functions.summarize.pricing import (
    PRICES,
    UnknownModelError,
    cost_usd,
    normalise_model_id,
    price_for,
)
from schemas.contracts import TokenUsage

MILLION = 1_000_000


def usage(input_tokens=0, output_tokens=0, cache_read=0, cache_write=0) -> TokenUsage:
    return TokenUsage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_input_tokens=cache_read,
        cache_creation_input_tokens=cache_write,
    )


@pytest.mark.parametrize(
    ("model_id", "input_price", "output_price"),
    [
        ("claude-haiku-4-5", 1.0, 5.0),
        ("claude-sonnet-4-5", 3.0, 15.0),
        ("claude-opus-4-1", 15.0, 75.0),
        ("claude-opus-4-5", 5.0, 25.0),
    ],
)
def test_a_million_tokens_costs_the_list_price(model_id, input_price, output_price):
    assert cost_usd(model_id, usage(input_tokens=MILLION)) == pytest.approx(input_price)
    assert cost_usd(model_id, usage(output_tokens=MILLION)) == pytest.approx(output_price)


def test_cache_writes_cost_125_percent_and_reads_10_percent_of_input():
    assert cost_usd("claude-haiku-4-5", usage(cache_write=MILLION)) == pytest.approx(1.25)
    assert cost_usd("claude-haiku-4-5", usage(cache_read=MILLION)) == pytest.approx(0.10)
    assert cost_usd("claude-sonnet-4-5", usage(cache_write=MILLION)) == pytest.approx(3.75)
    assert cost_usd("claude-sonnet-4-5", usage(cache_read=MILLION)) == pytest.approx(0.30)


def test_a_typical_summary_call():
    # 2,000 fresh input + 1,000 cached system prompt + 600 output tokens on Haiku 4.5.
    expected = (2000 * 1.0 + 1000 * 0.10 + 600 * 5.0) / MILLION
    assert cost_usd("claude-haiku-4-5", usage(2000, 600, cache_read=1000)) == pytest.approx(expected)


def test_batch_is_half_price():
    call = usage(12_345, 678, cache_read=900, cache_write=50)
    assert cost_usd("claude-sonnet-4-5", call, batch=True) == pytest.approx(cost_usd("claude-sonnet-4-5", call) / 2)


@pytest.mark.parametrize(
    ("model_id", "entry"),
    [
        ("anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
        ("us.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("anthropic.claude-opus-4-1-20250805-v1:0", "claude-opus-4-1"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("claude-opus-4-1@20250805", "claude-opus-4-1"),
        ("claude-opus-4-20250514", "claude-opus-4-0"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4-0"),
        ("claude-3-5-haiku-20241022", "claude-3-5-haiku"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0",
            "claude-haiku-4-5",
        ),
    ],
)
def test_provider_ids_normalise_to_one_entry(model_id, entry):
    assert normalise_model_id(model_id) == entry
    assert price_for(model_id) == PRICES[entry]


def test_bedrock_and_anthropic_ids_cost_the_same():
    call = usage(5000, 700, cache_read=1200)
    assert cost_usd("us.anthropic.claude-haiku-4-5-20251001-v1:0", call) == cost_usd("claude-haiku-4-5", call)


@pytest.mark.parametrize("model_id", ["local", "local-mlx", "local/SmolLM2-135M-Instruct"])
def test_local_model_is_free(model_id):
    assert cost_usd(model_id, usage(10 * MILLION, MILLION, MILLION, MILLION)) == 0.0


@pytest.mark.parametrize("model_id", ["gpt-4o", "claude-haiku-9-9", "", "localhost-model", "anthropic.titan-text-v1:0"])
def test_unknown_model_is_a_clear_error(model_id):
    with pytest.raises(UnknownModelError) as excinfo:
        cost_usd(model_id, usage(1, 1))
    message = str(excinfo.value)
    assert repr(model_id) in message and "claude-haiku-4-5" in message
    assert isinstance(excinfo.value, KeyError)


def test_every_entry_follows_the_cache_multipliers():
    for model_id, price in PRICES.items():
        assert price.cache_write == pytest.approx(price.input * 1.25), model_id
        assert price.cache_read == pytest.approx(price.input * 0.10), model_id
        assert price.output > price.input > 0, model_id
