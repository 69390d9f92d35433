"""Intake end to end: /ticket new|sales, the dialogs, validation, storing, announcing — over the wire."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.wire.harness import Desk
from workflows.model import Plan, Status

# Written out from shared/support-forms.md, independently of workflows/forms.py.
TECHNICAL_CATEGORIES = [
    "General inquiry", "AD/LDAP", "Authentication & Provisioning", "Compliance & Auditing",
    "Connectivity", "Customization & Branding", "Data Export and Import", "Database", "Desktop",
    "Developer Toolkit", "DevOps Command Center", "General", "Installation", "Integrations",
    "Invitation & Login", "Messaging", "Mobile", "Notifications & Status", "Onboarding",
    "Roles & Permissions", "Search", "Server Issues", "System Console", "Upgrading",
    "User Interface", "User, Team & Channel Management", "User issue",
]  # fmt: skip
SALES_CATEGORIES = ["Credit Card Issues", "General", "Licensing", "Pricing", "Product", "Renewals"]

VALID = {
    "cc": "",
    "subject": "Server down after upgrade",
    "priority": "urgent",
    "category": "upgrading",
    "description": "After upgrading to 10.11.2 the server does not start. Logs attached later.",
    "environment": "production",
    "mattermost_version": "10.11.2",
    "mobile_version": "",
    "mobile_device": "",
}


def elements(dialog: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in dialog["dialog"]["elements"]}


async def open_and_submit(desk: Desk, user: str, values: dict[str, Any], command: str = "/ticket new") -> Any:
    result = await desk.run(user, command)
    assert result.status == 200
    return await desk.emu.submit_dialog(desk.users[user], values)


async def tickets(desk: Desk) -> list[Any]:
    from commands.ports import TicketQuery

    assert desk.bot is not None and desk.bot.deps is not None
    async with desk.bot.deps.uow() as uow:
        return await uow.tickets.find(TicketQuery(limit=1000))


async def test_help_lists_the_intake_commands(desk: Desk) -> None:
    result = await desk.run("alice", "/ticket help")
    assert result.status == 200
    text = desk.emu.ephemerals(desk.users["alice"])[-1]["message"]
    assert "/ticket new" in text and "/ticket sales" in text


async def test_bare_ticket_command_shows_usage(desk: Desk) -> None:
    await desk.run("alice", "/ticket")
    assert "/ticket new" in desk.emu.ephemerals(desk.users["alice"])[-1]["message"]


async def test_unknown_subcommand_is_named(desk: Desk) -> None:
    await desk.run("alice", "/ticket frobnicate")
    message = desk.emu.ephemerals(desk.users["alice"])[-1]["message"]
    assert "frobnicate" in message and "/ticket new" in message


async def test_technical_dialog_mirrors_the_form(desk: Desk) -> None:
    result = await desk.run("alice", "/ticket new")
    assert result.status == 200
    dialog = desk.emu.last_dialog(desk.users["alice"])
    assert dialog["dialog"]["title"] == "Technical Support"
    els = elements(dialog)
    assert list(els) == ["cc", "subject", "priority", "category", "description", "environment",
                         "mattermost_version", "mobile_version", "mobile_device"]
    labels = {n: e["display_name"] for n, e in els.items()}
    assert labels == {
        "cc": "CC", "subject": "Subject", "priority": "Priority", "category": "Category",
        "description": "Description", "environment": "Environment",
        "mattermost_version": "Mattermost Version", "mobile_version": "Mobile app version",
        "mobile_device": "Mobile device",
    }
    optional = {n for n, e in els.items() if e["optional"]}
    assert optional == {"cc", "mobile_version", "mobile_device"}
    assert [o["text"] for o in els["priority"]["options"]] == ["Urgent", "High", "Normal", "Low"]
    assert [o["text"] for o in els["category"]["options"]] == TECHNICAL_CATEGORIES
    assert [o["text"] for o in els["environment"]["options"]] == [
        "Production", "Staging / Test", "Development"]
    assert [o["text"] for o in els["mobile_device"]["options"]] == ["iOS", "Android"]
    assert els["description"]["type"] == "textarea"
    assert els["subject"]["max_length"] == 150 and els["description"]["max_length"] == 8000
    for e in els.values():
        assert len(e["display_name"].encode()) <= 24 and len(e["help_text"].encode()) <= 150
        for option in e["options"] or []:
            assert option["value"] == option["value"].lower() and " " not in option["value"]
    assert "Urgent (L1)" in dialog["dialog"]["introduction_text"]


async def test_sales_dialog_mirrors_the_form(desk: Desk) -> None:
    await desk.run("alice", "/ticket sales")
    dialog = desk.emu.last_dialog(desk.users["alice"])
    assert dialog["dialog"]["title"] == "Sales Support"
    els = elements(dialog)
    assert list(els) == ["cc", "subject", "category", "description"]
    assert [o["text"] for o in els["category"]["options"]] == SALES_CATEGORIES
    assert {n for n, e in els.items() if e["optional"]} == {"cc"}


async def test_ticket_runs_in_a_dm_with_the_bot(desk: Desk) -> None:
    dm = desk.emu.direct_channel_id(desk.users["alice"], desk.users["supportbot"])
    result = await desk.emu.execute_command(desk.users["alice"], dm, "/ticket new")
    assert result.status == 200
    assert desk.emu.last_dialog(desk.users["alice"])["dialog"]["title"] == "Technical Support"


async def test_valid_submission_is_stored_announced_and_confirmed(desk: Desk) -> None:
    values = {**VALID, "cc": "@carol, dave@example.org; alice"}
    result = await open_and_submit(desk, "alice", values)
    assert result.status == 200 and result.body in ({}, None)
    await desk.settle()

    [ticket] = await tickets(desk)
    assert ticket.status is Status.NEW
    assert ticket.form.subject == VALID["subject"]
    assert ticket.requester.organisation == "Acme Corp" and ticket.plan is Plan.PREMIUM
    assert set(ticket.form.cc_user_ids) == {desk.users["carol"].id, desk.users["dave"].id}

    [card] = desk.emu.posts(desk.support.id)
    assert card["user_id"] == desk.users["supportbot"].id
    assert card["props"]["from_bot"] == "true"
    assert card["id"] == ticket.card_post_id
    attachment = card["props"]["attachments"][0]
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert f"#{ticket.id}" in attachment["title"] and "Server down after upgrade" in attachment["title"]
    assert fields["Plan"] == "Premium Support" and fields["Priority"] == "Urgent"
    assert fields["Category"] == "Upgrading" and fields["Environment"] == "Production"
    assert fields["Mattermost version"] == "10.11.2"

    dm = desk.emu.dm_posts(desk.users["alice"], desk.users["supportbot"])
    assert len(dm) == 1 and f"#{ticket.id}" in dm[0]["message"]
    assert dm[0]["id"] == ticket.customer_root_id
    assert "attach" in dm[0]["message"].lower()
    for cc in ("carol", "dave"):
        [notice] = desk.emu.dm_posts(desk.users[cc], desk.users["supportbot"])
        assert f"#{ticket.id}" in notice["message"]


async def test_card_never_mentions_the_customer(desk: Desk) -> None:
    await open_and_submit(desk, "alice", VALID)
    await desk.settle()
    [card] = desk.emu.posts(desk.support.id)
    assert desk.emu.notified(card["id"]) == set()


async def test_channel_wide_mentions_in_user_text_notify_nobody(desk: Desk) -> None:
    values = {**VALID, "subject": "@all @channel @here look", "description": "@sam @tess <!channel>"}
    await open_and_submit(desk, "alice", values)
    await desk.settle()
    [card] = desk.emu.posts(desk.support.id)
    assert desk.emu.notified(card["id"]) == set()
    [dm] = desk.emu.dm_posts(desk.users["alice"], desk.users["supportbot"])
    assert desk.emu.notified(dm["id"]) <= {desk.users["alice"].id}  # a DM notifies its reader only


async def test_sales_ticket_has_normal_priority_and_the_sales_category(desk: Desk) -> None:
    values = {"cc": "", "subject": "Renewal quote", "category": "renewals",
              "description": "We need a quote for renewing 500 seats."}
    await open_and_submit(desk, "gina", values, command="/ticket sales")
    await desk.settle()
    [ticket] = await tickets(desk)
    assert ticket.form.category == "renewals" and ticket.priority.value == "normal"
    assert ticket.requester.organisation == "Globex" and ticket.plan is Plan.ENTERPRISE


async def test_requester_without_a_customer_has_no_plan(desk: Desk) -> None:
    await open_and_submit(desk, "dave", VALID)
    await desk.settle()
    [ticket] = await tickets(desk)
    assert ticket.plan is None and ticket.requester.organisation is None


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"subject": ""}, "subject", "required"),
        ({"subject": "x" * 151}, "subject", "150"),
        ({"description": "y" * 8001}, "description", "8000"),
        ({"description": None}, "description", "required"),
        ({"priority": ""}, "priority", "required"),
        ({"priority": "critical"}, "priority", "options"),
        ({"category": "nope"}, "category", "options"),
        ({"environment": ""}, "environment", "required"),
        ({"mattermost_version": "ten"}, "mattermost_version", "X.Y"),
        ({"mattermost_version": "10"}, "mattermost_version", "X.Y"),
        ({"category": "mobile"}, "mobile_version", "mobile"),
        ({"mobile_device": "ios"}, "mobile_version", "mobile"),
        ({"mobile_version": "2.21.0"}, "mobile_device", "mobile"),
        ({"cc": "@nobody, ghost@nowhere.test"}, "cc", "nobody"),
        ({"cc": ", ".join(f"user{i}" for i in range(21))}, "cc", "20"),
    ],
)
async def test_invalid_fields_get_field_errors_and_nothing_is_stored(
    desk: Desk, change: dict[str, Any], field: str, fragment: str
) -> None:
    result = await open_and_submit(desk, "alice", {**VALID, **change})
    assert result.status == 200
    assert field in result.body["errors"], result.body
    assert fragment.lower() in result.body["errors"][field].lower()
    await desk.settle()
    assert await tickets(desk) == []
    assert desk.emu.posts(desk.support.id) == []


async def test_unknown_cc_error_names_every_unknown_entry(desk: Desk) -> None:
    result = await open_and_submit(desk, "alice", {**VALID, "cc": "@nobody, carol, ghost@nowhere.test"})
    message = result.body["errors"]["cc"].replace("\u200b", "")  # mentions are neutralised
    assert "nobody" in message and "ghost@nowhere.test" in message and "carol" not in message


async def test_mattermost_version_accepts_two_or_three_parts(desk: Desk) -> None:
    result = await open_and_submit(desk, "alice", {**VALID, "mattermost_version": "9.5"})
    assert result.body in ({}, None)


async def test_number_values_from_newer_clients_are_accepted(desk: Desk) -> None:
    result = await open_and_submit(desk, "alice", {**VALID, "mattermost_version": 10.11})
    assert result.body in ({}, None)


async def test_double_submission_creates_one_ticket(desk: Desk) -> None:
    await desk.run("alice", "/ticket new")
    dialog = desk.emu.last_dialog(desk.users["alice"])
    first = await desk.emu.submit_dialog(desk.users["alice"], VALID, dialog=dialog)
    second = await desk.emu.submit_dialog(desk.users["alice"], VALID, dialog=dialog)
    assert first.status == second.status == 200
    await desk.settle()
    assert len(await tickets(desk)) == 1
    assert len(desk.emu.posts(desk.support.id)) == 1


async def test_wrong_command_token_gets_401_and_does_nothing(desk: Desk) -> None:
    url = f"http://127.0.0.1:{desk.port}/mattermost/command"
    form = {"token": "forged", "user_id": desk.users["alice"].id, "command": "/ticket",
            "text": "new", "trigger_id": "x", "channel_id": desk.support.id}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=form, headers={"Authorization": "Token forged"}) as resp:
            assert resp.status == 401
        async with http.post(url, data={k: v for k, v in form.items() if k != "token"}) as resp:
            assert resp.status == 401
    assert desk.emu.dialogs(desk.users["alice"]) == []


async def test_forged_dialog_state_is_refused_and_stores_nothing(desk: Desk) -> None:
    await desk.run("alice", "/ticket new")
    dialog = desk.emu.last_dialog(desk.users["alice"])
    state = dialog["dialog"]["state"]
    payload, mac = state.split(".")
    altered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + mac
    for forged in ("", "garbage", altered):
        result = await desk.emu.submit_dialog(desk.users["alice"], VALID, dialog=dialog, state=forged)
        assert result.status == 200 and "error" in result.body
    # the genuine state, submitted by another user
    result = await desk.emu.submit_dialog(desk.users["dave"], VALID, dialog=dialog,
                                          channel_id=desk.channels["town-square"].id)
    assert result.status == 200 and "error" in result.body
    await desk.settle()
    assert await tickets(desk) == []


async def test_expired_dialog_state_is_refused(desk: Desk) -> None:
    await desk.run("alice", "/ticket new")
    dialog = desk.emu.last_dialog(desk.users["alice"])
    desk.clock.advance(days=2)
    result = await desk.emu.submit_dialog(desk.users["alice"], VALID, dialog=dialog)
    assert "error" in result.body
    assert await tickets(desk) == []


async def test_cancelled_dialog_stores_nothing(desk: Desk) -> None:
    await desk.run("alice", "/ticket new")
    result = await desk.emu.submit_dialog(desk.users["alice"], {}, cancelled=True)
    assert result.status == 200
    assert await tickets(desk) == []


async def test_healthz_reports_ok(desk: Desk) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{desk.port}/healthz") as resp:
            assert resp.status == 200
            assert await resp.json() == {"status": "ok", "mattermost": True, "database": True}
