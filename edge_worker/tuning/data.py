"""Training data for one system: its `train` split plus the distilled documents, split into the decodings the
translator serves (one per summary bullet for `item_per_bullet` lists), as token sequences in the translator's own
system-first prompt, with the prompt masked (mlx-lm's (tokens, offset) dataset items)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edge_worker.config import ssp_home
from edge_worker.prompting import SystemPrompt, compact_json
from edge_worker.quality.items import normal_text
from schemas.json_text import json_type
from schemas.lineage import canonical_json

TRAIN_SPLIT = "train"
EVAL_SPLIT = "eval"


class DistilledDataError(ValueError):
    """A distilled.jsonl line that is not a distillation row; the message names the file and line."""


def training_dir(system: str) -> Path:
    """$SSP_HOME/training/<system>: the system's distilled data."""
    return ssp_home() / "training" / system


def distilled_path(system: str) -> Path:
    return training_dir(system) / "distilled.jsonl"


@contextlib.contextmanager
def distilled_lock(system: str) -> Iterator[Path]:
    """Hold the system's training folder lock (a POSIX advisory lock on `.lock`): appending rows and rewriting the
    file never interleave across processes (the `distill` command and the daemon). Yields distilled_path."""
    folder = training_dir(system)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield distilled_path(system)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def distilled_systems() -> list[str]:
    """The systems with a distilled.jsonl under $SSP_HOME/training."""
    root = ssp_home() / "training"
    return sorted(path.parent.name for path in root.glob("*/distilled.jsonl")) if root.is_dir() else []


def drop_distilled(system: str, summary_ids: set[str]) -> int:
    """Remove the system's distilled rows of these summaries (the file is replaced whole); returns rows removed."""
    with distilled_lock(system) as path:
        if not path.is_file():
            return 0
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [
            line
            for number, line in enumerate(lines, 1)
            if not line.strip() or _row(path, number, line)["summary_id"] not in summary_ids
        ]
        if len(kept) == len(lines):
            return 0
        scratch = path.with_name(path.name + ".tmp")
        scratch.write_text("".join(kept), encoding="utf-8")
        os.replace(scratch, path)
        return len(lines) - len(kept)


def read_distilled(system: str) -> Iterator[dict[str, Any]]:
    """The kept distillation rows of a system: {summary_id, text, document, model, schema_version}.

    Raises DistilledDataError naming the file and line of a row that is not valid."""
    path = distilled_path(system)
    if not path.is_file():
        return
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield _row(path, number, line)


def _row(path: Path, number: int, line: str | bytes) -> dict[str, Any]:
    """One distilled.jsonl line as a row; DistilledDataError when it is not JSON or lacks the row's fields."""
    try:
        row = json.loads(line.decode("utf-8") if isinstance(line, bytes) else line)
    except UnicodeDecodeError:
        raise DistilledDataError(f"{path}, line {number}: not UTF-8 text") from None
    except ValueError as exc:
        raise DistilledDataError(f"{path}, line {number}: not valid JSON ({exc})") from None
    if not isinstance(row, dict):
        raise DistilledDataError(f"{path}, line {number}: must be a JSON object, not {json_type(row)}")
    problems = [name for name in ("summary_id", "text") if not isinstance(row.get(name), str)]
    problems += [] if "document" in row else ["document"]
    if problems:
        raise DistilledDataError(f"{path}, line {number}: missing or invalid {', '.join(problems)}")
    return row


def training_examples(system: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """({"summary", "expected"} examples to train on, what they are: counts and sha256 of each source).

    The held-out `eval` split is never trained on: distilled rows whose text is one of its summaries are left out,
    as are rows made for another schema version than the system's current one.
    """
    labelled = [{"summary": e["summary"], "expected": e["expected"]} for e in system.examples_for(TRAIN_SPLIT)]
    held_out = {example["summary"].strip() for example in system.examples_for(EVAL_SPLIT)}
    distilled = [
        {"summary": row["text"], "expected": row["document"]}
        for row in read_distilled(system.name)
        if row.get("schema_version") == system.schema_version and row["text"].strip() not in held_out
    ]
    data = {
        "train_examples": len(labelled),
        "train_sha256": _digest(labelled),
        "distilled_examples": len(distilled),
        "distilled_sha256": _digest(distilled),
    }
    return labelled + distilled, data


def eval_examples(system: Any, limit: int | None = None) -> list[dict[str, Any]]:
    """The held-out `eval` split (its first `limit` examples)."""
    examples = list(system.examples_for(EVAL_SPLIT))
    return examples[:limit] if limit else examples


def served_examples(system: Any, examples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`examples` ({"summary", "expected"}) as the decodings the translator serves (`system.parts_for`): a part that
    reads one bullet expects the expected item of its lists that the bullet writes (`bullet_items`), the
    whole-summary part the other lists' items. A bullet of lists that all take exactly one item but whose item the
    labels leave out is no example (its grammar could not write the labels), nor is a summary the model never reads."""
    served = []
    counts = getattr(system, "item_per_bullet", None) or {}
    for example in examples:
        expected, found = example["expected"], system.parts_for(example["summary"])
        written = bullet_items(system, found, expected)
        for position, part in enumerate(found):
            target = {name: [] if isinstance(value, list) else value for name, value in expected.items()}
            if part.whole:
                target |= {name: expected[name] for name in part.lists if name in expected}
            elif position in written:
                name, index = written[position]
                target[name] = [expected[name][index]]
            elif all(counts.get(name) == "exactly_one" for name in part.lists):
                continue
            served.append({"summary": part.summary, "expected": target})
    return served


def bullet_items(system: Any, found: list[Any], expected: dict[str, Any]) -> dict[int, tuple[str, int]]:
    """{part position: (list, item index)}: the expected item each bullet's part writes, one-to-one, pairs sharing
    more of the item's key words first; a pair counts when at least half of the item's key words are the bullet's."""
    keys = getattr(system, "key_fields", None) or {}
    pairs = []
    for position, part in enumerate(found):
        bullet = set(normal_text(part.bullet or "").split())
        for name in part.lists if part.bullet is not None else ():
            for index, item in enumerate(expected.get(name) or []):
                words = set(normal_text(_key_text(item, keys.get(name))).split())
                shared = len(words & bullet)
                if words and shared / len(words) >= 0.5:
                    pairs.append((-shared, -shared / len(words), position, name, index))
    written: dict[int, tuple[str, int]] = {}
    for *_, position, name, index in sorted(pairs):
        if position not in written and (name, index) not in written.values():
            written[position] = (name, index)
    return written


def _key_text(item: Any, fields: list[str] | None) -> str:
    """The text of an item's key fields (every string field without a declaration), or the item when a string."""
    if isinstance(item, str):
        return item
    if not isinstance(item, dict):
        return ""
    names = fields if fields else [name for name, value in item.items() if isinstance(value, str)]
    return " ".join(item[name] for name in names if isinstance(item.get(name), str))


def token_sequences(
    prompt: SystemPrompt, tokenizer: Any, examples: list[dict[str, Any]], mask_prompt: bool = True
) -> list[tuple[list[int], int]]:
    """Each example as (prompt tokens + compact JSON answer + end of turn, offset where the loss starts).

    The answer is written as the grammar writes it (compact JSON) and ends with the tokenizer's EOS token, as a
    constrained translation does. With mask_prompt the offset is the prompt's length (only the answer is learnt).
    """
    sequences = []
    eos = tokenizer.eos_token_id
    for example in examples:
        head = prompt.full_tokens(example["summary"])
        answer = list(tokenizer.encode(compact_json(example["expected"]), add_special_tokens=False))
        sequences.append((head + answer + [eos], len(head) if mask_prompt else 0))
    return sequences


def _digest(examples: list[dict[str, Any]]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(examples).encode("utf-8")).hexdigest()
