"""`/ticket list|show|take|assign|status|priority|reply|note|hold`: the queue from the keyboard."""

from __future__ import annotations

from commands import operations, replies, tickets
from commands.deps import Deps
from commands.errors import UserError
from commands.models import Reply, SlashCommand
from commands.ports import TicketQuery
from commands.router import TICKET
from commands.escalation.replies import waiting_on_set  # escalation (issue 6)
from workflows import lifecycle
from workflows.model import Priority, Status
from workflows.permissions import Permission, allowed

OPEN_STATUSES = frozenset({Status.NEW, Status.OPEN, Status.PENDING, Status.SOLVED})


def _need(args: list[str], count: int, usage: str) -> None:
    if len(args) < count:
        raise UserError(f"Usage: `/ticket {usage}`")


async def _safely(run) -> Reply:  # type: ignore[no-untyped-def]
    try:
        return Reply.ephemeral(await run())
    except UserError as exc:
        return Reply.ephemeral(str(exc))


@TICKET.subcommand("list", usage="list [status] [priority] [me|none] [premium|enterprise] [category]",
                   summary="your open tickets; for staff, the queue with filters")
async def list_tickets(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
    async def run() -> str:
        roles = await deps.directory.roles(cmd.user_id, None)
        now = deps.clock()
        if not allowed(roles, Permission.LIST_QUEUE):
            query = TicketQuery(statuses=OPEN_STATUSES, involving_user_id=cmd.user_id, limit=50)
            async with deps.uow() as uow:
                found = await uow.tickets.find(query)
            return replies.customer_list(found, now=now)
        query = parse_filters(args, cmd.user_id)
        async with deps.uow() as uow:
            found = await uow.tickets.find(query)
            escalated = await uow.escalations.open_for_tickets(  # escalation (issue 6)
                [t.id for t in found if t.id is not None])
        waiting = {tid: waiting_on_set(e, capital=False) for tid, e in escalated.items()}
        return replies.queue(found, now=now, filters=" ".join(args), waiting=waiting)

    return await _safely(run)


def parse_filters(args: list[str], user_id: str) -> TicketQuery:
    """Words in any order: a status, a priority, me/none, a plan, or a category slug."""
    statuses: frozenset[Status] | None = OPEN_STATUSES - {Status.SOLVED}
    priority = assignee = plan = category = None
    unassigned = False
    for word in (a.lower() for a in args):
        if word in {s.value for s in Status}:
            statuses = frozenset({Status(word)})
        elif word == "all":
            statuses = None
        elif word in {p.value for p in Priority}:
            priority = Priority(word)
        elif word == "me":
            assignee = user_id
        elif word == "none":
            unassigned = True
        elif word in ("premium", "enterprise", "noplan"):
            plan = "none" if word == "noplan" else word
        else:
            category = word
    return TicketQuery(statuses=statuses, priority=priority, assignee_id=assignee,
                       unassigned=unassigned, plan=plan, category=category, limit=25)


@TICKET.subcommand("show", usage="show <id>", summary="one ticket and its history")
async def show(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
    async def run() -> str:
        _need(args, 1, "show <id>")
        acting = await tickets.load(deps, tickets.parse_id(args[0]), cmd.user_id, Permission.VIEW_TICKET)
        ticket = acting.ticket
        assert ticket.id is not None
        async with deps.uow() as uow:
            events = await uow.events.for_ticket(ticket.id)
        internal = allowed(acting.roles, Permission.VIEW_INTERNAL)
        ids = {e.actor_id for e in events if e.actor_id} | {ticket.assignee_id or ""} | {
            e.to_value or "" for e in events if e.kind.value == "assigned"}
        users = await deps.gateway.get_users_by_ids(sorted(i for i in ids if i))
        names = {u["id"]: replies.person(u) for u in users}
        return replies.ticket_detail(ticket, events, names=names, internal=internal, now=deps.clock())

    return await _safely(run)


async def _staff_action(cmd: SlashCommand, args: list[str], usage: str, count: int, act) -> Reply:  # type: ignore[no-untyped-def]
    async def run() -> str:
        _need(args, count, usage)
        return await act(tickets.parse_id(args[0]), args[1:])

    return await _safely(run)


@TICKET.subcommand("take", usage="take <id>", summary="assign a ticket to yourself", staff_only=True)
async def take(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
    async def act(ticket_id: int, rest: list[str]) -> str:
        return replies.taken(await operations.assign(deps, ticket_id, cmd.user_id, cmd.user_id))

    return await _staff_action(cmd, args, "take <id>", 1, act)


@TICKET.subcommand("assign", usage="assign <id> @user", summary="assign a ticket", staff_only=True)
async def assign(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
    async def act(ticket_id: int, rest: list[str]) -> str:
        name = rest[0].lstrip("@").lower()
        user = await deps.gateway.get_user_by_username(name) if name else None
        if user is None:
            raise UserError(replies.unknown_user(rest[0]))
        ticket = await operations.assign(deps, ticket_id, cmd.user_id, user["id"])
        return replies.assigned(ticket, replies.person(user))

    return await _staff_action(cmd, args, "assign <id> @user", 2, act)


@TICKET.subcommand("status", usage="status <id> pending|solved|open", summary="change the status",
                   staff_only=True)
async def status(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
    async def act(ticket_id: int, rest: list[str]) -> str:
        action = lifecycle.status_for_command(rest[0])
        if action is None:
            raise UserError("Status must be one of: pending, solved, open.")
        return replies.status_now(await operations.set_status(deps, ticket_id, cmd.user_id, action))

    return await _staff_action(cmd, args, "status <id> pending|solved|open", 2, act)


@TICKET.subcommand("priority", usage="priority <id> urgent|high|normal|low",
                   summary="change the priority", staff_only=True)
async def priority(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
    async def act(ticket_id: int, rest: list[str]) -> str:
        word = rest[0].lower()
        if word not in {p.value for p in Priority}:
            raise UserError("Priority must be one of: urgent, high, normal, low.")
        ticket = await operations.set_priority(deps, ticket_id, cmd.user_id, Priority(word))
        return replies.priority_now(ticket)

    return await _staff_action(cmd, args, "priority <id> urgent|high|normal|low", 2, act)


def _rest_text(cmd: SlashCommand) -> str:
    """Everything after `<subcommand> <id>`, line breaks kept."""
    parts = cmd.text.strip().split(None, 2)
    return parts[2] if len(parts) > 2 else ""


@TICKET.subcommand("reply", usage="reply <id> <text>", summary="reply to the customer",
                   staff_only=True)
async def reply(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
    async def act(ticket_id: int, rest: list[str]) -> str:
        ticket = await operations.reply(deps, ticket_id, cmd.user_id, _rest_text(cmd))
        return replies.reply_sent(ticket)

    return await _staff_action(cmd, args, "reply <id> <text>", 2, act)


@TICKET.subcommand("note", usage="note <id> <text>", summary="add an internal note",
                   staff_only=True)
async def note(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
    async def act(ticket_id: int, rest: list[str]) -> str:
        ticket = await operations.note(deps, ticket_id, cmd.user_id, _rest_text(cmd))
        return replies.note_added(ticket)

    return await _staff_action(cmd, args, "note <id> <text>", 2, act)


@TICKET.subcommand("hold", usage="hold <id> [on|off]", summary="do-not-close flag on/off",
                   staff_only=True)
async def hold(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
    async def act(ticket_id: int, rest: list[str]) -> str:
        flag = {"on": True, "off": False}.get(rest[0].lower()) if rest else None
        if rest and flag is None:
            raise UserError("Usage: `/ticket hold <id> [on|off]`")
        ticket = await operations.set_hold(deps, ticket_id, cmd.user_id, flag)
        return replies.hold_now(ticket)

    return await _staff_action(cmd, args, "hold <id> [on|off]", 1, act)


