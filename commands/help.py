"""`/ticket` and `/ticket help`: usage, ephemeral."""

from __future__ import annotations

from commands import replies
from commands.deps import Deps
from commands.models import Reply, SlashCommand
from commands.router import TICKET
from workflows.permissions import Permission, allowed


@TICKET.subcommand("help", usage="help", summary="show this help")
async def show_help(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
    """Customers see their commands; staff see the queue commands too."""
    staff = allowed(await deps.directory.roles(cmd.user_id, None), Permission.LIST_QUEUE)
    return Reply.ephemeral(replies.usage(TICKET.entries(staff=staff), TICKET.trigger))
