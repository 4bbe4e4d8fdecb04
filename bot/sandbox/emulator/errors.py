"""How the emulator answers and reports failures: Bot API errors and the test-side exception."""

from __future__ import annotations

from typing import Any

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


class ApiError(Exception):
    """An error answer of the Bot API (``{"ok": false, ...}``)."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class ClientGone(Exception):
    """The HTTP client hung up while its request waited (e.g. a cancelled long poll)."""


class EmulatorViolation(AssertionError):
    """Raised by :meth:`TelegramEmulator.wait_for` when the bot made a bad request meanwhile."""


def bad_request(message: str) -> ApiError:
    return ApiError(400, f"Bad Request: {message}")
