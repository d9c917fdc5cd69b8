import os

# `make load` / `make faults` set SSP_SUITE_SIZE=full; `make test` runs the reduced size.
FULL = os.environ.get("SSP_SUITE_SIZE") == "full"
