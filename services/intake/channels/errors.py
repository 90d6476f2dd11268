"""Errors the HTTP layer turns into problem+json; they name fields, never echo values.

Customer text, phone numbers and emails must not reach logs or responses, so every message
built here carries a field path and a fixed description, never the offending value.
"""

from __future__ import annotations

import msgspec

from shared.validation import invalid_field


class InvalidInput(Exception):
    """A request the integration must fix: 400 for an unreadable body, 422 for a bad field."""

    def __init__(self, field: str, detail: str, *, status: int = 422) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail
        self.status = status

    def at(self, prefix: str) -> InvalidInput:
        """The same error re-rooted under ``prefix`` (a batch item: ``$.messages[3]``)."""
        field = prefix + self.field[1:] if self.field.startswith("$") else self.field
        return InvalidInput(field, self.detail, status=self.status)


class UnsupportedMediaType(Exception):
    """The body's media type is not one this channel reads (HTTP 415)."""

    def __init__(self, media_type: str, allowed: tuple[str, ...]) -> None:
        # Not echoed: a Content-Type is the client's text like any other header.
        given = "this media type" if media_type else "a body without Content-Type"
        super().__init__(f"{given} is not accepted here; use {', '.join(allowed)}")
        self.allowed = allowed


def from_decode_error(error: msgspec.DecodeError | UnicodeDecodeError) -> InvalidInput:
    """Unreadable JSON: a whole-body error (400)."""
    if isinstance(error, UnicodeDecodeError):
        return InvalidInput("body", f"invalid UTF-8 at byte {error.start}", status=400)
    detail = str(error)
    if detail == "Input data was truncated":
        detail = "JSON is truncated or contains an invalid escape"
    return InvalidInput("body", detail, status=400)


def from_validation_error(error: msgspec.ValidationError) -> InvalidInput:
    """A msgspec validation error, keeping its field path (``$.from``) and dropping any value."""
    return InvalidInput(*invalid_field(error))
