"""Contract-test fixtures: the merged OpenAPI document and the emulator fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.emulator.conftest import api, emu, fakebot, http, world  # noqa: F401

# api/Makefile concatenation order (see the README next to the spec files)
ORDER = (
    "introduction users status teams channels posts preferences files uploads jobs system emoji "
    "webhooks saml compliance ldap groups cluster brand commands oauth elasticsearch bleve "
    "dataretention plugins roles schemes service_terms remoteclusters sharedchannels reactions "
    "actions bots cloud usage permissions imports exports ip_filters bookmarks reports limits "
    "logs outgoing_oauth_connections metrics scheduled_post custom_profile_attributes "
    "definitions").split()


def spec_dir() -> Path:
    env = os.environ.get("MATTERMOST_API_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "mattermost-api"


@pytest.fixture(scope="session")
def spec() -> dict:
    folder = spec_dir()
    if not (folder / "introduction.yaml").is_file():
        pytest.skip(f"Mattermost OpenAPI sources not found in {folder} "
                    "(set MATTERMOST_API_DIR to the api/v4/source folder)")
    present = [name for name in ORDER if (folder / f"{name}.yaml").is_file()]
    text = "".join((folder / f"{name}.yaml").read_text() for name in present)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)
