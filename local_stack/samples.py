"""Post the sample sessions through the local HTTP API, as the subsystems would."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"


def sample_sessions() -> list[dict]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(SAMPLES_DIR.glob("*.json"))]


def post_samples(api_url: str, tokens: dict[str, str]) -> list[tuple[str, int]]:
    results = []
    for session in sample_sessions():
        token = tokens[f"ingest-{session['source']}"]
        response = httpx.post(
            f"{api_url}/sessions", json=session, timeout=30, headers={"authorization": f"Bearer {token}"}
        )
        results.append((session["session_id"], response.status_code))
    return results
