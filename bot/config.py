"""Settings from the environment (and a `.env` file). rabfang's own are prefixed `RABFANG_`;
the platforms' credentials keep their usual names. Secrets are SecretStr: never printed."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage import database_target

from .cron import cron_trigger, parse_duration


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RABFANG_", env_file=".env", extra="ignore", populate_by_name=True)

    db: Path | str = Path("rabfang.db")  # a SQLite file, or a postgresql:// URL (storage.database_target)
    surveys_dir: Path | None = None  # a folder of survey files replacing the shipped ones
    retention_days: int = Field(365, ge=1)
    unconsented_days: int = Field(7, ge=1)  # how long the conversation of someone who never consented is kept
    contact: str = "สำนักงานพัฒนารัฐบาลดิจิทัล (องค์การมหาชน) · www.dga.or.th"
    pseudonym_key: SecretStr | None = None  # default: generated on first run, kept in the database
    log_level: str = "INFO"
    flood_limit: int = Field(5, ge=1)  # messages a participant may send per flood window
    flood_window: float = Field(10.0, gt=0)  # seconds

    export_cron: str = "0 2 * * *"  # scheduled export, crontab syntax, Asia/Bangkok time
    export_dir: Path = Path("data/exports")  # dated export folders go here
    export_keep: int = Field(14, ge=1)  # how many dated exports to keep
    export_link_key: SecretStr | None = None  # signs download links; default: generated, kept in the database
    # The licence of the export set as open data (datapackage.json, ckan.json): an id of
    # exports.datapackage.LICENSES (CC-BY-4.0, CC0-1.0, ODC-BY-1.0, ODbL-1.0, Open-Data-Common, DGA-OGL) or any other.
    open_data_license: str = "CC-BY-4.0"

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # The HTTP server's defences against slow or idle clients (docs/operations.md, "Behind HTTPS").
    http_header_timeout: float = Field(10.0, gt=0)  # seconds for a request's head, from its first byte
    http_body_timeout: float = Field(10.0, gt=0)  # seconds for a webhook body, once its head is in
    http_keep_alive: float = Field(5.0, gt=0)  # seconds an idle kept-alive connection stays open
    http_max_connections: int = Field(1000, ge=1)  # open connections; more are closed on arrival
    http_backlog: int = Field(2048, ge=1)  # connections waiting to be accepted
    http_max_head: int = Field(16 * 1024, ge=1024)  # bytes of request line and headers
    inbox_limit: int = Field(20_000, ge=1)  # unprocessed webhook events per channel; beyond: 503
    # Several workers on PostgreSQL (docs/operations.md, "Several workers"):
    inbox_lease: float = Field(10.0, gt=0)  # seconds a worker holds a chat's inbox rows; then another may
    leader_retry: float = Field(2.0, gt=0)  # seconds between a worker's tries to lead (scheduler, polling)
    public_url: str | None = None
    admins: str = ""  # comma-separated `telegram:<id>` / `line:<id>`
    reminder_offsets: str = "24h,1h"  # before a session starts; `30m` works too
    nudge_after: str = "24h"  # quiet time before one reminder to finish an area
    broadcast_rate: float = Field(25.0, gt=0)  # messages per second per channel
    # Live sessions' check-in links: the LINE Official Account's basic ID (`@123abcde`) and the
    # Telegram bot's username (without `@`).
    line_basic_id: str | None = None
    telegram_bot_username: str | None = None
    quota_warn_share: float = Field(0.2, ge=0, le=1)  # warn when a LINE wave leaves less than this share

    telegram_bot_token: SecretStr | None = Field(None, validation_alias=_env("TELEGRAM_BOT_TOKEN"))
    telegram_api_base_url: str = Field("https://api.telegram.org/bot", validation_alias=_env("TELEGRAM_API_BASE_URL"))
    telegram_webhook_url: str | None = Field(None, validation_alias=_env("TELEGRAM_WEBHOOK_URL"))
    telegram_webhook_secret: SecretStr | None = Field(None, validation_alias=_env("TELEGRAM_WEBHOOK_SECRET"))

    line_channel_secret: SecretStr | None = Field(None, validation_alias=_env("LINE_CHANNEL_SECRET"))
    line_channel_access_token: SecretStr | None = Field(None, validation_alias=_env("LINE_CHANNEL_ACCESS_TOKEN"))
    line_api_base_url: str = Field("https://api.line.me", validation_alias=_env("LINE_API_BASE_URL"))

    @field_validator("db", mode="before")
    @classmethod
    def _db(cls, value: object) -> Path | str:
        """A file path stays a Path; a PostgreSQL URL stays the URL; any other scheme is refused
        here, at start-up, rather than becoming a file named after it."""
        return database_target(value if isinstance(value, Path) else str(value))

    @field_validator("reminder_offsets", "nudge_after")
    @classmethod
    def _durations(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                parse_duration(part)
        return value

    @field_validator("export_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            cron_trigger(value, UTC)  # the syntax only: the scheduler gives it Bangkok time
        except ValueError as exc:
            raise ValueError(f"not a crontab expression (minute hour day month weekday): {exc}") from exc
        return value

    def admin_ids(self) -> set[str]:
        return {a.strip() for a in self.admins.split(",") if a.strip()}

    def is_admin(self, channel: str, user_ref: str) -> bool:
        return f"{channel}:{user_ref}" in self.admin_ids()

    def reminder_deltas(self) -> list[timedelta]:
        """The reminder offsets, longest first."""
        return sorted((parse_duration(x) for x in self.reminder_offsets.split(",") if x.strip()), reverse=True)

    def nudge_delta(self) -> timedelta:
        return parse_duration(self.nudge_after)
