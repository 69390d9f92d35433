"""Settings: bot.toml validated by pydantic, with SUPPORTBOT_<SECTION>__<KEY> environment overrides."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from datetime import date, timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from workflows.model import Customer, Plan
from workflows.text import parse_duration
from workflows import sla_settings  # SLA (issue 4)


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
    # --- security (issue 9): rate limits and relay caps; 0 disables a rate limit ---
    commands_per_minute: int = Field(default=30, ge=0, le=10_000)
    intake_per_hour: int = Field(default=5, ge=0, le=10_000)
    relay_max_files: int = Field(default=10, ge=0, le=10)  # Mattermost: at most 10 files a post
    relay_max_mb: int = Field(default=50, ge=1, le=1024)
    # --- end security ---


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


# --- on-call (issue 5) -------------------------------------------------------------------------
class OncallRegionSettings(_Section):
    """One [[oncall.regions]] table: a region's daily shift and the people rotating through it."""

    name: str = Field(min_length=1)
    timezone: str = "UTC"
    hours: str = "00:00-24:00"
    primary: tuple[str, ...] = Field(min_length=1)
    secondary: tuple[str, ...] = ()
    rotation: Duration = timedelta(weeks=1)
    handover: str = ""  # "mon 08:00"; empty = the start of the shift, on Mondays

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone like Europe/Berlin") from None
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        from workflows.rota import parse_hours

        parse_hours(value)
        return value

    @field_validator("handover")
    @classmethod
    def _handover(cls, value: str) -> str:
        from workflows.rota import parse_handover

        if value.strip():
            parse_handover(value)
        return value.strip()

    @field_validator("primary", "secondary")
    @classmethod
    def _usernames(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(u.strip().lstrip("@").lower() for u in value if u.strip())

    def to_domain(self) -> Any:
        from zoneinfo import ZoneInfo

        from workflows.rota import Region, parse_handover, parse_hours

        starts, ends = parse_hours(self.hours)
        day, at = parse_handover(self.handover) if self.handover else (0, None)
        return Region(self.name, ZoneInfo(self.timezone), starts, ends, self.primary,
                      secondary=self.secondary, rotation=self.rotation, handover_day=day,
                      handover_time=at)


class OncallSettings(_Section):
    """[oncall]: paging of Premium Urgent/High tickets; no regions = paging switched off."""

    check_interval: Duration = timedelta(minutes=1)
    ack_timeout: Duration = timedelta(minutes=10)
    repeat: int = Field(default=2, ge=0, le=20)
    lead: tuple[str, ...] = ()
    webhook_url: str = ""
    routing_key: str = ""  # PagerDuty Events API v2 integration key, sent with webhook events
    repage_on_customer_reply: bool = False
    regions: tuple[OncallRegionSettings, ...] = ()

    @field_validator("lead")
    @classmethod
    def _lead(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(u.strip().lstrip("@").lower() for u in value if u.strip())

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: str) -> str:
        return _http_url(value) if value.strip() else ""

    @field_validator("regions")
    @classmethod
    def _unique_names(
        cls, value: tuple[OncallRegionSettings, ...]
    ) -> tuple[OncallRegionSettings, ...]:
        names = [r.name for r in value]
        if len(set(names)) != len(names):
            raise ValueError(f"region names must be unique: {', '.join(names)}")
        return value

    def rota(self) -> Any:
        from workflows.rota import Rota

        return Rota(tuple(r.to_domain() for r in self.regions), lead=self.lead)

    def policy(self) -> Any:
        from workflows.paging import PagingPolicy

        return PagingPolicy(ack_timeout=self.ack_timeout, repeat=self.repeat,
                            repage_on_customer_reply=self.repage_on_customer_reply)
# --- end on-call ---------------------------------------------------------------------------------


# --- summary (issue 7) ---------------------------------------------------------------------
class SummarySettings(_Section):
    """[summary]: when the daily summary is posted, and how long its lists get."""

    at: str = "09:00"
    timezone: str = "UTC"
    days: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = (
        "mon", "tue", "wed", "thu", "fri")
    handover_digests: bool = False
    late_grace: Duration = timedelta(hours=6)
    pending_days: int = Field(default=3, ge=1, le=365)
    top_n: int = Field(default=5, ge=1, le=50)

    @field_validator("at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        from datetime import time as _time
        try:
            _time.fromisoformat(value.strip())
        except ValueError:
            raise ValueError('must be a local time like "09:00"') from None
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError('must be an IANA time zone like "UTC" or "Europe/Berlin"') from None
        return value.strip()

    @field_validator("days")
    @classmethod
    def _some_days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one day")
        return value
# --- end summary ---------------------------------------------------------------------------


# --- SLA (issue 4): [sla] and [[sla.targets]] -------------------------------------------------
class SlaTargetSettings(_Section):
    """One plan x priority row; a metric key left out keeps the support-forms default."""

    plan: Plan
    priority: Literal["urgent", "high", "normal", "low"]
    first_reply: str | None = None  # a duration, "next_business_day" or "none"
    next_reply: str | None = None
    regular_update: str | None = None
    clock: Literal["calendar", "business"] | None = None

    @field_validator("first_reply", "next_reply", "regular_update")
    @classmethod
    def _cell(cls, value: str | None) -> str | None:
        if value is not None:
            sla_settings.parse_cell(value, sla_settings.Clock.BUSINESS)  # ValueError: one line
        return value


class SlaSettings(_Section):
    check_interval: Duration = timedelta(minutes=1)
    warn_at: float = Field(default=0.75, gt=0, le=1)
    business_hours: str = "09:00-17:00"
    business_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    fallback_timezone: str = "UTC"
    holidays: tuple[date, ...] = ()
    targets: tuple[SlaTargetSettings, ...] = ()

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        sla_settings.parse_hours(value)
        return value

    @field_validator("business_days")
    @classmethod
    def _days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        sla_settings.parse_days(value)
        return value

    @field_validator("fallback_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            sla_settings.base_calendar("09:00-17:00", ["mon"], (), value.strip() or "?")
        except KeyError:  # ZoneInfoNotFoundError
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. UTC, Europe/Berlin)") from None
        return value.strip()

    def overrides(self) -> list[sla_settings.TargetOverride]:
        return [
            sla_settings.TargetOverride(
                plan=t.plan, priority=sla_settings.Priority(t.priority),
                cells={sla_settings.Metric.FIRST_REPLY: t.first_reply,
                       sla_settings.Metric.NEXT_REPLY: t.next_reply,
                       sla_settings.Metric.REGULAR_UPDATE: t.regular_update},
                clock=sla_settings.Clock(t.clock) if t.clock else None,
            )
            for t in self.targets
        ]

    def policy(self) -> sla_settings.SlaPolicy:
        return sla_settings.build_policy(self.overrides(), self.warn_at)

    def calendar(self) -> sla_settings.BusinessCalendar:
        return sla_settings.base_calendar(
            self.business_hours, self.business_days, self.holidays, self.fallback_timezone
        )
# --- end SLA ------------------------------------------------------------------------------------


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
    sla: SlaSettings = SlaSettings()  # SLA (issue 4)
    oncall: OncallSettings = OncallSettings()  # on-call (issue 5)
    summary: SummarySettings = SummarySettings()  # issue 7
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
        raise ConfigError("no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML ({exc})") from None
    env = os.environ if environ is None else environ
    return parse(data, config_dir=path.resolve().parent, environ=env)


def example_path() -> Path:
    """The commented example shipped with the package (also at the repository root)."""
    return Path(__file__).with_name("bot.example.toml")
