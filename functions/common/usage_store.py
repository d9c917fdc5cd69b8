"""Token and cost totals per day and model, kept as counters."""

from __future__ import annotations

from decimal import Decimal

import boto3

from schemas.contracts import TokenUsage


class UsageStore:
    def __init__(self, table_name: str) -> None:
        self.table = boto3.resource("dynamodb").Table(table_name)

    def add(self, day: str, model_id: str, usage: TokenUsage, cost_usd: float) -> None:
        self.table.update_item(
            Key={"day": day, "model_id": model_id},
            UpdateExpression="ADD calls :one, input_tokens :i, output_tokens :o, cache_read_input_tokens :cr, "
            "cache_creation_input_tokens :cw, cost_usd :c",
            ExpressionAttributeValues={
                ":one": 1,
                ":i": usage.input_tokens,
                ":o": usage.output_tokens,
                ":cr": usage.cache_read_input_tokens,
                ":cw": usage.cache_creation_input_tokens,
                ":c": Decimal(str(round(cost_usd, 8))),
            },
        )
