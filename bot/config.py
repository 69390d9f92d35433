"""Settings: bot.toml validated by pydantic, with SUPPORTBOT_<SECTION>__<KEY> environment overrides."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from workflows.model import Customer, Plan
from workflows.text import parse_duration


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = f"{int(value)}s"
    if not isinstance(value, str):
        raise ValueError('must be a duration like "90s", "15m", "2h" or "1d"')
    return parse_duration(value)


# "90s", "15m", "2h", "1d" (a bare number is seconds); at least one second
Duration = Annotated[timedelta, BeforeValidator(_duration)]

ENV_PREFIX = "SUPPORTBOT_"


class ConfigError(Exception):
    """A bad or missing setting; the message is one line naming the key and what is wrong."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or len(value) < 10:
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


class MattermostSettings(_Section):
    url: str = "http://localhost:8065"
    token: str = ""
    team: str = "main"

    _check_url = field_validator("url")(_http_url)

    @field_validator("token")
    @classmethod
    def _token_given(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(
                "is empty: create a bot account's access token and put it here "
                "(or set SUPPORTBOT_MATTERMOST__TOKEN)"
            )
        return value.strip()

    @field_validator("team")
    @classmethod
    def _team_given(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty: give the team's name as in its URL")
        return value.strip()


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8080"

    _check_url = field_validator("public_url")(_http_url)


class ChannelSettings(_Section):
    customer_support: str = "customer-support"
    support_standup: str = "support-standup"
    sustained_engineering: str = "sustained-engineering"


class DatabaseSettings(_Section):
    url: str = "sqlite:///supportbot.db"

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError('must start with "sqlite:///" or "postgresql://"')
        return value


class SecuritySettings(_Section):
    signing_key: str = ""
    previous_signing_key: str = ""


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["console", "json"] = "console"


class WorkflowSettings(_Section):
    staff: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()
    solved_close_after: Duration = timedelta(hours=48)
    reply_prefix: str = "!reply"
    check_interval: Duration = timedelta(minutes=1)


class CsatSettings(_Section):
    send_after: Duration = timedelta(hours=24)
    after_status: Literal["solved", "closed"] = "solved"


class EscalationSettings(_Section):
    set_members: tuple[str, ...] = ()


class CustomerSettings(_Section):
    name: str = Field(min_length=1)
    plan: Plan | None = None
    email_domains: tuple[str, ...] = ()
    usernames: tuple[str, ...] = ()

    def to_domain(self) -> Customer:
        return Customer(
            name=self.name,
            plan=self.plan,
            email_domains=tuple(d.lower().lstrip("@") for d in self.email_domains),
            usernames=tuple(u.lower().lstrip("@") for u in self.usernames),
        )


class Settings(_Section):
    mattermost: MattermostSettings = MattermostSettings.model_construct()
    server: ServerSettings = ServerSettings()
    channels: ChannelSettings = ChannelSettings()
    database: DatabaseSettings = DatabaseSettings()
    security: SecuritySettings = SecuritySettings()
    logging: LoggingSettings = LoggingSettings()
    workflow: WorkflowSettings = WorkflowSettings()
    csat: CsatSettings = CsatSettings()
    escalation: EscalationSettings = EscalationSettings()
    customers: tuple[CustomerSettings, ...] = ()
    config_dir: Path = Path(".")

    def customer_list(self) -> list[Customer]:
        return [c.to_domain() for c in self.customers]


def apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Overlay SUPPORTBOT_<SECTION>__<KEY> variables onto scalar keys of the file's tables."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if section not in Settings.model_fields or section in ("customers", "config_dir"):
            raise ConfigError(f"{name}: no such setting [{section}]")
        table = out.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{name}: [{section}] is not a table")
        table[key] = value
    return out


def _describe(error: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in error["loc"] if not str(p).startswith("function-"))
    msg = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling against bot.example.toml)"
    return f"{loc}: {msg}"


def parse(data: dict[str, Any], *, config_dir: Path, environ: Mapping[str, str]) -> Settings:
    """Validate a loaded TOML document; raise ConfigError naming the first bad key."""
    merged = apply_env(data, environ)
    merged.setdefault("mattermost", {})
    try:
        return Settings.model_validate({**merged, "config_dir": config_dir})
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0])) from None


def load(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the config file at `path`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    env = os.environ if environ is None else environ
    return parse(data, config_dir=path.resolve().parent, environ=env)


def example_path() -> Path:
    """The commented example shipped with the package (also at the repository root)."""
    return Path(__file__).with_name("bot.example.toml")
