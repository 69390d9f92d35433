"""REST app: middleware (auth, errors, headers, faults, log) and user/team/channel routes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import AppError, bad_body, forbidden
from .ids import new_id
from .state import Channel, User, channel_member_json
from .websocket import EMU_KEY, SERVER_VERSION, websocket_handler

if TYPE_CHECKING:
    from . import Emulator

MAX_PAYLOAD = 300000
API = "/api/v4"


def json_response(data: Any, status: int = 200) -> web.Response:
    """Exactly `Content-Type: application/json` (mattermostdriver needs it bare)."""
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json"})


def emu_of(request: web.Request) -> Emulator:
    return request.app[EMU_KEY]


def session_user(request: web.Request) -> User:
    user = emu_of(request).user_for_request(request)
    if user is None:
        raise AppError("api.context.session_expired.app_error", 401)
    return user


async def read_json(request: web.Request, name: str) -> Any:
    try:
        return json.loads(await request.read() or b"null")
    except ValueError:
        raise bad_body(name) from None


def page_args(request: web.Request, default: int = 60, maximum: int = 200) -> tuple[int, int]:
    try:
        page = max(0, int(request.query.get("page", 0)))
        per_page = int(request.query.get("per_page", default))
    except ValueError:
        raise AppError("api.context.invalid_url_param.app_error", 400, {"Name": "page"}) from None
    return page, min(max(per_page, 0), maximum) if per_page else default


@web.middleware
async def middleware(request: web.Request, handler) -> web.StreamResponse:
    emu = emu_of(request)
    request_id = new_id()
    try:
        resp = await emu.faults.apply(request, request_id)
        if resp is None:
            too_big = (request.content_length or 0) > MAX_PAYLOAD
            if too_big and not request.path.startswith(API + "/files"):
                raise AppError("api.context.request_body_too_large.app_error", 413)
            resp = await handler(request)
    except AppError as err:
        resp = json_response(err.body(request_id), err.status)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        resp = json_response(AppError("api.context.404.app_error", 404).body(request_id), 404)
    if not resp.prepared:
        resp.headers.setdefault("X-Request-ID", request_id)
        resp.headers.setdefault("X-Version-ID", SERVER_VERSION)
        if request.method == "GET":
            resp.headers.setdefault("Expires", "0")
    emu.request_log.append((request.method, request.path, resp.status))
    return resp


# ---- users ----------------------------------------------------------------

def _user_or_404(emu: Emulator, user_id: str) -> User:
    user = emu.store.users.get(user_id)
    if user is None:
        raise AppError("app.user.missing_account.const", 404)
    return user


async def get_user(request: web.Request) -> web.Response:
    me = session_user(request)
    uid = request.match_info["user_id"]
    return json_response(_user_or_404(emu_of(request), me.id if uid == "me" else uid).to_json())


async def get_user_by_username(request: web.Request) -> web.Response:
    session_user(request)
    user = emu_of(request).store.user_by_name(request.match_info["username"])
    if user is None:
        raise AppError("app.user.get_by_username.app_error", 404)
    return json_response(user.to_json())


async def get_user_by_email(request: web.Request) -> web.Response:
    session_user(request)
    email = request.match_info["email"].lower()
    user = next((u for u in emu_of(request).store.users.values() if u.email == email), None)
    if user is None:
        raise AppError("app.user.missing_account.const", 404)
    return json_response(user.to_json())


async def users_by_ids(request: web.Request) -> web.Response:
    session_user(request)
    ids = await read_json(request, "user_ids")
    if not isinstance(ids, list) or not ids:
        raise bad_body("user_ids")
    users = emu_of(request).store.users
    return json_response([users[i].to_json() for i in ids if isinstance(i, str) and i in users])


async def users_by_usernames(request: web.Request) -> web.Response:
    session_user(request)
    names = await read_json(request, "usernames")
    if not isinstance(names, list) or not names:
        raise bad_body("usernames")
    store = emu_of(request).store
    found = [store.user_by_name(n) for n in names if isinstance(n, str)]
    return json_response([u.to_json() for u in found if u])


# ---- teams ----------------------------------------------------------------

def _check_team(emu: Emulator, team, user: User, missing_id: str):
    if team is None:
        raise AppError(missing_id, 404)
    if team.type != "O" and not emu.store.is_team_member(team.id, user.id):
        raise forbidden(f"userId={user.id}, permission=view_team")
    return team


async def get_team(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    team = emu.store.teams.get(request.match_info["team_id"])
    return json_response(_check_team(emu, team, user, "app.team.get.find.app_error").to_json())


async def get_team_by_name(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    team = emu.store.team_by_name(request.match_info["team_name"])
    missing = "app.team.get_by_name.missing.app_error"
    return json_response(_check_team(emu, team, user, missing).to_json())


# ---- channels -------------------------------------------------------------

def readable_channel(emu: Emulator, channel_id: str, user: User) -> Channel:
    channel = emu.store.channels.get(channel_id)
    if channel is None:
        raise AppError("app.channel.get.existing.app_error", 404)
    if not emu.store.can_read_channel(channel, user.id):
        raise forbidden(f"userId={user.id}, permission=read_channel")
    return channel


async def get_channel(request: web.Request) -> web.Response:
    user = session_user(request)
    return json_response(readable_channel(emu_of(request), request.match_info["channel_id"],
                                          user).to_json())


def _by_name(emu: Emulator, team_id: str, name: str, user: User) -> web.Response:
    channel = emu.store.channel_by_name(team_id, name)
    if channel is None or not emu.store.can_read_channel(channel, user.id):
        raise AppError("app.channel.get_by_name.missing.app_error", 404)
    return json_response(channel.to_json())


async def get_channel_by_name(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    team_id = request.match_info["team_id"]
    if not emu.store.is_team_member(team_id, user.id):
        raise forbidden(f"userId={user.id}, permission=view_team")
    return _by_name(emu, team_id, request.match_info["channel_name"], user)


async def get_channel_by_names(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    team = emu.store.team_by_name(request.match_info["team_name"])
    if team is None:
        raise AppError("app.team.get_by_name.missing.app_error", 404)
    return _by_name(emu, team.id, request.match_info["channel_name"], user)


async def get_members(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    channel = readable_channel(emu, request.match_info["channel_id"], user)
    page, per_page = page_args(request)
    members = sorted(emu.store.channel_members.get(channel.id, {}).items())
    chunk = members[page * per_page:(page + 1) * per_page]
    return json_response([channel_member_json(channel.id, uid, at) for uid, at in chunk])


async def get_member(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    channel = readable_channel(emu, request.match_info["channel_id"], user)
    uid = request.match_info["user_id"]
    uid = user.id if uid == "me" else uid
    joined = emu.store.channel_members.get(channel.id, {}).get(uid)
    if joined is None:
        raise AppError("app.channel.get_member.missing.app_error", 404)
    return json_response(channel_member_json(channel.id, uid, joined))


async def add_members(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    channel = readable_channel(emu, request.match_info["channel_id"], user)
    body = await read_json(request, "user_id")
    ids = body.get("user_ids") or [body.get("user_id")] if isinstance(body, dict) else []
    if not ids or not all(isinstance(i, str) and i in emu.store.users for i in ids):
        raise bad_body("user_id")
    if channel.type != "O" and not emu.store.is_member(channel.id, user.id):
        raise forbidden(f"userId={user.id}, permission=manage_private_channel_members")
    for uid in ids:
        emu.add_member(channel, emu.store.users[uid])
    joined = emu.store.channel_members[channel.id][ids[0]]
    return json_response(channel_member_json(channel.id, ids[0], joined), 201)


async def create_direct(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    ids = await read_json(request, "user_ids")
    if isinstance(ids, list) and len(ids) == 1:
        ids = ids * 2
    if (not isinstance(ids, list) or len(ids) != 2
            or not all(isinstance(i, str) and i in emu.store.users for i in ids)):
        raise bad_body("user_ids")
    if user.id not in ids and "system_admin" not in user.roles.split():
        raise forbidden(f"userId={user.id}, permission=manage_system")
    a, b = (emu.store.users[i] for i in ids)
    channel = emu.store.channels[emu.direct_channel_id(a, b)]
    return json_response(channel.to_json(), 201)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(API + "/websocket", websocket_handler)
    r.add_get(API + "/websocket/", websocket_handler)
    r.add_post(API + "/users/ids", users_by_ids)
    r.add_post(API + "/users/usernames", users_by_usernames)
    r.add_get(API + "/users/username/{username}", get_user_by_username)
    r.add_get(API + "/users/email/{email}", get_user_by_email)
    r.add_get(API + "/users/{user_id}", get_user)
    r.add_get(API + "/teams/name/{team_name}", get_team_by_name)
    r.add_get(API + "/teams/name/{team_name}/channels/name/{channel_name}",
              get_channel_by_names)
    r.add_get(API + "/teams/{team_id}", get_team)
    r.add_get(API + "/teams/{team_id}/channels/name/{channel_name}", get_channel_by_name)
    r.add_post(API + "/channels/direct", create_direct)
    r.add_get(API + "/channels/{channel_id}", get_channel)
    r.add_get(API + "/channels/{channel_id}/members", get_members)
    r.add_post(API + "/channels/{channel_id}/members", add_members)
    r.add_get(API + "/channels/{channel_id}/members/{user_id}", get_member)
