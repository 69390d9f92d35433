"""Mattermost AppError bodies with the server's ids and English messages."""

from __future__ import annotations

MESSAGES = {
    "api.context.session_expired.app_error": "Invalid or expired session, please login again.",
    "api.context.permissions.app_error": "You do not have the appropriate permissions.",
    "api.context.invalid_body_param.app_error": "Invalid or missing {{.Name}} in request body.",
    "api.context.invalid_url_param.app_error":
        "Invalid or missing {{.Name}} parameter in request URL.",
    "api.context.404.app_error": "Sorry, we could not find the page.",
    "api.context.request_body_too_large.app_error":
        "The request body is too large. Please reduce the size of your request.",
    "interactive_message.decode_trigger_id.expired":
        "Trigger ID for interactive dialog is expired. Trigger IDs live for a maximum of "
        "{{.Duration}}.",
    "interactive_message.decode_trigger_id.missing_data":
        "Trigger ID missing required data for interactive dialog.",
    "interactive_message.decode_trigger_id.verify_signature_failed":
        "Signature verification failed of trigger ID for interactive dialog.",
    "interactive_message.decode_trigger_id.base64_decode_failed":
        "Failed to decode base64 for trigger ID for interactive dialog.",
    "interactive_message.decode_trigger_id.base64_decode_failed_signature":
        "Failed to decode base64 signature of trigger ID for interactive dialog.",
    "interactive_message.decode_trigger_id.signature_decode_failed":
        "Failed to decode base64 signature of trigger ID for interactive dialog.",
    "api.command.execute_command.failed.app_error":
        "Command with a trigger of '{{.Trigger}}' failed.",
    "api.command.execute_command.failed_resp.app_error":
        "Command with a trigger of '{{.Trigger}}' returned response {{.Status}}.",
    "api.command.execute_command.failed_empty.app_error":
        "Command with a trigger of '{{.Trigger}}' returned an empty response.",
    "api.command.execute_command.not_found.app_error":
        "Command with a trigger of '{{.Trigger}}' not found. To send a message beginning with "
        "\"/\", try adding an empty space at the beginning of the message.",
    "api.command.execute_command.create_post_failed.app_error":
        "Command '{{.Trigger}}' failed to post response. Please contact your System "
        "Administrator.",
    "api.command.command_post.forbidden.app_error":
        "Specified user is not a member of specified channel.",
    "api.command.duplicate_trigger.app_error":
        "This trigger word is already in use. Please choose another word.",
    "api.command.team_mismatch.app_error": "Unable to update commands across teams.",
    "model.command.is_valid.method.app_error": "Invalid Method.",
    "model.command.is_valid.url_http.app_error":
        "Invalid URL. Must be a valid URL and start with http:// or https://.",
    "model.command.is_valid.url.app_error": "Invalid URL.",
    "model.command.is_valid.trigger.app_error": "Invalid trigger.",
    "model.command.is_valid.team_id.app_error": "Invalid team ID.",
    "model.command.is_valid.display_name.app_error": "Invalid title.",
    "model.command.is_valid.description.app_error": "Invalid description.",
    "store.sql_command.save.get.app_error": "Unable to get the command.",
    "api.post.do_action.action_integration.app_error": "Action integration error.",
    "api.post.do_action.action_id.app_error": "Invalid action id.",
    "model.post.is_valid.message_length.app_error":
        "Post Message property is longer than the maximum permitted length.",
    "model.post.is_valid.file_ids.app_error": "Invalid file ids.",
    "model.post.is_valid.type.app_error": "Invalid type.",
    "model.post.is_valid.props.app_error": "Invalid props.",
    "api.post.create_post.root_id.app_error": "Invalid RootId parameter.",
    "app.post.get.app_error": "Unable to get post.",
    "app.user.get_by_username.app_error":
        "Unable to find an existing account matching your username for this team. This team "
        "may require an invite from the team owner to join.",
    "app.user.missing_account.const": "Unable to find the user.",
    "app.team.get_by_name.missing.app_error": "Unable to find the existing team.",
    "app.team.get.find.app_error": "Unable to find the existing team.",
    "app.channel.get_by_name.missing.app_error": "Channel does not exist.",
    "app.channel.get.existing.app_error": "Unable to find the existing channel.",
    "app.channel.get_member.missing.app_error":
        "No channel member found for that user ID and channel ID.",
    "app.file_info.get.app_error": "Unable to get the file info.",
    "api.web_socket_router.not_authenticated.app_error":
        "WebSocket connection is not authenticated. Please log in and try again.",
    "api.web_socket_router.bad_seq.app_error": "Invalid sequence for WebSocket message.",
    "api.web_socket_router.bad_action.app_error": "Unknown WebSocket action.",
    "web.command_webhook.general.app_error": "Error occurred while receiving a command webhook.",
    "api.reaction.save_reaction.user_id.app_error":
        "You cannot save reaction for the other user.",
    "api.command.execute_command.start.app_error": "No command trigger found.",
    "api.file.upload_file.incorrect_number_of_files.app_error":
        "Unable to upload files. Incorrect number of files specified.",
    "api.emulator.fault.app_error": "Fault injected by the emulator.",
}


class AppError(Exception):
    """An error the server reports as a JSON AppError body."""

    def __init__(self, err_id: str, status: int, params: dict | None = None,
                 detailed: str = "") -> None:
        self.id = err_id
        self.status = status
        self.params = params or {}
        self.detailed = detailed
        super().__init__(f"{status} {err_id}")

    @property
    def message(self) -> str:
        text = MESSAGES.get(self.id, self.id)
        for key, value in self.params.items():
            text = text.replace("{{." + key + "}}", str(value))
        return text

    def body(self, request_id: str) -> dict:
        # detailed_error is always present and blank unless EnableDeveloper (off by default)
        return {"id": self.id, "message": self.message, "detailed_error": "",
                "request_id": request_id, "status_code": self.status}


def forbidden(detailed: str = "") -> AppError:
    return AppError("api.context.permissions.app_error", 403, detailed=detailed)


def bad_body(name: str) -> AppError:
    return AppError("api.context.invalid_body_param.app_error", 400, {"Name": name})


def bad_url(name: str) -> AppError:
    return AppError("api.context.invalid_url_param.app_error", 400, {"Name": name})
