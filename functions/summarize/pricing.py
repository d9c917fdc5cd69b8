"""What a summarizer call cost, in USD, from its token usage.

Prices are USD per million tokens (platform.claude.com "Pricing", standard tier, 5-minute cache
writes). Bedrock, Vertex and dated ids normalise to the same entry as the Anthropic alias.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas.contracts import TokenUsage

CACHE_WRITE_MULTIPLIER = 1.25
CACHE_READ_MULTIPLIER = 0.10
BATCH_DISCOUNT = 0.50
LOCAL_MODEL_PREFIX = "local"


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_write: float
    cache_read: float


def _standard(input_per_mtok: float, output_per_mtok: float) -> Price:
    return Price(
        input=input_per_mtok,
        output=output_per_mtok,
        cache_write=input_per_mtok * CACHE_WRITE_MULTIPLIER,
        cache_read=input_per_mtok * CACHE_READ_MULTIPLIER,
    )


PRICES: dict[str, Price] = {
    "claude-opus-5": _standard(5.0, 25.0),
    "claude-opus-4-8": _standard(5.0, 25.0),
    "claude-opus-4-7": _standard(5.0, 25.0),
    "claude-opus-4-6": _standard(5.0, 25.0),
    "claude-opus-4-5": _standard(5.0, 25.0),
    "claude-opus-4-1": _standard(15.0, 75.0),
    "claude-opus-4-0": _standard(15.0, 75.0),
    "claude-sonnet-4-6": _standard(3.0, 15.0),
    "claude-sonnet-4-5": _standard(3.0, 15.0),
    "claude-sonnet-4-0": _standard(3.0, 15.0),
    "claude-haiku-4-5": _standard(1.0, 5.0),
    "claude-3-5-haiku": _standard(0.80, 4.0),
    "claude-3-haiku": _standard(0.25, 1.25),
}

# Older ids that name the same model as a table entry once dates and versions are stripped.
ALIASES = {
    "claude-opus-4": "claude-opus-4-0",
    "claude-sonnet-4": "claude-sonnet-4-0",
    "claude-haiku-3-5": "claude-3-5-haiku",
}

_BEDROCK_PREFIX = re.compile(r"^(?:(?:us|eu|apac|jp|au|ca|us-gov|global)\.)?anthropic\.")
_BEDROCK_VERSION = re.compile(r"-v\d+(?::\d+)?$")
_DATE_SUFFIX = re.compile(r"-\d{8}$")
_VERTEX_SUFFIX = re.compile(r"@\d{8}$")


class UnknownModelError(KeyError):
    def __init__(self, model_id: str):
        self.model_id = model_id
        known = ", ".join(sorted(PRICES))
        super().__init__(
            f"no price for model {model_id!r}; known models: {known} "
            f"(and ids starting with {LOCAL_MODEL_PREFIX!r} for the local server)"
        )

    def __str__(self) -> str:
        return str(self.args[0])


def is_local_model(model_id: str) -> bool:
    return model_id == LOCAL_MODEL_PREFIX or model_id.startswith((f"{LOCAL_MODEL_PREFIX}-", f"{LOCAL_MODEL_PREFIX}/"))


def normalise_model_id(model_id: str) -> str:
    """'us.anthropic.claude-haiku-4-5-20251001-v1:0' -> 'claude-haiku-4-5'."""
    name = model_id.strip()
    if "/" in name and name.startswith("arn:"):
        name = name.rsplit("/", 1)[1]
    name = _BEDROCK_PREFIX.sub("", name)
    name = _BEDROCK_VERSION.sub("", name)
    name = _VERTEX_SUFFIX.sub("", name)
    name = _DATE_SUFFIX.sub("", name)
    return ALIASES.get(name, name)


def price_for(model_id: str) -> Price:
    if is_local_model(model_id):
        return Price(0.0, 0.0, 0.0, 0.0)
    try:
        return PRICES[normalise_model_id(model_id)]
    except KeyError:
        raise UnknownModelError(model_id) from None


def cost_usd(model_id: str, usage: TokenUsage, batch: bool = False) -> float:
    """USD for one call; `batch` applies the Message Batches 50% discount."""
    price = price_for(model_id)
    per_mtok = (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_creation_input_tokens * price.cache_write
        + usage.cache_read_input_tokens * price.cache_read
    )
    cost = per_mtok / 1_000_000
    if batch:
        cost *= BATCH_DISCOUNT
    return round(cost, 10)
