"""Edge settings: environment over the settings file over defaults; errors name what to set."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from edge_worker import config
from edge_worker.config import ConfigError, api_token, load_config, ssp_home

REQUIRED = {"SSP_API_URL": "http://api.local", "SSP_EDGE_QUEUE_URL": "http://sqs.local/q.fifo"}


def test_the_state_directory_is_ssp_home_or_a_folder_in_home(tmp_path):
    assert ssp_home({"SSP_HOME": str(tmp_path)}) == tmp_path
    assert ssp_home({}) == Path.home() / ".session-summary-pipeline"
    loaded = load_config(environ={**REQUIRED, "SSP_HOME": str(tmp_path)})
    assert loaded.state_dir == tmp_path / "edge"
    assert (loaded.outbox_path, loaded.status_path) == (tmp_path / "edge/outbox.sqlite3", tmp_path / "edge/status.json")


def test_environment_wins_over_the_settings_file(tmp_path):
    (tmp_path / "edge.json").write_text(json.dumps({"api_url": "http://file", "queue_url": "q", "wait_seconds": 3}))
    first, second = tmp_path / "a", tmp_path / "b"
    env = {"SSP_HOME": str(tmp_path), "SSP_API_URL": "http://env", "SSP_SYSTEMS_DIRS": f"{first}{os.pathsep}{second}"}
    loaded = load_config(environ=env)
    assert (loaded.api_url, loaded.queue_url, loaded.wait_seconds) == ("http://env", "q", 3)
    assert loaded.systems_dirs == [first, second]


def test_every_environment_variable_sets_its_setting():
    assert set(config.ENVIRONMENT) <= set(config.EdgeConfig.model_fields)
    assert all(variable.startswith("SSP_") for variable in config.ENVIRONMENT.values())


def test_missing_settings_name_the_variable_to_set(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_config(environ={"SSP_HOME": str(tmp_path), "SSP_API_URL": ""})
    message = str(raised.value)
    assert "SSP_API_URL is not set" in message and "SSP_EDGE_QUEUE_URL is not set" in message
    assert f'"queue_url" in {tmp_path / "edge.json"}' in message


def test_a_bad_value_names_its_variable_or_its_file_key(tmp_path):
    with pytest.raises(ConfigError, match=r"SSP_WAIT_SECONDS='30': Input should be less than or equal to 20"):
        load_config(environ={**REQUIRED, "SSP_HOME": str(tmp_path), "SSP_WAIT_SECONDS": "30"})
    (tmp_path / "edge.json").write_text(json.dumps({"visibility_seconds": 1, "colour": "red"}))
    with pytest.raises(ConfigError) as raised:
        load_config(environ={**REQUIRED, "SSP_HOME": str(tmp_path)})
    assert '"visibility_seconds" in' in str(raised.value) and '"colour" in' in str(raised.value)


@pytest.mark.parametrize(("text", "problem"), [("{", "not valid JSON"), ("[1, 2]", "JSON object of settings")])
def test_an_unreadable_settings_file_is_named(tmp_path, text, problem):
    path = tmp_path / "edge.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem) as raised:
        load_config(path, environ=REQUIRED)
    assert str(path) in str(raised.value)


def test_the_api_token_comes_from_the_environment_else_the_keychain(monkeypatch):
    import keyring

    stored = {}
    monkeypatch.setattr(keyring, "get_password", lambda service, user: stored.get((service, user)))
    assert api_token({"SSP_API_TOKEN": "from-env"}) == "from-env"
    with pytest.raises(ConfigError, match="SSP_API_TOKEN is not set"):
        api_token({})
    stored[(config.KEYRING_SERVICE, config.KEYRING_USER)] = "from-keychain"
    assert api_token({}) == "from-keychain"


def test_a_settings_file_asked_for_must_exist(tmp_path):
    with pytest.raises(ConfigError, match=f"{tmp_path / 'nosuch.json'}: no such settings file"):
        load_config(tmp_path / "nosuch.json", environ={**REQUIRED, "SSP_HOME": str(tmp_path)})
    assert load_config(environ={**REQUIRED, "SSP_HOME": str(tmp_path)}).api_url == "http://api.local"  # optional
