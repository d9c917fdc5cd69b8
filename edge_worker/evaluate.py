"""Score a translator on one split of a system's labelled examples: schema validity, item-level precision, recall
and F1 (items matched by the system's key fields), exact dates, invented and repeated items, latency.

`evaluate_system` runs the examples; `render_markdown` prints results side by side; `registry_upload` makes the
`eval-result` registry entry that names the versions measured.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from edge_worker.constrained import ConstrainedGenerationError
from edge_worker.prompting import prompt_version, zero_shot
from edge_worker.quality.items import ItemKeys
from edge_worker.quality.metrics import prf, score_document
from edge_worker.translator import InvalidTranslationError, TranslationFailure
from schemas.edge_api import RegistryUpload
from schemas.eval_result import EvalResult, ExampleScore
from schemas.lineage import content_version

SystemEvaluation = EvalResult
EVAL_RESULT_KIND = "eval-result"


class EmptySplitError(ValueError):
    """The split of the system has no labelled example to score."""


def evaluate_system(
    translator: Any,
    system: Any,
    *,
    split: str = "eval",
    zero_shot_prompt: bool = False,
    limit: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> SystemEvaluation:
    """Translate each example of `split` (at most `limit`, in file order) and score it against its expectation.

    zero_shot_prompt: prompt without the system's worked examples. Raises EmptySplitError when the split holds no
    example, ValueError for an unknown split. The result's `.f1` is item-level (micro-averaged); it names the prompt
    and adapter versions that made the documents (an adapter is served in the prompt it was trained on).
    """
    examples = list(system.examples_for(split))[:limit] if limit is not None else list(system.examples_for(split))
    if not examples:
        raise EmptySplitError(f"system {system.name!r} has no example in the {split!r} split")
    target = zero_shot(system) if zero_shot_prompt else system
    keys = ItemKeys.of(system)
    scores: list[ExampleScore] = []
    suppressed = dropped = 0
    generated = decode_seconds = 0.0
    lineage = None  # what made the documents: the prompt served and the adapter, if any
    for index, example in enumerate(examples):
        if progress:
            progress(f"eval {system.name} {split} example {index + 1}/{len(examples)}")
        expected = example["expected"]
        try:
            [translation] = translator.translate(f"{system.name}-{split}-{index}", example["summary"], [target])
            if isinstance(translation, TranslationFailure):
                raise ConstrainedGenerationError(translation.error)
        except (ConstrainedGenerationError, InvalidTranslationError) as exc:
            counts = score_document({}, expected, keys)
            scores.append(
                ExampleScore(
                    index=index,
                    valid=False,
                    expected=counts.expected,
                    precision=0.0,
                    recall=0.0,
                    f1=0.0,
                    invented=False if counts.expected == 0 else None,
                    seconds=0.0,
                    generated_tokens=0,
                    error=str(exc),
                )
            )
            continue
        stats, lineage = translation.stats, translation.lineage
        counts = score_document(translation.document, expected, keys)
        stopped = stats.duplicates_suppressed + stats.duplicates_dropped
        suppressed += stats.duplicates_suppressed
        dropped += stats.duplicates_dropped
        precision, recall, f1 = prf(counts.matched, counts.predicted, counts.expected)
        scores.append(
            ExampleScore(
                index=index,
                valid=True,
                matched=counts.matched,
                predicted=counts.predicted,
                expected=counts.expected,
                precision=round(precision, 4),
                recall=round(recall, 4),
                f1=round(f1, 4),
                dated=counts.dated,
                dates_exact=counts.dates_exact,
                invented=counts.invented,
                duplicates=counts.duplicates + stopped,
                seconds=stats.seconds,
                generated_tokens=stats.generated_tokens,
                document=translation.document,
            )
        )
        if stats.tokens_per_second > 0:
            generated += stats.generated_tokens
            decode_seconds += stats.generated_tokens / stats.tokens_per_second
    return _summary(
        translator, target, split, zero_shot_prompt, scores, suppressed, dropped, generated, decode_seconds, lineage
    )


def _summary(
    translator: Any,
    target: Any,
    split: str,
    zero_shot_prompt: bool,
    scores: list[ExampleScore],
    suppressed: int,
    dropped: int,
    generated: float,
    decode_seconds: float,
    lineage: Any = None,
) -> SystemEvaluation:
    count = len(scores)
    precision, recall, f1 = prf(
        sum(s.matched for s in scores), sum(s.predicted for s in scores), sum(s.expected for s in scores)
    )
    dated = sum(s.dated for s in scores)
    empty = [s for s in scores if s.invented is not None]
    return SystemEvaluation(
        system=target.name,
        split=split,  # type: ignore[arg-type]
        zero_shot=zero_shot_prompt,
        translator_model_version=translator.model_version,
        translator_prompt_version=lineage.translator_prompt_version if lineage else prompt_version(target),
        schema_version=target.schema_version,
        translator_adapter_version=lineage.translator_adapter_version if lineage else None,
        examples=count,
        valid_rate=round(sum(s.valid for s in scores) / count, 4),
        precision=round(precision, 4),
        recall=round(recall, 4),
        f1=round(f1, 4),
        exact_date_accuracy=round(sum(s.dates_exact for s in scores) / dated, 4) if dated else None,
        dated_matches=dated,
        empty_examples=len(empty),
        invented_rate=round(sum(bool(s.invented) for s in empty) / len(empty), 4) if empty else None,
        duplicate_items=sum(s.duplicates for s in scores),
        duplicate_rate=round(sum(s.duplicates > 0 for s in scores) / count, 4),
        duplicates_suppressed=suppressed,
        duplicates_dropped=dropped,
        mean_seconds=round(sum(s.seconds for s in scores) / count, 3),
        tokens_per_second=round(generated / decode_seconds, 2) if decode_seconds else 0.0,
        scores=scores,
    )


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def render_markdown(evaluations: Iterable[SystemEvaluation]) -> str:
    """The results as a Markdown table, one row per (system, split, prompt)."""
    evaluations = list(evaluations)
    lines = [
        "| system | split | prompt | examples | schema-valid | precision | recall | F1 | exact dates | invented "
        "| duplicates | s/doc | tokens/s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for ev in evaluations:
        lines.append(
            f"| {ev.system} | {ev.split} | {'zero-shot' if ev.zero_shot else 'few-shot'} | {ev.examples} "
            f"| {ev.valid_rate:.0%} | {ev.precision:.2f} | {ev.recall:.2f} | {ev.f1:.2f} "
            f"| {_rate(ev.exact_date_accuracy)} ({ev.dated_matches}) | {_rate(ev.invented_rate)} ({ev.empty_examples}) "
            f"| {ev.duplicate_items} ({ev.duplicate_rate:.0%}) | {ev.mean_seconds:.2f} | {ev.tokens_per_second:.1f} |"
        )
    if evaluations:
        lines.append("")
        lines.append(
            f"Model `{evaluations[0].translator_model_version}`. Exact dates: share of matched items with a date "
            "(count); invented: share of examples expecting no item given some (count); duplicates: repeated items "
            "generated (share of documents), all kept out of the output."
        )
    return "\n".join(lines) + "\n"


def registry_upload(evaluation: SystemEvaluation) -> tuple[str, RegistryUpload]:
    """(version id, upload) of the `eval-result` entry: the scores without the generated documents."""
    content = evaluation.model_dump(mode="json")
    for score in content["scores"]:
        score.pop("document", None)
    return content_version(EVAL_RESULT_KIND, content), RegistryUpload(kind=EVAL_RESULT_KIND, content=content)
