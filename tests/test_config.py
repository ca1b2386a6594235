"""Settings come from the environment, validate, and hide secrets."""

from __future__ import annotations

import dataclasses

import pytest

from republish.config import SETTINGS, Secret, Settings, SettingsError


def test_defaults_match_the_settings_table() -> None:
    defaults = Settings()
    for setting in SETTINGS:
        assert getattr(defaults, setting.name) == setting.default, setting.name
    assert {s.name for s in SETTINGS} == {f.name for f in dataclasses.fields(Settings)}


def test_from_env_parses_every_kind() -> None:
    settings = Settings.from_env(
        {
            "REPUBLISH_DATABASE_URL": "postgresql://u@db/x",
            "REPUBLISH_BASE_URL": "https://r.example/",
            "REPUBLISH_ADMIN_TOKEN": "s3cret",
            "REPUBLISH_FETCH_ALLOW": "127.0.0.1, 10.0.0.0/8,",
            "REPUBLISH_FETCH_TIMEOUT_S": "2.5",
            "REPUBLISH_FETCH_MAX_BYTES": "1000",
            "UNRELATED": "x",
        }
    )
    assert settings.database_url == "postgresql://u@db/x"
    assert settings.base_url == "https://r.example"
    assert settings.admin_token == Secret("s3cret")
    assert settings.fetch_allow == ("127.0.0.1", "10.0.0.0/8")
    assert settings.fetch_timeout_s == 2.5
    assert settings.fetch_max_bytes == 1000


def test_overrides_win_over_environment() -> None:
    settings = Settings.from_env(
        {"REPUBLISH_BASE_URL": "https://a.example"}, base_url="https://b.example/"
    )
    assert settings.base_url == "https://b.example"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("REPUBLISH_BASE_URL", "ftp://x", "must start with http"),
        ("REPUBLISH_FETCH_TIMEOUT_S", "soon", "expected a number"),
        ("REPUBLISH_FETCH_TIMEOUT_S", "-1", "positive"),
        ("REPUBLISH_FETCH_MAX_BYTES", "1.5", "whole number"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as info:
        Settings.from_env({name: value})
    assert name in str(info.value)


def test_secret_never_shows_itself() -> None:
    settings = Settings(admin_token=Secret("hunter2"))
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.admin_token)
    assert settings.admin_token is not None and settings.admin_token.reveal() == "hunter2"
