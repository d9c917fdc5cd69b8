"""A Lambda handler for runtime tests: sleeps `event["sleep"]` seconds, then answers with its process id."""

from __future__ import annotations

import os
import time


def lambda_handler(event: dict, context) -> dict:
    time.sleep(float(event.get("sleep", 0)))
    return {"pid": os.getpid(), "remaining_ms": context.get_remaining_time_in_millis()}
