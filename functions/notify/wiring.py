"""NotifyFunction's objects, built once per Lambda environment."""

from __future__ import annotations

from collections.abc import Mapping

from functions.notify.service import ConnectionsApi, Notifier
from functions.settings import Settings
from functions.stores.connections import ConnectionStore


def build(environ: Mapping[str, str] | None = None) -> Notifier:
    settings = Settings(environ).require(Settings.connections_table, Settings.websocket_management_url)
    return Notifier(ConnectionStore(settings.connections_table), ConnectionsApi(settings.websocket_management_url))
