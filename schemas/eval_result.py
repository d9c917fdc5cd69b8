"""The `eval-result` registry entry: a translator's scores on one split of a system's labelled examples."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ExampleScore(BaseModel):
    """One labelled example: its items matched, generated and expected, dates, invented and repeated items."""

    model_config = ConfigDict(extra="forbid")

    index: int = Field(description="position of the example within its split")
    valid: bool = Field(description="a schema-valid document was produced")
    matched: int = 0
    predicted: int = 0
    expected: int = 0
    precision: float
    recall: float
    f1: float
    dated: int = Field(default=0, description="matched items holding a date in either document")
    dates_exact: int = Field(default=0, description="of those, items whose dates all equal the expected ones")
    invented: bool | None = Field(default=None, description="items where none were expected (None: some were expected)")
    duplicates: int = Field(default=0, description="repeated items: left in the document, rolled back or dropped")
    seconds: float
    generated_tokens: int
    error: str | None = None
    document: dict[str, Any] | None = None


class EvalResult(BaseModel):
    """Scores of one translator (model, prompt, schema and adapter versions) on one split of one system.

    Items are matched by the system's key fields; precision, recall and F1 are micro-averaged over items.
    exact_date_accuracy is None when no matched item holds a date; invented_rate None without empty examples.
    """

    model_config = ConfigDict(extra="forbid")

    system: str
    split: Literal["prompt", "train", "eval"]
    zero_shot: bool
    translator_model_version: str
    translator_prompt_version: str
    schema_version: str
    translator_adapter_version: str | None = None
    examples: int
    valid_rate: float
    precision: float
    recall: float
    f1: float
    exact_date_accuracy: float | None
    dated_matches: int
    empty_examples: int = Field(description="examples whose expected document has no item")
    invented_rate: float | None = Field(description="share of the empty examples given at least one item")
    duplicate_items: int
    duplicate_rate: float = Field(description="share of documents with a repeated item")
    duplicates_suppressed: int = Field(description="repeated items rolled back while decoding")
    duplicates_dropped: int = Field(description="repeated items removed after decoding")
    mean_seconds: float = Field(description="wall time per document, seconds")
    tokens_per_second: float
    scores: list[ExampleScore]
