import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

FULL = os.environ.get("SSP_SUITE_SIZE") == "full"
