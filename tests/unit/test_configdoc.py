"""docs/configuration.md is generated from the Settings model and bot.example.toml (issue 11)."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from bot.configdoc import README_END, README_START, example_comments, generate, with_readme_block

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"


def test_configuration_reference_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == generate(), (
        "docs/configuration.md is stale: run `python -m bot.configdoc > docs/configuration.md`")


def test_readme_carries_the_same_reference() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert README_START in readme and README_END in readme
    assert with_readme_block(readme) == readme, (
        "README.md's configuration reference is stale: run `python -m bot.configdoc --readme`")


def test_every_section_and_its_env_variable_appear() -> None:
    text = generate()
    for name, field in Settings.model_fields.items():
        if name == "config_dir":
            continue
        assert f"## `[{name}]`" in text or f"## `[[{name}]]`" in text
    assert "`SUPPORTBOT_MATTERMOST__TOKEN`" in text and "`SUPPORTBOT_SERVER__PUBLIC_URL`" in text


def test_comments_are_read_from_keys_tables_and_their_continuations() -> None:
    example = (
        '[server]                 # where Mattermost reaches the bot\n'
        'host = "a#b"             # address to listen on\n'
        'staff = []               # usernames; empty = the\n'
        '                         # members of the channel\n'
        '# [[oncall.regions]]\n'
        '# name = "EMEA"          # unique name\n'
        '#                        # shown in /oncall\n'
    )
    comments = example_comments(example)
    assert comments[("server", "")] == "where Mattermost reaches the bot"
    assert comments[("server", "host")] == "address to listen on"
    assert comments[("server", "staff")] == "usernames; empty = the members of the channel"
    assert comments[("oncall.regions", "name")] == "unique name shown in /oncall"


def test_generated_types_and_defaults_read_like_the_example() -> None:
    text = generate()
    assert '| `solved_close_after` | duration | `"2d"` | `SUPPORTBOT_WORKFLOW__SOLVED_CLOSE_AFTER` |' in text
    assert '| `format` | `"console"` \\| `"json"` | `"console"` |' in text
    assert "| `staff` | list of string | `[]` | — |" in text  # lists: the file only
