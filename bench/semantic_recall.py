"""Near-duplicate recall@5 with edge embeddings: words only vs embeddings only vs hybrid, on bench/near_duplicates.json.

`python -m bench.semantic_recall [--model FOLDER] [--pooling mean|last]`: embeds the 60 labelled summaries with the
prepared SmolLM2 (or the given MLX model) through the edge's Embedder; a few minutes on a CPU.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.progress import progress
from bench.search import RECALL_K, labelled_index, near_duplicate_recall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.semantic_recall", description=__doc__)
    parser.add_argument("--model", default="", help="MLX model folder (default: the prepared SmolLM2)")
    parser.add_argument("--pooling", choices=("mean", "last"), default="mean")
    args = parser.parse_args(argv)
    from edge_worker.embedder import Embedder
    from edge_worker.model_store import load_model, prepare_default_model

    model, tokenizer, info = load_model(args.model or str(prepare_default_model(progress=progress)))
    embedder = Embedder(model, tokenizer, info, pooling=args.pooling)
    index, dataset = labelled_index()
    started, vectors = time.perf_counter(), []
    for number, summary in enumerate(dataset["summaries"], 1):
        vectors.append((summary["id"], embedder.version, embedder.embed(summary["text"])))
        if number % 10 == 0:
            progress(f"semantic recall: embedded {number}/{len(dataset['summaries'])}")
    index = index.with_vectors(vectors)
    seconds = time.perf_counter() - started
    print(
        f"Near-duplicate recall@{RECALL_K}, {info.model_id} ({args.pooling}-pooled hidden states, "
        f"{embedder.dims} dimensions; {len(vectors)} summaries embedded in {seconds:.0f} s):\n"
    )
    print("| ranking | recall@5 | duplicates on top |\n|---|---:|---:|")
    for label, weight in (("words only (BM25)", 0.0), ("embeddings only (cosine)", 1.0), ("hybrid (0.6 cosine)", 0.6)):
        result = near_duplicate_recall(index=index, semantic_weight=weight)
        print(f"| {label} | {result['recall']:.3f} | {result['duplicates_on_top']:.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
