from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from schemas import publish
from schemas.publish import PUBLIC_CONTRACTS

REPO = Path(__file__).resolve().parents[2]


def test_published_schemas_are_in_sync_with_the_contracts():
    assert publish.stale_files() == [], "run `python -m schemas.publish` and commit schemas/json/"
    assert sorted(path.name for path in publish.JSON_DIR.glob("*.schema.json")) == sorted(
        f"{name}.schema.json" for name in PUBLIC_CONTRACTS
    )


def test_check_command_passes_on_the_repository():
    result = subprocess.run(
        [sys.executable, "-m", "schemas.publish", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_check_names_stale_and_missing_files(tmp_path, capsys):
    assert publish.main(["--dir", str(tmp_path)]) == 0
    capsys.readouterr()
    session_file = tmp_path / "Session.schema.json"
    edited = json.loads(session_file.read_text())
    edited["required"].remove("user_id")
    session_file.write_text(json.dumps(edited, indent=2, sort_keys=True) + "\n")
    (tmp_path / "ErrorBody.schema.json").unlink()

    assert publish.main(["--check", "--dir", str(tmp_path)]) == 1
    stderr = capsys.readouterr().err
    assert "Session.schema.json" in stderr and "ErrorBody.schema.json" in stderr
    assert "Turn.schema.json" not in stderr

    assert publish.main(["--dir", str(tmp_path)]) == 0
    assert publish.main(["--check", "--dir", str(tmp_path)]) == 0


def test_files_are_pretty_sorted_and_end_with_a_newline():
    text = (publish.JSON_DIR / "SummaryRecord.schema.json").read_text()
    assert text.endswith("}\n") and text.startswith("{\n  ")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_published_session_schema_validates_like_the_model():
    schema = json.loads((publish.JSON_DIR / "Session.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    good = {
        "session_id": "s-1",
        "source": "synapse",
        "user_id": "u-1",
        "started_at": "2025-01-01T09:00:00Z",
        "ended_at": "2025-01-01T09:10:00Z",
        "turns": [{"role": "user", "content": "hi"}],
    }
    assert list(validator.iter_errors(good)) == []
    assert list(validator.iter_errors({**good, "extra": 1}))
    assert list(validator.iter_errors({**good, "session_id": "bad id"}))
    assert list(validator.iter_errors({**good, "turns": []}))
