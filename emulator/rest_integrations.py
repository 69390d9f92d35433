"""REST routes for slash commands, command webhooks, dialogs and post actions."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aiohttp import web

from .errors import AppError, bad_body, forbidden
from .ids import is_valid_id, new_id
from .interactive import do_post_action, open_dialog, submit_dialog
from .rest import API, emu_of, json_response, read_json, session_user
from .slash import command_webhook, execute_command
from .state import User

if TYPE_CHECKING:
    from . import Emulator

BUILTIN_TRIGGERS = {
    "away", "code", "collapse", "dnd", "echo", "expand", "groupmsg", "header", "help",
    "invite", "invite_people", "join", "kick", "leave", "logout", "me", "msg", "mute",
    "offline", "online", "open", "purpose", "remove", "rename", "search", "settings",
    "shortcuts", "shrug", "status", "custom_status"}
_EDITABLE = ("trigger", "method", "username", "icon_url", "auto_complete",
             "auto_complete_desc", "auto_complete_hint", "display_name", "description", "url",
             "autocomplete_data", "autocomplete_icon_data")
_SANITIZED = ("token", "creator_id", "method", "url", "username", "icon_url")


def _check_manage(emu: Emulator, team_id: str, user: User) -> None:
    if not emu.store.is_team_admin(team_id, user.id):
        raise forbidden(f"userId={user.id}, permission=manage_slash_commands")


def _validate(emu: Emulator, cmd: dict) -> None:
    trigger = cmd["trigger"]
    for other in emu.store.commands.values():
        if (other["team_id"] == cmd["team_id"] and other["trigger"] == trigger
                and other["id"] != cmd["id"] and not other["delete_at"]):
            raise AppError("api.command.duplicate_trigger.app_error", 400)
    if trigger in BUILTIN_TRIGGERS:
        raise AppError("api.command.duplicate_trigger.app_error", 400)
    prefix = "model.command.is_valid."
    if not is_valid_id(cmd["team_id"]):
        raise AppError(prefix + "team_id.app_error", 400)
    if not trigger or len(trigger) > 128 or trigger.startswith("/") or " " in trigger:
        raise AppError(prefix + "trigger.app_error", 400)
    url = cmd["url"]
    if not isinstance(url, str) or not url or len(url) > 1024:
        raise AppError(prefix + "url.app_error", 400)
    if not re.match(r"^https?://[^/\s]+", url):
        raise AppError(prefix + "url_http.app_error", 400)
    if cmd["method"] not in ("P", "G"):
        raise AppError(prefix + "method.app_error", 400)
    if len(cmd["display_name"] or "") > 64:
        raise AppError(prefix + "display_name.app_error", 400)
    if len(cmd["description"] or "") > 128:
        raise AppError(prefix + "description.app_error", 400)


def new_command(emu: Emulator, body: dict, creator_id: str) -> dict:
    now = emu.now_ms()
    cmd = {"id": new_id(), "token": new_id(), "create_at": now, "update_at": now,
           "delete_at": 0, "creator_id": creator_id, "team_id": str(body.get("team_id") or ""),
           "trigger": "", "method": "", "username": "", "icon_url": "", "auto_complete": False,
           "auto_complete_desc": "", "auto_complete_hint": "", "display_name": "",
           "description": "", "url": "", "plugin_id": ""}
    _apply(cmd, body)
    return cmd


def _apply(cmd: dict, body: dict) -> None:
    for key in _EDITABLE:
        if key in body and body[key] is not None:
            cmd[key] = body[key]
    cmd["trigger"] = str(cmd["trigger"]).lower()


async def create_command(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    body = await read_json(request, "command")
    if not isinstance(body, dict):
        raise bad_body("command")
    cmd = new_command(emu, body, user.id)
    _check_manage(emu, cmd["team_id"], user)
    _validate(emu, cmd)
    emu.store.commands[cmd["id"]] = cmd
    return json_response(cmd, 201)


async def list_commands(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    team_id = request.query.get("team_id", "")
    if not emu.store.is_team_member(team_id, user.id) and not emu.store.is_team_admin(
            team_id, user.id):
        raise forbidden(f"userId={user.id}, permission=view_team")
    cmds = [c for c in emu.store.commands.values() if c["team_id"] == team_id
            and not c["delete_at"]]
    manage = emu.store.is_team_admin(team_id, user.id)
    if request.query.get("custom_only") == "true":
        if not manage:
            raise forbidden(f"userId={user.id}, permission=manage_slash_commands")
        return json_response([dict(c) for c in cmds])
    if not manage:
        cmds = [c for c in cmds if c["auto_complete"]]
    return json_response([{**c, **{k: "" for k in _SANITIZED}} for c in cmds])


def _command_or_404(emu: Emulator, request: web.Request, user: User) -> dict:
    cmd = emu.store.commands.get(request.match_info["command_id"])
    if cmd is None or cmd["delete_at"] or not emu.store.is_team_admin(cmd["team_id"], user.id):
        raise AppError("store.sql_command.save.get.app_error", 404)
    return cmd


async def get_command(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    return json_response(_command_or_404(emu, request, user))


async def update_command(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    body = await read_json(request, "command")
    if not isinstance(body, dict) or body.get("id") != request.match_info["command_id"]:
        raise bad_body("command_id")
    old = _command_or_404(emu, request, user)
    if body.get("team_id", old["team_id"]) != old["team_id"]:
        raise AppError("api.command.team_mismatch.app_error", 400)
    updated = dict(old)
    _apply(updated, body)
    updated["update_at"] = emu.now_ms()
    _validate(emu, updated)
    old.update(updated)
    return json_response(old)


async def delete_command(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    cmd = _command_or_404(emu, request, user)
    cmd["delete_at"] = emu.now_ms()
    return json_response({"status": "OK"})


async def regen_token(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    cmd = _command_or_404(emu, request, user)
    cmd["token"] = new_id()
    return json_response({"token": cmd["token"]})


async def execute(request: web.Request) -> web.Response:
    user = session_user(request)
    body = await read_json(request, "command_args")
    if not isinstance(body, dict) or not is_valid_id(body.get("channel_id")):
        raise bad_body("channel_id")
    if not isinstance(body.get("command"), str) or len(body["command"]) <= 1:
        raise bad_body("command")
    result = await execute_command(emu_of(request), user, body["channel_id"], body["command"],
                                   str(body.get("root_id") or ""),
                                   str(body.get("team_id") or ""))
    return json_response(result.body, result.status)


async def hook(request: web.Request) -> web.Response:
    try:
        command_webhook(emu_of(request), request.match_info["hook_id"],
                        request.content_type, await request.read())
    except AppError as err:
        if err.id == "web.command_webhook.general.app_error":
            raise
        raise AppError("web.command_webhook.general.app_error", 400) from None
    return web.Response(text="ok", content_type="text/plain")


async def dialog_open(request: web.Request) -> web.Response:
    body = await read_json(request, "dialog")
    if not isinstance(body, dict):
        raise bad_body("dialog")
    return json_response(open_dialog(emu_of(request), body))


async def dialog_submit(request: web.Request) -> web.Response:
    user = session_user(request)
    body = await read_json(request, "dialog")
    if not isinstance(body, dict):
        raise bad_body("dialog")
    result = await submit_dialog(emu_of(request), user, body)
    return json_response(result.body, result.status)


async def post_action(request: web.Request) -> web.Response:
    user = session_user(request)
    body = await read_json(request, "action") if request.can_read_body else None
    selected = body.get("selected_option") if isinstance(body, dict) else None
    result = await do_post_action(emu_of(request), user, request.match_info["post_id"],
                                  request.match_info["action_id"],
                                  selected if isinstance(selected, str) else None)
    return json_response(result.body, result.status)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post(API + "/commands", create_command)
    r.add_get(API + "/commands", list_commands)
    r.add_post(API + "/commands/execute", execute)
    r.add_get(API + "/commands/{command_id}", get_command)
    r.add_put(API + "/commands/{command_id}", update_command)
    r.add_delete(API + "/commands/{command_id}", delete_command)
    r.add_put(API + "/commands/{command_id}/regen_token", regen_token)
    r.add_post(API + "/actions/dialogs/open", dialog_open)
    r.add_post(API + "/actions/dialogs/submit", dialog_submit)
    r.add_post(API + "/posts/{post_id}/actions/{action_id:[A-Za-z0-9]+}", post_action)
    r.add_post("/hooks/commands/{hook_id}", hook)
