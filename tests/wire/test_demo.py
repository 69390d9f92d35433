"""`supportbot demo` plays its scenario against the emulator and prints what everyone saw."""

from __future__ import annotations

import pytest

from bot.cli import main


def test_demo_prints_the_scripted_conversation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert 'a dialog opens: "Technical Support"' in out
    assert "~customer-support" in out and "Technical ticket from Alice Smith" in out
    assert "Status: Open" in out and "Assignee: Sam" in out  # the card after [Take it]
    assert "replied on #1" in out  # the public reply reached alice's thread
    assert "(customer) wrote:" in out and "mattermost.log" in out  # her answer reached staff
