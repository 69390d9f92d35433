"""REST routes for posts, files and reactions."""

from __future__ import annotations

import mimetypes
import os
from typing import TYPE_CHECKING

from aiohttp import web

from .errors import AppError, bad_body, bad_url, forbidden
from .ids import new_id
from .posting import add_reaction, create_post, send_ephemeral, update_post
from .rest import (API, emu_of, json_response, page_args, read_json, readable_channel,
                   session_user)
from .state import User, strip_integrations

if TYPE_CHECKING:
    from . import Emulator


def post_list(posts: list[dict]) -> dict:
    """PostList with `order` newest first."""
    ordered = sorted(posts, key=lambda p: (p["create_at"], p["_seq"]), reverse=True)
    return {"order": [p["id"] for p in ordered],
            "posts": {p["id"]: strip_integrations(p) for p in ordered},
            "next_post_id": "", "prev_post_id": "", "has_next": False,
            "first_inaccessible_post_time": 0}


def readable_post(emu: Emulator, post_id: str, user: User) -> dict:
    post = emu.store.posts.get(post_id)
    if post is None or post["delete_at"]:
        raise AppError("app.post.get.app_error", 404)
    channel = emu.store.channels[post["channel_id"]]
    if not emu.store.can_read_channel(channel, user.id):
        raise forbidden(f"userId={user.id}, permission=read_channel_content")
    return post


def _editable(emu: Emulator, post_id: str, user: User) -> dict:
    post = readable_post(emu, post_id, user)
    channel = emu.store.channels[post["channel_id"]]
    if post["user_id"] != user.id and not emu.store.is_team_admin(channel.team_id, user.id):
        raise forbidden(f"userId={user.id}, permission=edit_others_posts")
    return post


async def create(request: web.Request) -> web.Response:
    user = session_user(request)
    body = await read_json(request, "post")
    if not isinstance(body, dict):
        raise bad_body("post")
    post = create_post(emu_of(request), user, body)
    return json_response(strip_integrations(post), 201)


async def get_post(request: web.Request) -> web.Response:
    user = session_user(request)
    post = readable_post(emu_of(request), request.match_info["post_id"], user)
    return json_response(strip_integrations(post))


async def put_post(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    post_id = request.match_info["post_id"]
    body = await read_json(request, "post")
    if not isinstance(body, dict) or body.get("id") != post_id:
        raise bad_body("id")
    post = _editable(emu, post_id, user)
    props = body.get("props") if isinstance(body.get("props"), dict) else {}
    props.pop("add_channel_member", None)
    update_post(emu, post, message=body.get("message") or "", props=props,
                file_ids=body.get("file_ids"), is_pinned=body.get("is_pinned"))
    return json_response(strip_integrations(post))


async def patch_post(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    body = await read_json(request, "post")
    if not isinstance(body, dict):
        raise bad_body("post")
    post = _editable(emu, request.match_info["post_id"], user)
    props = body.get("props")
    if isinstance(props, dict):
        props = {k: v for k, v in props.items() if k != "add_channel_member"}
    update_post(emu, post, message=body.get("message"), props=props,
                file_ids=body.get("file_ids"), is_pinned=body.get("is_pinned"),
                has_reactions=body.get("has_reactions"))
    return json_response(strip_integrations(post))


async def get_thread(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    post = readable_post(emu, request.match_info["post_id"], user)
    return json_response(post_list(emu.store.thread(post["root_id"] or post["id"])))


async def channel_posts(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    channel = readable_channel(emu, request.match_info["channel_id"], user)
    posts = [p for p in emu.store.posts.values() if p["channel_id"] == channel.id]
    since = request.query.get("since")
    if since is not None:
        if not since.isdigit():
            raise bad_url("since")
        return json_response(post_list([p for p in posts if p["update_at"] >= int(since)]))
    page, per_page = page_args(request, 60, 200)
    live = sorted((p for p in posts if not p["delete_at"]),
                  key=lambda p: (p["create_at"], p["_seq"]), reverse=True)
    return json_response(post_list(live[page * per_page:(page + 1) * per_page]))


async def ephemeral(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    if "system_admin" not in user.roles.split():
        raise forbidden(f"userId={user.id}, permission=create_post_ephemeral")
    body = await read_json(request, "ephemeral_post")
    post = body.get("post") if isinstance(body, dict) else None
    target = body.get("user_id") if isinstance(body, dict) else None
    if not isinstance(post, dict) or not isinstance(target, str) or not target:
        raise bad_body("ephemeral_post")
    sent = send_ephemeral(emu, target, str(post.get("channel_id") or ""),
                          str(post.get("message") or ""), root_id=post.get("root_id") or "",
                          props=post.get("props"), author_id=user.id)
    return json_response(strip_integrations(sent), 201)


async def upload(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    channel_id, client_ids, parts = request.query.get("channel_id", ""), [], []
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            if part.name == "channel_id":
                channel_id = (await part.text()).strip()
            elif part.name == "client_ids":
                client_ids.append((await part.text()).strip())
            elif part.name == "files":
                parts.append((part.filename or "file", bytes(await part.read())))
    else:
        parts.append((request.query.get("filename", ""), await request.read()))
        if not parts[0][0]:
            raise bad_url("filename")
    channel = emu.store.channels.get(channel_id)
    if channel is None or not emu.store.is_member(channel.id, user.id):
        raise forbidden(f"userId={user.id}, permission=upload_file")
    if not parts:
        raise AppError("api.file.upload_file.incorrect_number_of_files.app_error", 400)
    infos = [store_file(emu, user, channel.id, name, data) for name, data in parts]
    return json_response({"file_infos": infos, "client_ids": client_ids}, 201)


def store_file(emu: Emulator, user: User, channel_id: str, name: str, data: bytes) -> dict:
    fid = new_id()
    ext = os.path.splitext(name)[1].lstrip(".").lower()
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if mime.startswith("text/"):
        mime += "; charset=utf-8"
    info = {"id": fid, "user_id": user.id, "post_id": "", "channel_id": channel_id,
            "create_at": emu.now_ms(), "update_at": emu.now_ms(), "delete_at": 0,
            "name": name, "extension": ext, "size": len(data), "mime_type": mime,
            "width": 0, "height": 0, "has_preview_image": False, "mini_preview": None,
            "remote_id": "", "archived": False}
    emu.store.files[fid] = info
    emu.store.file_data[fid] = data
    return dict(info)


def _readable_file(request: web.Request) -> dict:
    user, emu = session_user(request), emu_of(request)
    info = emu.store.files.get(request.match_info["file_id"])
    if info is None:
        raise AppError("app.file_info.get.app_error", 404)
    channel = emu.store.channels.get(info["channel_id"])
    if info["user_id"] != user.id and not (
            channel and emu.store.can_read_channel(channel, user.id)):
        raise forbidden(f"userId={user.id}, permission=read_channel_content")
    return info


async def get_file(request: web.Request) -> web.Response:
    info = _readable_file(request)
    data = emu_of(request).store.file_data[info["id"]]
    return web.Response(body=data, headers={
        "Content-Type": info["mime_type"],
        "Content-Disposition": f"attachment;filename=\"{info['name']}\""})


async def get_file_info(request: web.Request) -> web.Response:
    return json_response(dict(_readable_file(request)))


async def save_reaction(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    body = await read_json(request, "reaction")
    if not isinstance(body, dict) or not body.get("emoji_name"):
        raise bad_body("reaction")
    if body.get("user_id") != user.id:
        raise AppError("api.reaction.save_reaction.user_id.app_error", 403)
    post = readable_post(emu, str(body.get("post_id") or ""), user)
    return json_response(add_reaction(emu, user, post, str(body["emoji_name"])), 201)


async def get_reactions(request: web.Request) -> web.Response:
    user, emu = session_user(request), emu_of(request)
    post = readable_post(emu, request.match_info["post_id"], user)
    return json_response(list(emu.store.reactions.get(post["id"], [])))


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post(API + "/posts", create)
    r.add_post(API + "/posts/ephemeral", ephemeral)
    r.add_get(API + "/posts/{post_id}", get_post)
    r.add_put(API + "/posts/{post_id}", put_post)
    r.add_put(API + "/posts/{post_id}/patch", patch_post)
    r.add_get(API + "/posts/{post_id}/thread", get_thread)
    r.add_get(API + "/posts/{post_id}/reactions", get_reactions)
    r.add_get(API + "/channels/{channel_id}/posts", channel_posts)
    r.add_post(API + "/files", upload)
    r.add_get(API + "/files/{file_id}", get_file)
    r.add_get(API + "/files/{file_id}/info", get_file_info)
    r.add_post(API + "/reactions", save_reaction)
