"""One table of settings, loaded in the order defaults < monitor.toml < MONITOR_* environment < flags.

Every setting the program reads is declared in SETTINGS; nothing reads os.environ elsewhere, so
`monitor config` always shows the whole truth and the README test can check every name is documented.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

ENV_PREFIX = "MONITOR_"
DEFAULT_CONFIG_FILE = "monitor.toml"


class SettingsError(ValueError):
    """A setting has a value the program cannot use; the message names the setting and where it came from."""


def _parse_str(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"expected text, got {raw!r}")
    return raw.strip()


def _int_between(low: int, high: int) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        if isinstance(raw, bool):
            raise ValueError(f"expected a whole number, got {raw!r}")
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise ValueError(f"expected a whole number from {low} to {high}, got {raw!r}") from None
        if not low <= value <= high:
            raise ValueError(f"expected a whole number from {low} to {high}, got {value}")
        return value

    return parse


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def normalise_database_url(url: str) -> str:
    """Accept the URL forms hosting providers hand out and pin PostgreSQL to the psycopg 3 driver."""
    url = url.strip()
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _parse_database_url(raw: Any) -> str:
    url = normalise_database_url(_parse_str(raw))
    if not (url.startswith("sqlite:///") or url.startswith("postgresql+psycopg://")):
        raise ValueError(
            f"expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DB, got {raw!r}"
        )
    return url


EMAIL_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def _parse_optional_email(raw: Any) -> str:
    text = _parse_str(raw)
    if text and not EMAIL_ADDRESS.match(text):
        raise ValueError(f"expected an email address such as alerts@example.org, got {raw!r}")
    return text


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    type: str
    help: str
    parse: Callable[[Any], Any]
    secret: bool = False

    @property
    def env_name(self) -> str:
        return ENV_PREFIX + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("database_url", "sqlite:///data/monitor.db", "url",
            "Where the store lives: sqlite:///PATH (relative to the working directory) or "
            "postgresql+psycopg://USER@HOST/DB (postgres:// is accepted).", _parse_database_url),
    Setting("feeds_file", "feeds.yaml", "path",
            "The list of feeds to poll, synced into the store by `monitor init` and at worker start.", _parse_str),
    Setting("poll_interval_minutes", 15, "int",
            "How often a feed is polled when feeds.yaml gives it no interval_minutes.", _int_between(1, 1440)),
    Setting("model_path", "", "path",
            "The classifier file to use; empty means the bundled models/classifier.skops.", _parse_str),
    Setting("model_store_dir", "data/models", "path",
            "Where models retrained from the dashboard are kept, one file per version (old versions stay, so "
            "an admin can roll back).", _parse_str),
    Setting("corpus_dir", "", "path",
            "Training corpus folder for retraining with feedback (dashboard and `monitor models retrain`); empty "
            "means the bundled monitor/corpus/. Point it at a copy to add your own examples.", _parse_str),
    Setting("retrain_encoder", True, "bool",
            "Retraining with feedback (the worker's retrain job, `monitor models retrain`) fine-tunes the MiniLM "
            "second stage too: 30-60 minutes on 2 cores and the train extra installed "
            "(pip install -e '.[train]'). Off: only the TF-IDF first stage is retrained, in a few minutes.",
            _parse_bool),
    Setting("retrain_check_seconds", 60, "int",
            "How often the worker looks for a retrain requested from the dashboard's Model page.",
            _int_between(5, 3600)),
    Setting("worker_tick_seconds", 30, "int",
            "How often the worker looks for due feeds (each feed's own schedule decides when it is due).",
            _int_between(1, 3600)),
    Setting("min_interval_minutes", 5, "int",
            "No feed is polled more often than this, whatever its interval or the server asks.", _int_between(1, 1440)),
    Setting("max_interval_minutes", 1440, "int",
            "No feed waits longer than this between checks (also caps backoff, Retry-After and TTL).",
            _int_between(5, 10080)),
    Setting("park_after_errors", 10, "int",
            "After this many consecutive failures a feed is parked (not polled) until re-enabled or it recovers.",
            _int_between(1, 1000)),
    Setting("fetch_workers", 8, "int", "Feeds fetched at once.", _int_between(1, 64)),
    Setting("fetch_per_host", 2, "int", "Requests at once to any one host.", _int_between(1, 16)),
    Setting("fetch_timeout_seconds", 30, "int", "Total deadline for one feed request, body included.",
            _int_between(1, 600)),
    Setting("connect_timeout_seconds", 10, "int", "Deadline for connecting to a feed's server.",
            _int_between(1, 120)),
    Setting("max_feed_mb", 10, "int", "Largest feed body accepted, compressed or decompressed.", _int_between(1, 200)),
    Setting("allow_private_feeds", False, "bool",
            "Let feeds reach loopback, private and link-local addresses (a lab or test set-up). Off, a feed URL "
            "that is or resolves to such an address, directly or through a redirect, is refused when added and "
            "when fetched. Unspecified, multicast and cloud-metadata addresses are refused even when on.",
            _parse_bool),
    Setting("dashboard_url", "http://localhost:8501", "url",
            "Where the dashboard is reached; alert mail links to it.", _parse_str),
    Setting("map_style", "", "url",
            "Base map for the dashboard's facility map, as a Mapbox/MapLibre style URL; empty draws the points "
            "with no third-party tile server (for offline or sensitive deployments).", _parse_str),
    Setting("session_idle_minutes", 30, "int",
            "A dashboard session with no activity for this long ends; the user logs in again.",
            _int_between(1, 1440)),
    Setting("dashboard_page_size", 50, "int", "Alerts per page in the dashboard.", _int_between(10, 500)),
    Setting("digest_hour", 7, "int", "UTC hour at which daily digests go out, for subscribers who set none.",
            _int_between(0, 23)),
    Setting("quiet_after_days", 14, "int",
            "A facility usually in the news that has had no coverage for this many days raises a low alert.",
            _int_between(1, 365)),
    Setting("smtp_host", "", "str", "SMTP server for alert mail; empty means mail stays queued.", _parse_str),
    Setting("smtp_port", 587, "int", "SMTP server port.", _int_between(1, 65535)),
    Setting("smtp_user", "", "str", "SMTP login name; empty means no login.", _parse_str),
    Setting("smtp_password", "", "secret", "SMTP password (set it in the environment or monitor.toml, never in git).",
            _parse_str, secret=True),
    Setting("smtp_from", "", "email", "Sender address of alert mail.", _parse_optional_email),
    Setting("smtp_starttls", True, "bool", "Upgrade the SMTP connection with STARTTLS before login.", _parse_bool),
)

SETTINGS_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


class Settings:
    """The effective settings: attribute access by name, plus where each value came from."""

    def __init__(self, values: Mapping[str, Any], sources: Mapping[str, str]):
        self._values = dict(values)
        self._sources = dict(sources)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def source_of(self, name: str) -> str:
        return self._sources[name]

    def as_rows(self, reveal_secrets: bool = False) -> list[tuple[str, str, str]]:
        """(name, shown value, source) for every setting, secrets masked unless asked."""
        rows = []
        for setting in SETTINGS:
            value = self._values[setting.name]
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            if setting.secret and value and not reveal_secrets:
                shown = "********"
            rows.append((setting.name, shown, self._sources[setting.name]))
        return rows

    def replace(self, **overrides: Any) -> "Settings":
        values = dict(self._values)
        sources = dict(self._sources)
        for name, raw in overrides.items():
            values[name] = _parse(SETTINGS_BY_NAME[name], raw, "override")
            sources[name] = "override"
        return Settings(values, sources)


def _parse(setting: Setting, raw: Any, origin: str) -> Any:
    try:
        return setting.parse(raw)
    except ValueError as exc:
        raise SettingsError(f"setting '{setting.name}' ({origin}): {exc}") from None


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path}: not valid TOML: {exc}") from None
    # Allow either top-level keys or a [monitor] table, as tools that share one file expect.
    if isinstance(data.get("monitor"), dict):
        data = data["monitor"]
    unknown = sorted(set(data) - set(SETTINGS_BY_NAME))
    if unknown:
        raise SettingsError(
            f"config file {path}: unknown setting(s) {', '.join(unknown)}; "
            f"known settings: {', '.join(SETTINGS_BY_NAME)}"
        )
    return data


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Settings:
    """Resolve every setting. `config_file` None means ./monitor.toml if present (or $MONITOR_CONFIG)."""
    env = os.environ if env is None else env
    flags = flags or {}
    unknown_flags = sorted(set(flags) - set(SETTINGS_BY_NAME))
    if unknown_flags:
        raise SettingsError(f"unknown setting(s) {', '.join(unknown_flags)}; known: {', '.join(SETTINGS_BY_NAME)}")

    file_values: dict[str, Any] = {}
    explicit = config_file if config_file is not None else env.get(ENV_PREFIX + "CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise SettingsError(f"config file {path} does not exist")
        file_values = read_config_file(path)
        file_label = f"file {path}"
    else:
        path = Path(DEFAULT_CONFIG_FILE)
        if path.is_file():
            file_values = read_config_file(path)
        file_label = f"file {path}"

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        if setting.name in flags and flags[setting.name] is not None:
            values[setting.name] = _parse(setting, flags[setting.name], "flag")
            sources[setting.name] = "flag"
        elif setting.env_name in env:
            values[setting.name] = _parse(setting, env[setting.env_name], f"environment {setting.env_name}")
            sources[setting.name] = "environment"
        elif setting.name in file_values:
            values[setting.name] = _parse(setting, file_values[setting.name], file_label)
            sources[setting.name] = file_label
        else:
            values[setting.name] = setting.parse(setting.default)
            sources[setting.name] = "default"
    return Settings(values, sources)
