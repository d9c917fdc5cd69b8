"""Cloud LLM calls, tokens and dollars per session: one summary per session vs asking the cloud for every JSON.

Tokens are counted with the prepared SmolLM2 tokenizer, an approximation of Claude's tokenizer.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.progress import progress
from functions.summarize.pricing import cost_usd, price_for
from functions.summarize.prompt import SYSTEM_PROMPT, USER_TEMPLATE, render_session
from local_stack.samples import sample_sessions
from schemas.contracts import Session, TokenUsage
from schemas.system_definition import load_systems

MODELS = ("claude-haiku-4-5", "claude-sonnet-4-5")
# Smallest prefix the API caches, per model (platform.claude.com, "Prompt caching"); shorter ones are billed in full.
MIN_CACHEABLE_TOKENS = {"claude-haiku-4-5": 4096, "claude-sonnet-4-5": 1024}
UNITS = 1000
ALL_CLOUD_USER = "Write the JSON object for this session.\n\n<session>\n{session_jsonl}\n</session>\n"
SYSTEM_PART = "\n\n# Target system: {name}\n{instructions}\n\nJSON Schema of the answer:\n{schema}\n"


@dataclass(frozen=True)
class Call:
    """One Messages API call: a stable (cacheable) prefix, the per-session input, the output."""

    stable: int
    variable: int
    output: int


def _tokenizer() -> Callable[[str], int]:
    from transformers import AutoTokenizer

    from edge_worker.model_store import prepare_default_model

    tokenizer = AutoTokenizer.from_pretrained(str(prepare_default_model(progress=progress)))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False))


def _calls(count: Callable[[str], int]) -> dict[str, Any]:
    systems = list(load_systems().systems.values())
    sessions = [Session.model_validate(data) for data in sample_sessions()]
    rendered = [render_session(session) for session in sessions]
    # Summary length: the systems' example summaries, written in the style the summarizer is asked for.
    summary_out = round(statistics.mean(count(ex["summary"]) for s in systems for ex in s.examples))
    json_out = {
        s.name: round(statistics.mean(count(json.dumps(ex["expected"], ensure_ascii=False)) for ex in s.examples))
        for s in systems
    }
    system_parts = {
        s.name: SYSTEM_PART.format(
            name=s.name, instructions=s.instructions, schema=json.dumps(s.schema, ensure_ascii=False)
        )
        for s in systems
    }
    designs: dict[str, list[list[Call]]] = {
        "ours": [],
        "all-cloud, one call per system": [],
        "all-cloud, one call for all systems": [],
    }
    for session_jsonl in rendered:
        designs["ours"].append(
            [Call(count(SYSTEM_PROMPT), count(USER_TEMPLATE.format(session_jsonl=session_jsonl)), summary_out)]
        )
        user = count(ALL_CLOUD_USER.format(session_jsonl=session_jsonl))
        designs["all-cloud, one call per system"].append(
            [Call(count(SYSTEM_PROMPT + system_parts[s.name]), user, json_out[s.name]) for s in systems]
        )
        designs["all-cloud, one call for all systems"].append(
            [Call(count(SYSTEM_PROMPT + "".join(system_parts.values())), user, sum(json_out.values()))]
        )
    return {
        "designs": designs,
        "systems": [s.name for s in systems],
        "sessions": len(sessions),
        "summary_output_tokens": summary_out,
        "json_output_tokens": json_out,
        "system_prompt_tokens": count(SYSTEM_PROMPT),
    }


def _cost(model: str, calls: list[Call], cached: bool) -> float:
    """USD for `calls`, made UNITS times each; with caching, a warm cache: one write then reads."""
    total = 0.0
    for call in calls:
        cacheable = cached and call.stable >= MIN_CACHEABLE_TOKENS[model]
        if not cacheable:
            usage = TokenUsage(input_tokens=call.stable + call.variable, output_tokens=call.output)
            total += cost_usd(model, usage) * UNITS
            continue
        write = TokenUsage(
            input_tokens=call.variable, output_tokens=call.output, cache_creation_input_tokens=call.stable
        )
        read = TokenUsage(input_tokens=call.variable, output_tokens=call.output, cache_read_input_tokens=call.stable)
        total += cost_usd(model, write) + cost_usd(model, read) * (UNITS - 1)
    return total


def _mean_per_session(model: str, per_session: list[list[Call]], cached: bool) -> float:
    return statistics.mean(_cost(model, calls, cached) for calls in per_session)


def run(quick: bool) -> dict[str, Any]:
    progress("cloud costs: counting tokens with the SmolLM2 tokenizer")
    counted = _calls(_tokenizer())
    rows = []
    for design, per_session in counted["designs"].items():
        row: dict[str, Any] = {
            "design": design,
            "calls_per_session": statistics.mean(len(calls) for calls in per_session),
            "input_tokens_per_session": statistics.mean(
                sum(c.stable + c.variable for c in calls) for calls in per_session
            ),
            "stable_tokens_per_call": statistics.mean(c.stable for calls in per_session for c in calls),
            "output_tokens_per_session": statistics.mean(sum(c.output for c in calls) for calls in per_session),
        }
        for model in MODELS:
            for cached in (False, True):
                row[f"{model}{'_cached' if cached else ''}"] = round(_mean_per_session(model, per_session, cached), 4)
            row[f"{model}_cache_applies"] = all(
                c.stable >= MIN_CACHEABLE_TOKENS[model] for calls in per_session for c in calls
            )
        rows.append(row)
    ours = counted["designs"]["ours"]
    input_per_session = statistics.mean(sum(c.stable + c.variable for c in calls) for calls in ours)
    break_even = {}
    for row in rows[1:]:
        for model in MODELS:
            price = price_for(model)
            # Summary length at which our one call costs as much per session as this design (no caching).
            tokens = (row[model] / UNITS * 1_000_000 - input_per_session * price.input) / price.output
            break_even[f"{row['design']}|{model}"] = max(0, round(tokens))
    # A refresh re-translates one summary for one system: zero cloud tokens for us, one per-system call all-cloud.
    per_system_calls = [[call] for calls in counted["designs"]["all-cloud, one call per system"] for call in calls]
    refresh = {"ours": {f"{m}{suffix}": 0.0 for m in MODELS for suffix in ("", "_cached")}, "all-cloud": {}}
    for model in MODELS:
        for cached in (False, True):
            refresh["all-cloud"][f"{model}{'_cached' if cached else ''}"] = round(
                _mean_per_session(model, per_system_calls, cached), 4
            )
    return {
        "rows": rows,
        "refresh_per_1000": refresh,
        "break_even_summary_tokens": break_even,
        "units": UNITS,
        "models": list(MODELS),
        "min_cacheable": MIN_CACHEABLE_TOKENS,
        **{k: v for k, v in counted.items() if k != "designs"},
    }
