"""Making user-supplied text safe to re-post, and parsing/formatting small values. Pure.

Mention rules are mattermost-protocol.md §6: the server scans Markdown Text nodes, splits words
on anything that is not a letter, digit, ':', '.', '-', '_' or '@', and decodes backslash
escapes and entities first, so only a separator rune after the '@' reliably stops a mention.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Final

ZWSP: Final = "\u200b"  # ZERO WIDTH SPACE: not a letter/digit, so Mattermost splits the word there
WORD_JOINER: Final = "\u2060"  # invisible like ZWSP, but never allows a line break inside a name
ELLIPSIS: Final = "…"

# C0 except \t and \n, DEL, C1, and the bidi embeddings/overrides/isolates (Trojan-Source style).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# '@' and the HTML entities a Markdown parser may decode to '@' (&#64; &#x40; &commat;, also
# without the ';' for lenient decoders), unless a ZWSP already follows (keeps this idempotent).
_AT = re.compile(
    "(@|&(?:#0*64(?![0-9])|#[xX]0*40(?![0-9a-fA-F])|commat(?![0-9A-Za-z]));?+)"
    f"(?!{ZWSP})"
)


def strip_control(text: str) -> str:
    """Drop control and bidi-override characters; CR and CRLF become LF; tabs and LF stay."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def neutralise_mentions(text: str) -> str:
    """Insert U+200B after every '@' (and '@' entity) so no @name/@channel/@all/@here fires.

    Custom mention keys and first names fire on plain words and can't be stopped this way
    (§6: only code formatting does); that is out of scope here.
    """
    return _AT.sub(lambda m: m.group(1) + ZWSP, text)


# --- one-line fields -------------------------------------------------------------------------

_INLINE_SPECIALS = re.compile(r"([\\|*_`\[\]<>~])")
_INLINE_LINE_START = re.compile(r"^(?:[#+=-]|\d+(?=[.)]))")


def inline(text: str, max_len: int | None = None) -> str:
    """One safe line for a card field or table cell: no controls, no newlines, no Markdown, no
    mentions; cut to `max_len` visible characters (counted before escaping) ending in '…'."""
    flat = " ".join(strip_control(text).split())
    if max_len is not None:
        if max_len < 1:
            raise ValueError("max_len must be at least 1")
        if len(flat) > max_len:
            flat = flat[: max_len - 1].rstrip() + ELLIPSIS
    escaped = _INLINE_SPECIALS.sub(r"\\\1", flat)
    if match := _INLINE_LINE_START.match(escaped):  # heading, list, setext, "1." list
        cut = match.end() if match.group().isdigit() else 0
        escaped = escaped[:cut] + "\\" + escaped[cut:]
    return neutralise_mentions(escaped)


# --- multi-line text -------------------------------------------------------------------------

# A fence opener with up to 3 spaces of indent; a backtick fence's info string has no backtick.
_FENCE_OPEN = re.compile(r"^( {0,3})(`{3,}(?=[^`]*$)|~{3,})(.*)$")
# List markers and quote markers in front of a line (generous: any indent).
_CONTAINERS = re.compile(r"^(?:[ \t]*(?:>[ \t]?|[-+*][ \t]+|\d{1,9}[.)][ \t]+))*[ \t]*")
_HEADING = re.compile(r"#{1,6}(?:[ \t]|$)")
_RULE_CHARS: Final = frozenset("-=*_|:+ \t")  # thematic breaks, setext underlines, table rows
# [text](url) or ![alt](url), not after a backslash; url without brackets, backticks or spaces.
_LINK = re.compile(
    r"(?<!\\)!?\[([^\[\]\n]*)\]\(\s*<?([^\s()<>\[\]`]*)>?"
    r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)"
)
_OPEN_BRACKET = re.compile(r"(\\*)\[")


def block(text: str) -> str:
    """Multi-line user text (descriptions, replies) made safe to re-post.

    Policy: controls stripped; mentions neutralised; line breaks kept. Outside code fences:
    `[text](url)` and `![alt](url)` become `text (url)` (the URL stays visible, so Mattermost's
    autolink shows the real destination; no remote image is embedded) and every other '[' is
    escaped, so no link, image or reference can hide a destination; a heading, rule, setext
    underline or table delimiter row at a line start (also inside quotes and lists) is escaped.
    Code fences are kept but re-emitted canonically at column 0 with a fence longer than any
    backtick run inside, and closed if left open, so the renderer's idea of "code" matches ours.
    Cosmetic cost: a '[' inside an inline code span shows its backslash. Idempotent.
    """
    out: list[str] = []
    lines = strip_control(text).split("\n")
    i = 0
    while i < len(lines):
        opener = _FENCE_OPEN.match(lines[i])
        if opener is None:
            out.append(_safe_line(lines[i]))
            i += 1
            continue
        indent, fence, info = len(opener.group(1)), opener.group(2), opener.group(3)
        body: list[str] = []
        i += 1
        while i < len(lines) and not _closes(lines[i], fence):
            body.append(_dedent(lines[i], indent))
            i += 1
        i += 1  # the closing line (or past the end)
        longest = max((len(run) for run in re.findall("`+", "\n".join(body))), default=0)
        canonical = "`" * max(3, longest + 1)
        out.extend([canonical + info.replace("`", ""), *body, canonical])
    return neutralise_mentions("\n".join(out))


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return (
        len(line) - len(line.lstrip(" ")) <= 3
        and len(stripped) >= len(fence)
        and set(stripped) == {fence[0]}
    )


def _dedent(line: str, indent: int) -> str:
    spaces = len(line) - len(line.lstrip(" "))
    return line[min(spaces, indent):]


def _safe_line(line: str) -> str:
    prefix_end = _CONTAINERS.match(line).end()  # type: ignore[union-attr]  # always matches
    rest = line[prefix_end:]
    if rest and (_HEADING.match(rest) or set(rest) <= _RULE_CHARS):
        rest = "\\" + rest
    line = line[:prefix_end] + rest
    parts: list[str] = []
    last = 0
    for link in _LINK.finditer(line):
        parts.append(_escape_brackets(line[last:link.start()]))
        label, url = link.group(1).strip(), link.group(2)
        parts.append(url if not label or label == url else f"{label} ({url})" if url else label)
        last = link.end()
    parts.append(_escape_brackets(line[last:]))
    return "".join(parts)


def _escape_brackets(segment: str) -> str:
    """Escape every '[' not already escaped (an even run of backslashes escapes nothing)."""
    return _OPEN_BRACKET.sub(
        lambda m: m.group(0) if len(m.group(1)) % 2 else m.group(1) + "\\[", segment)


def quote(text: str) -> str:
    """User text as a Markdown block quote, made safe with block() first."""
    return "\n".join(f"> {line}" if line else ">" for line in block(text).split("\n"))


def display_name(
    username: str, first_name: str | None = None, last_name: str | None = None
) -> str:
    """A person shown without notifying them: "Ana López (@\u200bana)" or "@\u200bana".

    The '@' gets a ZWSP (no @-mention); a WORD JOINER after the first name's first letter stops
    the optional first-name mention. Names are escaped as inline() fields.
    """
    handle = neutralise_mentions("@" + inline(username.lstrip("@")))
    first, last = (inline(part or "") for part in (first_name, last_name))
    if first:
        first = first[0] + WORD_JOINER + first[1:] if first[0] != "\\" else first
    full = " ".join(part for part in (first, last) if part)
    return f"{full} ({handle})" if full else handle


# --- parsing and formatting small values ---------------------------------------------------------

_TICKET_ID = re.compile(r"\s*#?([0-9]{1,18})\s*")


def parse_ticket_id(text: str) -> int | None:
    """"#1042" or "1042" -> 1042; anything else (including 0) -> None."""
    match = _TICKET_ID.fullmatch(text)
    number = int(match.group(1)) if match else 0
    return number or None


_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_PART = re.compile(r"\s*(\d{1,9})\s*([a-zA-Z]*)")
MAX_DURATION: Final = timedelta(days=3650)


def parse_duration(text: str) -> timedelta:
    """"90s", "15m", "2h", "1d", "1w", or combined "1h 30m"; at least 1 s, at most 10 years."""
    example = "Use a number and a unit, like 90s, 15m, 2h, 1d or 1w"
    if not text.strip():
        raise ValueError(f"No duration given. {example}.")
    seconds, pos = 0, 0
    while pos < len(text.rstrip()):
        part = _DURATION_PART.match(text, pos)
        if part is None or part.end() == pos:
            raise ValueError(f"{text.strip()!r} is not a duration. {example}.")
        unit = part.group(2).lower()
        if unit not in _UNITS:
            raise ValueError(f"{text.strip()!r} is not a duration. {example}.")
        seconds += int(part.group(1)) * _UNITS[unit]
        pos = part.end()
    if seconds < 1:
        raise ValueError(f"{text.strip()!r} is too short: a duration must be at least 1 second.")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{text.strip()!r} is too long: a duration can be at most 3650d.")
    return timedelta(seconds=seconds)


_FORMAT_UNITS: Final = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def format_duration(td: timedelta) -> str:
    """Compact: the largest unit and the next one if non-zero ("2h 5m", "1d", "45s"); floors."""
    if td < timedelta(0):
        return "-" + format_duration(-td)
    rest = int(td.total_seconds())
    amounts = []
    for unit, size in _FORMAT_UNITS:
        amounts.append((rest // size, unit))
        rest %= size
    for index, (amount, unit) in enumerate(amounts):
        if amount:
            shown = [f"{amount}{unit}"]
            if index + 1 < len(amounts) and amounts[index + 1][0]:
                shown.append(f"{amounts[index + 1][0]}{amounts[index + 1][1]}")
            return " ".join(shown)
    return "0s"


def format_age(created_at: datetime, now: datetime) -> str:
    """Age to the minute ("2h 5m", "3d 4h"); "<1m" when younger, or in the future (skew)."""
    age = now - created_at
    if age < timedelta(minutes=1):
        return "<1m"
    return format_duration(timedelta(minutes=age // timedelta(minutes=1)))
