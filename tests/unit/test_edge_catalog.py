"""The systems the edge translates for: reloaded from their folders, changes reported, broken files named."""

from __future__ import annotations

import json
import shutil
import threading
import time

from edge_worker.catalog import SystemCatalog
from schemas.system_definition import default_systems_dir


def copy_systems(folder, names=("planner", "nudge")):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(default_systems_dir() / f"{name}.json", folder / f"{name}.json")
    return folder


def test_reload_reports_new_and_changed_definitions_only(tmp_path):
    folder = copy_systems(tmp_path / "systems")
    catalog = SystemCatalog([folder])
    changed, errors = catalog.reload()
    assert sorted(d.name for d in changed) == ["nudge", "planner"] and errors == []
    assert catalog.reload() == ([], [])

    planner = json.loads((folder / "planner.json").read_text())
    planner["instructions"] += " Keep titles short."
    (folder / "planner.json").write_text(json.dumps(planner))
    changed, _ = catalog.reload()
    assert [d.name for d in changed] == ["planner"]
    assert catalog.get("planner").instructions.endswith("Keep titles short.") and catalog.get("nosuch") is None


def test_a_broken_file_and_a_name_defined_twice_are_errors_and_the_rest_is_used(tmp_path):
    first = copy_systems(tmp_path / "first")
    second = copy_systems(tmp_path / "second", names=("planner", "synapse"))
    (first / "broken.json").write_text('{"name": "broken", "schema": ')
    catalog = SystemCatalog([first, second])
    _, errors = catalog.reload()
    problems = [str(error) for error in errors]
    assert any("broken.json" in problem for problem in problems)
    assert any("'planner' is also defined in" in problem for problem in problems)
    assert sorted(d.name for d in catalog.current()) == ["nudge", "planner", "synapse"]


def test_a_new_file_in_a_watched_folder_is_reported(tmp_path):
    folder = copy_systems(tmp_path / "systems", names=("planner",))
    catalog, reported = SystemCatalog([folder]), threading.Event()
    catalog.reload()

    def on_change(changed, errors):
        if [d.name for d in changed] == ["nudge"]:
            reported.set()

    catalog.watch(on_change, debounce_s=0.05)
    try:
        copy_systems(folder, names=("nudge",))
        assert reported.wait(10)
    finally:
        catalog.stop()
    assert sorted(catalog.systems) == ["nudge", "planner"]


def test_a_change_reloads_once_and_the_reload_reading_the_files_does_not_reload_again(tmp_path):
    folder = copy_systems(tmp_path / "systems")
    catalog, reloads = SystemCatalog([folder]), []
    catalog.reload()
    catalog.watch(lambda changed, errors: reloads.append([d.name for d in changed]), debounce_s=0.05)
    try:
        (folder / "planner.json").touch()
        deadline = time.monotonic() + 10
        while not reloads and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reloads == [[]]  # touched, not changed: one reload, which finds nothing new
        time.sleep(1.0)  # the reload opened and read every file: those reads are not changes
        assert reloads == [[]]
    finally:
        catalog.stop()


def test_extra_folders_add_to_the_shipped_systems_and_replace_a_shipped_one_of_the_same_name(tmp_path):
    from edge_worker.catalog import catalog_folders

    extra = copy_systems(tmp_path / "mine", names=("planner",))
    planner = json.loads((extra / "planner.json").read_text())
    planner["instructions"] += " Mine."
    (extra / "planner.json").write_text(json.dumps(planner))
    folders = catalog_folders([extra, default_systems_dir()])  # the shipped folder is read once, first
    assert folders == [default_systems_dir(), extra]
    catalog = SystemCatalog(folders)
    _, errors = catalog.reload()
    assert errors == [] and sorted(d.name for d in catalog.current()) == ["nudge", "planner", "synapse"]
    assert catalog.get("planner").instructions.endswith("Mine.")


def test_the_systems_command_lists_what_the_worker_loads(tmp_path, monkeypatch, capsys):
    from edge_worker.cli import main

    extra = copy_systems(tmp_path / "mine", names=("planner",))
    (extra / "fitness.json").write_text(
        (default_systems_dir() / "nudge.json").read_text().replace('"nudge"', '"fitness"', 1)
    )
    monkeypatch.setenv("SSP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SSP_SYSTEMS_DIRS", str(extra))
    assert main(["systems"]) == 0
    listed = {line.split("\t")[0]: line.split("\t")[-1] for line in capsys.readouterr().out.splitlines()}
    assert sorted(listed) == ["fitness", "nudge", "planner", "synapse"]
    assert listed["planner"] == str(extra / "planner.json")
    (tmp_path / "empty").mkdir()
    assert main(["systems", "--dir", str(tmp_path / "empty")]) == 1
    assert "no system definitions in" in capsys.readouterr().err


def test_retire_system_refuses_a_system_still_defined_and_names_the_missing_api_settings(tmp_path, monkeypatch, capsys):
    from edge_worker.cli import main

    monkeypatch.setenv("SSP_HOME", str(tmp_path / "home"))
    for name in ("SSP_API_URL", "SSP_API_TOKEN", "SSP_SYSTEMS_DIRS"):
        monkeypatch.delenv(name, raising=False)
    assert main(["retire-system", "planner"]) == 2
    assert "system 'planner' is still defined in" in capsys.readouterr().err
    assert main(["retire-system", "mood"]) == 2
    assert "no API URL" in capsys.readouterr().err


def test_the_shipped_systems_can_be_left_out(tmp_path, monkeypatch, capsys):
    from edge_worker.cli import main

    extra = copy_systems(tmp_path / "mine", names=("planner",))
    monkeypatch.setenv("SSP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SSP_SYSTEMS_DIRS", str(extra))
    monkeypatch.setenv("SSP_SHIPPED_SYSTEMS", "false")
    assert main(["systems"]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == ["planner"]
