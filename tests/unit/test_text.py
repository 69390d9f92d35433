"""Re-posting user text safely: mentions, controls, Markdown; parsing and formatting values."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from workflows.text import (
    ELLIPSIS,
    WORD_JOINER,
    ZWSP,
    block,
    display_name,
    format_age,
    format_duration,
    inline,
    neutralise_mentions,
    parse_duration,
    parse_ticket_id,
    quote,
    strip_control,
)

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
FRAGMENTS = [
    "@", "@channel", "@all", "@here", "@alice", "@Alice.Bob", "&#64;", "&#x40;", "&commat;",
    "&#0064;", "&#64", "&#x0040", "\\", "\\@", "`", "```", "~~~", "[", "]", "](", "![",
    "(http://x.com)", "http://e/",
    "\n", "\r\n", "\r", "#", "# ", "-", "---", "===", "|", "> ", "* ", "1. ", "_", ":", ".", " ",
    "    ", ZWSP, "\u202e", "\u2066", "\x00", "\x1b[31m", "\x85", "\t", "＠", "a", "é",
]
hostile = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=5)), max_size=30).map(
    "".join)
MENTION = re.compile(r"@\w")


# --- neutralise_mentions -----------------------------------------------------------------------

@given(hostile)
@example("@channel @all @here @alice x.@channel _@here")
def test_no_at_sign_is_followed_by_a_word_character(text: str) -> None:
    assert MENTION.search(neutralise_mentions(text)) is None


@given(hostile)
def test_every_at_sign_and_at_entity_is_followed_by_a_zero_width_space(text: str) -> None:
    out = neutralise_mentions(text)
    entity = r"&(?:#0*64(?![0-9])|#[xX]0*40(?![0-9a-fA-F])|commat(?![0-9A-Za-z]));?+"
    assert re.search(f"(@|{entity})(?!{ZWSP})", out) is None


@given(hostile)
def test_only_zero_width_spaces_are_added(text: str) -> None:
    assert neutralise_mentions(text).replace(ZWSP, "") == text.replace(ZWSP, "")


@given(hostile)
def test_neutralising_twice_changes_nothing(text: str) -> None:
    once = neutralise_mentions(text)
    assert neutralise_mentions(once) == once


@pytest.mark.parametrize(("text", "expected"), [
    ("hi @channel", f"hi @{ZWSP}channel"),
    ("\\@all", f"\\@{ZWSP}all"),
    ("&#64;here", f"&#64;{ZWSP}here"),
    ("&#x40here &commat;all", f"&#x40{ZWSP}here &commat;{ZWSP}all"),
    ("&#640; &#x400;", "&#640; &#x400;"),
    ("mail a@b.c", f"mail a@{ZWSP}b.c"),
    ("no mentions", "no mentions"),
])
def test_neutralise_examples(text: str, expected: str) -> None:
    assert neutralise_mentions(text) == expected


# --- strip_control -------------------------------------------------------------------------

@given(hostile)
def test_control_characters_never_survive(text: str) -> None:
    for out in (strip_control(text), inline(text), block(text), quote(text)):
        assert CONTROL.search(out) is None


def test_strip_control_keeps_newlines_and_tabs_and_turns_cr_into_lf() -> None:
    assert strip_control("a\r\nb\rc\td\x00e\u202ef\x9b") == "a\nb\nc\tdef"


# --- inline --------------------------------------------------------------------------------

def _visible(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown.replace(ZWSP, ""))


@given(hostile, st.one_of(st.none(), st.integers(min_value=1, max_value=40)))
def test_inline_is_one_line_without_mentions_and_within_length(
    text: str, max_len: int | None
) -> None:
    out = inline(text, max_len)
    assert "\n" not in out
    assert MENTION.search(out) is None
    if max_len is not None:
        assert len(_visible(out)) <= max_len


@given(hostile)
def test_inline_leaves_no_markdown_character_unescaped(text: str) -> None:
    out = inline(text)
    assert re.search(r"(?<!\\)(?:\\\\)*[|*_`\[\]<>~]", out) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("Login | broken", "Login \\| broken"),
    ("# not a heading", "\\# not a heading"),
    ("- not a list", "\\- not a list"),
    ("1. not a list", "1\\. not a list"),
    ("line\none\r\ntwo", "line one two"),
    ("[click](http://e)", "\\[click\\](http://e)"),
    ("a `b` *c* _d_ ~e~ <f>", "a \\`b\\` \\*c\\* \\_d\\_ \\~e\\~ \\<f\\>"),
    ("back\\slash", "back\\\\slash"),
    ("@all hands", f"@{ZWSP}all hands"),
])
def test_inline_examples(text: str, expected: str) -> None:
    assert inline(text) == expected


def test_inline_truncates_with_an_ellipsis() -> None:
    assert inline("abcdefghij", max_len=5) == f"abcd{ELLIPSIS}"
    assert inline("abcde", max_len=5) == "abcde"


def test_inline_refuses_a_zero_length() -> None:
    with pytest.raises(ValueError, match="max_len"):
        inline("x", max_len=0)


# --- block ---------------------------------------------------------------------------------

def _outside_fences(markdown: str) -> list[str]:
    """Lines of block()'s output outside its canonical column-0 fences."""
    lines, fence = [], None
    for line in markdown.split("\n"):
        if fence is None and (opener := re.fullmatch(r"(`{3,})[^`]*", line)):
            fence = opener.group(1)
        elif fence is not None and line == fence:
            fence = None
        elif fence is None:
            lines.append(line)
    assert fence is None, "block() left a fence open"
    return lines


@given(hostile)
def test_block_has_no_mentions_and_is_idempotent(text: str) -> None:
    out = block(text)
    assert MENTION.search(out) is None
    assert block(out) == out


@given(hostile)
@example("```@`")
def test_block_leaves_no_link_bracket_or_heading_outside_code(text: str) -> None:
    for line in _outside_fences(block(text)):
        assert re.search(r"(?<!\\)(?:\\\\)*\[", line) is None, line
        body = re.sub(r"^(?:[ \t]*(?:>[ \t]?|[-+*][ \t]+|\d{1,9}[.)][ \t]+))*[ \t]*", "", line)
        assert not re.match(r"#{1,6}(?:[ \t]|$)", body), line
        assert not (body and set(body) <= set("-=*_|:+ \t")), line


@pytest.mark.parametrize(("text", "expected"), [
    ("[Approve refund](http://evil.example)", "Approve refund (http://evil.example)"),
    ("![pixel](http://t.example/p.png)", "pixel (http://t.example/p.png)"),
    ("[http://a.example](http://a.example)", "http://a.example"),
    ("see [1] and [ref]: http://x", "see \\[1] and \\[ref]: http://x"),
    ("# Urgent!!!", "\\# Urgent!!!"),
    ("Title\n===", "Title\n\\==="),
    ("a\n---\nb", "a\n\\---\nb"),
    ("| a | b |\n|---|---|", "| a | b |\n\\|---|---|"),
    ("> ## quoted", "> \\## quoted"),
    ("#hashtag stays", "#hashtag stays"),
    ("line one\nline two", "line one\nline two"),
    ("ping @here", f"ping @{ZWSP}here"),
])
def test_block_examples(text: str, expected: str) -> None:
    assert block(text) == expected


def test_code_fences_are_kept_verbatim_and_closed() -> None:
    text = "logs:\n```text\n[ERROR] # x\n---\n"
    assert block(text) == "logs:\n```text\n[ERROR] # x\n---\n\n```"


def test_an_indented_fence_is_re_emitted_at_column_zero() -> None:
    assert block("- a\n  ```\n  [x](y)\n  ```\n[z](w)") == "- a\n```\n[x](y)\n```\nz (w)"


def test_a_fence_is_longer_than_any_backtick_run_inside() -> None:
    assert block("~~~\n````\n~~~") == "`````\n````\n`````"


def test_quote_prefixes_every_line_of_the_safe_text() -> None:
    assert quote("hi\n\n# @all") == f"> hi\n>\n> \\# @{ZWSP}all"


# --- display_name --------------------------------------------------------------------------

def test_display_name_never_mentions() -> None:
    assert display_name("ana", "Ana", "López") == f"A{WORD_JOINER}na López (@{ZWSP}ana)"
    assert display_name("@bob") == f"@{ZWSP}bob"
    assert display_name("eve_x", "", None) == f"@{ZWSP}eve\\_x"


# --- parse_ticket_id -----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("#1042", 1042), ("1042", 1042), (" #7 ", 7), ("#0", None), ("0", None), ("", None),
    ("#", None), ("12a", None), ("-3", None), ("##3", None), ("١٢", None), ("1" * 19, None),
])
def test_parse_ticket_id(text: str, expected: int | None) -> None:
    assert parse_ticket_id(text) == expected


@given(st.integers(min_value=1, max_value=10**18 - 1))
def test_ticket_ids_round_trip(number: int) -> None:
    assert parse_ticket_id(f"#{number}") == number


# --- durations -----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("90s", timedelta(seconds=90)), ("15m", timedelta(minutes=15)), ("2h", timedelta(hours=2)),
    ("1d", timedelta(days=1)), ("1w", timedelta(weeks=1)), ("1h 30m", timedelta(minutes=90)),
    ("2H", timedelta(hours=2)), (" 1s ", timedelta(seconds=1)),
])
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("", "No duration given"), ("0s", "at least 1 second"), ("0m 0s", "at least 1 second"),
    ("5", "not a duration"), ("-5m", "not a duration"), ("1x", "not a duration"),
    ("1h 30", "not a duration"), ("99999w", "at most"), ("abc", "not a duration"),
])
def test_parse_duration_refuses_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


@pytest.mark.parametrize(("td", "expected"), [
    (timedelta(0), "0s"), (timedelta(seconds=45), "45s"), (timedelta(seconds=200), "3m 20s"),
    (timedelta(hours=2, minutes=5, seconds=9), "2h 5m"), (timedelta(days=1, minutes=5), "1d"),
    (timedelta(days=9, hours=4), "9d 4h"), (timedelta(minutes=-90), "-1h 30m"),
    (timedelta(milliseconds=999), "0s"),
])
def test_format_duration(td: timedelta, expected: str) -> None:
    assert format_duration(td) == expected


@given(st.integers(min_value=1, max_value=3650 * 86400))
def test_formatted_durations_parse_back_to_at_most_a_24th_less(seconds: int) -> None:
    td = timedelta(seconds=seconds)
    back = parse_duration(format_duration(td))
    assert td - td / 24 <= back <= td


T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("age", "expected"), [
    (timedelta(seconds=30), "<1m"), (timedelta(minutes=-5), "<1m"),
    (timedelta(minutes=3, seconds=50), "3m"), (timedelta(hours=2, minutes=5), "2h 5m"),
    (timedelta(days=3, hours=4, minutes=1), "3d 4h"),
])
def test_format_age(age: timedelta, expected: str) -> None:
    assert format_age(T0, T0 + age) == expected


# --- against the emulator's real mention rules (when a teammate's module exists) ---------------

try:
    from emulator import mentions as emulator_mentions
except ImportError:  # the emulator is a teammate's work; these tests wait for it
    emulator_mentions = None

MEMBERS = {"u1": "alice", "u2": "alice.bob", "u3": "here_x", "u4": "bob"}
hostile_mentions = st.lists(st.one_of(
    st.sampled_from([*FRAGMENTS, *(f"@{name}" for name in MEMBERS.values()), "@ALICE"]),
    st.text(max_size=4)), max_size=25).map("".join)


@pytest.mark.skipif(emulator_mentions is None, reason="emulator/mentions.py not present")
@settings(deadline=None)
@given(hostile_mentions)
@example("@all @channel @here @alice @alice.bob. x.@bob &#64;alice \\@bob `@x` @here_x:")
def test_the_emulator_finds_no_mention_in_safe_text(text: str) -> None:
    assert emulator_mentions is not None
    for channel_type in ("O", "P"):
        for safe in (block(text), inline(text), quote(text)):
            found = emulator_mentions.mentioned(safe, MEMBERS, "poster", channel_type)
            assert not found, (safe, found)
