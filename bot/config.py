"""Settings from the environment (and a `.env` file). rabfang's own are prefixed `RABFANG_`;
the platforms' credentials keep their usual names. Secrets are SecretStr: never printed."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RABFANG_", env_file=".env", extra="ignore", populate_by_name=True)

    db: Path = Path("rabfang.db")
    surveys_dir: Path | None = None  # a folder of survey files replacing the shipped ones
    retention_days: int = Field(365, ge=1)
    contact: str = "สำนักงานพัฒนารัฐบาลดิจิทัล (องค์การมหาชน) · www.dga.or.th"
    pseudonym_key: SecretStr | None = None  # default: generated on first run, kept in the database
    log_level: str = "INFO"

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    public_url: str | None = None
    admins: str = ""  # comma-separated `telegram:<id>` / `line:<id>`

    telegram_bot_token: SecretStr | None = Field(None, validation_alias=_env("TELEGRAM_BOT_TOKEN"))
    telegram_api_base_url: str = Field("https://api.telegram.org/bot", validation_alias=_env("TELEGRAM_API_BASE_URL"))
    telegram_webhook_url: str | None = Field(None, validation_alias=_env("TELEGRAM_WEBHOOK_URL"))
    telegram_webhook_secret: SecretStr | None = Field(None, validation_alias=_env("TELEGRAM_WEBHOOK_SECRET"))

    line_channel_secret: SecretStr | None = Field(None, validation_alias=_env("LINE_CHANNEL_SECRET"))
    line_channel_access_token: SecretStr | None = Field(None, validation_alias=_env("LINE_CHANNEL_ACCESS_TOKEN"))
    line_api_base_url: str = Field("https://api.line.me", validation_alias=_env("LINE_API_BASE_URL"))

    def admin_ids(self) -> set[str]:
        return {a.strip() for a in self.admins.split(",") if a.strip()}
