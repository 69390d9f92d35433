"""The authorisation matrix, checked cell by cell against a grid written out by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import product

import pytest

from workflows.model import Form, Requester, Status, Ticket, TicketForm
from workflows.permissions import (
    MATRIX,
    NOT_FOUND_OR_NOT_YOURS,
    NotPermitted,
    Permission,
    Role,
    allowed,
    require,
    roles_for,
)

# Written independently of the module's table: read it as the spec. Y = allowed, . = refused.
EXPECTED_GRID = """
                 OWNER CC  STAFF SET ONCALL ADMIN OTHER
OPEN_TICKET        Y   Y     Y    Y    Y      Y     Y
VIEW_TICKET        Y   Y     Y    Y    Y      Y     .
VIEW_INTERNAL      .   .     Y    Y    Y      Y     .
LIST_OWN           Y   Y     Y    Y    Y      Y     Y
LIST_QUEUE         .   .     Y    Y    Y      Y     .
REPLY_PUBLIC       .   .     Y    .    .      Y     .
CUSTOMER_MESSAGE   Y   Y     .    .    .      .     .
NOTE               .   .     Y    Y    Y      Y     .
ASSIGN             .   .     Y    .    .      Y     .
TAKE               .   .     Y    .    .      Y     .
CHANGE_STATUS      .   .     Y    .    .      Y     .
CHANGE_PRIORITY    .   .     Y    .    .      Y     .
HOLD               .   .     Y    .    .      Y     .
ESCALATE           .   .     Y    .    .      Y     .
SET_STAGE          .   .     .    Y    .      .     .
ACK_PAGE           .   .     Y    .    Y      Y     .
RATE_CSAT          Y   .     .    .    .      .     .
VIEW_STATS         .   .     Y    .    .      Y     .
POST_SUMMARY       .   .     .    .    .      Y     .
ONCALL_VIEW        .   .     Y    Y    Y      Y     .
ONCALL_OVERRIDE    .   .     .    .    .      Y     .
"""
COLUMNS = {"OWNER": Role.CUSTOMER_OWNER, "CC": Role.CC, "STAFF": Role.STAFF, "SET": Role.SET,
           "ONCALL": Role.ONCALL, "ADMIN": Role.ADMIN, "OTHER": Role.OTHER}


def _parse_grid() -> dict[tuple[Role, Permission], bool]:
    header, *rows = EXPECTED_GRID.strip().splitlines()
    roles = [COLUMNS[name] for name in header.split()]
    grid: dict[tuple[Role, Permission], bool] = {}
    for row in rows:
        name, *cells = row.split()
        assert len(cells) == len(roles), row
        for role, cell in zip(roles, cells, strict=True):
            grid[(role, Permission[name])] = {"Y": True, ".": False}[cell]
    return grid


EXPECTED = _parse_grid()
CELLS = sorted(EXPECTED.items())


def test_the_grid_covers_every_role_and_permission() -> None:
    assert set(EXPECTED) == set(product(Role, Permission))
    assert set(MATRIX) == set(Permission)


@pytest.mark.parametrize(("cell", "expected"), CELLS, ids=[f"{r}-{p}" for (r, p), _ in CELLS])
def test_each_role_alone_gets_exactly_the_grid(
    cell: tuple[Role, Permission], expected: bool
) -> None:
    role, permission = cell
    assert allowed({role}, permission) is expected


@pytest.mark.parametrize(("cell", "expected"), CELLS, ids=[f"{r}-{p}" for (r, p), _ in CELLS])
def test_require_raises_exactly_when_refused(
    cell: tuple[Role, Permission], expected: bool
) -> None:
    role, permission = cell
    if expected:
        require({role}, permission)
    else:
        with pytest.raises(NotPermitted) as info:
            require({role}, permission)
        assert info.value.permission is permission
        assert info.value.explain().endswith(".")


@pytest.mark.parametrize("permission", list(Permission))
def test_roles_combine_as_a_union(permission: Permission) -> None:
    roles = {Role.CUSTOMER_OWNER, Role.STAFF}
    expected = EXPECTED[(Role.CUSTOMER_OWNER, permission)] or EXPECTED[(Role.STAFF, permission)]
    assert allowed(roles, permission) is expected


def test_no_roles_means_nothing_is_allowed() -> None:
    assert [p for p in Permission if allowed(set(), p)] == []


# --- privacy -------------------------------------------------------------------------------

@pytest.mark.parametrize("permission", [
    Permission.VIEW_TICKET, Permission.CUSTOMER_MESSAGE, Permission.RATE_CSAT])
def test_an_outsider_cannot_tell_a_ticket_exists(permission: Permission) -> None:
    with pytest.raises(NotPermitted) as info:
        require({Role.OTHER}, permission)
    assert info.value.explain() == NOT_FOUND_OR_NOT_YOURS == "No such ticket, or it isn't yours."


def test_a_cc_is_told_why_they_cannot_rate() -> None:
    with pytest.raises(NotPermitted) as info:
        require({Role.CC}, Permission.RATE_CSAT)
    assert info.value.explain() == "Only the person who opened the ticket can rate it."


def test_a_customer_is_told_only_staff_can_assign() -> None:
    with pytest.raises(NotPermitted) as info:
        require({Role.CUSTOMER_OWNER}, Permission.ASSIGN)
    assert info.value.explain() == "Only support staff can assign tickets."


# --- roles_for -----------------------------------------------------------------------------

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
TICKET = Ticket(
    id=7,
    form=TicketForm(form=Form.SALES, subject="Renewal", description="quote please",
                    category="Renewals", cc_user_ids=("ccuser",)),
    requester=Requester(user_id="owner", username="olga"),
    status=Status.OPEN, created_at=T0, updated_at=T0,
)
CONFIG = {"staff_ids": {"ana", "owner"}, "set_ids": {"sam"}, "oncall_ids": {"ana", "oli"},
          "admin_ids": {"adm"}}


@pytest.mark.parametrize(("user_id", "ticket", "expected"), [
    ("owner", TICKET, {Role.CUSTOMER_OWNER, Role.STAFF}),
    ("ccuser", TICKET, {Role.CC}),
    ("ana", TICKET, {Role.STAFF, Role.ONCALL}),
    ("sam", TICKET, {Role.SET}),
    ("oli", None, {Role.ONCALL}),
    ("adm", None, {Role.ADMIN}),
    ("stranger", TICKET, {Role.OTHER}),
    ("ccuser", None, {Role.OTHER}),
    ("owner", None, {Role.STAFF}),
])
def test_roles_for_collects_every_role_and_other_only_alone(
    user_id: str, ticket: Ticket | None, expected: set[Role]
) -> None:
    assert roles_for(user_id, ticket, **CONFIG) == frozenset(expected)
