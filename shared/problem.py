"""RFC 9457 problem details: every 4xx/5xx leaves the services as ``application/problem+json``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


def problem(
    status: int,
    detail: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    body.update(extra)
    return web.Response(
        status=status,
        body=msgspec.json.encode(body),
        content_type=PROBLEM_JSON,
        headers=headers,
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Reading a request's body can fail by the client's doing: it left, its chunks broke off, or
# its Content-Encoding does not decode.
UNREADABLE_BODY = (ConnectionError, web.RequestPayloadError, HttpProcessingError)


def unreadable_body(exc: BaseException) -> web.Response:
    """The 400 for a body that could not be read: nobody is there to read it when the client
    left; otherwise the rest of the stream cannot be framed, so the connection closes."""
    if isinstance(exc, ConnectionError):
        return problem(400, "the connection closed before the body arrived", field="body")
    response = problem(
        400, "the body could not be read (its chunks or Content-Encoding)", field="body"
    )
    response.force_close()
    return response


def problem_for(request: web.BaseRequest, exc: Exception) -> web.Response:
    """aiohttp's own HTTP errors (404, 405, 413 …) as problem+json; anything unexpected is a
    logged 500 that tells the client nothing of the internals. ``exc`` is not an HTTP
    exception below 400 (those are answers, re-raised by the caller)."""
    if isinstance(exc, web.HTTPException):
        headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after"}}
        return problem(exc.status, exc.reason, headers=headers)
    if isinstance(exc, web.RequestPayloadError | HttpProcessingError):
        # A body read without ``UNREADABLE_BODY`` in mind (a ConnectionError here may be the
        # service's own, towards its database: that stays a 500).
        return unreadable_body(exc)
    log.exception("unhandled error", extra={"path": request.path, "method": request.method})
    return problem(500, "internal error")
