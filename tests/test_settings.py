"""Settings: one table, precedence defaults < monitor.toml < environment < flags, clear errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.settings import SETTINGS, SettingsError, load_settings


def test_defaults_when_nothing_is_set():
    settings = load_settings(env={})
    assert settings.database_url == "sqlite:///data/monitor.db"
    assert settings.feeds_file == "feeds.yaml"
    assert settings.poll_interval_minutes == 15
    assert settings.smtp_starttls is True
    assert all(settings.source_of(s.name) == "default" for s in SETTINGS)


def test_precedence_file_then_environment_then_flags(tmp_path):
    config = tmp_path / "monitor.toml"
    config.write_text('poll_interval_minutes = 20\nsmtp_host = "mail.file"\nsmtp_port = 2525\n')
    env = {"MONITOR_SMTP_HOST": "mail.env", "MONITOR_SMTP_PORT": "2626"}
    settings = load_settings(env=env, flags={"smtp_port": "2727"})
    assert settings.poll_interval_minutes == 20 and settings.source_of("poll_interval_minutes").startswith("file")
    assert settings.smtp_host == "mail.env" and settings.source_of("smtp_host") == "environment"
    assert settings.smtp_port == 2727 and settings.source_of("smtp_port") == "flag"


def test_config_file_may_use_a_monitor_table(tmp_path):
    (tmp_path / "custom.toml").write_text('[monitor]\nfeeds_file = "other.yaml"\n')
    assert load_settings(tmp_path / "custom.toml", env={}).feeds_file == "other.yaml"


@pytest.mark.parametrize("env, fragment", [
    ({"MONITOR_SMTP_PORT": "seventy"}, "smtp_port"),
    ({"MONITOR_SMTP_PORT": "70000"}, "smtp_port"),
    ({"MONITOR_POLL_INTERVAL_MINUTES": "0"}, "poll_interval_minutes"),
    ({"MONITOR_SMTP_STARTTLS": "maybe"}, "smtp_starttls"),
    ({"MONITOR_DATABASE_URL": "mysql://x"}, "database_url"),
    ({"MONITOR_SMTP_FROM": "not an address"}, "smtp_from"),
])
def test_bad_value_names_the_setting_and_its_origin(env, fragment):
    with pytest.raises(SettingsError) as caught:
        load_settings(env=env)
    message = str(caught.value)
    assert f"setting '{fragment}'" in message
    assert "environment MONITOR_" in message


def test_unknown_key_in_config_file_is_rejected(tmp_path):
    (tmp_path / "monitor.toml").write_text('smtp_hots = "typo"\n')
    with pytest.raises(SettingsError, match="unknown setting.*smtp_hots"):
        load_settings(env={})


def test_postgres_urls_are_normalised_to_psycopg():
    settings = load_settings(env={"MONITOR_DATABASE_URL": "postgres://u@db.example/monitor"})
    assert settings.database_url == "postgresql+psycopg://u@db.example/monitor"


def test_config_command_masks_secrets_and_shows_sources(monkeypatch):
    monkeypatch.setenv("MONITOR_SMTP_PASSWORD", "hunter2-very-secret")
    result = CliRunner().invoke(cli, ["--set", "smtp_host=mail.flag", "config", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in map(json.loads, result.output.splitlines())}
    assert rows["smtp_password"]["value"] == "********"
    assert "hunter2" not in result.output
    assert {k: rows["smtp_host"][k] for k in ("name", "value", "source")} == {
        "name": "smtp_host", "value": "mail.flag", "source": "flag"}
    assert rows["smtp_host"]["env"] == "MONITOR_SMTP_HOST"
    assert set(rows) == {s.name for s in SETTINGS}
    revealed = CliRunner().invoke(cli, ["config", "--show-secrets"])
    assert "hunter2-very-secret" in revealed.output


def test_a_bad_setting_stops_a_command_with_a_clear_message(monkeypatch):
    monkeypatch.setenv("MONITOR_SMTP_PORT", "abc")
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 1
    assert "setting 'smtp_port'" in result.output and "MONITOR_SMTP_PORT" in result.output
