"""`supportbot check-config --online`: run start-up's checks one by one and print a checklist.

Each check reuses bot/startup.py, so the checklist says exactly what `supportbot run` would
refuse, in the same words, without stopping at the first problem.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlsplit

from bot import startup
from bot.config import Settings
from commands.ports import ChatGateway, GatewayError
from storage import db
from alembic.script import ScriptDirectory

from storage.migrate import alembic_config, current_revision, head_revision

OK, FAIL, NOTE, SKIP = "✔", "✘", "!", "-"


@dataclass(frozen=True, slots=True)
class Check:
    mark: str
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.mark} {self.name}: {self.detail}"


async def _attempt(name: str, ok: Callable[[Any], str], call: Awaitable[Any]) -> tuple[Check, Any]:
    try:
        value = await call
    except startup.StartupError as exc:
        return Check(FAIL, name, str(exc).removeprefix(f"{name}: ")), None
    except GatewayError as exc:
        return Check(FAIL, name, f"Mattermost answered {exc}"), None
    return Check(OK, name, ok(value)), value


async def database_check(settings: Settings) -> Check:
    url = db.normalise_url(settings.database.url, settings.config_dir)
    engine = db.create_engine(url)
    try:
        if not await db.ping(engine):
            return Check(FAIL, "database.url", "the database does not answer; check the URL, "
                         "the server and the credentials")
    finally:
        await engine.dispose()
    current, head = await current_revision(url), head_revision()
    if current == head:
        return Check(OK, "database", f"reachable, schema up to date ({head})")
    if current is not None and current not in known_revisions():
        return Check(FAIL, "database", f"schema at {current}, which this version does not know: "
                     "the database was upgraded by a newer supportbot; run that version")
    return Check(NOTE, "database", f"reachable, schema at {current or 'nothing yet'}; "
                 f"`supportbot migrate` (or the next start) brings it to {head}")


def known_revisions() -> set[str]:
    scripts = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in scripts.walk_revisions()}


def public_url_note(settings: Settings) -> Check | None:
    """Mattermost refuses callbacks to private addresses unless its admin allows them (§3.4)."""
    host = urlsplit(settings.server.public_url).hostname or ""
    try:
        private = not ipaddress.ip_address(host).is_global
    except ValueError:
        private = host == "localhost" or "." not in host
    if not private:
        return None
    return Check(NOTE, "server.public_url", f"{host} is a private address: add it to Mattermost's "
                 "ServiceSettings.AllowedUntrustedInternalConnections or commands will fail")


async def mattermost_checks(settings: Settings, gateway: ChatGateway) -> list[Check]:
    """Token, team, each channel with the bot's membership, permission to manage commands."""
    mm = settings.mattermost
    check, me = await _attempt(
        "mattermost.token", lambda u: f"authenticated as @{u.get('username')}"
        + (" (bot account)" if u.get("is_bot") else " (not a bot account)"),
        startup.check_token(gateway, mm.url))
    checks = [check]
    if me is None:
        return [*checks, Check(SKIP, "team, channels, permissions", "not checked without a token")]
    check, team = await _attempt("mattermost.team", lambda t: f"found {t.get('display_name') or t['name']!r}",
                                 startup.resolve_team(gateway, mm.team))
    checks.append(check)
    if team is None:
        return [*checks, Check(SKIP, "channels, permissions", "not checked without the team")]
    for key, name in settings.channels.model_dump().items():
        check, _ = await _attempt(f"channels.{key}", lambda c, n=name: f"~{n} exists and the bot is a member",
                                  startup.resolve_channel(gateway, team, key, name, me["id"]))
        checks.append(check)
    check, _ = await _attempt(
        "slash commands", lambda cs: f"the bot may manage them ({len(cs)} custom command(s) in the team)",
        startup.check_command_permission(gateway, team["id"]))
    checks.append(check)
    return checks


async def run_checks(settings: Settings, gateway: ChatGateway) -> list[Check]:
    checks = [await database_check(settings), *await mattermost_checks(settings, gateway)]
    note = public_url_note(settings)
    return [*checks, note] if note else checks


def print_checklist(checks: list[Check], out: TextIO) -> bool:
    """Print one line per check; True when nothing failed."""
    for check in checks:
        print(check.line(), file=out)
    failed = sum(c.mark == FAIL for c in checks)
    print("all checks passed" if not failed else f"{failed} check(s) failed: fix them and run again",
          file=out)
    return failed == 0
