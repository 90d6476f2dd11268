"""Content-Type parsing for the services' JSON endpoints: one reading of what counts as JSON.

JSON is ``application/json`` or any ``application/*+json``, in UTF-8 (no charset parameter, or
``utf-8``); the common spelling is recognised without parsing parameters.
"""

from __future__ import annotations

JSON_MEDIA_TYPE = "application/json"
_PLAIN_JSON = frozenset({JSON_MEDIA_TYPE, "application/json; charset=utf-8"})
UTF8_NAMES = (None, "utf-8", "utf8")


def media_type(content_type: str) -> tuple[str, str | None]:
    """(media type, charset) of a Content-Type header value, lowercased."""
    media, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media.strip().lower(), charset


def is_json_type(media: str) -> bool:
    """Whether a (lowercased) media type is JSON, whatever its charset parameter says."""
    return media == JSON_MEDIA_TYPE or (
        media.startswith("application/") and media.endswith("+json")
    )


def is_utf8_json(content_type: str) -> bool:
    """Whether a Content-Type header value is JSON in UTF-8."""
    if content_type in _PLAIN_JSON:
        return True
    media, charset = media_type(content_type)
    return is_json_type(media) and charset in UTF8_NAMES
