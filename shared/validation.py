"""msgspec's validation errors as (field path, detail) for problem+json, never with the value.

The intake and the router's agents' API refuse bad fields the same way: the path msgspec found
(``$.from``, ``$.messages[3].text``), the missing field's own path, and a detail with any
quoted value taken out (customer text must not reach responses or logs).
"""

from __future__ import annotations

import re

import msgspec

_AT_KEY = re.compile(r"^(?P<detail>.*) - at `key` in `(?P<path>\$[^`]*)`$", re.DOTALL)
_AT_PATH = re.compile(r"^(?P<detail>.*) - at `(?P<path>\$[^`]*)`$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")
_QUOTED_VALUE = re.compile(r"'[^']*'")
_END_OF_TEXT = re.compile(r"\\+Z'")  # a pattern's ``\Z``, as msgspec's repr shows it


def invalid_field(error: msgspec.ValidationError) -> tuple[str, str]:
    """(path, detail) of a validation error; a regex in the detail is the schema's, kept."""
    message = str(error)
    path, detail = "$", message
    if match := _AT_KEY.match(message):
        path, detail = match["path"] + " (key)", match["detail"]
    elif match := _AT_PATH.match(message):
        path, detail = match["path"], match["detail"]
    if missing := _MISSING.match(detail):
        return f"{path}.{missing['name']}", "missing required field"
    if detail.startswith("Invalid enum value"):
        return path, "not one of the allowed values"
    if "regex" not in detail:
        detail = _QUOTED_VALUE.sub("", detail)
    else:  # the pattern as the OpenAPI document spells it (shared.payload)
        detail = _END_OF_TEXT.sub("$'", detail)
    return path, detail
