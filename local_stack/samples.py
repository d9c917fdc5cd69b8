"""The sample sessions: posted through the local HTTP API as the subsystems would, and the summaries written for
them in advance (`<sample>.summary.txt`, in the summarizer's sections) that the offline demo serves."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"


def sample_sessions() -> list[dict]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(SAMPLES_DIR.glob("*.json"))]


def reference_summaries() -> dict[str, str]:
    """{a sample session as the summarizer's prompt renders it: the summary written for it}, for every sample with
    a `.summary.txt` beside it."""
    from functions.summarize.prompt import render_session
    from schemas.contracts import Session

    found = {}
    for path in sorted(SAMPLES_DIR.glob("*.json")):
        summary = path.with_suffix(".summary.txt")
        if summary.is_file():
            session = Session.model_validate_json(path.read_text(encoding="utf-8"))
            found[render_session(session)] = summary.read_text(encoding="utf-8").strip()
    return found


def post_samples(api_url: str, tokens: dict[str, str]) -> list[tuple[str, int]]:
    results = []
    for session in sample_sessions():
        token = tokens[f"ingest-{session['source']}"]
        response = httpx.post(
            f"{api_url}/sessions", json=session, timeout=30, headers={"authorization": f"Bearer {token}"}
        )
        results.append((session["session_id"], response.status_code))
    return results
