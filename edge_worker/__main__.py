"""`python -m edge_worker` runs the edge worker command line."""

import sys

from edge_worker.cli import main

sys.exit(main())
