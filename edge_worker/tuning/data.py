"""Training data for one system: its `train` split plus the distilled documents, as token sequences in the
translator's own system-first prompt, with the prompt masked (mlx-lm's (tokens, offset) dataset items)."""

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
from schemas.lineage import canonical_json

TRAIN_SPLIT = "train"
EVAL_SPLIT = "eval"


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
        kept = [line for line in lines if not line.strip() or json.loads(line)["summary_id"] not in summary_ids]
        if len(kept) == len(lines):
            return 0
        scratch = path.with_name(path.name + ".tmp")
        scratch.write_text("".join(kept), encoding="utf-8")
        os.replace(scratch, path)
        return len(lines) - len(kept)


def read_distilled(system: str) -> Iterator[dict[str, Any]]:
    """The kept distillation rows of a system: {summary_id, text, document, model, schema_version}."""
    path = distilled_path(system)
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


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
