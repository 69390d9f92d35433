"""Pure tests of emulator.mentions (protocol notes §6)."""

from __future__ import annotations

from emulator.mentions import mentioned, mentioned_in_post

MEMBERS = {"a": "alice", "b": "bob", "s": "supportbot"}


def _m(text, poster="s", ctype="O"):
    return mentioned(text, MEMBERS, poster, ctype)


def test_channel_wide_notifies_all_but_poster():
    assert _m("@all hello") == {"a", "b"}
    assert _m("Hey @CHANNEL!") == {"a", "b"}
    assert _m("@here") == {"a", "b"}


def test_code_neutralises():
    assert _m("`@all`") == set()
    assert _m("``x @all y``") == set()
    assert _m("```\n@all\n```") == set()
    assert _m("~~~\n@alice\n~~~\nok") == set()
    assert _m("text\n\n    @all indented code") == set()


def test_escapes_and_entities_do_not_neutralise():
    assert _m("\\@all") == {"a", "b"}
    assert _m("&#64;all") == {"a", "b"}


def test_zero_width_space_splits_word():
    assert _m("@\u200ball") == set()
    assert _m("@\u200balice") == set()


def test_username_rules():
    assert _m("thanks @alice.") == {"a"}
    assert _m("(@Bob)") == {"b"}
    assert _m("@alicex") == set()
    assert _m("mail alice@acme.com") == set()
    assert _m("x.@alice") == {"a"}
    assert _m("@alice_") == {"a"}
    assert _m(":@alice:") == set()  # emoji pattern is skipped
    assert _m("# @bob heading") == {"b"}


def test_poster_self_and_webhook():
    assert _m("@supportbot") == set()
    assert mentioned("@supportbot", MEMBERS, "s", "O", from_webhook=True) == {"s"}


def test_dm_notifies_other_user():
    dm = {"a": "alice", "s": "supportbot"}
    assert mentioned("no mention", dm, "s", "D") == {"a"}
    assert mentioned("x", dm, "z", "D") == {"a", "s"}


def test_here_respects_online():
    assert mentioned("@here", MEMBERS, "s", "O", online={"a"}) == {"a"}


def test_attachments_scanned_except_title_footer():
    post = {"user_id": "s", "message": "", "props": {"attachments": [
        {"title": "@alice", "footer": "@bob", "pretext": "", "text": "",
         "fields": [{"title": "@all", "value": "x"}]}]}}
    assert mentioned_in_post(post, MEMBERS, "O") == set()
    post["props"]["attachments"][0]["fields"][0]["value"] = "@bob"
    post["props"]["attachments"][0]["pretext"] = "@alice"
    assert mentioned_in_post(post, MEMBERS, "O") == {"a", "b"}


async def test_emulator_records_notified(emu, world):
    post = await emu.post_as(world.bot, world.channel.id, "@all `@bob`")
    assert emu.notified(post["id"]) == {world.alice.id, world.bob.id}
    post = await emu.post_as(world.bot, world.channel.id, "`@all` for @alice")
    assert emu.notified(post["id"]) == {world.alice.id}
