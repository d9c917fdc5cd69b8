"""`python -m bench [--quick] [--out DIR]`: every benchmark, written to DIR/results.md plus PNG charts.

Quick mode (CI, under two minutes) runs the tiny random model and small workloads; full mode runs the
prepared SmolLM2. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench import charts, report
from bench.machine import describe
from bench.progress import progress

SECTIONS = tuple(report.SECTION_TITLES)


@dataclass(frozen=True)
class Workload:
    compare_cap: int
    compare_summaries: int
    edge_sessions: int
    edge_max_tokens: int
    scaling_sizes: tuple[int, int]


# Full mode is sized for about 15 minutes on a 2-core CPU, where MLX prefills ~10 tokens/s on one core.
QUICK = Workload(compare_cap=48, compare_summaries=1, edge_sessions=3, edge_max_tokens=64, scaling_sizes=(10, 100))
FULL = Workload(compare_cap=96, compare_summaries=1, edge_sessions=1, edge_max_tokens=32, scaling_sizes=(40, 400))


def _translator_results(quick: bool, saved: Path | None) -> tuple[dict[str, Any], str]:
    """bench.translator's results: measured now, or read from a JSON file it wrote (`--json`)."""
    if saved is not None:
        data = json.loads(saved.read_text(encoding="utf-8"))
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(saved.stat().st_mtime))
        return data, (
            f"The translator figures above were measured by `python -m bench.translator` in a separate run "
            f"on this machine ({data['mode']} mode, results file {saved.name} written {stamp})."
        )
    from bench import translator

    progress("translation: bench.translator")
    return translator.run(quick=quick), ""


def _run_section(
    name: str, sections: dict[str, Any], body: Callable[[], dict[str, Any]], save: Callable[[], None]
) -> None:
    started = time.perf_counter()
    progress(f"== {report.SECTION_TITLES[name]}")
    try:
        sections[name] = body()
    except Exception as error:  # one failed section must not hide the others; reported and non-zero exit
        traceback.print_exc()
        sections[name] = {"error": f"{type(error).__name__}: {error}"}
    sections[name]["seconds"] = round(time.perf_counter() - started, 1)
    sections[name]["load_average"] = round(os.getloadavg()[0], 1)  # other work on the machine skews absolute times
    progress(f"== {report.SECTION_TITLES[name]}: {sections[name]['seconds']} s")
    save()  # what is finished survives an interrupted run


def _earlier_sections(out: Path, mode: str) -> dict[str, Any]:
    """Sections of an earlier run of the same mode in `out`, kept when `--only` re-runs a subset."""
    try:
        earlier = json.loads((out / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if earlier.get("mode") != mode:
        return {}
    return {
        name: {**section, "carried_from": section.get("carried_from") or earlier.get("started_at")}
        for name, section in earlier.get("sections", {}).items()
        if "error" not in section and "data" in section
    }


def run(
    quick: bool,
    out: Path,
    only: tuple[str, ...],
    translator_json: Path | None,
    earlier: dict[str, Any],
    save: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    workload = QUICK if quick else FULL
    sections: dict[str, Any] = {name: section for name, section in earlier.items() if name not in only}
    state: dict[str, Any] = {}
    if "ingest" in sections:
        state["ingest"] = sections["ingest"]["data"]
    if "translation" in sections:
        state["translator"] = sections["translation"]["data"]["translator"]

    def translation() -> dict[str, Any]:
        from bench import outlines_compare

        state["translator"], note = _translator_results(quick, translator_json)
        compare = outlines_compare.run(quick, workload.compare_cap, workload.compare_summaries)
        data = {"translator": state["translator"], "compare": compare, "translator_note": note}
        charts.translation(data, out)
        return {"data": data}

    def cloud() -> dict[str, Any]:
        from bench import cloud_costs

        data = cloud_costs.run(quick)
        charts.cloud(data, out)
        return {"data": data}

    def ingest() -> dict[str, Any]:
        from bench import ingest as ingest_bench

        data = ingest_bench.run(quick, workload.scaling_sizes)
        state["ingest"] = data
        charts.ingest(data, out)
        return {"data": data}

    def edge() -> dict[str, Any]:
        from bench import edge as edge_bench

        data = edge_bench.run(quick, workload.edge_sessions, workload.edge_max_tokens)
        charts.edge(data, out)
        return {"data": data}

    def scaling() -> dict[str, Any]:
        if "ingest" not in state:
            raise RuntimeError("needs the ingest section's measurements (run it too)")
        if "translator" not in state:
            state["translator"], _ = _translator_results(quick, translator_json)
        rows, translator_results = state["ingest"]["scaling"], state["translator"]
        charts.scaling(rows, translator_results["prefix_reuse"], out)
        return {"data": {"ingest": rows, "translator": translator_results}}

    def search() -> dict[str, Any]:
        from bench import search as search_bench

        data = search_bench.run(quick)
        charts.search(data, out)
        return {"data": data}

    def quality() -> dict[str, Any]:
        from bench import quality as quality_bench

        data = quality_bench.run(quick)
        charts.quality(data, out)
        return {"data": data}

    bodies = {
        "translation": translation,
        "cloud": cloud,
        "ingest": ingest,
        "edge": edge,
        "scaling": scaling,
        "search": search,
        "quality": quality,
    }
    for name in SECTIONS:
        if name in only:
            _run_section(name, sections, bodies[name], lambda: save(sections))
    return sections


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny model, small workloads (CI, under 2 minutes)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="folder for results.md, results.json and the charts (default: bench/)",
    )
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default all: {','.join(SECTIONS)}); the other "
        "sections are kept from DIR/results.json when it holds a run of the same mode",
    )
    parser.add_argument(
        "--translator-results",
        type=Path,
        metavar="JSON",
        help="use results saved by `python -m bench.translator --json JSON` instead of measuring",
    )
    args = parser.parse_args(argv)
    only = tuple(name.strip() for name in args.only.split(",") if name.strip())
    unknown = [name for name in only if name not in SECTIONS]
    if unknown:
        print(f"error: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    if args.translator_results is not None and not args.translator_results.is_file():
        print(f"error: --translator-results {args.translator_results}: no such file", file=sys.stderr)
        return 2
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"error: cannot create --out {args.out}: {error}", file=sys.stderr)
        return 2

    started_at, began = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), time.perf_counter()
    mode = "quick" if args.quick else "full"
    progress(f"bench ({mode} mode) writing to {args.out}")
    earlier = _earlier_sections(args.out, mode) if set(only) != set(SECTIONS) else {}
    machine = describe()

    def save(sections: dict[str, Any]) -> dict[str, Any]:
        results = {
            "mode": mode,
            "started_at": started_at,
            "total_seconds": time.perf_counter() - began,
            "machine": machine,
            "sections": sections,
        }
        (args.out / "results.md").write_text(report.render(results), encoding="utf-8")
        (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
        return results

    sections = run(args.quick, args.out, only, args.translator_results, earlier, save)
    results = save(sections)
    failed = [name for name in only if "error" in sections.get(name, {})]
    progress(
        f"wrote {args.out / 'results.md'} in {results['total_seconds']:.0f} s"
        + (f"; failed sections: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
