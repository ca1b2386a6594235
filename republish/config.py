"""Settings: one frozen dataclass built from the environment, passed explicitly.

Every setting is listed once in :data:`SETTINGS` (name, environment variable, default,
help). The docs and the CLI read that table, and a test keeps them in sync.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ENV_PREFIX = "REPUBLISH_"


class Secret:
    """A string that never shows itself in ``repr`` or ``str`` (so never in logs)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value itself; call only where it is used."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


@dataclass(frozen=True)
class Setting:
    """One row of the settings table."""

    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"expected a boolean (true/false), got {value!r}")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _number(value: str, kind: type[float] | type[int], *, zero_ok: bool) -> float:
    try:
        number = kind(value)
    except ValueError as exc:
        wanted = "a whole number" if kind is int else "a number"
        raise SettingsError(f"expected {wanted}, got {value!r}") from exc
    if number < 0 or (number == 0 and not zero_ok):
        wanted = "zero or a positive" if zero_ok else "a positive"
        noun = "whole number" if kind is int else "number"
        raise SettingsError(f"expected {wanted} {noun}, got {value!r}")
    return number


def _positive_float(value: str) -> float:
    return float(_number(value, float, zero_ok=False))


def _non_negative_float(value: str) -> float:
    return float(_number(value, float, zero_ok=True))


def _positive_int(value: str) -> int:
    return int(_number(value, int, zero_ok=False))


def _secret(value: str) -> Secret | None:
    return Secret(value) if value else None


def _base_url(value: str) -> str:
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise SettingsError(f"base URL must start with http:// or https://, got {value!r}")
    return value


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "database_url",
        "sqlite:///republish.db",
        "Where stories and publishers are stored: sqlite:///PATH or "
        "postgresql://USER@HOST:PORT/DB.",
    ),
    Setting(
        "base_url",
        "http://127.0.0.1:8000",
        "Public address of this service; snippets, the widget and the pixel point here.",
        _base_url,
    ),
    Setting(
        "admin_token",
        None,
        "Bearer token that authorises the publisher API and overrides. Unset: those "
        "endpoints answer 401.",
        _secret,
    ),
    Setting(
        "fetch_allow",
        (),
        "Comma-separated hosts or CIDR ranges the outbound client may reach even though "
        "they are loopback or private (for local testing only).",
        _csv,
    ),
    Setting("fetch_timeout_s", 15.0, "Total time allowed for one outbound fetch.", _positive_float),
    Setting(
        "fetch_max_bytes",
        10 * 1024 * 1024,
        "Largest response body the outbound client accepts.",
        _positive_int,
    ),
    Setting(
        "fetch_max_redirects", 5, "Most redirects followed by one outbound fetch.", _positive_int
    ),
    Setting(
        "hit_log_dir",
        "republish-hits",
        "Directory of the pixel's append-only hit log and its daily salts (created if missing).",
    ),
    Setting(
        "client_ip_header",
        "",
        "Header set by your trusted reverse proxy with the client address (e.g. "
        "X-Forwarded-For; its last entry is used). Empty: the connection's address.",
    ),
    Setting(
        "rollup_interval_s",
        5.0,
        "How often the server rolls new hits up into the statistics (0: never; then run "
        "`republish rollup --watch`).",
        _non_negative_float,
    ),
    Setting(
        "poll_sources",
        True,
        "Poll the registered story sources (feeds, WordPress, sitemaps) inside `republish "
        "serve` when they are due. Turn off when `republish watch` runs on its own.",
        _bool,
    ),
    Setting(
        "poll_concurrency",
        2,
        "How many sources the in-process scheduler polls at the same time.",
        _positive_int,
    ),
    Setting(
        "secret_key",
        None,
        "Key that signs dashboard session cookies and CSRF tokens. Unset: a random key per "
        "process (sessions end on restart).",
        _secret,
    ),
    Setting("smtp_host", "", "SMTP server for notification e-mails. Empty: no e-mail."),
    Setting("smtp_port", 587, "SMTP port.", _positive_int),
    Setting("smtp_user", "", "SMTP user name (empty: no login)."),
    Setting("smtp_password", None, "SMTP password.", _secret),
    Setting("smtp_starttls", True, "Use STARTTLS on the SMTP connection.", _bool),
    Setting(
        "smtp_from",
        "republish@localhost",
        "Sender address of notification e-mails.",
    ),
    Setting(
        "user_agent",
        "republish/0.1 (story republication service)",
        "User-Agent sent by the outbound client.",
    ),
)

_BY_NAME = {setting.name: setting for setting in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Build with :meth:`from_env`; pass it explicitly."""

    database_url: str = "sqlite:///republish.db"
    base_url: str = "http://127.0.0.1:8000"
    admin_token: Secret | None = None
    fetch_allow: tuple[str, ...] = ()
    fetch_timeout_s: float = 15.0
    fetch_max_bytes: int = 10 * 1024 * 1024
    fetch_max_redirects: int = 5
    hit_log_dir: str = "republish-hits"
    client_ip_header: str = ""
    rollup_interval_s: float = 5.0
    poll_sources: bool = True
    poll_concurrency: int = 2
    secret_key: Secret | None = None
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: Secret | None = None
    smtp_starttls: bool = True
    smtp_from: str = "republish@localhost"
    user_agent: str = "republish/0.1 (story republication service)"

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Settings from ``REPUBLISH_*`` variables; ``overrides`` (e.g. CLI options) win.

        >>> Settings.from_env({"REPUBLISH_BASE_URL": "https://r.example/"}).base_url
        'https://r.example'
        """
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = environ.get(setting.env)
            if raw is not None:
                try:
                    values[setting.name] = setting.parse(raw)
                except SettingsError as exc:
                    raise SettingsError(f"{setting.env}: {exc}") from exc
        for name, value in overrides.items():
            if value is None:
                continue
            if name not in _BY_NAME:
                raise SettingsError(f"unknown setting {name!r}")
            if isinstance(value, str):
                value = _BY_NAME[name].parse(value)
            values[name] = value
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed."""
        return dataclasses.replace(self, **changes)
