"""Hostile text: what users write is re-posted (card, DM threads, staff thread, CSAT) without
mentioning anyone, breaking the card's Markdown, hiding links as the bot's buttons, or smuggling
control characters; oversized input is refused with a clear message and stores nothing."""

from __future__ import annotations

import re

from emulator.mentions import mention_words
from tests.security.helpers import assert_unchanged, snapshot
from tests.wire.harness import Desk
from tests.wire.workflow_helpers import (
    FORM, card, customer_thread, customer_writes, open_ticket, staff_thread,
)
from workflows import forms, text

MENTIONS = "@all @channel @here @sam @tess &#64;channel &#x40;here &commat;all \\@channel @ALL"
TABLE_BREAK = "| Status | Hacked |\n|---|---|\n| x | y |"
FAKE_BUTTON = "[Take it](https://evil.example/steal) ![x](https://evil.example/pixel.png)"
CONTROLS = "ok\x00\x07\x1b[31mred\x7f\u202eevil\u2066\r\nnext"
HOSTILE = f"{MENTIONS}\n\n{TABLE_BREAK}\n\n{FAKE_BUTTON}\n\n{CONTROLS}\n# Heading\n---"

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINK = re.compile(r"(?<!\\)\[[^\]]*\]\(")


def _texts(post: dict) -> list[str]:
    texts = [post.get("message") or ""]
    for att in (post.get("props") or {}).get("attachments") or []:
        texts += [att.get("title") or "", att.get("text") or "", att.get("fallback") or ""]
        texts += [str(f.get("value", "")) for f in att.get("fields") or []]
    return texts


def _assert_safe(desk: Desk, post: dict, *, dm: bool = False) -> None:
    if not dm:  # every DM post notifies its other member by design (protocol §6)
        assert desk.emu.notified(post["id"]) == set(), post["message"]
    for t in _texts(post):
        words = mention_words(t)
        assert not {"@all", "@channel", "@here", "@sam", "@tess", "@alice"} & words, (t, words)
        assert not _CONTROL.search(t), repr(t)
        assert not _LINK.search(t), t  # no [label](url): links show their real destination
        assert "\n|---|---|" not in t  # no table injected into the card


async def test_hostile_intake_is_neutralised_on_card_and_dm(desk: Desk) -> None:
    t = await open_ticket(desk, subject="@channel " + CONTROLS.replace("\n", " ")[:60],
                          description=HOSTILE)
    the_card = card(desk, t)
    _assert_safe(desk, the_card)
    title = the_card["props"]["attachments"][0]["title"]
    assert "\n" not in title and "*" not in title.replace("\\*", "")
    root = desk.emu.post(t.customer_root_id)
    assert root is not None
    _assert_safe(desk, root, dm=True)


async def test_hostile_customer_message_is_neutralised_in_the_staff_thread(desk: Desk) -> None:
    t = await open_ticket(desk)
    await customer_writes(desk, t, HOSTILE)
    relayed = staff_thread(desk, t)[-1]
    _assert_safe(desk, relayed)
    assert "evil.example/steal" in relayed["message"]  # the destination stays visible


async def test_hostile_staff_reply_is_neutralised_for_the_customer_and_ccs(desk: Desk) -> None:
    t = await open_ticket(desk, cc="carol")
    await desk.run("sam", f"/ticket take {t.id}", "customer-support")
    await desk.run("sam", f"/ticket reply {t.id} {HOSTILE}", "customer-support")
    await desk.settle()
    [reply] = customer_thread(desk, t)
    _assert_safe(desk, reply, dm=True)
    for post in staff_thread(desk, t):
        _assert_safe(desk, post)


async def test_custom_mention_keys_inside_code_stay_code(desk: Desk) -> None:
    """Custom keys and first names fire on plain words; only code suppresses them (§6)."""
    t = await open_ticket(desk, description="see `printer` and\n```\n@channel printer\n```\nend")
    body = card(desk, t)["props"]["attachments"][0]["text"]
    assert "printer" not in mention_words(body) and "@channel" not in mention_words(body)


async def test_oversized_input_is_refused_and_stores_nothing(desk: Desk) -> None:
    await desk.run("alice", "/ticket new")
    before = await snapshot(desk)
    result = await desk.emu.submit_dialog(desk.user("alice"), {
        **FORM, "subject": "x" * (forms.SUBJECT_MAX + 1),
        "description": "y" * (forms.DESCRIPTION_MAX + 1)})
    assert set(result.body["errors"]) == {"subject", "description"}
    assert "at most" in result.body["errors"]["description"]
    await assert_unchanged(desk, before)


async def test_oversized_staff_reply_is_refused_and_posts_nothing(desk: Desk) -> None:
    t = await open_ticket(desk)
    await desk.run("sam", f"/ticket take {t.id}", "customer-support")
    before = await snapshot(desk)
    await desk.run("sam", f"/ticket reply {t.id} {'z' * 9000}", "customer-support")
    assert "use at most 8000" in desk.emu.ephemerals(desk.user("sam"))[-1]["message"]
    await assert_unchanged(desk, before)


async def test_long_many_line_customer_message_is_cut_not_lost(desk: Desk) -> None:
    """Quoting adds "> " per line: a maximal message must still fit one post."""
    t = await open_ticket(desk)
    await customer_writes(desk, t, "a\n" * 8000)
    relayed = staff_thread(desk, t)[-1]["message"]
    assert len(relayed) <= 16383 and "too long to relay" in relayed


async def test_unknown_subcommand_and_bad_ids_are_echoed_safely(desk: Desk) -> None:
    before = await snapshot(desk)
    await desk.run("dave", "/ticket @channel|*x*")
    await desk.run("dave", "/ticket show @all[x](http://e)")
    for msg in [e["message"] for e in desk.emu.ephemerals(desk.user("dave"))[-2:]]:
        assert not {"@all", "@channel"} & mention_words(msg), msg
        assert not _LINK.search(msg)
    await assert_unchanged(desk, before)


def test_text_helpers_are_idempotent_and_strip_controls() -> None:
    for f in (text.block, text.inline, text.quote):
        out = f(HOSTILE)
        assert not _CONTROL.search(out)
        assert not {"@all", "@channel", "@here"} & mention_words(out)
    assert text.block(text.block(HOSTILE)) == text.block(HOSTILE)
