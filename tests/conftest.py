import sys
from pathlib import Path

# Tests import shared helpers (tests/stack_helpers.py) by module name.
sys.path.insert(0, str(Path(__file__).resolve().parent))
