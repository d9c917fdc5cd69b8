from edge_worker.blas import use_optimized_blas

use_optimized_blas()  # before anything imports mlx.core
