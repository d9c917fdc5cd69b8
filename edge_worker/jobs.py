"""Deciding what to translate: which systems a request needs, given what the cloud already stored."""

from __future__ import annotations

from collections.abc import Sequence
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


def lineage_for(system: SystemLike, model_version: str) -> dict[str, str]:
    """What a record names as its makers: the translator model, prompt and schema versions."""
    return {
        "translator_model_version": model_version,
        "translator_prompt_version": prompt_version(system),
        "schema_version": system.schema_version,
    }


def is_current(state: dict[str, Any] | None, lineage: dict[str, str]) -> bool:
    """The stored record was made by this exact model, prompt and schema."""
    if not state:
        return False
    return all(state.get(key) == value for key, value in lineage.items())


def systems_to_translate(
    requested: list[SystemDefinition], stored: dict[str, dict], model_version: str, force: bool
) -> list[SystemDefinition]:
    """A refresh redoes everything asked for; otherwise only what is missing or made by other versions."""
    if force:
        return requested
    return [s for s in requested if not is_current(stored.get(s.name), lineage_for(s, model_version))]
