"""A Mattermost server emulator on 127.0.0.1 for wire and contract tests."""

from __future__ import annotations

import copy
import os
import time

import aiohttp
from aiohttp import web

from . import rest, rest_integrations, rest_posts
from .client import ClientMixin
from .errors import AppError
from .faults import Faults
from .ids import new_id
from .interactive import ActionResult, DialogResult
from .slash import CommandResult
from .state import Channel, Store, Team, User
from .websocket import EMU_KEY, Hub

__all__ = ["ActionResult", "AppError", "CommandResult", "DialogResult", "Emulator"]


def _db_copy(post: dict) -> dict:
    return {k: copy.deepcopy(v) for k, v in post.items() if not k.startswith("_")}


class Emulator(ClientMixin):
    """REST v4 + websocket server, plus setup, client-side and observation helpers."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, ping_interval: float = 60.0,
                 integration_timeout: float = 30.0, ws_auth_timeout: float = 5.0) -> None:
        self.host, self.port = host, port
        self.ping_interval = ping_interval
        self.integration_timeout = integration_timeout
        self.ws_auth_timeout = ws_auth_timeout
        self.store = Store()
        self.hub = Hub(self)
        self.faults = Faults()
        self.request_log: list[tuple[str, str, int]] = []
        self.clock_offset = 0.0
        self.trigger_key = os.urandom(32)
        self.offline: set[str] = set()
        self.http: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None

    # ---- lifecycle --------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def now_ms(self) -> int:
        return int((time.time() + self.clock_offset) * 1000)

    async def start(self) -> None:
        app = web.Application(middlewares=[rest.middleware], client_max_size=110 * 1024 * 1024)
        app[EMU_KEY] = self
        rest.add_routes(app)
        rest_posts.add_routes(app)
        rest_integrations.add_routes(app)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.http = aiohttp.ClientSession()

    async def stop(self) -> None:
        await self.hub.close_all(abrupt=False)
        if self.http:
            await self.http.close()
        if self._runner:
            await self._runner.cleanup()

    async def drop_websockets(self) -> None:
        """Abruptly drop every websocket connection (no close frame)."""
        await self.hub.close_all(abrupt=True)

    def user_for_request(self, request: web.Request) -> User | None:
        token = ""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() in ("bearer", "token"):
            token = value.strip()
        token = token or request.cookies.get("MMAUTHTOKEN", "")
        user_id = self.store.tokens.get(token)
        return self.store.users.get(user_id) if user_id else None

    def online_for_mentions(self) -> set[str] | None:
        return None if not self.offline else set(self.store.users) - self.offline

    # ---- setup ------------------------------------------------------------
    def create_team(self, name: str, display_name: str | None = None, type: str = "O") -> Team:
        team = Team(new_id(), name, display_name or name, self.now_ms(), type)
        self.store.teams[team.id] = team
        self.store.team_members[team.id] = {}
        return team

    def create_user(self, username: str, email: str | None = None, timezone: dict | None = None,
                    first_name: str = "", last_name: str = "", is_bot: bool = False,
                    roles: str = "system_user") -> User:
        user = User(new_id(), username.lower(), (email or f"{username}@example.com").lower(),
                    self.now_ms(), first_name, last_name, roles=roles, is_bot=is_bot)
        if timezone:
            user.timezone = dict(timezone)
        self.store.users[user.id] = user
        return user

    def create_bot(self, username: str, team: Team | None = None,
                   team_admin: bool = True) -> tuple[User, str]:
        bot = self.create_user(username, email=f"{username}@localhost", is_bot=True)
        if team is not None:
            self.add_team_member(team, bot, admin=team_admin)
        return bot, self.create_token(bot)

    def create_token(self, user: User) -> str:
        token = new_id()
        self.store.tokens[token] = user.id
        return token

    def add_team_member(self, team: Team, user: User, admin: bool = False) -> None:
        members = self.store.team_members.setdefault(team.id, {})
        roles = "team_user team_admin" if admin else "team_user"
        if admin or user.id not in members:
            members[user.id] = roles

    def create_channel(self, team: Team, name: str, display_name: str | None = None,
                       type: str = "O", members: list[User] | tuple = (),
                       creator: User | None = None) -> Channel:
        channel = Channel(new_id(), team.id, name, display_name or name, type,
                          creator.id if creator else "", self.now_ms())
        self.store.channels[channel.id] = channel
        self.store.channel_members[channel.id] = {}
        for user in members:
            self.add_member(channel, user)
        return channel

    def add_member(self, channel: Channel, user: User) -> None:
        members = self.store.channel_members.setdefault(channel.id, {})
        if user.id in members:
            return
        if channel.team_id:
            self.store.team_members.setdefault(channel.team_id, {}).setdefault(
                user.id, "team_user")
        members[user.id] = self.now_ms()
        data = {"user_id": user.id, "team_id": channel.team_id}
        self.hub.publish("user_added", data, channel_id=channel.id,
                         omit_users={user.id: True})
        self.hub.publish("user_added", data, user_id=user.id, channel_id=channel.id)

    def direct_channel_id(self, user_a: User, user_b: User) -> str:
        name = "__".join(sorted((user_a.id, user_b.id)))
        for channel in self.store.channels.values():
            if channel.type == "D" and channel.name == name:
                return channel.id
        channel = Channel(new_id(), "", name, "", "D", user_a.id, self.now_ms())
        self.store.channels[channel.id] = channel
        self.store.channel_members[channel.id] = {u.id: self.now_ms() for u in (user_a, user_b)}
        self.hub.publish("direct_added", {"creator_id": user_a.id, "teammate_id": user_b.id},
                         channel_id=channel.id)
        return channel.id

    def set_timezone(self, user: User, timezone: dict) -> None:
        user.timezone = dict(timezone)

    def set_status(self, user: User, status: str) -> None:
        """Only affects @here: offline users are not notified by it."""
        (self.offline.discard if status == "online" else self.offline.add)(user.id)

    # ---- observation ------------------------------------------------------
    def posts(self, channel_id: str, root_id: str | None = None) -> list[dict]:
        found = self.store.thread(root_id) if root_id else self.store.channel_posts(channel_id)
        return [_db_copy(p) for p in found if p["channel_id"] == channel_id]

    def post(self, post_id: str) -> dict | None:
        found = self.store.posts.get(post_id)
        return _db_copy(found) if found else None

    def dm_posts(self, user_a: User, user_b: User) -> list[dict]:
        name = "__".join(sorted((user_a.id, user_b.id)))
        channel = next((c for c in self.store.channels.values()
                        if c.type == "D" and c.name == name), None)
        return self.posts(channel.id) if channel else []

    def ephemerals(self, user: User, channel_id: str | None = None) -> list[dict]:
        return [copy.deepcopy(p) for p in self.store.ephemerals.get(user.id, [])
                if channel_id is None or p["channel_id"] == channel_id]

    def reactions(self, post_id: str) -> list[dict]:
        return copy.deepcopy(self.store.reactions.get(post_id, []))

    def file_bytes(self, file_id: str) -> bytes:
        return self.store.file_data[file_id]

    def file_info(self, file_id: str) -> dict:
        return dict(self.store.files[file_id])

    def commands(self, team: Team) -> list[dict]:
        return [dict(c) for c in self.store.commands.values()
                if c["team_id"] == team.id and not c["delete_at"]]

    def notified(self, post_id: str) -> set[str]:
        return set(self.store.notified.get(post_id, set()))
