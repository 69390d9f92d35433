"""`/oncall` and its subcommands, and the page's buttons (Acknowledge, View ticket)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from commands import tickets
from commands.actions import ACTIONS
from commands.deps import Deps
from commands.errors import UserError
from commands.models import ActionClick, ActionResult, Reply, SlashCommand
from commands.oncall import paging, replies
from commands.oncall.service import OncallService, on_call_now, overrides, user_zone
from commands.router import CommandRouter
from workflows.oncall import Level, StoredOverride, coverage_gaps, handovers
from workflows.permissions import NotPermitted, Permission, require

ONCALL = CommandRouter(
    "oncall",
    description="Who is on call, the schedule, overrides, acknowledging pages",
    hint="[schedule [days] | ack <ticket> | overrides | override @user <from> <to> | help]",
    default="now",
)

MAX_DAYS = 31
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII only: int() refuses "²"
_CLOCK = re.compile(r"[0-9]{1,2}:[0-9]{2}")


async def _viewer(
    deps: Deps, cmd_user_id: str, permission: Permission
) -> tuple[OncallService, ZoneInfo]:
    """The service if configured and the user may `permission`; and the user's own time zone."""
    roles = await deps.directory.roles(cmd_user_id, None)
    try:
        require(roles, permission)
    except NotPermitted as exc:
        raise UserError(exc.explain()) from None
    service: OncallService | None = deps.oncall
    if service is None or not service.enabled:
        raise UserError(replies.DISABLED)
    return service, user_zone(await deps.gateway.get_user(cmd_user_id))


def _answer(run):  # type: ignore[no-untyped-def]
    """Bad input and refusals become the one-sentence ephemeral answer."""
    async def handler(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
        try:
            return Reply.ephemeral(await run(cmd, args, deps))
        except UserError as exc:
            return Reply.ephemeral(str(exc))

    handler.__name__ = run.__name__
    return handler


@ONCALL.subcommand("now", usage="", summary="who is on call now at each level, and until when",
                   staff_only=True)
@_answer
async def show_now(cmd: SlashCommand, args: list[str], deps: Deps) -> str:
    _, zone = await _viewer(deps, cmd.user_id, Permission.ONCALL_VIEW)
    on_call, _ = await on_call_now(deps, deps.clock())
    return replies.now_on_call(on_call, zone)


@ONCALL.subcommand("schedule", usage="schedule [days]",
                   summary="the next hand-overs in your time zone", staff_only=True)
@_answer
async def show_schedule(cmd: SlashCommand, args: list[str], deps: Deps) -> str:
    service, zone = await _viewer(deps, cmd.user_id, Permission.ONCALL_VIEW)
    days = 7
    if args:
        if not (args[0].isascii() and args[0].isdigit()) or not 1 <= int(args[0]) <= MAX_DAYS:
            raise UserError(replies.bad_days(args[0]))
        days = int(args[0])
    now = deps.clock()
    stored = [o.to_rota() for o in await overrides(deps, now)]
    changes = handovers(service.rota, stored, now, days)
    return replies.schedule(changes, coverage_gaps(service.rota, now, days), days, zone)


@ONCALL.subcommand("overrides", usage="overrides", summary="list current and upcoming overrides",
                   staff_only=True)
@_answer
async def list_overrides(cmd: SlashCommand, args: list[str], deps: Deps) -> str:
    _, zone = await _viewer(deps, cmd.user_id, Permission.ONCALL_VIEW)
    return replies.override_list(await overrides(deps, deps.clock()), zone)


def parse_time(args: list[str], at: int, zone: ZoneInfo) -> tuple[datetime, int]:
    """`2026-12-01 08:00` (two words), `2026-12-01T08:00[+01:00]` or `2026-12-01`.

    A time without an offset is read in `zone` (the viewer's own).
    """
    if at >= len(args):
        raise UserError(replies.OVERRIDE_USAGE)
    raw, used = args[at], 1
    if _DATE.fullmatch(raw) and at + 1 < len(args) and _CLOCK.fullmatch(args[at + 1]):
        raw, used = f"{raw}T{int(args[at + 1].split(':')[0]):02d}:{args[at + 1].split(':')[1]}", 2
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise UserError(replies.bad_time(raw)) from None
    return (value.replace(tzinfo=zone) if value.tzinfo is None else value), at + used


@ONCALL.subcommand("override", usage="override @user <from> <to> [level] [region]",
                   summary="admins: put someone on call for a while", staff_only=True)
@_answer
async def add_override(cmd: SlashCommand, args: list[str], deps: Deps) -> str:
    service, zone = await _viewer(deps, cmd.user_id, Permission.ONCALL_OVERRIDE)
    if len(args) < 3 or not args[0].startswith("@"):
        raise UserError(replies.OVERRIDE_USAGE)
    user = await deps.gateway.get_user_by_username(args[0].lstrip("@").lower())
    if user is None:
        raise UserError(f"There is no user {args[0][:65]}.")
    if not await deps.directory.is_staff(str(user["id"])):
        raise UserError(replies.OVERRIDE_NOT_STAFF)
    from_at, at = parse_time(args, 1, zone)
    to_at, at = parse_time(args, at, zone)
    level, region = Level.PRIMARY, None
    regions = {r.name.lower(): r.name for r in service.rota.regions}
    for word in args[at:]:
        if word.lower() in {lv.value for lv in Level}:
            level = Level(word.lower())
        elif word.lower() in regions:
            region = regions[word.lower()]
        else:
            raise UserError(replies.unknown_level_or_region(word, list(regions.values())))
    now = deps.clock()
    if to_at <= from_at:
        raise UserError(replies.OVERRIDE_BACKWARDS)
    if to_at <= now:
        raise UserError(replies.OVERRIDE_IN_PAST)
    override = StoredOverride(None, str(user["id"]), str(user["username"]).lower(), from_at, to_at,
                              level.value, region, created_by=cmd.user_id)
    async with deps.uow() as uow:
        override_id = await uow.oncall.add_override(override, created_at=now)
        await uow.commit()
    await on_call_now(deps, now)  # refresh who counts as on call
    return replies.override_added(replace(override, id=override_id), zone)


@ONCALL.subcommand("remove", usage="remove <id>", summary="admins: remove an override",
                   staff_only=True)
@_answer
async def remove_override(cmd: SlashCommand, args: list[str], deps: Deps) -> str:
    await _viewer(deps, cmd.user_id, Permission.ONCALL_OVERRIDE)
    if len(args) != 1 or not (args[0].isascii() and args[0].isdigit()):
        raise UserError(replies.REMOVE_USAGE)
    async with deps.uow() as uow:
        removed = await uow.oncall.remove_override(int(args[0]))
        await uow.commit()
    if removed is None:
        raise UserError(replies.no_override(int(args[0])))
    await on_call_now(deps, deps.clock())
    return replies.override_removed(removed)


@ONCALL.subcommand("ack", usage="ack <ticket>",
                   summary="acknowledge a page (stops the escalation)", staff_only=True)
@_answer
async def ack(cmd: SlashCommand, args: list[str], deps: Deps) -> str:
    if len(args) != 1:
        raise UserError(replies.ACK_USAGE)
    return await paging.acknowledge(deps, tickets.parse_id(args[0]), cmd.user_id)


@ONCALL.subcommand("help", usage="help", summary="show this help")
async def show_help(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
    return Reply.ephemeral(replies.HELP)


@ACTIONS.action("ack")
async def ack_button(click: ActionClick, payload: dict, deps: Deps) -> ActionResult:
    try:
        return ActionResult(ephemeral_text=await paging.acknowledge(deps, int(payload["t"]),
                                                                     click.user_id))
    except UserError as exc:
        return ActionResult(ephemeral_text=str(exc))


@ACTIONS.action("viewticket")
async def view_ticket_button(click: ActionClick, payload: dict, deps: Deps) -> ActionResult:
    try:
        acting = await tickets.load(deps, int(payload["t"]), click.user_id,
                                    Permission.VIEW_INTERNAL)
    except UserError as exc:
        return ActionResult(ephemeral_text=str(exc))
    service: OncallService | None = deps.oncall
    url = deps.desk.public_url if service is None else service.mattermost_url
    link = f"{url.rstrip('/')}/{deps.desk.team_name}/pl/{acting.ticket.card_post_id or ''}"
    return ActionResult(ephemeral_text=replies.view_ticket(link))
