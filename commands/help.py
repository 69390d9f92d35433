"""`/ticket` and `/ticket help`: usage, ephemeral."""

from __future__ import annotations

from commands import replies
from commands.deps import Deps
from commands.models import Reply, SlashCommand
from commands.router import TICKET


@TICKET.subcommand("help", usage="help", summary="show this help")
async def show_help(cmd: SlashCommand, args: list[str], deps: Deps) -> Reply:
    return Reply.ephemeral(replies.usage(TICKET.entries(staff=False), TICKET.trigger))
