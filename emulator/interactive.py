"""Interactive dialogs (open/submit) and message-attachment button/menu actions."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp

from .errors import AppError, bad_body, forbidden
from .ids import decode_trigger_id
from .posting import send_ephemeral, update_post
from .slack import process_attachments, process_text
from .slash import MAX_RESPONSE, issue_trigger
from .state import User

if TYPE_CHECKING:
    from . import Emulator

_KEEP_PROPS = ("from_webhook", "override_username", "override_icon_url")


@dataclass
class DialogResult:
    status: int
    body: dict
    stayed_open: bool = False


@dataclass
class ActionResult:
    status: int
    body: dict


def integration_error(detail: str = "") -> AppError:
    return AppError("api.post.do_action.action_integration.app_error", 400, detailed=detail)


async def post_json(emu: Emulator, url: str, payload: dict) -> tuple[int, bytes]:
    """DoActionRequest: JSON POST with no auth; failures become 400 integration errors."""
    headers = {"Content-Type": "application/json", "Accept": "application/json",
               "User-Agent": "Mattermost-Bot/1.1"}
    timeout = aiohttp.ClientTimeout(total=emu.integration_timeout)
    try:
        async with emu.http.post(url, data=json.dumps(payload).encode(), headers=headers,
                                 timeout=timeout) as resp:
            return resp.status, await resp.content.read(MAX_RESPONSE)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
        raise integration_error(repr(exc)) from None


def open_dialog(emu: Emulator, body: dict) -> dict:
    """POST /actions/dialogs/open: the trigger_id alone authorizes the call."""
    url = body.get("url")
    if not isinstance(url, str) or not url:
        raise bad_body("url")
    client_id, user_id = decode_trigger_id(emu.trigger_key, str(body.get("trigger_id") or ""),
                                           emu.now_ms(), emu.integration_timeout)
    dialog = body.get("dialog") if isinstance(body.get("dialog"), dict) else {}
    record = {"trigger_id": client_id, "url": url, "dialog": dialog}
    ctx = emu.store.triggers.get(client_id, {})
    emu.store.dialogs.setdefault(user_id, []).append(
        {**record, "_channel_id": ctx.get("channel_id", ""), "_team_id": ctx.get("team_id", "")})
    emu.hub.publish("open_dialog", {"dialog": json.dumps(record)}, user_id=user_id)
    return {"status": "OK"}


async def submit_dialog(emu: Emulator, user: User, body: dict,
                        elements: list | None = None) -> DialogResult:
    """POST /actions/dialogs/submit (client route) -> forwards to the dialog url."""
    url = body.get("url")
    if not isinstance(url, str) or not url:
        raise bad_body("url")
    channel = emu.store.channels.get(str(body.get("channel_id") or ""))
    if channel is None:
        raise AppError("app.channel.get.existing.app_error", 404)
    if not emu.store.can_read_channel(channel, user.id):
        raise forbidden(f"userId={user.id}, permission=read_channel_content")
    team_id = str(body.get("team_id") or "")
    if team_id and not emu.store.is_team_member(team_id, user.id):
        raise forbidden(f"userId={user.id}, permission=view_team")
    payload = {"type": "dialog_submission", "callback_id": body.get("callback_id") or "",
               "state": body.get("state") or "", "user_id": user.id,
               "channel_id": channel.id, "team_id": team_id,
               "submission": body.get("submission") or {},
               "cancelled": bool(body.get("cancelled"))}
    status, raw = await post_json(emu, url, payload)
    if status != 200:
        raise integration_error(f"status={status}")
    try:
        decoded = json.loads(raw) if raw.strip() else {}
    except ValueError:
        decoded = {}  # decode errors are ignored at baseline
    decoded = decoded if isinstance(decoded, dict) else {}
    reply = {k: decoded[k] for k in ("error", "errors") if decoded.get(k)}
    return DialogResult(200, reply, _stays_open(reply, elements))


def _stays_open(reply: dict, elements: list | None) -> bool:
    if reply.get("error"):
        return True
    errors = reply.get("errors")
    if not isinstance(errors, dict) or not errors:
        return False
    if elements is None:
        return True
    names = {e.get("name") for e in elements if isinstance(e, dict)}
    return any(k in names for k in errors)


def find_action(post: dict, action_id: str) -> dict | None:
    for att in (post.get("props") or {}).get("attachments") or []:
        for action in (att.get("actions") or []) if isinstance(att, dict) else []:
            if isinstance(action, dict) and action.get("id") == action_id:
                return action
    return None


async def do_post_action(emu: Emulator, user: User, post_id: str, action_id: str,
                         selected_option: str | None = None) -> ActionResult:
    """POST /posts/{id}/actions/{action_id}: resolved from the stored post."""
    store = emu.store
    post = store.posts.get(post_id)
    channel = store.channels.get(post["channel_id"]) if post else None
    if post is None or channel is None or not store.can_read_channel(channel, user.id):
        raise forbidden(f"userId={user.id}, permission=read_channel_content")
    action = find_action(post, action_id)
    if action is None:
        raise AppError("api.post.do_action.action_id.app_error", 404)
    is_dm = channel.type in ("D", "G")
    team = store.teams.get(channel.team_id)
    client_id, trigger_id = issue_trigger(emu, user.id, channel.id,
                                          "" if is_dm else channel.team_id)
    integration = action.get("integration") or {}
    context = dict(integration.get("context") or {})
    payload = {"user_id": user.id, "user_name": user.username, "channel_id": channel.id,
               "channel_name": channel.name, "team_id": "" if is_dm else channel.team_id,
               "team_domain": "" if is_dm or team is None else team.name,
               "post_id": post_id, "trigger_id": trigger_id, "type": action.get("type", "")}
    if action.get("type") == "select" and selected_option:
        context["selected_option"] = selected_option
        if action.get("data_source"):
            payload["data_source"] = action["data_source"]
    if context:
        payload["context"] = context
    status, raw = await post_json(emu, str(integration.get("url") or ""), payload)
    if status != 200:
        raise integration_error(f"status={status}")
    _apply_action_response(emu, user, post, raw)
    return ActionResult(200, {"status": "OK", "trigger_id": client_id})


def _apply_action_response(emu: Emulator, user: User, post: dict, raw: bytes) -> None:
    if not raw.strip():
        return
    try:
        resp = json.loads(raw)
    except ValueError:
        raise integration_error("non-JSON response") from None
    if not isinstance(resp, dict):
        raise integration_error("bad response")
    skip = bool(resp.get("skip_slack_parsing"))
    update = resp.get("update")
    if isinstance(update, dict):
        message = update.get("message") or ""
        props = update.get("props")
        if isinstance(props, dict):
            props = dict(props)
            if not skip:
                props["attachments"] = process_attachments(props.get("attachments"), emu.store)
                if props["attachments"] is None:
                    props.pop("attachments")
            for key in _KEEP_PROPS:
                if key in post["props"]:
                    props[key] = post["props"][key]
        else:
            props = None
        update_post(emu, post, message=message if skip else process_text(message, emu.store),
                    props=props)
    text = resp.get("ephemeral_text")
    if isinstance(text, str) and text:
        text = text if skip else process_text(text, emu.store)
        send_ephemeral(emu, user.id, post["channel_id"], text,
                       root_id=post["root_id"] or post["id"])
