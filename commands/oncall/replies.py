"""Every sentence the on-call feature shows or posts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from commands.replies import PRIORITY_COLOUR, ref
from workflows import text
from workflows.oncall import Gap, Handover, Level, OnCall, PageDecision, PageReason, StoredOverride
from workflows.model import Ticket

LEVEL_LABEL = {
    "primary": "Primary", "secondary": "Secondary", "lead": "Lead", "channel": "Channel",
}
WHY = {
    PageReason.NEW_TICKET: "no reply yet",
    PageReason.CUSTOMER_MESSAGE: "the customer wrote again after our reply",
    PageReason.NOT_ACKNOWLEDGED: "the previous page was not acknowledged",
    PageReason.CHAIN_EXHAUSTED: "nobody acknowledged",
}

HELP = (
    "**/oncall** — who is on call\n"
    "- `/oncall` — who is on call now at each level, and until when\n"
    "- `/oncall schedule [days]` — the next hand-overs in your time zone "
    "(default 7 days, at most 31)\n"
    "- `/oncall ack <ticket>` — acknowledge the page about a ticket (stops the escalation)\n"
    "- `/oncall overrides` — list the overrides\n"
    "- `/oncall override @user <from> <to> [level] [region]` — admins: put someone on call, e.g. "
    "`/oncall override @sam 2026-12-01 08:00 2026-12-02 08:00 secondary` (times in your time zone "
    "unless they carry an offset)\n"
    "- `/oncall remove <id>` — admins: remove an override\n"
    "- `/oncall help` — this help"
)

DISABLED = "On-call paging is not configured: add [[oncall.regions]] to the bot's configuration."
NO_OPEN_PAGE = "There is no open page for {ref}; nothing to acknowledge."
ALREADY_ACKED = "The page for {ref} was already acknowledged."
OVERRIDE_USAGE = (
    "Use `/oncall override @user <from> <to> [level] [region]`, e.g. "
    "`/oncall override @sam 2026-12-01 08:00 2026-12-02 08:00`."
)
REMOVE_USAGE = "Use `/oncall remove <id>`; `/oncall overrides` lists the ids."
ACK_USAGE = "Use `/oncall ack <ticket>`, e.g. `/oncall ack 1042`."
OVERRIDE_NOT_STAFF = "Only support staff can be put on call."
OVERRIDE_IN_PAST = "That override has already ended; give an end time in the future."
OVERRIDE_BACKWARDS = "The end time must be after the start time."


def when(at: datetime | None, zone: ZoneInfo) -> str:
    if at is None:
        return "no change in sight"
    local = at.astimezone(zone)
    return f"{local:%a %d %b %H:%M} {local.tzname() or zone.key}"


def level_label(level: str) -> str:
    return LEVEL_LABEL.get(level, level.capitalize())


def now_on_call(on_call: OnCall, zone: ZoneInfo) -> str:
    lines = ["**On call now**"]
    for level in Level:
        shift = on_call.get(level)
        if shift is None:
            lines.append(f"- {level_label(level)}: nobody")
            continue
        region = f" ({shift.region})" if shift.region else ""
        until = when(shift.until_at, zone)
        lines.append(f"- {level_label(level)}: @{shift.person}{region} until {until}")
    return "\n".join(lines)


def schedule(changes: Sequence[Handover], gaps: Sequence[Gap], days: int, zone: ZoneInfo) -> str:
    lines = [f"**On-call hand-overs in the next {days} day{'s' if days != 1 else ''}** "
             f"(times in {zone.key})"]
    if not changes:
        lines.append("- no hand-overs")
    for change in changes:
        who = f"@{change.person}" if change.person else "nobody (gap in cover)"
        region = f" ({change.region})" if change.region else ""
        lines.append(f"- {when(change.at, zone)} — {level_label(change.level)}: {who}{region}")
    if gaps:
        lines.append("\n**Gaps in cover** (no region on shift)")
        lines += [f"- {when(g.start_at, zone)} – {when(g.end_at, zone)}" for g in gaps]
    return "\n".join(lines)


def override_list(found: Sequence[StoredOverride], zone: ZoneInfo) -> str:
    if not found:
        return "There are no current or upcoming overrides."
    lines = ["**On-call overrides**"]
    for o in found:
        region = f" in {o.region}" if o.region else ""
        lines.append(f"- `{o.id}` @{o.username}: {level_label(o.level)}{region}, "
                     f"{when(o.from_at, zone)} – {when(o.to_at, zone)}")
    return "\n".join(lines)


def override_added(o: StoredOverride, zone: ZoneInfo) -> str:
    region = f" in {o.region}" if o.region else ""
    return (f"Override `{o.id}` added: @{o.username} is {level_label(o.level).lower()}{region} "
            f"from {when(o.from_at, zone)} to {when(o.to_at, zone)}.")


def override_removed(o: StoredOverride) -> str:
    return f"Override `{o.id}` (@{o.username}, {level_label(o.level).lower()}) removed."


def no_override(override_id: int) -> str:
    return f"There is no override `{override_id}`; `/oncall overrides` lists them."


def bad_time(raw: str) -> str:
    return (f"`{text.inline(raw, max_len=40)}` is not a time; use e.g. `2026-12-01 08:00` "
            "or `2026-12-01T08:00+01:00`.")


def unknown_level_or_region(raw: str, regions: Sequence[str]) -> str:
    known = ", ".join(["primary", "secondary", "lead", *regions])
    shown = text.inline(raw, max_len=40)
    return f"`{shown}` is neither a level nor a region; use one of: {known}."


def bad_days(raw: str) -> str:
    return f"`{text.inline(raw, max_len=20)}` is not a number of days; use 1 to 31."


def page_dm(ticket: Ticket, decision: PageDecision, fields: list[dict[str, Any]],
            permalink: str) -> tuple[str, dict[str, Any]]:
    """The page a person receives: why, the card facts, and the buttons."""
    message = (
        f":rotating_light: **Page: {ref(ticket.id)}** "
        f"{ticket.priority.value.capitalize()} ticket — "
        f"you are {level_label(str(decision.level)).lower()} on call "
        f"(round {decision.round}, {WHY[decision.reason]})."
        + (f" [View ticket]({permalink})" if permalink else "")
    )
    attachment = {
        "fallback": f"Page: {ref(ticket.id)} {text.inline(ticket.form.subject, max_len=150)}",
        "color": PRIORITY_COLOUR[ticket.priority],
        "title": f"{ref(ticket.id)} · {text.inline(ticket.form.subject, max_len=150)}",
        "fields": fields,
        "footer": "Acknowledge to stop the escalation; the first public reply resolves the page.",
    }
    if permalink:
        attachment["title_link"] = permalink
    return message, {"attachments": [attachment], "supportdesk_ticket": ticket.id,
                     "supportdesk_role": "page"}


def staff_thread_page(username: str, decision: PageDecision) -> str:
    return (f"@{username} you are paged as {level_label(str(decision.level)).lower()} on call "
            f"(round {decision.round}: {WHY[decision.reason]}). Acknowledge from the page in your "
            f"direct messages or with `/oncall ack {decision.ticket_id}`.")


def channel_alert(ticket: Ticket, rounds: int, permalink: str) -> str:
    return (f"@channel :rotating_light: {ref(ticket.id)} "
            f"({ticket.priority.value.capitalize()}, Premium) has had no acknowledgement after "
            f"{rounds} round{'s' if rounds != 1 else ''} of on-call pages. Can someone take it? "
            f"[View ticket]({permalink}) · `/oncall ack {ticket.id}`")


def acknowledged(ticket_id: int, assigned: bool) -> str:
    extra = " It is assigned to you." if assigned else ""
    return f"You acknowledged the page for {ref(ticket_id)}; the escalation has stopped.{extra}"


def ack_note(name: str) -> str:
    return f"{name} acknowledged the page; the escalation has stopped."


def resolved_note() -> str:
    return "The page is resolved: the customer has an answer."


def view_ticket(permalink: str) -> str:
    return f"[Open the ticket card]({permalink})"
