"""Score a translator on a system's labelled examples: validity and field-level precision/recall/F1."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from edge_worker.constrained import ConstrainedGenerationError
from edge_worker.prompting import prompt_version
from edge_worker.translator import InvalidTranslationError, TranslationFailure, Translator


class ExampleScore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int
    valid: bool
    precision: float
    recall: float
    f1: float
    seconds: float
    generated_tokens: int
    error: str | None = None
    document: dict[str, Any] | None = None


class SystemEvaluation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: str
    translator_model_version: str
    translator_prompt_version: str
    schema_version: str
    examples: int
    valid_rate: float
    precision: float  # micro-averaged over all leaves of all examples
    recall: float
    f1: float
    mean_seconds: float
    tokens_per_second: float
    scores: list[ExampleScore]


def flatten(value: Any, path: str = "") -> list[str]:
    """JSON as `path=value` leaves; list items share the path `name[]` so order does not matter."""
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in flatten(item, f"{path}.{key}" if path else key)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in flatten(item, f"{path}[]")]
    return [f"{path}={_normal(value)}"]


def _normal(value: Any) -> str:
    if isinstance(value, str):
        return " ".join(value.split()).casefold()
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, (int, float)):
        return repr(float(value))
    return repr(value)


def leaf_matches(predicted: Any, expected: Any) -> tuple[int, int, int]:
    """(true positives, predicted leaves, expected leaves), counting repeated leaves as a multiset."""
    got, want = Counter(flatten(predicted)), Counter(flatten(expected))
    return sum((got & want).values()), sum(got.values()), sum(want.values())


def prf(true_positives: int, predicted: int, expected: int) -> tuple[float, float, float]:
    # Vacuous cases count as 1.0: predicting nothing is precise, expecting nothing is fully recalled.
    precision = true_positives / predicted if predicted else 1.0
    recall = true_positives / expected if expected else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def evaluate_system(translator: Translator, system: Any, *, progress: Any = None) -> SystemEvaluation:
    scores: list[ExampleScore] = []
    totals = [0, 0, 0]
    generated = decode_seconds = 0.0
    for index, example in enumerate(system.examples):
        if progress:
            progress(f"eval {system.name} example {index + 1}/{len(system.examples)}")
        expected = example["expected"]
        try:
            [translation] = translator.translate(f"{system.name}-example-{index}", example["summary"], [system])
            if isinstance(translation, TranslationFailure):
                raise ConstrainedGenerationError(translation.error)
        except (ConstrainedGenerationError, InvalidTranslationError) as exc:
            scores.append(
                ExampleScore(
                    index=index,
                    valid=False,
                    precision=0.0,
                    recall=0.0,
                    f1=0.0,
                    seconds=0.0,
                    generated_tokens=0,
                    error=str(exc),
                )
            )
            _, _, want = leaf_matches({}, expected)
            totals[2] += want
            continue
        counts = leaf_matches(translation.document, expected)
        totals = [total + count for total, count in zip(totals, counts)]
        precision, recall, f1 = prf(*counts)
        stats = translation.stats
        scores.append(
            ExampleScore(
                index=index,
                valid=True,
                precision=precision,
                recall=recall,
                f1=f1,
                seconds=stats.seconds,
                generated_tokens=stats.generated_tokens,
                document=translation.document,
            )
        )
        if stats.tokens_per_second > 0:
            generated += stats.generated_tokens
            decode_seconds += stats.generated_tokens / stats.tokens_per_second
    precision, recall, f1 = prf(*totals)
    count = len(scores)
    return SystemEvaluation(
        system=system.name,
        translator_model_version=translator.model_version,
        translator_prompt_version=prompt_version(system),
        schema_version=system.schema_version,
        examples=count,
        valid_rate=sum(score.valid for score in scores) / count if count else 0.0,
        precision=round(precision, 4),
        recall=round(recall, 4),
        f1=round(f1, 4),
        mean_seconds=round(sum(score.seconds for score in scores) / count, 3) if count else 0.0,
        tokens_per_second=round(generated / decode_seconds, 2) if decode_seconds else 0.0,
        scores=scores,
    )


def render_markdown(evaluations: Iterable[SystemEvaluation]) -> str:
    evaluations = list(evaluations)
    lines = [
        "| system | examples | schema-valid | precision | recall | F1 | mean latency (s) | tokens/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for ev in evaluations:
        lines.append(
            f"| {ev.system} | {ev.examples} | {ev.valid_rate:.0%} | {ev.precision:.2f} | {ev.recall:.2f} "
            f"| {ev.f1:.2f} | {ev.mean_seconds:.2f} | {ev.tokens_per_second:.1f} |"
        )
    if evaluations:
        lines.append("")
        lines.append(f"Model `{evaluations[0].translator_model_version}`.")
    return "\n".join(lines) + "\n"
