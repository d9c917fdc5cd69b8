"""The shapes of ids and names, written once: contracts, path checks and command lines import them."""

from __future__ import annotations

_KIND = r"[a-z][a-z0-9-]{0,62}"
_DIGEST = r"[A-Za-z0-9._-]{1,128}"

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"  # session (= summary), user and query ids
SOURCE_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"  # a subsystem's name: a session's source
SYSTEM_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"  # a system definition's name (schemas/systems/<name>.json)
REGISTRY_KIND_PATTERN = rf"^{_KIND}$"
VERSION_ID_PATTERN = rf"^{_KIND}:{_DIGEST}$"  # a registry version: `<kind>:<digest>`
EMBEDDING_VERSION_PATTERN = rf"^embedding-model:{_DIGEST}$"
REFRESH_REQUEST_ID_PATTERN = r"^rf-[0-9a-f]{1,64}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
ERROR_CODE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"  # ISO 8601 with an offset
DAY_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
