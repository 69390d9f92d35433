"""Post creation, edits, ephemerals and reactions, with their websocket events."""

from __future__ import annotations

import copy
import itertools
import json
import re
from typing import TYPE_CHECKING

from .errors import AppError, bad_body, forbidden
from .ids import new_id
from .mentions import mentioned_in_post
from .state import Channel, User, strip_integrations

if TYPE_CHECKING:
    from . import Emulator

MAX_RUNES = 16383
MAX_PROPS_RUNES = 800000
_SEQ = itertools.count()
_KNOWN_TYPES = {"", "slack_attachment", "me", "reminder"}
_ATT_STRINGS = ("fallback", "color", "pretext", "author_name", "author_link", "author_icon",
                "title", "title_link", "text", "image_url", "thumb_url", "footer",
                "footer_icon")
_HASHTAG = re.compile(r"(?<![\w#])#([A-Za-z][\w.-]{2,})")


def _check_type(ptype: str) -> None:
    if ptype in _KNOWN_TYPES or ptype.startswith(("system_", "custom_")):
        return
    raise AppError("model.post.is_valid.type.app_error", 400)


def normalize_props(props: dict) -> dict:
    """Re-serialize attachments like the server does and fill in empty action ids."""
    atts = props.get("attachments")
    if not isinstance(atts, list):
        return props
    fixed = []
    for att in atts:
        if not isinstance(att, dict):
            continue
        att = {"id": 0, **{k: "" for k in _ATT_STRINGS}, "fields": None, "ts": None, **att}
        for action in att.get("actions") or []:
            if isinstance(action, dict) and not action.get("id"):
                action["id"] = new_id()
        fixed.append(att)
    props["attachments"] = fixed
    return props


def validate_message(message: object, props: object, file_ids: object) -> None:
    if not isinstance(message, str) or not isinstance(props, dict):
        raise bad_body("post")
    if len(message) > MAX_RUNES:
        raise AppError("model.post.is_valid.message_length.app_error", 400)
    if len(json.dumps(props)) > MAX_PROPS_RUNES:
        raise AppError("model.post.is_valid.props.app_error", 400)
    if not isinstance(file_ids, list) or len(file_ids) > 10:
        raise AppError("model.post.is_valid.file_ids.app_error", 400)


def _check_root(emu: Emulator, root_id: str, channel_id: str) -> None:
    if not root_id:
        return
    root = emu.store.posts.get(root_id)
    if (root is None or root["channel_id"] != channel_id or root["root_id"]
            or root["delete_at"]):
        raise AppError("api.post.create_post.root_id.app_error", 400)


def _attach_files(emu: Emulator, file_ids: list, user_id: str, post_id: str) -> list[str]:
    kept = []
    for fid in file_ids:
        info = emu.store.files.get(fid) if isinstance(fid, str) else None
        if info and info["user_id"] == user_id and not info["post_id"] and fid not in kept:
            info["post_id"] = post_id
            kept.append(fid)
    return kept


def create_post(emu: Emulator, user: User, body: dict, *, from_webhook: bool = False) -> dict:
    """The server's CreatePost: validate, store, notify, publish `posted`."""
    store = emu.store
    channel = store.channels.get(body.get("channel_id") or "")
    if channel is None or not store.is_member(channel.id, user.id):
        raise forbidden(f"userId={user.id}, permission=create_post")
    message, props = body.get("message") or "", body.get("props") or {}
    file_ids = body.get("file_ids") or []
    validate_message(message, props, file_ids)
    ptype = body.get("type") or ""
    _check_type(ptype)
    root_id = body.get("root_id") or ""
    _check_root(emu, root_id, channel.id)
    props = normalize_props(copy.deepcopy(props))
    props.pop("add_channel_member", None)
    if user.is_bot:
        props["from_bot"] = "true"
    if from_webhook:
        props["from_webhook"] = "true"
    now = emu.now_ms()
    post_id = new_id()
    post = {"id": post_id, "create_at": now, "update_at": now, "edit_at": 0, "delete_at": 0,
            "is_pinned": False, "user_id": user.id, "channel_id": channel.id,
            "root_id": root_id, "original_id": "", "message": message, "type": ptype,
            "props": props, "hashtags": " ".join(_HASHTAG.findall(message)),
            "file_ids": _attach_files(emu, file_ids, user.id, post_id),
            "pending_post_id": body.get("pending_post_id") or "", "reply_count": 0,
            "last_reply_at": 0, "participants": None, "metadata": {}, "_seq": next(_SEQ)}
    _bump_thread(emu, post)
    store.posts[post_id] = post
    channel.last_post_at, channel.total_msg_count = now, channel.total_msg_count + 1
    store.notified[post_id] = mentioned_in_post(post, store.members(channel.id), channel.type,
                                                emu.online_for_mentions())
    publish_posted(emu, post, channel, user)
    return post


def _bump_thread(emu: Emulator, post: dict) -> None:
    if not post["root_id"]:
        return
    root = emu.store.posts[post["root_id"]]
    root["reply_count"] += 1
    root["last_reply_at"] = post["create_at"]
    post["reply_count"] = root["reply_count"]


def publish_posted(emu: Emulator, post: dict, channel: Channel, sender: User) -> None:
    notified = emu.store.notified.get(post["id"], set())
    is_dm = channel.type in ("D", "G")
    data = {"post": json.dumps(strip_integrations(post)), "channel_type": channel.type,
            "channel_display_name": f"@{sender.username}" if channel.type == "D"
            else channel.display_name,
            "channel_name": channel.name, "sender_name": f"@{sender.username}",
            "team_id": "" if is_dm else channel.team_id, "set_online": True}
    if post.get("file_ids"):
        data["otherFile"] = "true"

    def per_user(uid: str) -> dict | None:
        return {"mentions": json.dumps([uid])} if uid in notified else None

    emu.hub.publish("posted", data, channel_id=channel.id, per_user=per_user)


def send_ephemeral(emu: Emulator, user_id: str, channel_id: str, message: str, *,
                   root_id: str = "", props: dict | None = None,
                   author_id: str | None = None) -> dict:
    """SendEphemeralPost: not stored; delivered to one user over the websocket."""
    now = emu.now_ms()
    post = {"id": new_id(), "create_at": now, "update_at": now, "edit_at": 0,
            "delete_at": 0, "is_pinned": False, "user_id": author_id or user_id,
            "channel_id": channel_id, "root_id": root_id, "original_id": "",
            "message": message, "type": "system_ephemeral",
            "props": normalize_props(copy.deepcopy(props or {})), "hashtags": "",
            "pending_post_id": "", "reply_count": 0, "last_reply_at": 0,
            "participants": None, "metadata": {}}
    emu.store.ephemerals.setdefault(user_id, []).append(post)
    emu.hub.publish("ephemeral_message", {"post": json.dumps(strip_integrations(post))},
                    user_id=user_id, channel_id=channel_id)
    return post


def update_post(emu: Emulator, post: dict, *, message: str | None = None,
                props: dict | None = None, file_ids: list | None = None,
                is_pinned: bool | None = None, has_reactions: bool | None = None) -> dict:
    """Apply an edit to the stored post and publish `post_edited`."""
    new_msg = post["message"] if message is None else message
    new_props = post["props"] if props is None else normalize_props(copy.deepcopy(props))
    validate_message(new_msg, new_props, file_ids if file_ids is not None else [])
    now = emu.now_ms()
    old_msg, old_atts = post["message"], post["props"].get("attachments")
    old_files = list(post.get("file_ids") or [])
    post["message"], post["props"], post["update_at"] = new_msg, new_props, now
    if file_ids is not None:
        post["file_ids"] = list(file_ids)
    # app/post.go UpdatePost: EditAt on a message change, or on file/attachment changes
    if (new_msg != old_msg or old_files != list(post.get("file_ids") or [])
            or old_atts != new_props.get("attachments")):
        post["edit_at"] = now
    if is_pinned is not None:
        post["is_pinned"] = bool(is_pinned)
    if has_reactions is not None:
        post["has_reactions"] = bool(has_reactions)
    emu.hub.publish("post_edited", {"post": json.dumps(strip_integrations(post))},
                    channel_id=post["channel_id"])
    return post


def add_reaction(emu: Emulator, user: User, post: dict, emoji_name: str) -> dict:
    now = emu.now_ms()
    reaction = {"user_id": user.id, "post_id": post["id"], "emoji_name": emoji_name,
                "create_at": now, "update_at": now, "delete_at": 0, "remote_id": "",
                "channel_id": post["channel_id"]}
    existing = emu.store.reactions.setdefault(post["id"], [])
    existing[:] = [r for r in existing
                   if not (r["user_id"] == user.id and r["emoji_name"] == emoji_name)]
    existing.append(reaction)
    post["has_reactions"] = True
    emu.hub.publish("reaction_added", {"reaction": json.dumps(reaction)},
                    channel_id=post["channel_id"])
    return reaction
