"""Slash-command execution: the server's request to the command URL and reply handling."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import aiohttp

from .errors import AppError, forbidden
from .ids import make_trigger_id, new_id
from .posting import create_post, send_ephemeral
from .slack import process_attachments, process_text
from .state import Channel, User

if TYPE_CHECKING:
    from . import Emulator

MAX_RESPONSE = 1024 * 1024
HOOK_TTL_MS = 30 * 60 * 1000
HOOK_MAX_USES = 5
_AT = re.compile(r"(?<![\w@])@([A-Za-z0-9][A-Za-z0-9.\-_:]*)")
RESPONSE_KEYS = {"response_type": "", "text": "", "username": "", "channel_id": "",
                 "icon_url": "", "type": "", "props": None, "goto_location": "",
                 "trigger_id": "", "skip_slack_parsing": False, "attachments": None,
                 "extra_responses": None}


@dataclass
class CommandResult:
    status: int
    body: dict


def command_response(data: dict) -> dict:
    """A CommandResponse with every key the server serializes."""
    out = {k: data.get(k, v) for k, v in RESPONSE_KEYS.items()}
    if isinstance(out["extra_responses"], list):
        out["extra_responses"] = [command_response(r) for r in out["extra_responses"]
                                  if isinstance(r, dict)]
    return out


def split_command(command: str) -> tuple[str, str]:
    """(trigger without '/', lower-cased; text after the first whitespace, untrimmed)."""
    idx = next((i for i, ch in enumerate(command) if ch.isspace()), -1)
    trigger, text = (command, "") if idx < 0 else (command[:idx], command[idx + 1:])
    trigger = trigger.lower()
    if not trigger.startswith("/"):
        raise AppError("api.command.execute_command.start.app_error", 400)
    return trigger[1:], text


def issue_trigger(emu: Emulator, user_id: str, channel_id: str, team_id: str) -> tuple[str, str]:
    """(client trigger id, signed trigger id); remembers the channel for dialogs."""
    client_id = new_id()
    emu.store.triggers[client_id] = {"user_id": user_id, "channel_id": channel_id,
                                     "team_id": team_id}
    return client_id, make_trigger_id(emu.trigger_key, client_id, user_id, emu.now_ms())


def _mention_pairs(emu: Emulator, team_id: str, text: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw in _AT.findall(text):
        for name in (raw, raw.rstrip(".-_:")):
            user = emu.store.user_by_name(name)
            if user and name not in seen and emu.store.is_team_member(team_id, user.id):
                seen.add(name)
                pairs += [("user_mentions", name), ("user_mentions_ids", user.id)]
                break
    return pairs


def _form(emu: Emulator, cmd: dict, user: User, channel: Channel, team_id: str, text: str,
          trigger_id: str, hook_id: str) -> list[tuple[str, str]]:
    team = emu.store.teams.get(cmd["team_id"])
    fields = [("token", cmd["token"]), ("team_id", cmd["team_id"]),
              ("team_domain", team.name if team else ""), ("channel_id", channel.id),
              ("channel_name", channel.name), ("user_id", user.id),
              ("user_name", user.username), ("command", "/" + cmd["trigger"]),
              ("text", text), ("trigger_id", trigger_id),
              ("response_url", f"{emu.url}/hooks/commands/{hook_id}")]
    fields += _mention_pairs(emu, cmd["team_id"], text)
    return sorted(fields, key=lambda kv: kv[0])  # url.Values.Encode sorts keys


async def _call(emu: Emulator, cmd: dict, form: list[tuple[str, str]]) -> tuple[int, str, bytes]:
    headers = {"Accept": "application/json", "Authorization": f"Token {cmd['token']}",
               "User-Agent": "Mattermost-Bot/1.1"}
    body = urlencode(form)
    url, data = cmd["url"], None
    if cmd["method"] == "G":
        url = url + ("&" if "?" in url else "?") + body
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        data = body.encode()
    timeout = aiohttp.ClientTimeout(total=emu.integration_timeout)
    method = "GET" if cmd["method"] == "G" else "POST"
    async with emu.http.request(method, url, data=data, headers=headers,
                                timeout=timeout) as resp:
        raw = await resp.content.read(MAX_RESPONSE)
        return resp.status, resp.content_type, raw


async def execute_command(emu: Emulator, user: User, channel_id: str, command: str,
                          root_id: str = "", team_id: str = "") -> CommandResult:
    """POST /api/v4/commands/execute as the server handles it; raises AppError."""
    store = emu.store
    channel = store.channels.get(channel_id)
    if channel is None:
        raise AppError("app.channel.get.existing.app_error", 404)
    if not store.is_member(channel.id, user.id):
        raise forbidden(f"userId={user.id}, permission=create_post")
    if channel.type not in ("D", "G"):
        team_id = channel.team_id
    trigger, text = split_command(command)
    cmd = next((c for c in store.commands.values() if c["team_id"] == team_id
                and c["trigger"] == trigger and not c["delete_at"]), None)
    if cmd is None:
        raise AppError("api.command.execute_command.not_found.app_error", 404,
                       {"Trigger": trigger})
    client_id, trigger_id = issue_trigger(emu, user.id, channel.id, team_id)
    hook_id = new_id()
    store.hooks[hook_id] = {"command_id": cmd["id"], "user_id": user.id, "uses": 0,
                            "channel_id": channel.id, "root_id": root_id,
                            "team_id": team_id, "create_at": emu.now_ms()}
    form = _form(emu, cmd, user, channel, team_id, text, trigger_id, hook_id)
    try:
        status, ctype, raw = await _call(emu, cmd, form)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
        raise AppError("api.command.execute_command.failed.app_error", 500,
                       {"Trigger": trigger}, detailed=repr(exc)) from None
    if status != 200:
        raise AppError("api.command.execute_command.failed_resp.app_error", 500,
                       {"Trigger": trigger, "Status": status},
                       detailed=raw.decode("utf-8", "replace"))
    response = parse_reply(ctype, raw, trigger)
    handle_response(emu, cmd, user, channel.id, root_id, response, trigger)
    response["trigger_id"] = client_id
    return CommandResult(200, response)


def parse_reply(ctype: str, raw: bytes, trigger: str) -> dict:
    if ctype == "application/json":
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise AppError("api.command.execute_command.failed.app_error", 500,
                           {"Trigger": trigger})
        return command_response(data)
    return command_response({"text": raw.decode("utf-8", "replace")})


def handle_response(emu: Emulator, cmd: dict, user: User, channel_id: str, root_id: str,
                    response: dict, trigger: str) -> None:
    """HandleCommandResponse: the main reply plus extra_responses; any failure -> 500."""
    failed = False
    for resp in [response, *(response.get("extra_responses") or [])]:
        try:
            _response_post(emu, user, channel_id, root_id, resp)
        except AppError:
            failed = True
    if failed:
        raise AppError("api.command.execute_command.create_post_failed.app_error", 500,
                       {"Trigger": trigger})


def _response_post(emu: Emulator, user: User, channel_id: str, root_id: str,
                   resp: dict) -> None:
    if resp.get("channel_id"):
        if not emu.store.is_member(resp["channel_id"], user.id):
            raise AppError("api.command.command_post.forbidden.app_error", 403)
        channel_id = resp["channel_id"]
    text, atts = resp.get("text") or "", resp.get("attachments")
    if not resp.get("skip_slack_parsing"):
        text, atts = process_text(text, emu.store), process_attachments(atts, emu.store)
    props = dict(resp.get("props") or {})
    props["from_webhook"] = "true"
    ptype = resp.get("type") or ""
    if atts is not None:
        props["attachments"] = atts
        ptype = ptype or "slack_attachment"
    if resp.get("response_type") == "in_channel":
        create_post(emu, user, {"channel_id": channel_id, "root_id": root_id,
                                "message": text, "type": ptype, "props": props},
                    from_webhook=True)
    elif resp.get("response_type") in ("", "ephemeral", None) and (text or atts is not None):
        send_ephemeral(emu, user.id, channel_id, text, root_id=root_id, props=props)


def command_webhook(emu: Emulator, hook_id: str, ctype: str, raw: bytes) -> None:
    """POST /hooks/commands/{id}: the delayed reply to a slash command."""
    hook = emu.store.hooks.get(hook_id)
    if hook is None or emu.now_ms() - hook["create_at"] > HOOK_TTL_MS:
        raise AppError("web.command_webhook.general.app_error", 404)
    if hook["uses"] >= HOOK_MAX_USES:
        raise AppError("web.command_webhook.general.app_error", 400)
    hook["uses"] += 1
    cmd = emu.store.commands[hook["command_id"]]
    user = emu.store.users[hook["user_id"]]
    response = parse_reply(ctype, raw, cmd["trigger"])
    handle_response(emu, cmd, user, hook["channel_id"], hook["root_id"], response,
                    cmd["trigger"])
