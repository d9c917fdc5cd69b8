"""An adopted adapter makes its system's records due again, and the records made with it name it in their lineage
and send its registry entry."""

from __future__ import annotations

import pytest
from edge_fakes import FakeTranslator, edge_rig

from edge_worker import model_store
from edge_worker.jobs import is_current, lineage_for, systems_to_translate
from schemas.contracts import TranslateRequest, lineage_of
from schemas.lineage import content_version
from schemas.system_definition import load_systems

SYSTEMS = load_systems().systems
PLANNER, NUDGE = SYSTEMS["planner"], SYSTEMS["nudge"]
ADAPTER = "translator-adapter:0123456789abcdef0123"


def test_lineage_names_an_adapter_only_when_one_made_the_record():
    plain = lineage_for(PLANNER, "translator-model:m1")
    tuned = lineage_for(PLANNER, "translator-model:m1", ADAPTER)
    assert "translator_adapter_version" not in plain and tuned == {**plain, "translator_adapter_version": ADAPTER}
    assert is_current({"version": 1, **tuned}, tuned) and is_current({"version": 1, **plain}, plain)
    assert not is_current({"version": 1, **plain}, tuned)  # adopted since: due again
    assert not is_current({"version": 1, **tuned}, plain)  # adoption withdrawn: due again
    stored = {"planner": {"version": 1, **plain}, "nudge": {"version": 1, **lineage_for(NUDGE, "translator-model:m1")}}
    due = systems_to_translate([PLANNER, NUDGE], stored, "translator-model:m1", False, {"planner": ADAPTER})
    assert due == [PLANNER]


def test_the_cloud_contract_keeps_records_without_an_adapter_as_they_were():
    plain = lineage_for(PLANNER, "translator-model:m1")
    assert lineage_of({"version": 3, **plain}).model_dump() == plain  # no new key: stored hashes stay valid
    tuned = lineage_of({**plain, "translator_adapter_version": ADAPTER})
    assert tuned.translator_adapter_version == ADAPTER


@pytest.fixture
def adopted(tmp_path, monkeypatch):
    """An adapter stored under $SSP_HOME/adapters (its files are placeholders: the fake translator reads none)."""
    monkeypatch.setenv("SSP_HOME", str(tmp_path / "home"))
    trained = tmp_path / "trained"
    trained.mkdir()
    (trained / model_store.ADAPTER_WEIGHTS).write_bytes(b"weights")
    (trained / model_store.ADAPTER_CONFIG).write_text('{"fine_tune_type": "lora"}')
    entry = {"base_model_version": "translator-model:fake", "system": "planner", "rank": 4}
    version = content_version(model_store.ADAPTER_KIND, entry)
    model_store.store_adapter(trained, version, entry)
    model_store.set_adopted_adapter("planner", version)
    return version


def test_the_worker_retranslates_an_adopted_system_and_its_record_names_the_adapter(tmp_path, adopted):
    translator = FakeTranslator(adapters=model_store.adopted_adapters())
    rig = edge_rig(tmp_path / "edge", translator=translator)
    try:
        rig.api.add_summary("s1")
        for name, system in SYSTEMS.items():
            rig.api.store_record("s1", name, {"old": True}, lineage_for(system, translator.model_version))
        request = TranslateRequest(summary_id="s1", reason="new", request_id="req-s1")
        assert rig.worker.translations.process(request) == 1
        assert translator.calls == [("s1", ["planner"])]
        states = rig.api.summaries["s1"]["systems"]
        assert states["planner"]["translator_adapter_version"] == adopted and states["planner"]["version"] == 2
        assert all("translator_adapter_version" not in states[name] for name in SYSTEMS if name != "planner")
        assert rig.api.registry[adopted]["kind"] == "translator-adapter"
        assert rig.worker.translations.process(request) == 0  # current now
    finally:
        rig.worker.stop(grace_s=5)


def test_only_a_stored_adapter_can_be_adopted(tmp_path, monkeypatch):
    monkeypatch.setenv("SSP_HOME", str(tmp_path))
    with pytest.raises(model_store.ModelStoreError, match="not stored"):
        model_store.set_adopted_adapter("planner", ADAPTER)
    assert model_store.adopted_adapters() == {}
