"""MattermostGateway: the ChatGateway over mattermostdriver's REST Driver (wrapped in bot/rest.py).

Where the driver's helpers are broken (commands/{id} lacks a '/', get_thread takes no params, file
downloads of JSON files get parsed) the calls use `driver.client` with explicit paths.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from mattermostdriver import Driver

from bot.rest import DEFAULT_TIMEOUT, MattermostRest, RetryPolicy
from bot.usercache import Recent, UserCache
from commands.ports import GatewayError

log = logging.getLogger(__name__)

MEMBERS_PER_PAGE = 200  # the server's maximum for GET /channels/{id}/members
DIRECT_CHANNELS_KEPT = 5000  # memory (issue 10): user -> DM channel ids kept, LRU (~1 MiB at most)


def _segment(value: str) -> str:
    """One URL path segment: ids and names are sent as given, anything else is escaped."""
    return quote(value, safe="@")


def _posts_oldest_first(post_list: Any) -> list[dict[str, Any]]:
    """A PostList {order, posts} as a list sorted by create_at (then id), oldest first."""
    if not isinstance(post_list, dict):
        return []
    posts = post_list.get("posts") or {}
    return sorted(posts.values(), key=lambda p: (p.get("create_at", 0), p.get("id", "")))


class MattermostGateway:
    """Every ChatGateway call, awaited on the event loop, errors as GatewayError."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: Any = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        verify: bool | str = True,
    ) -> None:
        self._rest = MattermostRest(url, token, timeout=timeout, retry=retry or RetryPolicy(),
                                    verify=verify)
        self.bot_user_id: str | None = None
        self._direct_channels: Recent[str] = Recent(DIRECT_CHANNELS_KEPT)  # issue 10: bounded
        self._users = UserCache()  # issue 10: the same requesters and names, read once a minute

    def __repr__(self) -> str:  # never show the token
        return f"<MattermostGateway {self._rest.client.url}>"

    @property
    def driver(self) -> Driver:
        """The underlying Driver, for endpoints not covered here (its calls are coroutines)."""
        return self._rest.driver

    async def close(self) -> None:
        """Refuse further calls and close the HTTP connections. Idempotent."""
        await self._rest.close()

    async def _bot_id(self) -> str:
        if self.bot_user_id is None:
            await self.me()
        assert self.bot_user_id is not None
        return self.bot_user_id

    # --- users and teams -------------------------------------------------------------------

    async def me(self) -> dict[str, Any]:
        user: dict[str, Any] = await self._rest.call(lambda d: d.users.get_user("me"), what="me")
        self.bot_user_id = user["id"]
        return user

    async def get_user(self, user_id: str) -> dict[str, Any]:
        if (cached := self._users.get(user_id)) is not None:
            return cached
        user: dict[str, Any] = await self._rest.call(
            lambda d: d.client.get(f"/users/{_segment(user_id)}"), what="get_user"
        )
        self._users.put([user])
        return user

    async def get_users_by_ids(self, user_ids: Sequence[str]) -> list[dict[str, Any]]:
        ids = list(dict.fromkeys(user_ids))
        known = {i: u for i in ids if (u := self._users.get(i)) is not None}
        missing = [i for i in ids if i not in known]
        if missing:
            users = await self._rest.call(lambda d: d.users.get_users_by_ids(missing),
                                          what="users/ids")
            self._users.put(users or [])
            known.update((u["id"], u) for u in users or [] if isinstance(u, dict))
        return [known[i] for i in ids if i in known]

    async def get_user_by_username(self, username: str) -> dict[str, Any] | None:
        return await self._none_on_404(
            f"/users/username/{_segment(username.removeprefix('@'))}", "user_by_username"
        )

    async def get_user_by_email(self, email: str) -> dict[str, Any] | None:
        return await self._none_on_404(f"/users/email/{_segment(email)}", "user_by_email")

    async def _none_on_404(self, path: str, what: str) -> dict[str, Any] | None:
        try:
            return await self._rest.call(lambda d: d.client.get(path), what=what)
        except GatewayError as err:
            if err.status == 404:
                return None
            raise

    async def get_team_by_name(self, name: str) -> dict[str, Any]:
        return await self._rest.call(
            lambda d: d.client.get(f"/teams/name/{_segment(name)}"), what="team_by_name"
        )

    # --- channels --------------------------------------------------------------------------

    async def get_channel_by_name(self, team_id: str, name: str) -> dict[str, Any]:
        return await self._rest.call(
            lambda d: d.channels.get_channel_by_name(_segment(team_id), _segment(name)),
            what="channel_by_name",
        )

    async def channel_member_ids(self, channel_id: str) -> list[str]:
        ids: list[str] = []
        page = 0
        while True:
            params = {"page": page, "per_page": MEMBERS_PER_PAGE}
            members = await self._rest.call(
                lambda d, p=params: d.channels.get_channel_members(_segment(channel_id), params=p),
                what="channel_members",
            )
            members = members or []
            ids.extend(m["user_id"] for m in members)
            if len(members) < MEMBERS_PER_PAGE:
                return ids
            page += 1

    async def direct_channel(self, user_id: str) -> str:
        cached = self._direct_channels.get(user_id)
        if cached:
            return cached
        me = await self._bot_id()
        channel = await self._rest.call(
            lambda d: d.channels.create_direct_message_channel([me, user_id]),
            what="channels/direct",
        )
        self._direct_channels.set(user_id, channel["id"])
        return channel["id"]

    # --- posts -----------------------------------------------------------------------------

    async def create_post(
        self,
        channel_id: str,
        message: str,
        *,
        root_id: str = "",
        props: dict[str, Any] | None = None,
        file_ids: Sequence[str] = (),
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"channel_id": channel_id, "message": message}
        if root_id:
            body["root_id"] = root_id
        if props is not None:
            body["props"] = props
        if file_ids:
            body["file_ids"] = list(file_ids)
        return await self._rest.call(lambda d: d.posts.create_post(body), what="create_post")

    async def update_post(
        self, post_id: str, message: str, props: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        # PUT /posts/{id} replaces the whole post (props included): start from the current one.
        post = await self.get_post(post_id)
        post["message"] = message
        if props is not None:
            post["props"] = props
        return await self._rest.call(
            lambda d: d.client.put(f"/posts/{_segment(post_id)}", options=post),
            what="update_post",
        )

    async def get_post(self, post_id: str) -> dict[str, Any]:
        return await self._rest.call(
            lambda d: d.client.get(f"/posts/{_segment(post_id)}"), what="get_post"
        )

    async def get_thread(self, post_id: str) -> list[dict[str, Any]]:
        # posts.get_thread takes no params; without perPage the server returns the whole thread.
        params = {"skipFetchThreads": "false", "collapsedThreads": "false"}
        post_list = await self._rest.call(
            lambda d: d.client.get(f"/posts/{_segment(post_id)}/thread", params=params),
            what="get_thread",
        )
        return _posts_oldest_first(post_list)

    async def get_channel_posts_since(
        self, channel_id: str, since_ms: int
    ) -> list[dict[str, Any]]:
        """Posts created, edited or deleted since `since_ms` (the server's `since` semantics)."""
        post_list = await self._rest.call(
            lambda d: d.posts.get_posts_for_channel(
                _segment(channel_id), params={"since": int(since_ms)}
            ),
            what="channel_posts_since",
        )
        return _posts_oldest_first(post_list)

    # --- files -----------------------------------------------------------------------------

    async def upload_file(self, channel_id: str, name: str, data: bytes) -> str:
        # A fresh file object per attempt: a retried upload must resend the whole body.
        result = await self._rest.call(
            lambda d: d.files.upload_file(channel_id, {"files": (name, io.BytesIO(data))}),
            what="upload_file",
        )
        infos = (result or {}).get("file_infos") or []
        if not infos:
            raise GatewayError(0, "upload", f"upload of {name!r} returned no file_infos")
        return str(infos[0]["id"])

    async def get_file(self, file_id: str) -> bytes:
        # Raw request: files.get_file would parse a JSON attachment into a dict.
        response = await self._rest.call(
            lambda d: d.client.make_request("get", f"/files/{_segment(file_id)}"),
            what="get_file",
        )
        return bytes(response.content)

    async def get_file_info(self, file_id: str) -> dict[str, Any]:
        return await self._rest.call(
            lambda d: d.files.get_file_metadata(_segment(file_id)), what="get_file_info"
        )

    # --- reactions, dialogs, commands ------------------------------------------------------

    async def add_reaction(self, post_id: str, emoji_name: str) -> None:
        body = {"user_id": await self._bot_id(), "post_id": post_id,
                "emoji_name": emoji_name.strip(":")}
        await self._rest.call(lambda d: d.reactions.create_reaction(body), what="add_reaction")

    async def open_dialog(self, trigger_id: str, url: str, dialog: dict[str, Any]) -> None:
        body = {"trigger_id": trigger_id, "url": url, "dialog": dialog}
        await self._rest.call(
            lambda d: d.integration_actions.open_dialog(body), what="open_dialog"
        )

    async def list_commands(self, team_id: str) -> list[dict[str, Any]]:
        params = {"team_id": team_id, "custom_only": "true"}
        commands = await self._rest.call(
            lambda d: d.commands.list_commands_for_team(params=params), what="list_commands"
        )
        return list(commands or [])

    async def create_command(self, command: dict[str, Any]) -> dict[str, Any]:
        return await self._rest.call(
            lambda d: d.commands.create_command(command), what="create_command"
        )

    async def update_command(self, command: dict[str, Any]) -> dict[str, Any]:
        # commands.update_command builds "/commands" + id (no '/'): explicit path instead.
        command_id = command["id"]
        return await self._rest.call(
            lambda d: d.client.put(f"/commands/{_segment(command_id)}", options=command),
            what="update_command",
        )
