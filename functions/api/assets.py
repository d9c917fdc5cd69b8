"""The dashboard's static files, served by the API (no build step)."""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

from aws_lambda_powertools.event_handler import Response

from functions.errors import not_found
from functions.http.validation import shown

DASHBOARD_DIR = Path(__file__).resolve().parents[2] / "dashboard"
ASSET_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}\.(html|js|css|svg|png|ico)$")


def serve(name: str) -> Response:
    """One dashboard file; a 404 ClientError for any other name (the name is never a path)."""
    path = DASHBOARD_DIR / name
    if not ASSET_NAME.match(name) or not path.is_file():
        raise not_found(f"no dashboard asset {shown(name)}")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith("javascript"):
        content_type += "; charset=utf-8"
    return Response(
        status_code=200,
        content_type=content_type,
        body=path.read_text(encoding="utf-8"),
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
