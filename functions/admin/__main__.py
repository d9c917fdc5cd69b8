"""python -m functions.admin tokens create|list|revoke"""

from __future__ import annotations

import sys

from functions.admin.tokens_cli import main

if __name__ == "__main__":
    sys.exit(main())
