"""The client side: what the official webapp does for a user, driven from tests."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from .errors import AppError, forbidden
from .ids import new_id
from .interactive import ActionResult, DialogResult, do_post_action, submit_dialog
from .posting import create_post
from .rest_posts import store_file
from .slash import CommandResult, execute_command
from .state import User, strip_integrations

if TYPE_CHECKING:
    from .state import Store


def _error_body(err: AppError) -> dict:
    return err.body(new_id())


def _element_defaults(dialog: dict) -> dict:
    """The webapp sends every element; untouched ones carry their `default`."""
    values = {}
    for el in dialog.get("elements") or []:
        if not isinstance(el, dict) or not el.get("name"):
            continue
        default = el.get("default", "")
        values[el["name"]] = default == "true" if el.get("type") == "bool" else default
    return values


class ClientMixin:
    """Methods acting as a logged-in user through the official client."""

    store: Store

    async def execute_command(self, user: User, channel_id: str, command: str,
                              root_id: str = "", team_id: str | None = None) -> CommandResult:
        """Like the webapp: in a DM/GM the current team (default: the user's first) is sent."""
        if team_id is None:
            team_id = next((t for t, members in self.store.team_members.items()
                            if user.id in members), "")
        try:
            return await execute_command(self, user, channel_id, command, root_id, team_id)
        except AppError as err:
            return CommandResult(err.status, _error_body(err))

    async def submit_dialog(self, user: User, submission: dict, *, dialog: dict | None = None,
                            cancelled: bool = False, state: str | None = None,
                            callback_id: str | None = None, url: str | None = None,
                            channel_id: str | None = None) -> DialogResult:
        record = self._dialog_record(user, dialog)
        definition = record.get("dialog") or {}
        channel_id = channel_id or record.get("_channel_id", "")
        channel = self.store.channels.get(channel_id)
        team_id = record.get("_team_id") or (channel.team_id if channel else "")
        values = {} if cancelled else {**_element_defaults(definition), **submission}
        body = {"url": url or record.get("url", ""),
                "callback_id": definition.get("callback_id", "") if callback_id is None
                else callback_id,
                "state": definition.get("state", "") if state is None else state,
                "submission": values, "channel_id": channel_id, "team_id": team_id,
                "cancelled": cancelled}
        try:
            return await submit_dialog(self, user, body, definition.get("elements"))
        except AppError as err:
            return DialogResult(err.status, _error_body(err), True)

    def _dialog_record(self, user: User, dialog: dict | None) -> dict:
        opened = self.store.dialogs.get(user.id, [])
        if dialog is None:
            return opened[-1] if opened else {}
        if "dialog" not in dialog:
            return {"dialog": dialog}
        every = [d for seen in self.store.dialogs.values() for d in seen]
        match = [d for d in every if d["trigger_id"] == dialog.get("trigger_id")]
        return match[-1] if match else dialog

    async def click(self, user: User, post_id: str, action_id: str,
                    selected_option: str | None = None) -> ActionResult:
        try:
            return await do_post_action(self, user, post_id, action_id, selected_option)
        except AppError as err:
            return ActionResult(err.status, _error_body(err))

    async def post_as(self, user: User, channel_id: str, message: str, root_id: str = "",
                      file_ids: tuple | list = ()) -> dict:
        """Create a post as `user` (raises AppError like the server would refuse it)."""
        post = create_post(self, user, {"channel_id": channel_id, "message": message,
                                        "root_id": root_id, "file_ids": list(file_ids)})
        return strip_integrations(post)

    async def upload_as(self, user: User, channel_id: str, name: str, data: bytes) -> str:
        if not self.store.is_member(channel_id, user.id):
            raise forbidden(f"userId={user.id}, permission=upload_file")
        return store_file(self, user, channel_id, name, bytes(data))["id"]

    def dialogs(self, user: User) -> list[dict]:
        return [{k: copy.deepcopy(d[k]) for k in ("trigger_id", "url", "dialog")}
                for d in self.store.dialogs.get(user.id, [])]

    def last_dialog(self, user: User) -> dict | None:
        opened = self.dialogs(user)
        return opened[-1] if opened else None
