"""Loaded first by pytest: the edge's BLAS choice is made before any test module imports MLX."""

import edge_worker  # noqa: F401
