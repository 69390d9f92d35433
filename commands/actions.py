"""Button clicks: verify the post is the bot's own and the context is signed, then route by action."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from commands import replies
from commands.deps import Deps
from commands.models import ActionClick, ActionResult
from commands.ports import GatewayError
from commands.signing import BadSignature
from commands.ratelimit import too_many_commands

log = logging.getLogger(__name__)

ActionHandler = Callable[[ActionClick, dict, Deps], Awaitable[ActionResult]]


class ActionRouter:
    """Buttons carry {"action": name, "sig": signed payload}; unknown or forged clicks are refused."""

    def __init__(self) -> None:
        self._routes: dict[str, ActionHandler] = {}

    def action(self, name: str) -> Callable[[ActionHandler], ActionHandler]:
        def register(handler: ActionHandler) -> ActionHandler:
            if name in self._routes:
                raise ValueError(f"action {name} registered twice")
            self._routes[name] = handler
            return handler

        return register

    async def dispatch(self, click: ActionClick, deps: Deps) -> ActionResult:
        name = str(click.context.get("action", ""))
        handler = self._routes.get(name)
        payload = await self._verify(click, name, deps) if handler else None
        if handler is None or payload is None:
            return ActionResult(ephemeral_text=replies.ACTION_REFUSED)
        # security (issue 9): verified clicks share the user's command allowance
        if deps.limits is not None and (wait := deps.limits.commands.take(
                click.user_id, deps.clock())) is not None:
            return ActionResult(ephemeral_text=too_many_commands(wait))
        return await handler(click, payload, deps)

    async def _verify(self, click: ActionClick, name: str, deps: Deps) -> dict | None:
        try:
            payload = deps.signer.verify(f"action:{name}", str(click.context.get("sig", "")),
                                         now=deps.clock())
        except BadSignature as exc:
            log.warning("refused %s click by %s: context %s", name, click.user_id, exc)
            return None
        if payload.get("post") not in (None, click.post_id):
            log.warning("refused %s click by %s: signed for another post", name, click.user_id)
            return None
        try:
            post = await deps.gateway.get_post(click.post_id)
        except GatewayError as exc:
            log.warning("refused %s click by %s: post unreadable (%s)", name, click.user_id, exc)
            return None
        if post.get("user_id") != deps.desk.bot_user_id:
            log.warning("refused %s click by %s: post %s is not the bot's", name, click.user_id,
                        click.post_id)
            return None
        return payload


ACTIONS = ActionRouter()
