"""Time as the functions store it."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def utc_now() -> str:
    """ISO-8601 UTC timestamp with milliseconds; sorts as text."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_seconds() -> int:
    return int(time.time())
