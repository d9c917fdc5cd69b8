"""The usage table: token and cost totals per day and model, kept as counters."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from functions.stores.dynamo import dynamo_number, plain, table
from schemas.contracts import TokenUsage


class UsageStore:
    def __init__(self, table_name: str) -> None:
        self.table = table(table_name)

    def add(self, day: str, model_id: str, usage: TokenUsage, cost_usd: float | None) -> None:
        """Count one call of `model_id` on `day` (YYYY-MM-DD); a call of unknown cost (None) counts in
        unpriced_calls and adds nothing to cost_usd."""
        values: dict[str, Any] = {
            ":one": 1,
            ":i": usage.input_tokens,
            ":o": usage.output_tokens,
            ":cr": usage.cache_read_input_tokens,
            ":cw": usage.cache_creation_input_tokens,
        }
        counters = "ADD calls :one, input_tokens :i, output_tokens :o, cache_read_input_tokens :cr, "
        counters += "cache_creation_input_tokens :cw"
        if cost_usd is None:
            counters += ", unpriced_calls :one"
        else:
            counters, values[":c"] = counters + ", cost_usd :c", dynamo_number(round(cost_usd, 8))
        self.table.update_item(
            Key={"day": day, "model_id": model_id}, UpdateExpression=counters, ExpressionAttributeValues=values
        )

    def day(self, day: str) -> list[dict[str, Any]]:
        """One row per model used on `day`, with plain numbers."""
        return [plain(row) for row in self.table.query(KeyConditionExpression=Key("day").eq(day)).get("Items", [])]
