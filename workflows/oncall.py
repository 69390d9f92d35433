"""On-call: the follow-the-sun rota (rota.py) and the paging decision (paging.py), in one place."""

from workflows.paging import (
    CHANNEL,
    PAGEABLE,
    REPAGEABLE,
    PageDecision,
    PageKey,
    PageReason,
    PageSent,
    PageState,
    PagingPolicy,
    pagerduty_event,
    pages_due,
    ticket_dedup_key,
)
from workflows.rota import (
    Gap,
    Handover,
    Level,
    OnCall,
    Override,
    Region,
    Rota,
    Shift,
    coverage_gaps,
    handovers,
    parse_duration,
    parse_handover,
    parse_hours,
    rotation_index,
    who_is_on_call,
)

__all__ = [
    "CHANNEL",
    "PAGEABLE",
    "REPAGEABLE",
    "Gap",
    "Handover",
    "Level",
    "OnCall",
    "Override",
    "PageDecision",
    "PageKey",
    "PageReason",
    "PageSent",
    "PageState",
    "PagingPolicy",
    "Region",
    "Rota",
    "Shift",
    "coverage_gaps",
    "handovers",
    "pagerduty_event",
    "pages_due",
    "parse_duration",
    "parse_handover",
    "parse_hours",
    "rotation_index",
    "ticket_dedup_key",
    "who_is_on_call",
]


# -- what storage keeps (storage/oncall.py), as plain records ----------------------------------

from dataclasses import dataclass  # noqa: E402
from datetime import datetime  # noqa: E402


@dataclass(frozen=True, slots=True)
class StoredOverride:
    """An override as stored: `username` holds `level` (in `region`, or any) in [from_at, to_at)."""

    id: int | None
    user_id: str
    username: str
    from_at: datetime
    to_at: datetime
    level: str = Level.PRIMARY.value
    region: str | None = None
    created_by: str = ""

    def to_rota(self) -> Override:
        return Override(self.username, self.from_at, self.to_at, Level(self.level), self.region)


@dataclass(frozen=True, slots=True)
class PageRecord:
    """A page that was sent (its row is also its dedup claim)."""

    ticket_id: int
    round: int
    level: str
    username: str | None
    paged_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None

    def sent(self) -> PageSent:
        return PageSent(self.round, self.level, self.paged_at)


@dataclass(frozen=True, slots=True)
class PageFacts:
    """The reply, message and acknowledgement times of a ticket that paging reads."""

    first_public_reply_at: datetime | None = None
    last_public_reply_at: datetime | None = None
    last_customer_message_at: datetime | None = None
    acknowledged_at: datetime | None = None


__all__ += ["PageFacts", "PageRecord", "StoredOverride"]
