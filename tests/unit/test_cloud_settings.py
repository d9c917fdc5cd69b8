"""Settings: one place reads every variable; missing or malformed ones fail with their name."""

from __future__ import annotations

import pytest

from functions.settings import SettingError, Settings, Variable


def test_defaults_apply_to_tunables_only():
    settings = Settings({})
    assert (settings.max_turns, settings.search_edge_wait_seconds, settings.summarizer_mode) == (500, 6.0, "realtime")
    assert settings.anthropic_api_key is None
    with pytest.raises(SettingError, match="SESSIONS_TABLE"):
        assert settings.sessions_table


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"MAX_TURNS": "many"}, "MAX_TURNS"),
        ({"MAX_TURNS": "-1"}, "MAX_TURNS"),
        ({"SEARCH_EDGE_WAIT_SECONDS": "soon"}, "SEARCH_EDGE_WAIT_SECONDS"),
        ({"SUMMARIZER_MODE": "eventually"}, "SUMMARIZER_MODE"),
    ],
)
def test_malformed_values_are_named(environ, named):
    settings = Settings(environ)
    attribute = next(name for name, v in vars(Settings).items() if getattr(v, "name", None) == named)
    with pytest.raises(SettingError, match=named):
        getattr(settings, attribute)


def test_values_are_parsed_and_trimmed():
    settings = Settings({"MAX_TURNS": " 20 ", "SUMMARIZER_PROVIDER": "Bedrock", "SESSIONS_TABLE": "t"})
    assert (settings.max_turns, settings.summarizer_provider, settings.sessions_table) == (20, "bedrock", "t")


def test_require_names_every_missing_variable_at_once():
    with pytest.raises(SettingError) as error:
        Settings({"SESSIONS_TABLE": "t", "DATA_BUCKET": " "}).require(
            Settings.sessions_table, Settings.data_bucket, Settings.edge_queue_url
        )
    assert "DATA_BUCKET, EDGE_QUEUE_URL" in str(error.value) and "SESSIONS_TABLE" not in str(error.value)
    with pytest.raises(SettingError, match="SUMMARIZER_MODE"):
        Settings({"SUMMARIZER_MODE": "x"}).require(Settings.summarizer_mode)


def test_every_variable_has_one_name():
    declared = [value for value in vars(Settings).values() if isinstance(value, Variable)]
    assert len({variable.name for variable in declared}) == len(declared) == len(Settings.variables())
