"""Deciding what to translate: which systems a request needs, given what the cloud already stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edge_worker.ports import SystemLike
from edge_worker.prompting import prompt_version
from schemas.system_definition import SystemDefinition


@dataclass(frozen=True)
class TranslationJob:
    """One summary and the systems to translate it for."""

    summary_id: str
    summary_text: str
    systems: Sequence[SystemLike]


ADAPTER_FIELD = "translator_adapter_version"


def lineage_for(system: SystemLike, model_version: str, adapter_version: str | None = None) -> dict[str, str]:
    """What a record names as its makers: the translator model, prompt and schema versions, and the LoRA adapter
    version when one was applied (absent otherwise)."""
    lineage = {
        "translator_model_version": model_version,
        "translator_prompt_version": prompt_version(system),
        "schema_version": system.schema_version,
    }
    if adapter_version:
        lineage[ADAPTER_FIELD] = adapter_version
    return lineage


def is_current(state: dict[str, Any] | None, lineage: dict[str, str]) -> bool:
    """The stored record was made by this exact model, prompt, schema and adapter (or, both, by none)."""
    if not state:
        return False
    same_adapter = state.get(ADAPTER_FIELD) == lineage.get(ADAPTER_FIELD)
    return same_adapter and all(state.get(key) == value for key, value in lineage.items())


def systems_to_translate(
    requested: list[SystemDefinition],
    stored: dict[str, dict],
    model_version: str,
    force: bool,
    adapters: Mapping[str, str] | None = None,
) -> list[SystemDefinition]:
    """A refresh redoes everything asked for; otherwise only what is missing or made by other versions.

    `adapters`: system name -> the adapter version the translator applies to it (an adopted adapter makes the
    system's records made without it due again).
    """
    if force:
        return requested
    adapters = adapters or {}
    return [
        s for s in requested if not is_current(stored.get(s.name), lineage_for(s, model_version, adapters.get(s.name)))
    ]
