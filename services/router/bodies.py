"""Request bodies of the agents' API: JSON in UTF-8 only, every refusal naming its field.

Errors name the field and never echo the value: agent ids and timestamps are harmless, but the
same rule everywhere is easier to keep than a list of exceptions.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec
from aiohttp import hdrs, web

from shared.media import JSON_MEDIA_TYPE, is_utf8_json
from shared.problem import UNREADABLE_BODY, problem, unreadable_body
from shared.validation import invalid_field

T = TypeVar("T")


def _unsupported(content_type: str) -> web.Response:
    given = "this media type" if content_type else "a body without Content-Type"
    return problem(
        415,
        f"{given} is not accepted here; use {JSON_MEDIA_TYPE}",
        field="Content-Type",
        allowed=[JSON_MEDIA_TYPE],
    )


def _invalid(exc: msgspec.ValidationError) -> web.Response:
    """422 naming the field: msgspec's path (``$.at``), or the missing field's (``$.type``)."""
    path, detail = invalid_field(exc)
    return problem(422, detail, field=path)


async def read_json(request: web.Request, kind: type[T]) -> T | web.Response:
    """The body as ``kind``, or the problem response: 415 not JSON, 400 unreadable, 422 invalid."""
    content_type = request.headers.get(hdrs.CONTENT_TYPE, "")
    if not is_utf8_json(content_type):
        return _unsupported(content_type)
    try:
        body = await request.read()
    except UNREADABLE_BODY as exc:
        return unreadable_body(exc)
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    if not body.isascii():
        # msgspec skips the fields it ignores without checking them: check the whole body.
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return problem(400, f"body is not valid UTF-8 (byte {exc.start})", field="body")
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        return _invalid(exc)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return problem(400, "body is not valid JSON", field="body")
    except RecursionError:  # nesting deeper than the interpreter's limit
        return problem(400, "body is nested too deeply", field="body")
