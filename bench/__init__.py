"""Benchmarks: figures measured side by side in one run, reported as ratios."""

import edge_worker  # noqa: F401  (chooses the BLAS MLX uses, before any bench module imports MLX)
