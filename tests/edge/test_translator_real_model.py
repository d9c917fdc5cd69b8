"""SmolLM2-135M-Instruct (the prepared default model) translating one summary for every shipped system.

Prompt prefill on the Linux CPU build runs at about 10 tokens/s, so the three systems share one
summary: its prefix is prefilled once, which is also the translator's prefix reuse on a real model.
"""

from __future__ import annotations

import pytest

from edge_worker.model_store import load_model, prepare_default_model
from edge_worker.translator import Translator
from schemas.system_definition import load_systems

SUMMARY = (
    "Session on Monday 17 March 2025 (user in Berlin, UTC+01:00). The user promised Priya Nair to send "
    "the revised budget spreadsheet by Wednesday 19 March. They booked a budget review with Priya on "
    "Thursday 20 March at 10:00. They decided to cut the travel budget by ten percent. They want a "
    "reminder every weekday at 08:30 to check email, and to build a habit of a daily 20-minute walk."
)
SYSTEMS = ("planner", "synapse", "nudge")


@pytest.fixture(scope="module")
def translations():
    model, tokenizer, info = load_model(str(prepare_default_model()))
    systems = load_systems().systems
    translator = Translator(model, tokenizer, info, max_tokens=128)
    return {t.system: t for t in translator.translate("real-1", SUMMARY, [systems[name] for name in SYSTEMS])}


@pytest.mark.parametrize("name", SYSTEMS)
def test_real_model_output_is_valid_and_not_empty(translations, name):
    system = load_systems().systems[name]
    translation = translations[name]
    assert system.validation_errors(translation.document) == []
    assert set(translation.document) == set(system.schema["required"])
    items = [item for value in translation.document.values() if isinstance(value, list) for item in value]
    assert items, f"{name}: the summary clearly has items, got {translation.document}"
    assert translation.lineage.translator_model_version.startswith("translator-model:")
    assert 0 < translation.stats.generated_tokens <= 128
