"""Export records and the Zendesk import mapping (workflows/transfer.py), and the progress bar."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from bot.progress import Progress
from workflows.model import (
    EventKind, Form, Priority, Requester, Status, Ticket, TicketEvent, TicketForm,
)
from workflows.transfer import (
    CSV_COLUMNS, ImportFormatError, csv_row, imported_description, parse_export, ticket_record,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def make_ticket(**overrides: object) -> Ticket:
    form = TicketForm(Form.TECHNICAL, "Search broken", "It fails", "search", Priority.HIGH,
                      cc_user_ids=("u2", "u3"))
    base: dict[str, object] = dict(id=7, form=form, requester=Requester("u1", "alice", "Acme"),
                                   status=Status.OPEN, created_at=T0, updated_at=T0)
    return Ticket(**{**base, **overrides})  # type: ignore[arg-type]


def test_record_holds_every_field_and_events_oldest_first() -> None:
    later = TicketEvent(7, EventKind.ASSIGNED, T0.replace(hour=11), actor_id="s", id=2)
    opened = TicketEvent(7, EventKind.OPENED, T0, to_value="new", id=1)
    record = ticket_record(make_ticket(), [later, opened])
    assert record["events"][0]["kind"] == "opened" and record["events"][1]["kind"] == "assigned"
    assert record["created_at"] == "2026-03-02T10:00:00+00:00"
    assert record["cc_user_ids"] == ["u2", "u3"] and record["priority"] == "high"
    json.dumps(record)  # JSON-able as is


def test_csv_row_is_flat_text_in_column_order() -> None:
    record = ticket_record(make_ticket(hold=True), [TicketEvent(7, EventKind.OPENED, T0, id=1)])
    row = csv_row(record)
    assert list(row) == list(CSV_COLUMNS)
    assert row["cc_user_ids"] == "u2 u3" and row["hold"] == "true" and row["assignee_id"] == ""
    assert row["event_count"] == "1" and row["event_kinds"] == "opened"


def test_statuses_and_priorities_are_mapped_and_closed_ones_skipped() -> None:
    doc = {"tickets": [
        {"id": 1, "status": "new", "priority": "low"},
        {"id": 2, "status": "pending", "priority": "urgent"},
        {"id": 3, "status": "hold"},
        {"id": 4, "status": "solved"},
        {"id": 5, "status": "closed"},
    ]}
    got = parse_export(doc, now=T0)
    assert [(t.external_id, t.status, t.priority) for t in got] == [
        ("1", Status.NEW, Priority.LOW), ("2", Status.PENDING, Priority.URGENT),
        ("3", Status.OPEN, Priority.NORMAL)]
    assert [t.status for t in parse_export(doc, now=T0, include_closed=True)][3:] == [
        Status.SOLVED, Status.CLOSED]


def test_requester_comes_inline_or_from_the_users_list() -> None:
    doc = {"tickets": [{"id": 1, "requester_id": 42},
                       {"id": 2, "requester": {"email": "B@X.test", "name": "Bo"}}],
           "users": [{"id": 42, "email": "a@x.test", "name": "Al"}]}
    a, b = parse_export(doc, now=T0)
    assert (a.requester_email, a.requester_name) == ("a@x.test", "Al")
    assert (b.requester_email, b.requester_name) == ("b@x.test", "Bo")


def test_times_default_sensibly_and_category_comes_from_fields_or_tags() -> None:
    doc = {"tickets": [{"id": 1, "created_at": "2026-01-05T08:00:00Z", "tags": ["mobile"]},
                       {"id": 2, "custom_fields": [{"id": 9, "value": "database"}]},
                       {"id": 3, "tags": ["whatever"]}]}
    a, b, c = parse_export(doc, now=T0)
    assert a.created_at == datetime(2026, 1, 5, 8, tzinfo=UTC) and a.updated_at == a.created_at
    assert b.created_at == T0
    assert (a.category, b.category, c.category) == ("mobile", "database", "general")


@pytest.mark.parametrize(("doc", "message"), [
    ([], "a JSON object"),
    ({"tickets": [{"subject": "x"}]}, "tickets[0]: each ticket needs an id"),
    ({"tickets": [{"id": 1, "status": "weird"}]}, "unknown status 'weird'"),
    ({"tickets": [], "users": {}}, '"users" must be a list'),
])
def test_wrong_shapes_are_refused_naming_the_problem(doc: object, message: str) -> None:
    with pytest.raises(ImportFormatError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_export(doc, now=T0)


def test_unmatched_requester_is_kept_in_the_description() -> None:
    [t] = parse_export({"tickets": [{"id": 8, "description": "Help", "status": "hold",
                                     "tags": ["a"], "requester": {"email": "x@y.test"}}]}, now=T0)
    text = imported_description(t, requester_matched=False)
    assert text.splitlines()[:4] == ["_Imported from Zendesk ticket 8._",
                                     "Requester: <x@y.test> (no Mattermost account matched)",
                                     "Zendesk status: on-hold", "Tags: a"]
    assert text.endswith("\n\nHelp")
    assert "Requester" not in imported_description(t, requester_matched=True)


def test_progress_bar_draws_only_for_large_runs() -> None:
    small, large = io.StringIO(), io.StringIO()
    with Progress(10, "exporting", stream=small) as bar:
        bar.update(10)
    with Progress(2000, "exporting", stream=large, interval=0) as bar:
        for _ in range(2000):
            bar.update()
    assert small.getvalue() == ""
    assert large.getvalue().rstrip().endswith("exporting [" + "#" * 30 + "] 2000/2000 100%")
