"""results.md: one section per benchmark, tables first, each followed by its chart."""

from __future__ import annotations

from typing import Any

from bench.charts import CHARTS
from bench.machine import one_line

SECTION_TITLES = {
    "translation": "1. Translation",
    "cloud": "2. Cloud economics",
    "ingest": "3. Ingest path",
    "edge": "4. Edge throughput",
    "scaling": "5. Scaling",
    "search": "6. Search: latency for 100k summaries, near-duplicate recall",
    "quality": "7. Translation quality on held-out examples",
}


def _when(section: dict[str, Any]) -> str:
    """When a section kept from an earlier run was measured, and how busy the machine was after it."""
    notes = [f"run {section['carried_from']}"] if section.get("carried_from") else []
    notes += [f"1-min load average {section['load_average']}"] if "load_average" in section else []
    return f" ({', '.join(notes)})" if notes else ""


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _chart(key: str) -> list[str]:
    return ["", f"![{SECTION_TITLES[key]}]({CHARTS[key]})", ""]


def translation(results: dict[str, Any]) -> list[str]:
    from bench.translator import render_markdown

    compare = results["compare"]
    lines = [render_markdown(results["translator"]).rstrip(), ""]
    if results.get("translator_note"):
        lines += [results["translator_note"], ""]
    lines += [
        f"### Ours vs Outlines vs unconstrained mlx-lm ({compare['model']})",
        "",
        f"Same model, the same prompt tokens (our translation prompt) and schemas "
        f"({', '.join(compare['systems'])}), greedy, at most {compare['cap']} generated tokens per system, "
        f"{compare['summaries']} summar{'y' if compare['summaries'] == 1 else 'ies'}. Each system's prompt is "
        f"prefilled once (its cached prefix, then the summary: {compare['prompt_seconds_per_summary']:.2f} s per "
        "summary for all systems) and every decoder starts from a copy of that KV cache, so the rows differ only "
        "in decoding; ours runs here as an mlx-lm logits processor (one token per step, no fast-forward: the table "
        "above has our own decoder). Out of the box, Outlines' generator and mlx-lm's generate prefill each "
        "system's whole prompt; the prompt-token table above prices that. Schema-valid: the output parses as JSON "
        "and passes the system's JSON Schema (draft 2020-12 with formats).",
        "",
    ]
    if compare["outlines_skipped"]:
        lines += [f"Outlines was skipped: {compare['outlines_skipped']}.", ""]
    rows = compare["results"]
    ours = next(iter(rows.values()))
    lines += [
        "| decoder | tokens/s | decode s per summary | s per summary (with prompt) | vs ours | schema-valid | "
        "stopped at the cap | set-up s (once per schema) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['tokens_per_second']:.1f} | {row['decode_seconds_per_summary']:.2f} | "
            f"{row['seconds_per_summary']:.2f} | "
            f"{row['seconds_per_summary'] / ours['seconds_per_summary']:.2f}x | "
            f"{row['valid']}/{row['documents']} ({row['valid'] / row['documents']:.0%}) | "
            f"{row['hit_cap']}/{row['documents']} | {row['setup_seconds']:.2f} |"
        )
    notes = [
        "",
        "Set-up: our grammar tokenizer plus one llguidance grammar per schema; Outlines' outlines-core index "
        "per schema. Ours does not run into the cap: near the end of its budget it steers the document to close, "
        "so its outputs are complete; a decoder stopped at the cap leaves truncated JSON.",
    ]
    if compare.get("cpu_mask_substituted"):
        notes.append(
            "outlines-core applies its MLX mask with a Metal kernel, which this CPU build of MLX lacks; "
            "the bench swaps in numpy bit unpacking plus `mx.where`, the same substitution our constraint "
            "makes on CPU. Outlines' index and per-token mask computation are its own."
        )
    unconstrained = rows.get("unconstrained mlx-lm")
    if "mask_us_per_token" in ours and unconstrained and unconstrained["tokens_per_second"]:
        notes.append(
            f"Mask overhead: ours decodes at {ours['tokens_per_second'] / unconstrained['tokens_per_second']:.2f}x "
            f"the unconstrained tokens/s; its per-token work (matcher, mask, end-of-budget guard) is "
            f"{ours['mask_us_per_token']:.0f} µs, {ours['mask_share_of_step']:.1%} of a constrained step, of "
            f"which the guard takes {ours['budget_guard_us_per_token']:.0f} µs."
        )
    failures = {name: row["failures"] for name, row in rows.items() if row.get("failures")}
    if failures:
        notes.append("Decoders that raised (counted invalid): " + ", ".join(f"{k} {v}" for k, v in failures.items()))
    return lines + notes + _chart("translation")


def cloud(results: dict[str, Any]) -> list[str]:
    models = results["models"]
    lines = [
        "Tokens are counted with the prepared SmolLM2 tokenizer (via transformers), an approximation of "
        f"Claude's tokenizer, over the {results['sessions']} sample sessions in local_stack/samples. Our "
        f"pipeline makes one summarize call per session: the system prompt ({results['system_prompt_tokens']} "
        "tokens) plus the rendered session in, the summary out (estimated by the systems' example "
        f"summaries: {results['summary_output_tokens']} tokens). The all-cloud design asks the cloud model for "
        "every system's JSON: system prompt + that system's instructions and JSON Schema (the stable, "
        "cacheable part) + the session in, the system's example JSON out "
        f"({', '.join(f'{k} {v}' for k, v in results['json_output_tokens'].items())} tokens). Prices from "
        "functions.summarize.pricing.",
        "",
        "| design | cloud calls / session | input tokens / session | stable tokens / call | output tokens / session |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['design']} | {row['calls_per_session']:g} | {row['input_tokens_per_session']:,.0f} | "
            f"{row['stable_tokens_per_call']:,.0f} | {row['output_tokens_per_session']:,.0f} |"
        )
    header = " | ".join(f"{m} | {m} cached" for m in models)
    lines += [
        "",
        f"Cost per {results['units']:,} sessions (USD):",
        "",
        f"| design | {header} |",
        "|---|" + "---:|" * (2 * len(models)),
    ]
    for row in results["rows"]:
        cells = []
        for model in models:
            cached = _money(row[f"{model}_cached"])
            if not row[f"{model}_cache_applies"]:
                cached += " (below cache minimum)"
            cells += [_money(row[model]), cached]
        lines.append(f"| {row['design']} | " + " | ".join(cells) + " |")
    base = results["rows"][0]
    lines += [
        "",
        "Ratio to ours (no caching): "
        + "; ".join(
            f"{row['design']}: {row[models[0]] / base[models[0]]:.1f}x ({models[0]}), "
            f"{row[models[1]] / base[models[1]]:.1f}x ({models[1]})"
            for row in results["rows"][1:]
        )
        + ".",
    ]
    refresh = results["refresh_per_1000"]
    lines += [
        "",
        f"Cost of {results['units']:,} refreshes (one summary re-translated for one system):",
        "",
        f"| design | {header} |",
        "|---|" + "---:|" * (2 * len(models)),
    ]
    for design, costs in refresh.items():
        label = "ours (local re-translation: zero cloud tokens)" if design == "ours" else "all-cloud (one call each)"
        lines.append(
            f"| {label} | " + " | ".join(f"{_money(costs[m])} | {_money(costs[m + '_cached'])}" for m in models) + " |"
        )
    minimums = ", ".join(f"{m} {t:,}" for m, t in results["min_cacheable"].items())
    even = results["break_even_summary_tokens"]
    lines += [
        "",
        f"Caching assumes a warm cache (one write at 1.25x, then reads at 0.1x). The API caches only prefixes "
        f"of at least a minimum length ({minimums} tokens); a shorter prefix is billed in full, marked above. "
        "Our summarizer's system prompt is below both minimums, so caching it saves nothing today.",
        "",
        "Break-even summary length (ours costs as much per session as the all-cloud design, no caching): "
        + "; ".join(f"{key.replace('|', ', ')}: {tokens:,} output tokens" for key, tokens in even.items())
        + ". Summaries shorter than that keep ours cheaper even before counting refreshes.",
    ]
    return lines + _chart("cloud")


def ingest(results: dict[str, Any]) -> list[str]:
    main = results["main"]
    lines = [
        f"{main['sessions']} sessions, {results['clients']} concurrent clients, against one moto server, in "
        f"{main.get('rounds', 1)} alternating rounds (gateway, then raw) so load elsewhere on the machine hits "
        "both paths alike. Local gateway: HTTP POST /sessions through the template's authorizer (cached per "
        "token) and the ingest function in its worker processes (2 per function, warm), which validates, reads, "
        "then writes S3 + DynamoDB + SQS. Raw: the same validation and three writes with boto3 from the client "
        "threads, all in the benchmark's one Python process (one GIL), while the gateway path spreads its "
        "AWS calls over the function's worker processes.",
        "",
        "| path | sessions/s | p50 ms | p99 ms | wall s |",
        "|---|---:|---:|---:|---:|",
    ]
    for way, label in (("gateway", "local gateway"), ("raw", "raw boto3 (S3 + DynamoDB + SQS)")):
        row = main[way]
        lines.append(
            f"| {label} | {row['sessions_per_second']:.1f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | "
            f"{row['seconds']:.2f} |"
        )
    lines += [
        "",
        f"Overhead of the gateway path: raw writes reach {main['throughput_ratio']:.2f}x its throughput, "
        f"and its p50 latency is {main['p50_ratio']:.2f}x theirs.",
        "",
        'Handler cold import (`python -X importtime -c "import functions.<x>.app"` with the function\'s '
        "environment; start-up modules of a bare interpreter left out; top packages by their own import time):",
        "",
        "| function | import ms | modules | top 5 packages (ms) | anthropic | mlx |",
        "|---|---:|---:|---|---|---|",
    ]
    for row in results["imports"]:
        top = ", ".join(f"{name} {ms:.0f}" for name, ms in row["top"])
        lines.append(
            f"| {row['function']} ({row['module']}) | {row['total_ms']:.0f} | {row['modules']} | {top} | "
            f"{'yes' if row['anthropic'] else 'no'} | {'yes' if row['mlx'] else 'no'} |"
        )
    with_anthropic = [row["function"] for row in results["imports"] if row["anthropic"]]
    lines += [
        "",
        "anthropic is imported by: " + (", ".join(with_anthropic) or "none") + ". The `functions` entry "
        "includes module-level work such as creating boto3 clients.",
    ]
    return lines + _chart("ingest")


def edge(results: dict[str, Any]) -> list[str]:
    lines = [
        f"{results['sessions']} session{'s' if results['sessions'] != 1 else ''} posted through the local gateway; the scripted summarizer answers; the "
        f"edge worker (in this process) long-polls the edge queue, embeds each summary for search and "
        f"translates it for {results['systems']} systems with {results['model']} (at most "
        f"{results['max_tokens_per_system']} tokens per system), then stores the vector and each JSON through "
        "the API. "
        + (
            "Functions warmed by one earlier session. "
            if results["functions_warm"]
            else "Functions start cold (their start-up is in the wall time). "
        )
        + "Grammars compiled before the clock starts. Wall time runs "
        "from the first POST to the last stored record; time outside the model is wall time minus the "
        "time spent in the model (translating and embedding).",
        "",
        "| | value |",
        "|---|---:|",
        f"| wall time | {results['wall_seconds']:.2f} s |",
        f"| model time (translate + embed) | {results['translator_seconds']:.2f} s |",
        f"| outside the model | {results['overhead_seconds']:.2f} s ({results['overhead_share']:.1%}) |",
        f"| first translation began after | {results['first_translation_after_seconds']:.2f} s |",
        f"| summaries per minute | {results['summaries_per_minute']:.2f} |",
        f"| system documents per minute | {results['system_documents_per_minute']:.2f} |",
        f"| generated tokens | {results['generated_tokens']} |",
        f"| schema-valid stored records | {results['schema_valid_records']}/{results['expected_records']} |",
        "",
        f"Target: under 5% of the time outside the model: "
        f"{'met' if results['overhead_share'] < 0.05 else 'not met'} in this run.",
    ]
    if results["overhead_share"] >= 0.05:
        lines.append(
            "Most of it is the latency before the first translation (ingest, summarize, two queue hops), "
            "which a fast model cannot hide; with few sessions it is not amortised."
        )
    return lines + _chart("edge")


def scaling(results: dict[str, Any]) -> list[str]:
    ingest_rows, translator = results["ingest"], results["translator"]
    lines = [
        "Ingest at 1x and 10x sessions (same stack, same 4 clients), as wall time per session:",
        "",
        "| sessions | gateway ms/session | gateway p50 ms | raw ms/session | raw p50 ms | gateway/raw ms per session |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in ingest_rows:
        gateway, raw = row["gateway"], row["raw"]
        lines.append(
            f"| {row['sessions']} | {1000 / gateway['sessions_per_second']:.1f} | {gateway['p50_ms']:.1f} | "
            f"{1000 / raw['sessions_per_second']:.1f} | {raw['p50_ms']:.1f} | {row['throughput_ratio']:.2f}x |"
        )
    first, last = ingest_rows[0], ingest_rows[-1]
    growth = (1000 / last["gateway"]["sessions_per_second"]) / (1000 / first["gateway"]["sessions_per_second"])
    lines += [
        "",
        f"Gateway cost per session at {last['sessions']} vs {first['sessions']} sessions: {growth:.2f}x.",
        "",
        f"Translation per system at 1, 3 and 6 systems (from the translator benchmark above, {translator['model']}):",
        "",
        "| systems | s/system (reuse) | s/system (naive) | prompt tokens/system (reuse) | "
        "prompt tokens/system (naive) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in translator["prefix_reuse"]:
        n, mark = row["systems"], "≈" if row.get("projected") else ""
        lines.append(
            f"| {n} | {mark}{row['reuse_seconds'] / n:.2f} | {mark}{row['naive_seconds'] / n:.2f} | "
            f"{row['reuse_prompt_tokens'] / n:.0f} | {row['naive_prompt_tokens'] / n:.0f} |"
        )
    return lines + _chart("scaling")


def search(results: dict[str, Any]) -> list[str]:
    from bench.search import render_rows

    lines = render_rows(results) + [
        "",
        f"Baselines: exact cosine top-{results['top_k']} over the same kind of random unit vectors "
        f"({results['dimensions']} dimensions) with raw numpy (one matrix-vector product, `np.argpartition`, "
        "a sort of the k best), and a pure-Python loop over "
        f"{results['naive']['vectors']:,} vectors as the naive baseline.",
        "",
        "| method | vectors | queries | p50 ms | p99 ms | ns per vector |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, label in (
        ("float32", f"numpy float32 ({results['matrix_mb']['float32']} MB)"),
        ("float16", f"numpy float16 storage ({results['matrix_mb']['float16']} MB)"),
        ("naive", "pure-Python loop"),
    ):
        row = results[key]
        lines.append(
            f"| {label} | {row['vectors']:,} | {row['queries']} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | "
            f"{row['ns_per_vector']:.1f} |"
        )
    lines += [
        "",
        f"Per-vector cost: the pure-Python loop is {results['per_vector_ratio']:.0f}x numpy float32. "
        f"float16 halves the memory but numpy has no fast float16 matrix product "
        f"({results['float16']['ns_per_vector'] / results['float32']['ns_per_vector']:.1f}x slower per vector); "
        f"same top-{results['top_k']} as float32 on the first 10 queries: "
        f"{'yes' if results['float16_same_top_k'] else 'no'}. "
        f"Naive and numpy agree on the top {results['top_k']}: {'yes' if results['naive_matches_numpy'] else 'no'}.",
    ]
    return lines + _chart("search")


def quality(results: dict[str, Any]) -> list[str]:
    from bench.quality import render_markdown

    return render_markdown(results) + _chart("quality")


RENDERERS = {
    "translation": translation,
    "cloud": cloud,
    "ingest": ingest,
    "edge": edge,
    "scaling": scaling,
    "search": search,
    "quality": quality,
}


def render(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Mode: **{results['mode']}** (`python -m bench{' --quick' if results['mode'] == 'quick' else ''}`), "
        f"written {results['started_at']}; the sections' own times add up to "
        f"{sum(section.get('seconds', 0) for section in results['sections'].values()):.0f} s.",
        "",
        f"Machine: {one_line(machine)}. Other packages: "
        + ", ".join(f"{k} {v}" for k, v in machine["packages"].items() if k not in ("mlx", "mlx-lm"))
        + ".",
        "",
        "Figures are ratios or per-unit costs measured side by side in this run; absolute times hold for this "
        "machine only (MLX runs on the CPU here; Apple Silicon is the speed target).",
        "",
        "Section times: "
        + ", ".join(
            f"{SECTION_TITLES[key].split('. ', 1)[1]} {section['seconds']:.0f} s" + _when(section)
            for key in SECTION_TITLES
            if "seconds" in (section := results["sections"].get(key, {}))
        )
        + ".",
        "",
    ]
    for key, title in SECTION_TITLES.items():
        lines += [f"## {title}", ""]
        section = results["sections"].get(key)
        if section is None:
            lines += ["Not run in this invocation (see `--only`).", ""]
            continue
        if "error" in section:
            lines += [f"This section failed: {section['error']}", ""]
            continue
        lines += RENDERERS[key](section["data"]) + [""]
    return "\n".join(lines).rstrip() + "\n"
