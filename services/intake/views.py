"""HTTP handlers of the intake: authenticate, bound, normalize, produce, then answer 202."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import msgspec
from aiohttp import web

from services.intake.channels import (
    CHANNELS,
    InvalidInput,
    UnsupportedMediaType,
    normalize,
    normalize_batch,
)
from services.intake.context import DEDUPE, PRODUCER, SETTINGS
from services.intake.metrics import MESSAGES, PRODUCER_ERRORS
from services.intake.openapi import openapi_document
from shared.auth import channel_scopes
from shared.kafka_producer import BrokerUnavailable
from shared.models import InboundMessage
from shared.problem import problem
from shared.topics import INBOUND

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode
RETRY_AFTER_S = "5"
_MIME_TYPES = frozenset({"message/rfc822", "message/global"})


def _unavailable(channel: str, count: int = 1) -> web.Response:
    PRODUCER_ERRORS.inc()
    MESSAGES.labels(channel, "unavailable").inc(count)
    return problem(
        503,
        "the message broker did not acknowledge in time; retry later",
        headers={"Retry-After": RETRY_AFTER_S},
    )


def _invalid(channel: str, exc: InvalidInput) -> web.Response:
    MESSAGES.labels(channel, "invalid").inc()
    status = 400 if exc.field in {"body", "$"} else 422
    return problem(status, exc.detail, field=exc.field)


async def _gate(request: web.Request, *, batch: bool = False) -> tuple[str, bytes] | web.Response:
    """Check channel, token, content type and size; on success return (channel, body)."""
    channel = request.match_info["channel"]
    if channel not in CHANNELS:
        return problem(404, "unknown channel", field="channel")
    settings = request.app[SETTINGS]
    scopes = channel_scopes(request, settings.intake_tokens)
    if scopes is None:
        MESSAGES.labels(channel, "unauthorized").inc()
        return problem(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    if channel not in scopes:
        MESSAGES.labels(channel, "forbidden").inc()
        return problem(403, f"this token may not post to the {channel} channel")
    mime = request.content_type
    allowed = {"application/json"} | (_MIME_TYPES if channel == "email" and not batch else set())
    if mime not in allowed:
        MESSAGES.labels(channel, "unsupported_media_type").inc()
        return problem(415, f"content type must be one of {sorted(allowed)}", field="Content-Type")
    limit = settings.max_mime_bytes if mime in _MIME_TYPES else settings.max_json_bytes
    if batch:
        limit *= 10
    if request.content_length is not None and request.content_length > limit:
        MESSAGES.labels(channel, "too_large").inc()
        return problem(413, f"body exceeds {limit} bytes", field="body")
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        MESSAGES.labels(channel, "too_large").inc()
        return problem(413, f"body exceeds {limit} bytes", field="body")
    return channel, body


async def _produce(request: web.Request, messages: list[InboundMessage]) -> int:
    """Send what this process has not acked yet; returns how many were duplicates."""
    dedupe = request.app[DEDUPE]
    fresh = [m for m in messages if not dedupe.seen(m.message_id)]
    if len(fresh) == 1:
        message = fresh[0]
        sent = await dedupe.once(
            message.message_id,
            lambda: request.app[PRODUCER].send(
                INBOUND, message.conversation_key.encode(), _encode(message)
            ),
        )
        return len(messages) - int(sent)
    if fresh:
        await request.app[PRODUCER].send_many(
            [(INBOUND, m.conversation_key.encode(), _encode(m)) for m in fresh]
        )
        for m in fresh:
            dedupe.remember(m.message_id)
    return len(messages) - len(fresh)


async def post_message(request: web.Request) -> web.Response:
    gated = await _gate(request)
    if isinstance(gated, web.Response):
        return gated
    channel, body = gated
    try:
        message = normalize(channel, body, request.content_type, datetime.now(UTC))
    except UnsupportedMediaType as exc:
        MESSAGES.labels(channel, "unsupported_media_type").inc()
        return problem(415, str(exc) or "unsupported content type", field="Content-Type")
    except InvalidInput as exc:
        return _invalid(channel, exc)
    try:
        duplicates = await _produce(request, [message])
    except BrokerUnavailable:
        return _unavailable(channel)
    MESSAGES.labels(channel, "duplicate" if duplicates else "accepted").inc()
    return web.json_response({"message_id": message.message_id}, status=202)


async def post_batch(request: web.Request) -> web.Response:
    gated = await _gate(request, batch=True)
    if isinstance(gated, web.Response):
        return gated
    channel, body = gated
    try:
        results = normalize_batch(channel, body, datetime.now(UTC))
    except InvalidInput as exc:
        return _invalid(channel, exc)
    valid = [r for r in results if isinstance(r, InboundMessage)]
    try:
        await _produce(request, valid)
    except BrokerUnavailable:
        return _unavailable(channel, len(valid))
    items: list[dict[str, object]] = []
    for index, result in enumerate(results):
        if isinstance(result, InboundMessage):
            items.append({"index": index, "status": 202, "message_id": result.message_id})
        else:
            items.append(
                {"index": index, "status": 422, "field": result.field, "detail": result.detail}
            )
    MESSAGES.labels(channel, "accepted").inc(len(valid))
    MESSAGES.labels(channel, "invalid").inc(len(results) - len(valid))
    return web.json_response(
        {"accepted": len(valid), "rejected": len(results) - len(valid), "results": items},
        status=200,
    )


async def get_openapi(_: web.Request) -> web.Response:
    return web.json_response(openapi_document())
