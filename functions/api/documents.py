"""A system record's document checked against the JSON Schema version it names (uploads, edits, proposals)."""

from __future__ import annotations

from typing import Any

from functions.errors import ClientError
from functions.stores.registry import RegistryStore
from schemas.system_definition import output_validator

MAX_ERRORS_SHOWN = 20


def check_document(registry: RegistryStore, schema_version: str, document: Any) -> None:
    """Raises 422 (unknown_schema_version, schema_violation) naming the first problem."""
    schema_entry = registry.entry(schema_version, "schema")
    if not schema_entry:
        raise ClientError(
            "unknown_schema_version",
            f"schema version {schema_version} is not in the registry; publish it first",
            status=422,
        )
    errors = [
        f"at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in output_validator(schema_entry["content"]).iter_errors(document)
    ]
    if errors:
        raise ClientError(
            "schema_violation",
            f"document does not match {schema_version}: {errors[0]}",
            [{"problem": e} for e in errors[:MAX_ERRORS_SHOWN]],
            status=422,
        )
