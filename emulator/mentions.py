"""Who a post notifies: mention parsing per server/channels/app/mention_parser_standard.go."""

from __future__ import annotations

import html
import re

MAX_SCAN = 128 * 1024
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_SYSTEM = {"@here", "@channel", "@all"}


def strip_code(text: str) -> str:
    """Drop fenced and indented code blocks and inline code spans; keep the rest as text."""
    out: list[str] = []
    fence = None
    prev_blank = True
    for line in text.split("\n"):
        if fence:
            if line.strip().startswith(fence):
                fence = None
            continue
        match = _FENCE.match(line)
        if match:
            fence = match.group(1)[:3]
            continue
        is_indented = line.startswith(("    ", "\t")) and line.strip() != ""
        if is_indented and prev_blank:
            continue  # indented code block (stays code until a non-indented line)
        prev_blank = line.strip() == "" or (is_indented and prev_blank)
        out.append(line)
    return _INLINE_CODE.sub(" ", "\n".join(out))


def _plain_text(text: str) -> str:
    return html.unescape(_ESCAPE.sub(r"\1", strip_code(text)))


def _split(text: str) -> list[str]:
    words, cur = [], []
    for ch in text:
        if ch in ":.-_@" or ch.isalpha() or ch.isnumeric():
            cur.append(ch)
        elif cur:
            words.append("".join(cur))
            cur = []
    if cur:
        words.append("".join(cur))
    return words


def mention_words(text: str) -> set[str]:
    """Lower-cased candidate keywords ('@name', '@all', ...) found in a markdown text."""
    if len(text.encode()) > MAX_SCAN:
        return set()
    found: set[str] = set()
    for word in _split(_plain_text(text)):
        if word[0] == ":" and word[-1] == ":":
            continue  # emoji
        word = word.lstrip(":.-_").lower()
        if not word:
            continue
        found.add(word)
        trimmed = word
        while trimmed and trimmed[-1] in ".-:_":
            trimmed = trimmed[:-1]
            found.add(trimmed)
        if not word.startswith("@") and any(c in word for c in ".-:"):
            found.update(w for w in re.split(r"[.\-:]", word) if w)
    return found


def mentioned(message: str, members: dict[str, str], poster_id: str, channel_type: str,
              *, from_webhook: bool = False, online: set[str] | None = None) -> set[str]:
    """User ids notified by `message` posted by `poster_id` in a channel of `channel_type`.

    `members` maps user_id -> username. `online` limits @here (None: everyone online).
    """
    result: set[str] = set()
    if channel_type == "D":
        result = {uid for uid in members if uid != poster_id}
        if poster_id not in members:
            result = set(members)
        return result
    words = mention_words(message)
    by_key = {"@" + name.lower(): uid for uid, name in members.items()}
    result = {by_key[w] for w in words if w in by_key}
    if "@all" in words or "@channel" in words:
        result |= set(members)
    if "@here" in words:
        result |= {uid for uid in members if online is None or uid in online}
    if not from_webhook:
        result.discard(poster_id)
    return result


def mention_texts(post: dict) -> list[str]:
    """The fields the server scans: message, attachment pretext/text and field values."""
    texts = [post.get("message") or ""]
    for att in (post.get("props") or {}).get("attachments") or []:
        if not isinstance(att, dict):
            continue
        texts += [att.get("pretext") or "", att.get("text") or ""]
        for fld in att.get("fields") or []:
            if isinstance(fld, dict) and isinstance(fld.get("value"), str):
                texts.append(fld["value"])
    return [t for t in texts if isinstance(t, str)]


def mentioned_in_post(post: dict, members: dict[str, str], channel_type: str,
                      online: set[str] | None = None) -> set[str]:
    from_webhook = (post.get("props") or {}).get("from_webhook") == "true"
    result: set[str] = set()
    for text in mention_texts(post):
        result |= mentioned(text, members, post["user_id"], channel_type,
                            from_webhook=from_webhook, online=online)
    if channel_type == "D":
        result = mentioned("", members, post["user_id"], "D")
    return result
