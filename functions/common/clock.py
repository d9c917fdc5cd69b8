from datetime import datetime, timezone


def utc_now() -> str:
    """ISO-8601 UTC timestamp with milliseconds; sorts as text."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
