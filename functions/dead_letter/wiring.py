"""SummarizeDeadLetterFunction's objects, built once per Lambda environment."""

from __future__ import annotations

from collections.abc import Mapping

from functions.dead_letter.service import DeadLetters
from functions.settings import Settings
from functions.stores.sessions import SessionStore


def build(environ: Mapping[str, str] | None = None) -> DeadLetters:
    settings = Settings(environ).require(Settings.sessions_table, Settings.data_bucket)
    return DeadLetters(SessionStore(settings.sessions_table, settings.data_bucket), settings.summarize_max_attempts)
