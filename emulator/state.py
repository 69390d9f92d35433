"""In-memory store of users, teams, channels, posts, files and commands."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

DEFAULT_TZ = {"automaticTimezone": "", "manualTimezone": "", "useAutomaticTimezone": "true"}


@dataclass
class Team:
    id: str
    name: str
    display_name: str
    create_at: int
    type: str = "O"

    def to_json(self) -> dict:
        return {"id": self.id, "create_at": self.create_at, "update_at": self.create_at,
                "delete_at": 0, "display_name": self.display_name, "name": self.name,
                "description": "", "email": "", "type": self.type, "company_name": "",
                "allowed_domains": "", "invite_id": "", "allow_open_invite": False,
                "scheme_id": None, "group_constrained": None, "policy_id": None,
                "cloud_limits_archived": False}


@dataclass
class User:
    id: str
    username: str
    email: str
    create_at: int
    first_name: str = ""
    last_name: str = ""
    nickname: str = ""
    roles: str = "system_user"
    timezone: dict = field(default_factory=lambda: dict(DEFAULT_TZ))
    is_bot: bool = False
    locale: str = "en"

    def to_json(self) -> dict:
        out = {"id": self.id, "create_at": self.create_at, "update_at": self.create_at,
               "delete_at": 0, "username": self.username, "auth_data": "",
               "auth_service": "", "email": self.email, "email_verified": True,
               "nickname": self.nickname, "first_name": self.first_name,
               "last_name": self.last_name, "position": "", "roles": self.roles,
               "notify_props": default_user_notify_props(self.username),
               "last_password_update": self.create_at, "locale": self.locale,
               "timezone": dict(self.timezone), "disable_welcome_email": False}
        if self.is_bot:  # omitempty in server/public/model/user.go
            out["is_bot"] = True
        return out


@dataclass
class Channel:
    id: str
    team_id: str
    name: str
    display_name: str
    type: str
    creator_id: str
    create_at: int
    last_post_at: int = 0
    total_msg_count: int = 0

    def to_json(self) -> dict:
        return {"id": self.id, "create_at": self.create_at, "update_at": self.create_at,
                "delete_at": 0, "team_id": self.team_id, "type": self.type,
                "display_name": self.display_name, "name": self.name, "header": "",
                "purpose": "", "last_post_at": self.last_post_at,
                "total_msg_count": self.total_msg_count, "extra_update_at": 0,
                "creator_id": self.creator_id, "scheme_id": None, "props": None,
                "group_constrained": None, "shared": None,
                "total_msg_count_root": self.total_msg_count, "policy_id": None,
                "last_root_post_at": self.last_post_at}


def default_user_notify_props(username: str) -> dict:
    return {"channel": "true", "comments": "never", "desktop": "mention",
            "desktop_sound": "true", "email": "true", "first_name": "false",
            "mention_keys": "", "push": "mention", "push_status": "away"}


def channel_member_json(channel_id: str, user_id: str, joined_at: int) -> dict:
    return {"channel_id": channel_id, "user_id": user_id, "roles": "channel_user",
            "last_viewed_at": 0, "msg_count": 0, "mention_count": 0,
            "mention_count_root": 0, "urgent_mention_count": 0, "msg_count_root": 0,
            "notify_props": {"desktop": "default", "email": "default",
                             "ignore_channel_mentions": "default", "mark_unread": "all",
                             "push": "default"},
            "last_update_at": joined_at, "scheme_guest": False, "scheme_user": True,
            "scheme_admin": False, "explicit_roles": ""}


class Store:
    """All server data; posts are kept as the DB copy (integrations included)."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.tokens: dict[str, str] = {}  # token -> user id
        self.teams: dict[str, Team] = {}
        self.team_members: dict[str, dict[str, str]] = {}  # team -> user -> roles
        self.channels: dict[str, Channel] = {}
        self.channel_members: dict[str, dict[str, int]] = {}  # channel -> user -> joined
        self.posts: dict[str, dict] = {}
        self.files: dict[str, dict] = {}
        self.file_data: dict[str, bytes] = {}
        self.commands: dict[str, dict] = {}
        self.reactions: dict[str, list[dict]] = {}
        self.ephemerals: dict[str, list[dict]] = {}
        self.dialogs: dict[str, list[dict]] = {}
        self.notified: dict[str, set[str]] = {}
        self.triggers: dict[str, dict] = {}  # client trigger id -> context
        self.hooks: dict[str, dict] = {}  # command webhook id -> context

    def user_by_name(self, username: str) -> User | None:
        name = username.lower()
        return next((u for u in self.users.values() if u.username == name), None)

    def team_by_name(self, name: str) -> Team | None:
        return next((t for t in self.teams.values() if t.name == name), None)

    def channel_by_name(self, team_id: str, name: str) -> Channel | None:
        return next((c for c in self.channels.values()
                     if c.team_id == team_id and c.name == name), None)

    def is_member(self, channel_id: str, user_id: str) -> bool:
        return user_id in self.channel_members.get(channel_id, {})

    def is_team_member(self, team_id: str, user_id: str) -> bool:
        return user_id in self.team_members.get(team_id, {})

    def is_team_admin(self, team_id: str, user_id: str) -> bool:
        user = self.users.get(user_id)
        if user and "system_admin" in user.roles.split():
            return True
        return "team_admin" in self.team_members.get(team_id, {}).get(user_id, "").split()

    def members(self, channel_id: str) -> dict[str, str]:
        return {uid: self.users[uid].username for uid in self.channel_members.get(channel_id, {})}

    def can_read_channel(self, channel: Channel, user_id: str) -> bool:
        if self.is_member(channel.id, user_id):
            return True
        user = self.users.get(user_id)
        if user and "system_admin" in user.roles.split():
            return True
        return channel.type == "O" and self.is_team_member(channel.team_id, user_id)

    def channel_posts(self, channel_id: str) -> list[dict]:
        posts = [p for p in self.posts.values()
                 if p["channel_id"] == channel_id and not p["delete_at"]]
        return sorted(posts, key=lambda p: (p["create_at"], p["_seq"]))

    def thread(self, root_id: str) -> list[dict]:
        posts = [p for p in self.posts.values() if not p["delete_at"]
                 and (p["id"] == root_id or p["root_id"] == root_id)]
        return sorted(posts, key=lambda p: (p["create_at"], p["_seq"]))


def strip_integrations(post: dict) -> dict:
    """Client copy of a post: no `integration` in actions, no private keys."""
    out = {k: copy.deepcopy(v) for k, v in post.items() if not k.startswith("_")}
    for att in (out.get("props") or {}).get("attachments") or []:
        if isinstance(att, dict):
            for action in att.get("actions") or []:
                if isinstance(action, dict):
                    action.pop("integration", None)
    return out
