"""The final state of a kill -9 run and how it differs from the run without kills (issue 8).

Two sources: the bot's SQLite database (tickets and their events) and the emulator's store
(every post the bot made). A post becomes a signature: channel kind, the ticket of its thread,
the props supportdesk_ticket/role/key and its text with the volatile parts (ids, URLs, ports)
taken out. Signatures are compared as multisets: one more in the killed run is a duplicate,
one fewer is a loss.
"""

from __future__ import annotations

import difflib
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.wire.harness import Desk

Signature = tuple[str, int | None, Any, Any, Any, str, int]
ID = re.compile(r"\b[a-z0-9]{26}\b")
LOCAL_URL = re.compile(r"https?://127\.0\.0\.1:\d+")
MENTIONS = re.compile(r"@[a-z0-9._-]+(?: @[a-z0-9._-]+)+")  # who is @mentioned, in id order
NONCE = re.compile(r":[0-9a-f]{12}\b")  # commands.messages.unique(): a random suffix


@dataclass
class Outcome:
    tickets: list[tuple[int, str, str]] = field(default_factory=list)  # id, subject, status
    events: Counter[tuple[int, str, str | None]] = field(default_factory=Counter)
    posts: Counter[Signature] = field(default_factory=Counter)

    @property
    def pages(self) -> int:
        return sum(n for s, n in self.posts.items() if s[0].startswith("dm:") and s[3] == "page")

    @property
    def summaries(self) -> int:
        return sum(n for s, n in self.posts.items()
                   if s[0] == "support-standup" and "summary" in s[5].lower())


def normalise(message: str) -> str:
    message = MENTIONS.sub(lambda m: " ".join(sorted(m.group().split())), message)
    return ID.sub("<id>", LOCAL_URL.sub("<url>", message))


def normalise_key(key: Any) -> Any:
    return NONCE.sub(":<nonce>", ID.sub("<id>", key)) if isinstance(key, str) else key


def collect(desk: Desk, db_path: Path) -> Outcome:
    out = Outcome()
    store = desk.emu.store
    bot_id = desk.users["supportbot"].id
    names = {u.id: u.username for u in store.users.values()}  # ids differ between the runs
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        out.tickets = [tuple(r) for r in db.execute(  # type: ignore[misc]
            "SELECT id, subject, status FROM tickets ORDER BY id")]
        out.events = Counter((ticket, kind, names.get(value, value)) for ticket, kind, value
                             in db.execute("SELECT ticket_id, kind, to_value FROM ticket_events"))
    kinds = {}
    for channel in store.channels.values():
        if channel.type == "D":
            others = [names.get(u, u) for u in channel.name.split("__") if u != bot_id]
            kinds[channel.id] = "dm:" + (others[0] if others else "self")
        else:
            kinds[channel.id] = channel.name
    for post in store.posts.values():
        if post["user_id"] != bot_id or post.get("delete_at"):
            continue
        props = post.get("props") or {}
        root = store.posts.get(post.get("root_id") or "") or post
        ticket = (root.get("props") or {}).get("supportdesk_ticket")
        out.posts[(kinds.get(post["channel_id"], "?"), ticket, props.get("supportdesk_ticket"),
                   props.get("supportdesk_role"), normalise_key(props.get("supportdesk_key")),
                   normalise(str(post.get("message", ""))), len(post.get("file_ids") or ()))] += 1
    return out


@dataclass
class Diff:
    """`duplicates`: posts only the killed run made; `lost`: only the run without kills; a post
    both made (same place, ticket, role and key) with different texts is `changed` instead."""

    duplicates: Counter[Signature]
    lost: Counter[Signature]
    changed: list[tuple[Signature, Signature]]  # (without kills, with kills)
    tickets_matching: int
    ticket_diffs: list[str]
    event_extra: Counter[tuple[int, str, str | None]]
    event_missing: Counter[tuple[int, str, str | None]]

    @property
    def clean(self) -> bool:
        return not (self.duplicates or self.lost or self.changed or self.ticket_diffs
                    or self.event_extra or self.event_missing)


def compare(a: Outcome, b: Outcome) -> Diff:
    by_id_a = {t[0]: t for t in a.tickets}
    by_id_b = {t[0]: t for t in b.tickets}
    diffs = [f"ticket {i}: without kills {by_id_a.get(i)}, with kills {by_id_b.get(i)}"
             for i in sorted(by_id_a.keys() | by_id_b.keys()) if by_id_a.get(i) != by_id_b.get(i)]
    extra, missing = b.posts - a.posts, a.posts - b.posts
    changed = []
    for sig in sorted(missing, key=str):
        while missing[sig]:
            other = next((o for o in sorted(extra, key=str) if o[:5] == sig[:5] and extra[o]),
                         None)
            if other is None:
                break
            missing[sig] -= 1
            extra[other] -= 1
            changed.append((sig, other))
    return Diff(duplicates=+extra, lost=+missing, changed=changed,
                tickets_matching=sum(1 for i, t in by_id_a.items() if by_id_b.get(i) == t),
                ticket_diffs=diffs, event_extra=b.events - a.events,
                event_missing=a.events - b.events)


def roles(o: Outcome) -> str:
    """How many posts of each role (the summary and DMs without a role by channel kind)."""
    counts: Counter[str] = Counter()
    for sig, n in o.posts.items():
        counts[sig[3] or ("summary" if sig[0] == "support-standup" else "other")] += n
    return ", ".join(f"{role} {n}" for role, n in sorted(counts.items()))


def figure(kills: int, a: Outcome, b: Outcome, d: Diff) -> str:
    matched = sum((a.posts & b.posts).values())  # the same post, the same text
    return (f"kill -9: kills {kills}, tickets {d.tickets_matching}/{len(a.tickets)}, "
            f"posts {matched}/{sum(a.posts.values())} (with kills {sum(b.posts.values())}), "
            f"duplicates {sum(d.duplicates.values())}, lost {sum(d.lost.values())}, "
            f"changed {len(d.changed)}, "
            f"pages {b.pages}/{a.pages}, summaries {b.summaries}/{a.summaries}, "
            f"events +{sum(d.event_extra.values())}/-{sum(d.event_missing.values())}")


def explain(d: Diff, limit: int = 60) -> str:
    """Every difference, one a line (a changed text with the lines that differ): what to look
    for in the logs."""
    lines = []
    for before, after in d.changed[:limit]:
        lines.append(f"CHANGED: {_where(before)} (- without kills, + with kills):")
        lines += [f"      {line}" for line in difflib.ndiff(before[5].splitlines(),
                                                           after[5].splitlines())
                  if line[:1] in "+-"][:12]
    for title, counter in (("DUPLICATE", d.duplicates), ("LOST", d.lost)):
        for sig, n in sorted(counter.items(), key=str)[:limit]:
            lines.append(f"{title} x{n}: {_where(sig)}: {sig[5][:160]!r}")
    lines += d.ticket_diffs
    for title, events in (("EVENT EXTRA", d.event_extra), ("EVENT MISSING", d.event_missing)):
        for (ticket, kind, value), n in sorted(events.items(), key=str)[:limit]:
            lines.append(f"{title} x{n}: #{ticket} {kind} {value}")
    return "\n".join(lines)


def _where(sig: Signature) -> str:
    where, root, ticket, role, key, _, files = sig
    return f"{where} thread of #{root} role={role} ticket={ticket} key={key} files={files}"
