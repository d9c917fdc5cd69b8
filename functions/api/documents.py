"""A system record's document checked against the JSON Schema version it names (uploads, edits, proposals)."""

from __future__ import annotations

from itertools import islice
from typing import Any

from functions.errors import ClientError
from functions.http.validation import schema_problem
from functions.stores.registry import RegistryStore
from schemas.system_definition import output_validator

MAX_ERRORS_SHOWN = 20


def check_document(registry: RegistryStore, schema_version: str, document: Any) -> None:
    """Raises 422 (unknown_schema_version, schema_violation) naming the first problem; each value of the document
    quoted in it is bounded (functions.http.validation.shown)."""
    schema_entry = registry.entry(schema_version, "schema")
    if not schema_entry:
        raise ClientError(
            "unknown_schema_version",
            f"schema version {schema_version} is not in the registry; publish it first",
            status=422,
        )
    found = output_validator(schema_entry["content"]).iter_errors(document)
    errors = [schema_problem(e) for e in islice(found, MAX_ERRORS_SHOWN)]
    if errors:
        raise ClientError(
            "schema_violation",
            f"document does not match {schema_version}: {errors[0]}",
            [{"problem": e} for e in errors],
            status=422,
        )
