"""What Mattermost sends the bot (in) and what the bot answers (out), as pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SlashCommand(_In):
    """The form Mattermost POSTs to the command URL (mattermost-protocol.md §1.3)."""

    token: str = ""
    team_id: str = ""
    team_domain: str = ""
    channel_id: str = ""
    channel_name: str = ""
    user_id: str = ""
    user_name: str = ""
    command: str = ""
    text: str = ""
    trigger_id: str = ""
    response_url: str = ""


class DialogSubmission(_In):
    """The JSON Mattermost POSTs to the dialog URL (§2.3); only user_id is trustworthy."""

    type: str = "dialog_submission"
    callback_id: str = ""
    state: str = ""
    user_id: str = ""
    channel_id: str = ""
    team_id: str = ""
    submission: dict[str, Any] = Field(default_factory=dict)
    cancelled: bool = False


class ActionClick(_In):
    """The JSON Mattermost POSTs to a button's integration URL (§3.3)."""

    user_id: str = ""
    user_name: str = ""
    channel_id: str = ""
    channel_name: str = ""
    team_id: str = ""
    team_domain: str = ""
    post_id: str = ""
    trigger_id: str = ""
    type: str = ""
    data_source: str = ""
    context: dict[str, Any] = Field(default_factory=dict)


class Reply(BaseModel):
    """A slash-command response: always sent as HTTP 200 JSON (an empty body is a failure)."""

    text: str = ""
    in_channel: bool = False
    props: dict[str, Any] | None = None

    @classmethod
    def ephemeral(cls, text: str) -> Reply:
        return cls(text=text)

    @classmethod
    def empty(cls) -> Reply:
        return cls()

    def as_mattermost(self) -> dict[str, Any]:
        if not self.text:
            return {}
        body: dict[str, Any] = {
            "response_type": "in_channel" if self.in_channel else "ephemeral",
            "text": self.text,
            # user text is echoed: keep Mattermost from turning <!channel> into @channel
            "skip_slack_parsing": True,
        }
        if self.props:
            body["props"] = self.props
        return body


class DialogResult(BaseModel):
    """The answer to a dialog submission: {} closes it; errors keep it open."""

    error: str = ""
    errors: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def ok(cls) -> DialogResult:
        return cls()

    @classmethod
    def field_errors(cls, errors: dict[str, str]) -> DialogResult:
        return cls(errors=errors)

    @classmethod
    def refused(cls, message: str) -> DialogResult:
        return cls(error=message)

    def as_mattermost(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.error:
            body["error"] = self.error
        if self.errors:
            body["errors"] = self.errors
        return body


class ActionResult(BaseModel):
    """The answer to a button click: an optional post update and an ephemeral sentence."""

    ephemeral_text: str = ""
    update: dict[str, Any] | None = None

    def as_mattermost(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.update is not None:
            body["update"] = self.update
        if self.ephemeral_text:
            body["ephemeral_text"] = self.ephemeral_text
            body["skip_slack_parsing"] = True
        return body
