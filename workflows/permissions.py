"""Who may do what: the authorisation matrix as one table. Pure: no I/O, no config loading.

A user holds a set of roles (global ones from config, per-ticket ones from the ticket); a
permission is granted when any held role is in the permission's row of `MATRIX`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from workflows.model import Ticket


class Role(StrEnum):
    CUSTOMER_OWNER = "customer_owner"  # the requester of this ticket
    CC = "cc"  # CC'd on this ticket
    STAFF = "staff"  # support engineer
    SET = "set"  # Sustained Engineering Team member
    ONCALL = "oncall"  # on call right now
    ADMIN = "admin"  # runs the desk
    OTHER = "other"  # none of the above


class Permission(StrEnum):
    OPEN_TICKET = "open_ticket"
    VIEW_TICKET = "view_ticket"
    VIEW_INTERNAL = "view_internal"  # notes, staff-only fields, on-call identities
    LIST_OWN = "list_own"
    LIST_QUEUE = "list_queue"
    REPLY_PUBLIC = "reply_public"  # staff -> customer
    CUSTOMER_MESSAGE = "customer_message"  # write in the customer thread
    NOTE = "note"
    ASSIGN = "assign"
    TAKE = "take"
    CHANGE_STATUS = "change_status"
    CHANGE_PRIORITY = "change_priority"
    HOLD = "hold"
    ESCALATE = "escalate"
    SET_STAGE = "set_stage"
    ACK_PAGE = "ack_page"
    RATE_CSAT = "rate_csat"
    VIEW_STATS = "view_stats"
    POST_SUMMARY = "post_summary"
    ONCALL_VIEW = "oncall_view"
    ONCALL_OVERRIDE = "oncall_override"


R = Role
_EVERYONE: Final = frozenset(Role)
_INTERNAL: Final = frozenset({R.STAFF, R.SET, R.ONCALL, R.ADMIN})  # everyone who works here
_SUPPORT: Final = frozenset({R.STAFF, R.ADMIN})
_TICKET_PARTIES: Final = frozenset({R.CUSTOMER_OWNER, R.CC})

# The matrix. Rows are permissions, cells the roles that hold them. Reasons for the less obvious:
# - CUSTOMER_MESSAGE is the customer side only; staff write to the customer with REPLY_PUBLIC.
# - ACK_PAGE: support staff too, so whoever picks up an urgent ticket can stop the escalation.
# - SET_STAGE: SET moves its own track; support escalates (ESCALATE) but doesn't fake SET's stages.
# - POST_SUMMARY, ONCALL_OVERRIDE: desk admins only (they post to a channel / change the rota).
MATRIX: Final[Mapping[Permission, frozenset[Role]]] = MappingProxyType({
    Permission.OPEN_TICKET: _EVERYONE,
    Permission.VIEW_TICKET: _TICKET_PARTIES | _INTERNAL,
    Permission.VIEW_INTERNAL: _INTERNAL,
    Permission.LIST_OWN: _EVERYONE,
    Permission.LIST_QUEUE: _INTERNAL,
    Permission.REPLY_PUBLIC: _SUPPORT,
    Permission.CUSTOMER_MESSAGE: _TICKET_PARTIES,
    Permission.NOTE: _INTERNAL,
    Permission.ASSIGN: _SUPPORT,
    Permission.TAKE: _SUPPORT,
    Permission.CHANGE_STATUS: _SUPPORT,
    Permission.CHANGE_PRIORITY: _SUPPORT,
    Permission.HOLD: _SUPPORT,
    Permission.ESCALATE: _SUPPORT,
    Permission.SET_STAGE: frozenset({R.SET}),  # not ADMIN: admins default to all staff
    Permission.ACK_PAGE: frozenset({R.ONCALL, R.STAFF, R.ADMIN}),
    Permission.RATE_CSAT: frozenset({R.CUSTOMER_OWNER}),
    Permission.VIEW_STATS: _SUPPORT,
    Permission.POST_SUMMARY: frozenset({R.ADMIN}),
    Permission.ONCALL_VIEW: _INTERNAL,
    Permission.ONCALL_OVERRIDE: frozenset({R.ADMIN}),
})
del R

# Customer-facing refusal that doesn't reveal whether the ticket exists.
NOT_FOUND_OR_NOT_YOURS: Final = "No such ticket, or it isn't yours."

# Permissions a customer holds on their own tickets. Refusing one of them to someone with no
# relation to the ticket must read exactly like "no such ticket" (privacy: no existence leak).
_CUSTOMER_TICKET_PERMISSIONS: Final = frozenset(
    p for p, roles in MATRIX.items() if roles & _TICKET_PARTIES and roles != _EVERYONE
)

_WHY_NOT: Final[Mapping[Permission, str]] = MappingProxyType({
    Permission.OPEN_TICKET: "You can't open tickets here.",
    Permission.VIEW_TICKET: NOT_FOUND_OR_NOT_YOURS,
    Permission.VIEW_INTERNAL: "Only support staff can see internal details.",
    Permission.LIST_OWN: "You can't list tickets here.",
    Permission.LIST_QUEUE: "Only support staff can see the ticket queue.",
    Permission.REPLY_PUBLIC: "Only support staff can reply to the customer.",
    Permission.CUSTOMER_MESSAGE: "Only the requester and people CC'd can write on this ticket.",
    Permission.NOTE: "Only support staff can add internal notes.",
    Permission.ASSIGN: "Only support staff can assign tickets.",
    Permission.TAKE: "Only support staff can take tickets.",
    Permission.CHANGE_STATUS: "Only support staff can change a ticket's status.",
    Permission.CHANGE_PRIORITY: "Only support staff can change a ticket's priority.",
    Permission.HOLD: "Only support staff can put a ticket on hold.",
    Permission.ESCALATE: "Only support staff can escalate tickets.",
    Permission.SET_STAGE: "Only the Sustained Engineering Team can move an escalation's stage.",
    Permission.ACK_PAGE: "Only the on-call engineer or support staff can acknowledge a page.",
    Permission.RATE_CSAT: "Only the person who opened the ticket can rate it.",
    Permission.VIEW_STATS: "Only support staff can see the statistics.",
    Permission.POST_SUMMARY: "Only desk admins can post the summary.",
    Permission.ONCALL_VIEW: "Only support staff can see who is on call.",
    Permission.ONCALL_OVERRIDE: "Only desk admins can change the on-call rota.",
})


class NotPermitted(Exception):
    """A refused permission (tier-2 error): `explain()` is the one sentence to show."""

    def __init__(self, permission: Permission, roles: Collection[Role] = frozenset()) -> None:
        super().__init__(f"{permission} refused to roles {sorted(roles)}")
        self.permission = permission
        self.roles = frozenset(roles)

    def explain(self) -> str:
        """Why not, in one friendly sentence; never confirms a ticket to an outsider."""
        if self.permission in _CUSTOMER_TICKET_PERMISSIONS and not self.roles & (
            _TICKET_PARTIES | _INTERNAL
        ):
            return NOT_FOUND_OR_NOT_YOURS
        return _WHY_NOT[self.permission]


def roles_for(
    user_id: str,
    ticket: Ticket | None,
    *,
    staff_ids: Collection[str],
    set_ids: Collection[str],
    oncall_ids: Collection[str],
    admin_ids: Collection[str],
) -> frozenset[Role]:
    """Every role the user holds (on `ticket`, if given); OTHER only when they hold none."""
    roles: set[Role] = set()
    if ticket is not None:
        if ticket.requester.user_id == user_id:
            roles.add(Role.CUSTOMER_OWNER)
        if user_id in ticket.form.cc_user_ids:
            roles.add(Role.CC)
    for role, ids in ((Role.STAFF, staff_ids), (Role.SET, set_ids),
                      (Role.ONCALL, oncall_ids), (Role.ADMIN, admin_ids)):
        if user_id in ids:
            roles.add(role)
    return frozenset(roles or {Role.OTHER})


def allowed(roles: Collection[Role], permission: Permission) -> bool:
    """True when any of the roles holds the permission."""
    return not MATRIX[permission].isdisjoint(roles)


def require(roles: Collection[Role], permission: Permission) -> None:
    """Raise NotPermitted unless `allowed(roles, permission)`."""
    if not allowed(roles, permission):
        raise NotPermitted(permission, roles)
