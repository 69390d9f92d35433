"""Start-up checks against Mattermost: the token, the team, the channels, the slash command."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from collections.abc import Iterable
from typing import Any

from commands.ports import ChatGateway, GatewayError
from commands.router import CommandRouter

log = logging.getLogger(__name__)



class StartupError(Exception):
    """Start-up cannot go on; the message names what to fix."""


@dataclass(frozen=True, slots=True)
class Resolved:
    me: dict[str, Any]
    team: dict[str, Any]
    channels: dict[str, dict[str, Any]]  # config key -> channel


async def check_token(gateway: ChatGateway, url: str) -> dict[str, Any]:
    try:
        return await gateway.me()
    except GatewayError as exc:
        if exc.status == 401:
            raise StartupError(
                "mattermost.token: Mattermost refused the token (401); create a new access "
                "token for the bot account"
            ) from None
        if exc.status == 0:
            raise StartupError(f"mattermost.url: cannot reach Mattermost at {url} ({exc.message})") from None
        raise StartupError(f"mattermost: users/me failed: {exc}") from None


async def resolve_team(gateway: ChatGateway, name: str) -> dict[str, Any]:
    try:
        return await gateway.get_team_by_name(name)
    except GatewayError as exc:
        if exc.status in (403, 404):
            raise StartupError(
                f"mattermost.team: no team named {name!r} that the bot can see "
                "(check the name in the team's URL and that the bot was added to it)"
            ) from None
        raise


async def resolve_channel(
    gateway: ChatGateway, team: dict[str, Any], key: str, name: str, bot_id: str
) -> dict[str, Any]:
    """The channel must exist and the bot must be a member (it posts and reads threads there)."""
    try:
        channel = await gateway.get_channel_by_name(team["id"], name)
    except GatewayError as exc:
        if exc.status in (403, 404):
            raise StartupError(
                f"channels.{key}: no channel named {name!r} in team {team['name']!r} "
                "(create it, or add the bot to it if it is private)"
            ) from None
        raise
    members = await gateway.channel_member_ids(channel["id"])
    if bot_id not in members:
        raise StartupError(
            f"channels.{key}: the bot is not a member of ~{name}; add it with "
            f"/invite @<bot username> in that channel"
        )
    return channel


def command_spec(router: CommandRouter, team_id: str, public_url: str) -> dict[str, Any]:
    return {
        "team_id": team_id,
        "trigger": router.trigger,
        "method": "P",
        "url": f"{public_url}/mattermost/command",
        "display_name": "Support Desk",
        "description": router.description[:128],
        "auto_complete": True,
        "auto_complete_desc": router.description,
        "auto_complete_hint": router.hint,
        "username": "",
        "icon_url": "",
    }


async def register_commands(
    gateway: ChatGateway, team_id: str, public_url: str, routers: Iterable[CommandRouter]
) -> dict[str, str]:
    """Register every slash command; returns trigger -> the token Mattermost will send."""
    existing = await _list(gateway, team_id)
    return {r.trigger: await _register(gateway, existing, command_spec(r, team_id, public_url))
            for r in routers}


# --- check-config --online (issue 11) ---
async def check_command_permission(gateway: ChatGateway, team_id: str) -> list[dict[str, Any]]:
    """List the team's custom commands: the same call (and error) start-up registration makes."""
    return await _list(gateway, team_id)
# --- end check-config ---


async def _list(gateway: ChatGateway, team_id: str) -> list[dict[str, Any]]:
    try:
        return [c for c in await gateway.list_commands(team_id) if not c.get("delete_at")]
    except GatewayError as exc:
        raise _command_error(exc) from None


async def _register(gateway: ChatGateway, existing: list[dict[str, Any]], spec: dict[str, Any]) -> str:
    """Create the command, or update ours in place (same id and token: never delete and re-create)."""
    trigger = spec["trigger"]
    try:
        same = [c for c in existing if c.get("trigger") == trigger]
        if same:
            current = same[0]
            updated = await gateway.update_command({**current, **spec, "id": current["id"]})
            log.info("slash command /%s updated in place (%s)", trigger, current["id"])
            return str(updated.get("token") or current["token"])
        created = await gateway.create_command(spec)
    except GatewayError as exc:
        raise _command_error(exc) from None
    log.info("slash command /%s registered (%s)", trigger, created["id"])
    return str(created["token"])


def _command_error(exc: GatewayError) -> Exception:
    if exc.status == 403:
        return StartupError(
            "mattermost: the bot may not manage slash commands in this team; make the bot "
            "account a team admin (or grant manage_slash_commands)"
        )
    if exc.status == 501:
        return StartupError("mattermost: slash commands are disabled on this server "
                            "(System Console > Integrations > Enable Custom Slash Commands)")
    return exc
