"""AuthorizerFunction's objects, built once per Lambda environment."""

from __future__ import annotations

from collections.abc import Mapping

from functions.authorizer.service import Authorizer
from functions.settings import Settings
from functions.stores.tokens import TokenStore


def build(environ: Mapping[str, str] | None = None) -> Authorizer:
    settings = Settings(environ).require(Settings.tokens_table)
    return Authorizer(TokenStore(settings.tokens_table))
