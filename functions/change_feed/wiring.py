"""ChangeFeedFunction's objects, built once per Lambda environment."""

from __future__ import annotations

from collections.abc import Mapping

from functions.change_feed.publisher import ChangePublisher
from functions.settings import Settings


def build(environ: Mapping[str, str] | None = None) -> ChangePublisher:
    settings = Settings(environ).require(Settings.change_bus_name, Settings.data_bucket)
    return ChangePublisher(settings.change_bus_name, settings.data_bucket)
