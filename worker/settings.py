"""The one Settings object: built at each entry point from the environment and passed down.

Nothing here runs at import time. `load_settings()` is called by the CLI, by the Celery
app's lazy configuration and by the web app factory; everything else receives the object.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from worker.lib.crypto import DEV_INDEX_KEY_FILE, check_key, dev_key
from worker.lib.durations import parse_duration
from worker.lib.errors import ConfigError, InputError
from worker.lib.phones import to_e164
from worker.lib.quiet_window import QuietHours, parse_quiet_hours


@dataclass(frozen=True)
class FollowUp:
    questionnaire: str
    after: timedelta


def parse_plan(text: str) -> tuple[FollowUp, ...]:
    """`checkin@24h,phq9@7d,gad7@7d`; empty or `none` for no follow-ups."""
    if text.strip().lower() in {"", "none", "off"}:
        return ()
    plan = []
    for part in text.split(","):
        name, at, delay = part.strip().partition("@")
        if not at or not name.strip():
            raise ValueError(f"{part.strip()!r} is not like phq9@7d")
        plan.append(FollowUp(name.strip(), parse_duration(delay)))
    return tuple(plan)


def bundled_config_dir() -> Path:
    """config/ as shipped: worker/bundled_config inside the installed package; in a source
    checkout that is a symlink to the repository's config/, so both read the same files."""
    return Path(__file__).resolve().parent / "bundled_config"


def config_file(settings: Settings, name: str) -> Path:
    """A file of the clinic's config directory, or the copy shipped with the package."""
    if settings.config_dir is not None:
        return settings.config_dir / name
    return bundled_config_dir() / name


def _default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'clinic-worker.sqlite3'}"


# psycopg 3 is the only PostgreSQL driver installed: plain postgresql:// would pick psycopg2.
_DATABASE_SCHEMES = {
    "sqlite": None,
    "sqlite+pysqlite": None,
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",  # what most hosts hand out
    "postgresql+psycopg": None,
}


def normalise_database_url(url: str) -> str:
    """The URL with the driver we ship, or ValueError naming the supported schemes (only
    the scheme is ever echoed: the rest may hold a password)."""
    scheme, separator, rest = url.strip().partition("://")
    supported = "sqlite:///PATH, postgresql://, postgres:// or postgresql+psycopg://"
    if not separator:
        raise ValueError(f"must be a URL: {supported}")
    if scheme.lower() not in _DATABASE_SCHEMES:
        raise ValueError(f"unsupported scheme {scheme + '://'!r}: use {supported} (psycopg 3 is the driver)")
    driver = _DATABASE_SCHEMES[scheme.lower()]
    return f"{driver}://{rest}" if driver else url.strip()


def with_password(url: str, password: str) -> str:
    """A PostgreSQL URL written without a password, given the one from its secret file. A URL
    that already has one keeps it (written there on purpose); SQLite has none to take."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres") or parts.password is not None or "@" not in parts.netloc:
        return url
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


def insecure_public_url_warning(settings: Settings) -> str | None:
    """The start-up warning for CLINIC_ALLOW_INSECURE_PUBLIC_URL (None when not in use)."""
    if settings.sms_backend == "twilio" and settings.public_url.startswith("http://"):
        return (
            "CLINIC_PUBLIC_URL is http:// (CLINIC_ALLOW_INSECURE_PUBLIC_URL=true): Twilio sends patients' "
            "texts to it in clear; for a local trial only"
        )
    return None


def _phone_setting(value: str) -> str:
    """Every phone setting passes the same check: a valid number, as E.164."""
    try:
        return to_e164(value)
    except InputError as exc:
        raise ValueError(str(exc)) from None


class Settings(BaseSettings):
    """Every setting, read from CLINIC_* variables, a .env file or a secrets directory."""

    model_config = SettingsConfigDict(
        env_prefix="CLINIC_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        secrets_dir=None,
    )

    database_url: str = Field(default_factory=_default_database_url)
    redis_url: str = "redis://localhost:6379/0"
    sms_backend: Literal["twilio", "console"] = "console"
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_from_number: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_api_url: str = "https://api.twilio.com"
    twilio_timeout: float = Field(default=10.0, gt=0, le=120)
    twilio_webhook_key: SecretStr = SecretStr("")
    encryption_keys: SecretStr = SecretStr("")
    blind_index_keys: SecretStr = SecretStr("")
    public_url: str = ""
    # Only for a local trial without TLS: Twilio would send patients' words in clear.
    allow_insecure_public_url: bool = False
    # Read from its own secret file (clinic_database_password) and put into a PostgreSQL
    # CLINIC_DATABASE_URL written without one, so the URL itself holds no secret.
    database_password: SecretStr = SecretStr("")
    # Each worker serves its Prometheus metrics on this port (unset: none); the web server
    # serves them at /metrics, behind this bearer token when one is set.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_token: SecretStr = SecretStr("")
    # Where a process tree keeps its metrics files (prefork children and web workers write,
    # the server reads them all); unset: a fresh folder under the system's temp folder.
    metrics_dir: Path | None = None
    # Where worker and beat write their heartbeat files, read by `worker --check` and
    # `beat --check` in the same container; unset: clinic-worker/ under the temp folder.
    heartbeat_dir: Path | None = None
    keyword_replies: bool = True
    front_desk_number: str = ""
    oncall_number: str = ""
    alert_repeat_minutes: int = Field(default=15, ge=1, le=1440)
    # Texted in turn, one more every CLINIC_ALERT_ESCALATE_MINUTES an alert stays open.
    oncall_backup_numbers: Annotated[tuple[str, ...], NoDecode] = ()
    alert_escalate_minutes: int = Field(default=10, ge=1, le=1440)
    followup_plan: str = "checkin@24h,phq9@7d,gad7@7d"
    questionnaire_timeout: Annotated[timedelta, NoDecode] = timedelta(hours=24)
    reconcile_interval: float = Field(default=3600.0, ge=0, le=86400)
    reconcile_lookback: Annotated[timedelta, NoDecode] = timedelta(hours=6)
    clinic_name: str = "Our clinic"
    clinic_phone: str = ""
    timezone: str = "America/New_York"
    reminder_offsets: Annotated[tuple[timedelta, ...], NoDecode] = (
        timedelta(hours=48),
        timedelta(hours=2),
    )
    dispatch_interval: float = Field(default=30.0, gt=0, le=3600)
    dispatch_batch: int = Field(default=500, ge=1, le=10000)
    send_rate: float = Field(default=1.0, gt=0, le=10000)
    send_max_attempts: int = Field(default=5, ge=1, le=50)
    send_concurrency: int = Field(default=32, ge=1, le=256)
    claim_lease: Annotated[timedelta, NoDecode] = timedelta(minutes=5)
    reminder_grace: Annotated[timedelta, NoDecode] = timedelta(minutes=15)
    checkin_grace: Annotated[timedelta, NoDecode] = timedelta(hours=12)
    quiet_hours: Annotated[QuietHours | None, NoDecode] = QuietHours(time(21, 0), time(8, 0))
    message_validity: Annotated[timedelta, NoDecode] = timedelta(hours=4)
    config_dir: Path | None = None
    queue_name: str = "clinic-worker"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "text"] = "auto"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # A secret file wins over the environment: docker compose hands every container the
        # whole .env, whose example values (CLINIC_TWILIO_AUTH_TOKEN=replace-me) must never
        # shadow the secret the clinic mounted.
        return init_settings, file_secret_settings, env_settings, dotenv_settings

    @field_validator("reminder_offsets", mode="before")
    @classmethod
    def _parse_offsets(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [part for part in value.split(",") if part.strip()]
            if not parts:
                raise ValueError("give at least one offset, for example 48h,2h")
            offsets = sorted({parse_duration(part) for part in parts}, reverse=True)
            if any(offset.total_seconds() <= 0 for offset in offsets):
                raise ValueError("offsets must be greater than zero")
            return tuple(offsets)
        return value

    @field_validator("quiet_hours", mode="before")
    @classmethod
    def _parse_quiet(cls, value: Any) -> Any:
        return parse_quiet_hours(value) if isinstance(value, str) else value

    @field_validator(
        "claim_lease",
        "reminder_grace",
        "checkin_grace",
        "message_validity",
        "questionnaire_timeout",
        "reconcile_lookback",
        mode="before",
    )
    @classmethod
    def _parse_one_duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_duration(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        check_timezone(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("config_dir", "metrics_dir", "heartbeat_dir", mode="before")
    @classmethod
    def _config_dir(cls, value: Any) -> Any:
        # Empty means unset (the shipped copy). A relative folder (CLINIC_CONFIG_DIR=config in
        # a checkout) is made absolute once, from the folder the command started in, so every
        # message names the folder actually read.
        if value is None or not str(value).strip():
            return None
        return Path(str(value).strip()).absolute()

    @field_validator("encryption_keys", "blind_index_keys")
    @classmethod
    def _keys(cls, value: SecretStr) -> SecretStr:
        for number, key in enumerate(value.get_secret_value().split(","), 1):
            if key.strip():
                try:
                    check_key(key.strip())
                except ValueError as exc:
                    raise ValueError(f"key {number} {exc}") from None
        return value

    def key_list(self) -> list[str]:
        """The encryption keys, newest first. Development without keys uses a local key file."""
        keys = [k.strip() for k in self.encryption_keys.get_secret_value().split(",") if k.strip()]
        if not keys:
            keys = [dev_key(Path.cwd())]
        return keys

    def index_key_list(self) -> list[str]:
        """The blind-index keys (phone lookups), newest first; development uses a local file."""
        keys = [k.strip() for k in self.blind_index_keys.get_secret_value().split(",") if k.strip()]
        if not keys:
            keys = [dev_key(Path.cwd(), DEV_INDEX_KEY_FILE)]
        return keys

    @field_validator("followup_plan")
    @classmethod
    def _plan(cls, value: str) -> str:
        parse_plan(value)
        return value

    @field_validator("front_desk_number", "oncall_number", "twilio_from_number")
    @classmethod
    def _e164(cls, value: str) -> str:
        return _phone_setting(value) if value.strip() else ""

    @field_validator("oncall_backup_numbers", mode="before")
    @classmethod
    def _backups(cls, value: Any) -> Any:
        parts = [p.strip() for p in value.split(",") if p.strip()] if isinstance(value, str) else value
        numbers = []
        for number, part in enumerate(parts, 1):
            try:
                numbers.append(_phone_setting(str(part)))
            except ValueError as exc:
                raise ValueError(f"number {number}: {exc}") from None
        if len(set(numbers)) < len(numbers):
            raise ValueError("a number is listed twice")
        return tuple(numbers)

    @field_validator("clinic_phone")
    @classmethod
    def _clinic_phone(cls, value: str) -> str:
        # Kept as written (it is read by patients), but checked like every other phone
        # setting, so a crisis text never gives a number nobody can dial.
        if value.strip():
            try:
                _phone_setting(value)
            except ValueError:
                raise ValueError(f"{value.strip()!r} is not a phone number a patient can call") from None
        return value.strip()

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "memory://")):
            raise ValueError("must start with redis:// or rediss://")
        return value

    @field_validator("twilio_api_url", "public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _optional_port(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _password_into_url(self) -> Settings:
        password = self.database_password.get_secret_value().strip()
        if password:
            self.database_url = with_password(self.database_url, password)
        return self

    @model_validator(mode="after")
    def _public_url_secure(self) -> Settings:
        if self.sms_backend != "twilio" or not self.public_url.startswith("http://"):
            return self
        if not self.allow_insecure_public_url:
            raise ValueError(
                "CLINIC_PUBLIC_URL must start with https:// with the twilio backend (Twilio would send "
                "patients' texts in clear); for a local trial only, CLINIC_ALLOW_INSECURE_PUBLIC_URL=true"
            )
        return self

    @model_validator(mode="after")
    def _twilio_complete(self) -> Settings:
        if self.sms_backend != "twilio":
            return self
        missing = [
            name
            for name, present in (
                ("CLINIC_TWILIO_ACCOUNT_SID", bool(self.twilio_account_sid)),
                ("CLINIC_TWILIO_AUTH_TOKEN", bool(self.twilio_auth_token.get_secret_value())),
                (
                    "CLINIC_TWILIO_FROM_NUMBER or CLINIC_TWILIO_MESSAGING_SERVICE_SID",
                    bool(self.twilio_from_number or self.twilio_messaging_service_sid),
                ),
            )
            if not present
        ]
        if not self.encryption_keys.get_secret_value().strip():
            missing.append("CLINIC_ENCRYPTION_KEYS (patient data is stored encrypted)")
        if not self.blind_index_keys.get_secret_value().strip():
            missing.append("CLINIC_BLIND_INDEX_KEYS (phone numbers are looked up by a keyed index)")
        if missing:
            raise ValueError("CLINIC_SMS_BACKEND=twilio needs " + ", ".join(missing))
        return self


def require_clinic_phone(settings: Settings) -> None:
    """The processes that send texts (worker, beat, web) refuse to start without the clinic's
    phone: the crisis and HELP texts would say "call us at ."."""
    if not settings.clinic_phone:
        raise ConfigError(
            [
                "CLINIC_CLINIC_PHONE: needed in every crisis-resources text "
                "(for example CLINIC_CLINIC_PHONE='(202) 555-0100')"
            ]
        )


def urgent_queue(settings: Settings) -> str:
    """Safety texts and reply processing: never behind a morning's backlog of reminders."""
    return f"{settings.queue_name}.urgent"


def beat_heartbeat_key(settings: Settings) -> str:
    """The Redis key each dispatcher run stamps, and `doctor` reads to tell that beat runs."""
    return f"{settings.queue_name}:beat:last"


def check_timezone(name: str) -> zoneinfo.ZoneInfo:
    """Return the zone or raise ValueError naming the unknown zone."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name like America/Chicago)") from None


def load_settings(**overrides: Any) -> Settings:
    """Build Settings, turning validation errors into one ConfigError with a line per problem.

    A secrets directory (Docker secrets: one file per setting, named like its variable,
    e.g. /run/secrets/clinic_twilio_auth_token) is read from CLINIC_SECRETS_DIR, or from
    /run/secrets when that exists. A secret file wins over an environment variable of the
    same name (compose passes the whole .env, example values and all, to every container).
    """
    import os

    secrets_dir = os.environ.get("CLINIC_SECRETS_DIR")
    if not secrets_dir and Path("/run/secrets").is_dir():
        secrets_dir = "/run/secrets"
    try:
        if secrets_dir:
            return Settings(_secrets_dir=secrets_dir, **overrides)
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        name = f"CLINIC_{field.upper()}" if field else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{name}: {message}")
    return lines
