"""Content-addressed registry ids."""

from __future__ import annotations

import hashlib
import re

import pytest
from pydantic import ValidationError

from schemas.lineage import RegistryEntry, canonical_json, content_version


def test_canonical_json_is_sorted_compact_and_keeps_unicode():
    assert canonical_json({"b": 1, "a": {"z": [1, 2], "y": "café"}}) == '{"a":{"y":"café","z":[1,2]},"b":1}'


def test_canonical_json_refuses_nan():
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_content_version_is_kind_and_20_hex_of_the_canonical_sha256():
    content = {"model_id": "m", "weights_digest": "sha256:abc"}
    expected = hashlib.sha256(canonical_json(content).encode()).hexdigest()[:20]
    version = content_version("translator-model", content)
    assert version == f"translator-model:{expected}"
    assert re.fullmatch(r"translator-model:[0-9a-f]{20}", version)


def test_content_version_ignores_key_order_and_tracks_content():
    first = content_version("schema", {"type": "object", "required": ["a"]})
    assert first == content_version("schema", {"required": ["a"], "type": "object"})
    assert first != content_version("schema", {"type": "object", "required": ["b"]})
    assert first != content_version("system", {"type": "object", "required": ["a"]})


@pytest.mark.parametrize("kind", ["", "bad:kind", " padded"])
def test_content_version_rejects_bad_kinds(kind):
    with pytest.raises(ValueError):
        content_version(kind, {})


def test_registry_entry_make_round_trips_and_forbids_extra_fields():
    entry = RegistryEntry.make("translator-prompt", {"text": "Translate.", "n": 1})
    assert entry.version_id == content_version("translator-prompt", {"text": "Translate.", "n": 1})
    assert entry.matches_content()
    assert "T" in entry.created_at and entry.created_at.endswith("+00:00")
    again = RegistryEntry.model_validate_json(entry.model_dump_json())
    assert again == entry
    with pytest.raises(ValidationError):
        RegistryEntry.model_validate({**entry.model_dump(), "extra": 1})


def test_registry_entry_detects_content_that_no_longer_matches_its_id():
    entry = RegistryEntry.make("schema", {"type": "object"})
    tampered = entry.model_copy(update={"content": {"type": "array"}})
    assert not tampered.matches_content()
