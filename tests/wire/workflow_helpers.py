"""Steps shared by the workflow journeys: open a ticket, click its buttons, write in its threads."""

from __future__ import annotations

from typing import Any

from commands.ports import TicketQuery
from tests.wire.harness import Desk

FORM = {
    "cc": "", "subject": "Search returns nothing", "priority": "high", "category": "search",
    "description": "Since Monday search returns no results for any user.",
    "environment": "production", "mattermost_version": "10.11.2",
    "mobile_version": "", "mobile_device": "",
}


async def open_ticket(desk: Desk, user: str = "alice", **changes: Any) -> Any:
    await desk.run(user, "/ticket new")
    result = await desk.emu.submit_dialog(desk.user(user), {**FORM, **changes})
    assert result.body in ({}, None), result.body
    await desk.settle()
    found = await all_tickets(desk)
    return found[-1]


async def all_tickets(desk: Desk) -> list[Any]:
    assert desk.bot is not None and desk.bot.deps is not None
    async with desk.bot.deps.uow() as uow:
        found = await uow.tickets.find(TicketQuery(limit=1000))
    return sorted(found, key=lambda t: t.id)


async def ticket(desk: Desk, ticket_id: int) -> Any:
    assert desk.bot is not None and desk.bot.deps is not None
    async with desk.bot.deps.uow() as uow:
        return await uow.tickets.get(ticket_id)


async def events(desk: Desk, ticket_id: int) -> list[Any]:
    assert desk.bot is not None and desk.bot.deps is not None
    async with desk.bot.deps.uow() as uow:
        return await uow.events.for_ticket(ticket_id)


def card(desk: Desk, t: Any) -> dict[str, Any]:
    return desk.emu.post(t.card_post_id)


def buttons(post: dict[str, Any]) -> list[str]:
    return [a["name"] for att in post["props"].get("attachments", []) for a in att.get("actions") or []]


def action_id(post: dict[str, Any], label: str) -> str:
    for att in post["props"].get("attachments", []):
        for action in att.get("actions") or []:
            if action["name"] == label:
                return str(action["id"])
    raise AssertionError(f"no button {label!r} on post: {buttons(post)}")


async def click(desk: Desk, user: str, post: dict[str, Any], label: str) -> Any:
    result = await desk.emu.click(desk.user(user), post["id"], action_id(post, label))
    await desk.settle()
    return result


def staff_thread(desk: Desk, t: Any) -> list[dict[str, Any]]:
    return desk.emu.posts(desk.support.id, root_id=t.card_post_id)[1:]


def customer_thread(desk: Desk, t: Any) -> list[dict[str, Any]]:
    return desk.emu.posts(t.customer_channel_id, root_id=t.customer_root_id)[1:]


async def customer_writes(desk: Desk, t: Any, message: str, user: str = "alice",
                          file_ids: tuple[str, ...] = ()) -> dict[str, Any]:
    before = len(staff_thread(desk, t))
    post = await desk.emu.post_as(desk.user(user), t.customer_channel_id, message,
                                  root_id=t.customer_root_id, file_ids=file_ids)
    await desk.wait_for(lambda: len(staff_thread(desk, t)) > before)
    await desk.settle()
    return post


async def staff_writes(desk: Desk, t: Any, message: str, user: str = "sam") -> dict[str, Any]:
    post = await desk.emu.post_as(desk.user(user), desk.support.id, message, root_id=t.card_post_id)

    async def handled() -> bool:
        return any(e.data.get("post_id") == post["id"] for e in await events(desk, t.id)) or bool(
            desk.emu.reactions(post["id"]))

    await desk.wait_for(handled)
    await desk.settle()
    return post
