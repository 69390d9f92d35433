"""The ticket card's "Escalation" field (commands/cards.py imports this lazily)."""

from __future__ import annotations

from typing import Any

from commands.deps import Deps
from commands.escalation import replies
from workflows.escalation import Escalation


def ticket_card_field(deps: Deps, escalation: Escalation) -> dict[str, Any]:
    site = str(getattr(deps.escalation, "site_url", "") or "")
    link = replies.permalink(site, deps.desk.team_name, escalation.card_post_id)
    return replies.ticket_card_field(escalation, link)
