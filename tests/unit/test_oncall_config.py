"""[oncall] settings: the documented follow-the-sun example, its domain objects, one-line errors."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError, parse
from commands.oncall.commands import parse_time
from commands.oncall.service import OncallService, startup_warnings, user_zone
from commands.errors import UserError
from workflows.oncall import Level, coverage_gaps, who_is_on_call

ROOT = Path(__file__).resolve().parents[2]
TOKEN = {"SUPPORTBOT_MATTERMOST__TOKEN": "tok"}


def documented() -> dict:
    """The TOML block of docs/oncall.md that configures the rota."""
    doc = (ROOT / "docs" / "oncall.md").read_text()
    block = re.search(r"```toml\n(\[oncall\].*?)```", doc, re.S)
    assert block, "docs/oncall.md has no [oncall] TOML example"
    return tomllib.loads(block.group(1))


def test_the_documented_follow_the_sun_rota_parses_and_covers_every_hour() -> None:
    settings = parse(documented(), config_dir=ROOT, environ=TOKEN)
    rota, policy = settings.oncall.rota(), settings.oncall.policy()
    assert [r.name for r in rota.regions] == ["APAC", "EMEA", "AMER"]
    emea = rota.regions[1]
    assert emea.tz == ZoneInfo("Europe/Berlin") and (emea.starts, emea.ends) == (time(8), time(17))
    assert emea.handover_day == 0 and emea.handover_time == time(8)
    assert emea.rotation == timedelta(weeks=1)
    assert policy.ack_timeout == timedelta(minutes=10) and policy.repeat == 2
    assert rota.lead == ("support.lead",)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert coverage_gaps(rota, start, 365) == []  # DST in every region included
    assert startup_warnings(OncallService(rota, policy), start) == []
    on_call = who_is_on_call(rota, [], datetime(2026, 3, 2, 10, 0, tzinfo=UTC))  # Berlin 11:00
    assert on_call[Level.PRIMARY].region == "EMEA"


def test_no_regions_means_paging_is_off() -> None:
    settings = parse({}, config_dir=ROOT, environ=TOKEN)
    service = OncallService(settings.oncall.rota(), settings.oncall.policy())
    assert not service.enabled and startup_warnings(service, datetime.now(UTC)) == []


def test_a_gap_in_cover_is_a_warning() -> None:
    data = {"oncall": {"lead": ["lee"], "regions": [
        {"name": "EMEA", "timezone": "Europe/Berlin", "hours": "08:00-16:00", "primary": ["a"]}]}}
    settings = parse(data, config_dir=ROOT, environ=TOKEN)
    warnings = startup_warnings(OncallService(settings.oncall.rota(), settings.oncall.policy()),
                                datetime(2026, 3, 2, tzinfo=UTC))
    assert warnings and all("no region covers" in w for w in warnings)


REGION = {"name": "EMEA", "primary": ["a"]}


@pytest.mark.parametrize(
    ("oncall", "message"),
    [
        ({"regions": [{**REGION, "timezone": "Mars/Olympus"}]}, r"^oncall\.regions\.0\.timezone: "),
        ({"regions": [{**REGION, "hours": "8-16"}]}, r"^oncall\.regions\.0\.hours: "),
        ({"regions": [{**REGION, "handover": "someday 08:00"}]}, r"^oncall\.regions\.0\.handover: "),
        ({"regions": [{**REGION, "primary": []}]}, r"^oncall\.regions\.0\.primary: "),
        ({"regions": [REGION, REGION]}, r"^oncall\.regions: .*unique"),
        ({"ack_timeout": "soon"}, r"^oncall\.ack_timeout: "),
        ({"repeat": -1}, r"^oncall\.repeat: "),
        ({"webhook_url": "pagerduty"}, r"^oncall\.webhook_url: must be an http"),
        ({"pager": "x"}, r"^oncall\.pager: unknown key"),
    ],
)
def test_bad_oncall_values_are_named_in_one_line(oncall: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse({"oncall": oncall}, config_dir=ROOT, environ=TOKEN)


def test_user_zone_reads_the_profile() -> None:
    assert user_zone({"timezone": {"useAutomaticTimezone": "true",
                                   "automaticTimezone": "Asia/Tokyo"}}).key == "Asia/Tokyo"
    assert user_zone({"timezone": {"useAutomaticTimezone": "false", "automaticTimezone": "Asia/Tokyo",
                                   "manualTimezone": "America/Chicago"}}).key == "America/Chicago"
    assert user_zone({"timezone": {"useAutomaticTimezone": "true", "automaticTimezone": ""}}).key == "UTC"
    assert user_zone({"timezone": {"manualTimezone": "Nowhere/Land",
                                   "useAutomaticTimezone": "false"}}).key == "UTC"


BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("words", "expected", "next_at"),
    [
        (["2026-12-01", "08:00"], datetime(2026, 12, 1, 7, tzinfo=UTC), 2),
        (["2026-12-01T08:00"], datetime(2026, 12, 1, 7, tzinfo=UTC), 1),
        (["2026-12-01T08:00+00:00"], datetime(2026, 12, 1, 8, tzinfo=UTC), 1),
        (["2026-12-01", "2026-12-02"], datetime(2026, 11, 30, 23, tzinfo=UTC), 1),
        (["2026-07-01", "8:30"], datetime(2026, 7, 1, 6, 30, tzinfo=UTC), 2),
    ],
)
def test_override_times_are_read_in_the_viewers_zone(words: list[str], expected: datetime,
                                                      next_at: int) -> None:
    at, used = parse_time(words, 0, BERLIN)
    assert at == expected and used == next_at


def test_a_bad_override_time_is_one_sentence() -> None:
    with pytest.raises(UserError, match="is not a time"):
        parse_time(["tomorrow"], 0, BERLIN)
