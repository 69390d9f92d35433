"""Routing tables: `/ticket <subcommand>` and dialog callback ids to their handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from commands import replies
from commands.deps import Deps
from commands.models import DialogResult, DialogSubmission, Reply, SlashCommand

CommandHandler = Callable[[SlashCommand, list[str], Deps], Awaitable[Reply]]
DialogHandler = Callable[[DialogSubmission, Deps], Awaitable[DialogResult]]


ROUTERS: dict[str, "CommandRouter"] = {}  # slash-command trigger -> its router


@dataclass(frozen=True, slots=True)
class Route:
    handler: CommandHandler
    usage: str
    summary: str
    staff_only: bool


class CommandRouter:
    """A registry filled by decorators; registering a name twice is a programming error."""

    def __init__(self, trigger: str, *, description: str, hint: str, default: str = "help") -> None:
        self.trigger = trigger
        self.description = description  # shown by Mattermost's autocomplete
        self.hint = hint
        self.default = default  # the subcommand a bare `/trigger` runs
        self._routes: dict[str, Route] = {}
        ROUTERS[trigger] = self

    def subcommand(
        self, name: str, *, usage: str, summary: str, staff_only: bool = False
    ) -> Callable[[CommandHandler], CommandHandler]:
        def register(handler: CommandHandler) -> CommandHandler:
            if name in self._routes:
                raise ValueError(f"/{self.trigger} {name} registered twice")
            self._routes[name] = Route(handler, usage, summary, staff_only)
            return handler

        return register

    def entries(self, *, staff: bool = True) -> list[tuple[str, str]]:
        return [(r.usage, r.summary) for r in self._routes.values() if staff or not r.staff_only]

    def names(self) -> list[str]:
        return list(self._routes)

    async def dispatch(self, cmd: SlashCommand, deps: Deps) -> Reply:
        words = cmd.text.split()
        name = words[0].lower() if words else self.default
        route = self._routes.get(name)
        if route is None:
            return Reply.ephemeral(replies.unknown_subcommand(name, self.entries(staff=False), self.trigger))
        return await route.handler(cmd, words[1:], deps)


class DialogRouter:
    def __init__(self) -> None:
        self._routes: dict[str, DialogHandler] = {}

    def callback(self, callback_id: str) -> Callable[[DialogHandler], DialogHandler]:
        def register(handler: DialogHandler) -> DialogHandler:
            if callback_id in self._routes:
                raise ValueError(f"dialog {callback_id} registered twice")
            self._routes[callback_id] = handler
            return handler

        return register

    async def dispatch(self, sub: DialogSubmission, deps: Deps) -> DialogResult:
        handler = self._routes.get(sub.callback_id)
        if handler is None:
            return DialogResult.refused(replies.STATE_REFUSED)
        return await handler(sub, deps)


TICKET = CommandRouter(
    "ticket",
    description="Open a ticket (new, sales) or work the queue (list, show, reply, …)",
    hint="[new | sales | list | show <id> | help]",
)
DIALOGS = DialogRouter()
