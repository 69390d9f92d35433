"""The real mattermostdriver.Driver (sync, requests) against the emulator."""

from __future__ import annotations

import asyncio
import io

import pytest
from mattermostdriver import Driver
from mattermostdriver.exceptions import InvalidOrMissingParameters


@pytest.fixture
def driver(emu, world):
    d = Driver({"url": "127.0.0.1", "port": emu.port, "scheme": "http", "token": world.token,
                "basepath": "/api/v4"})
    return d


async def test_driver_round_trip(emu, world, driver):
    await asyncio.to_thread(driver.login)  # never call the sync driver on the loop thread
    me = await asyncio.to_thread(driver.users.get_user, "me")
    assert me["id"] == world.bot.id
    channel = await asyncio.to_thread(driver.channels.get_channel_by_name, world.team.id,
                                      "customer-support")
    assert channel["id"] == world.channel.id
    by_names = await asyncio.to_thread(driver.channels.get_channel_by_name_and_team_name,
                                       "main", "customer-support")
    assert by_names["id"] == world.channel.id
    upload = await asyncio.to_thread(driver.files.upload_file, world.channel.id,
                                     {"files": ("log.txt", io.BytesIO(b"data"))})
    file_id = upload["file_infos"][0]["id"]
    post = await asyncio.to_thread(driver.posts.create_post, {
        "channel_id": world.channel.id, "message": "from driver", "file_ids": [file_id]})
    assert post["file_ids"] == [file_id]
    assert emu.posts(world.channel.id)[-1]["message"] == "from driver"
    assert emu.file_bytes(file_id) == b"data"
    patched = await asyncio.to_thread(driver.posts.patch_post, post["id"], {"message": "edit"})
    assert patched["message"] == "edit"
    with pytest.raises(InvalidOrMissingParameters):
        await asyncio.to_thread(driver.posts.create_post, {
            "channel_id": world.channel.id, "message": "x", "root_id": "a" * 26})
