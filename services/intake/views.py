"""HTTP handlers of the intake: authenticate, bound, normalize, produce, then answer 202.

The channel parsers decide what a body is worth (``InvalidInput.status``: 400 unreadable, 422
bad field; ``UnsupportedMediaType.allowed``); the handlers only turn that into problem+json.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import NamedTuple

import msgspec
from aiohttp import HttpVersion11, hdrs, web

from services.intake.channels import (
    CHANNELS,
    InvalidInput,
    UnsupportedMediaType,
    body_kind,
    normalize,
    normalize_batch,
)
from services.intake.context import IntakeContext
from services.intake.metrics import PRODUCER_ERRORS, outcome
from shared.kafka_producer import BrokerUnavailable
from shared.models import InboundMessage
from shared.problem import UNREADABLE_BODY, problem, unreadable_body
from shared.raw_response import RawResponse

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode
RETRY_AFTER_S = "5"
JSON = "application/json"
_JSON_BYTES = JSON.encode()
# The pure-Python MIME parser (and HTML to text) can take tens of milliseconds on a large
# body; above this size normalizing runs in a worker thread so other requests keep flowing.
OFFLOAD_BYTES = 256 * 1024
# A social post is redacted of every personal detail (phones, ids, e-mails, secrets): about
# 5 ms per KB of number-heavy text, so a post of 100 KB would hold the loop for half a second.
OFFLOAD_SOCIAL_BYTES = 16 * 1024
# Kafka refuses a record batch over message.max.bytes (default 1 MiB + 12) and aiokafka a record
# over max_request_size (1 MiB): an envelope above this, with its key and batch header, is a
# 413, not a broker failure that answers 503 and counts towards rebuilding the producer.
MAX_RECORD_BYTES = 1_000_000
# A client that stops sending in the middle of its body holds a handler and a connection; at
# 1 MiB per request even a slow mobile link needs far less.
BODY_TIMEOUT_S = 30.0
# The content codings aiohttp decodes (RFC 9110 §8.4; it passes x-gzip through undecoded);
# anything else is a 415.
_CODINGS = frozenset({"identity", "gzip", "deflate"})


class _Accepted(msgspec.Struct):
    message_id: str


def _unavailable(channel: str, count: int = 1) -> web.Response:
    PRODUCER_ERRORS.inc()
    outcome(channel, "unavailable").inc(count)
    return problem(
        503,
        "the message broker did not acknowledge in time; retry later",
        headers={"Retry-After": RETRY_AFTER_S},
    )


def _invalid(channel: str, exc: InvalidInput) -> web.Response:
    outcome(channel, "invalid").inc()
    return problem(exc.status, exc.detail, field=exc.field)


def _unsupported(channel: str, exc: UnsupportedMediaType) -> web.Response:
    outcome(channel, "unsupported_media_type").inc()
    return problem(415, str(exc), field="Content-Type", allowed=list(exc.allowed))


async def unknown_channel(_: web.BaseRequest) -> web.Response:
    """``/v1/inbound/{anything else}``: the known channels have routes of their own."""
    return problem(404, f"unknown channel; use one of {', '.join(CHANNELS)}", field="channel")


class _Admitted(NamedTuple):
    content_type: str
    limit: int  # bytes the body may have
    length: int | None  # Content-Length (None: chunked); aiohttp parses it on every access


def _admit(
    ctx: IntakeContext, request: web.BaseRequest, channel: str, *, batch: bool = False
) -> _Admitted | web.Response:
    """Check token, content type and declared size before the body is read."""
    scopes = ctx.tokens.of(request)
    if scopes is None:
        outcome(channel, "unauthorized").inc()
        return problem(
            401,
            "a valid bearer token is required",
            field="Authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if channel not in scopes:
        outcome(channel, "forbidden").inc()
        return problem(
            403, f"this token may not post to the {channel} channel", field="Authorization"
        )
    content_type = request.headers.get(hdrs.CONTENT_TYPE, "")
    try:
        kind = body_kind(channel, content_type, batch=batch)
    except UnsupportedMediaType as exc:
        return _unsupported(channel, exc)
    settings = ctx.settings
    limit = settings.max_mime_bytes if kind == "mail" else settings.max_json_bytes
    if batch:
        limit *= 10
    length = request.content_length
    if length is not None and length > limit:
        return _too_large(channel, limit)
    coding = request.headers.get(hdrs.CONTENT_ENCODING)
    if coding is not None:
        coding = coding.strip().lower()
        if coding not in _CODINGS:
            outcome(channel, "unsupported_media_type").inc()
            return problem(
                415,
                "this content coding is not accepted; use gzip, deflate or none",
                field="Content-Encoding",
                headers={hdrs.ACCEPT_ENCODING: "gzip, deflate"},
            )
        if coding != "identity":
            length = None  # aiohttp decodes as it reads: the limit is the decoded body's
    return _Admitted(content_type, limit, length)


def _too_large(channel: str, limit: int) -> web.Response:
    outcome(channel, "too_large").inc()
    return problem(413, f"body exceeds {limit} bytes", field="body")


def _arrived(request: web.BaseRequest, length: int | None) -> bytes | None:
    """The whole body when all of it has arrived (for the small posts of most integrations,
    with the headers), taken without a coroutine step; None when more is to come."""
    if length is None or not request.content.is_eof():
        return None
    return request.content.read_nowait()


async def _read(request: web.BaseRequest, limit: int, length: int | None) -> bytes | None:
    """The whole body, or None past ``limit`` bytes.

    ``content.read(n)`` answers with what has arrived so far, which for a large body is only
    its first chunks; so read to the end, and stop counting at the limit when there is no
    Content-Length (chunked) to have refused the body up front.
    """
    if length is not None:  # already checked against the limit
        try:
            return await request.content.readexactly(length)
        except asyncio.IncompleteReadError as exc:  # the client went away mid-body
            return exc.partial
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(limit + 1 - size):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _continue(request: web.BaseRequest) -> web.Response | None:
    """``Expect: 100-continue``, once the headers passed: the client may send the body now
    (a refused post was answered without it). Another expectation is a 417."""
    if request.version != HttpVersion11:
        return None
    expect = request.headers.get(hdrs.EXPECT, "")
    if expect.lower() != "100-continue":
        return problem(417, "only Expect: 100-continue is understood", field="Expect")
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0  # the response proper has not started
    return None


async def _gated(
    ctx: IntakeContext, request: web.BaseRequest, channel: str, *, batch: bool = False
) -> tuple[str, bytes] | web.Response:
    """``_admit``, then the body: (content type, body) or the error response."""
    admitted = _admit(ctx, request, channel, batch=batch)
    if isinstance(admitted, web.Response):
        return admitted
    content_type, limit, length = admitted
    body = _arrived(request, length)
    if body is None:
        try:
            if request.headers.get(hdrs.EXPECT) is not None:
                refused = await _continue(request)
                if refused is not None:
                    return refused
            async with asyncio.timeout(BODY_TIMEOUT_S):
                body = await _read(request, limit, length)
        except TimeoutError:
            outcome(channel, "invalid").inc()
            return problem(
                408, f"the body did not arrive within {BODY_TIMEOUT_S:g} s", field="body"
            )
        except UNREADABLE_BODY as exc:
            outcome(channel, "invalid").inc()
            return unreadable_body(exc)
        if body is None:
            return _too_large(channel, limit)
    return content_type, body


def _offloaded(channel: str, body: bytes) -> bool:
    """Whether normalizing ``body`` goes to a worker thread (see the limits above)."""
    return len(body) > (OFFLOAD_SOCIAL_BYTES if channel == "social" else OFFLOAD_BYTES)


def _record(message: InboundMessage) -> bytes | None:
    """The envelope as Kafka will carry it, or None when the broker would refuse its size."""
    value = _encode(message)
    return value if len(value) <= MAX_RECORD_BYTES else None


async def _produce_many(ctx: IntakeContext, records: list[tuple[InboundMessage, bytes]]) -> int:
    """Send the batch's valid items that this process has not acked yet, together, each once
    (an item repeated in the batch is its duplicate); how many were sent."""
    dedupe = ctx.dedupe
    fresh: dict[str, tuple[InboundMessage, bytes]] = {}
    for message, value in records:
        if message.message_id not in fresh and not dedupe.seen(message.message_id):
            fresh[message.message_id] = (message, value)
    if fresh:
        topic = ctx.settings.intake_topic
        await ctx.producer.send_many(
            [(topic, m.conversation_key.encode(), v) for m, v in fresh.values()]
        )
        for message_id in fresh:
            dedupe.remember(message_id)
    return len(fresh)


async def post_message(
    ctx: IntakeContext, channel: str, request: web.BaseRequest
) -> web.StreamResponse:
    gated = await _gated(ctx, request, channel)
    if isinstance(gated, web.Response):
        return gated
    content_type, body = gated
    now = datetime.now(UTC)
    try:
        if _offloaded(channel, body):
            loop = asyncio.get_running_loop()
            message = await loop.run_in_executor(None, normalize, channel, body, content_type, now)
        else:
            message = normalize(channel, body, content_type, now)
    except UnsupportedMediaType as exc:
        return _unsupported(channel, exc)
    except InvalidInput as exc:
        return _invalid(channel, exc)
    value = _record(message)
    if value is None:
        outcome(channel, "too_large").inc()
        return problem(
            413, f"the normalized message exceeds {MAX_RECORD_BYTES} bytes", field="body"
        )
    # Unless this process acked (or is sending) the same message: then it is a duplicate.
    sent, acked = ctx.dedupe.once(
        message.message_id,
        ctx.producer.enqueue,
        ctx.settings.intake_topic,
        message.conversation_key.encode(),
        value,
    )
    if acked is not None:
        try:
            await acked
        except BrokerUnavailable:
            return _unavailable(channel)
    outcome(channel, "accepted" if sent else "duplicate").inc()
    # The request rate is the intake's: its answer skips aiohttp's response machinery.
    return RawResponse(
        202, _encode(_Accepted(message.message_id)), _JSON_BYTES
    ).as_stream_response()


async def post_batch(
    ctx: IntakeContext, channel: str, request: web.BaseRequest
) -> web.StreamResponse:
    gated = await _gated(ctx, request, channel, batch=True)
    if isinstance(gated, web.Response):
        return gated
    content_type, body = gated
    now = datetime.now(UTC)
    try:
        if _offloaded(channel, body):
            loop = asyncio.get_running_loop()
            results = await loop.run_in_executor(
                None, lambda: normalize_batch(channel, body, now, content_type=content_type)
            )
        else:
            results = normalize_batch(channel, body, now, content_type=content_type)
    except UnsupportedMediaType as exc:
        return _unsupported(channel, exc)
    except InvalidInput as exc:
        return _invalid(channel, exc)
    records: list[tuple[InboundMessage, bytes]] = []
    for index, result in enumerate(results):
        if isinstance(result, InboundMessage):
            value = _record(result)
            if value is None:
                results[index] = InvalidInput(
                    f"$.messages[{index}]",
                    f"the normalized message exceeds {MAX_RECORD_BYTES} bytes",
                )
            else:
                records.append((result, value))
    try:
        sent = await _produce_many(ctx, records)
    except BrokerUnavailable:
        return _unavailable(channel, len(records))
    items: list[dict[str, object]] = []
    for index, result in enumerate(results):
        if isinstance(result, InboundMessage):
            items.append({"index": index, "status": 202, "message_id": result.message_id})
        else:
            items.append(
                {"index": index, "status": 422, "field": result.field, "detail": result.detail}
            )
    outcome(channel, "accepted").inc(sent)
    outcome(channel, "duplicate").inc(len(records) - sent)
    outcome(channel, "invalid").inc(len(results) - len(records))
    answer = {"accepted": len(records), "rejected": len(results) - len(records), "results": items}
    return RawResponse(200, _encode(answer), _JSON_BYTES).as_stream_response()


async def get_openapi(ctx: IntakeContext, _: web.BaseRequest) -> web.Response:
    return web.Response(body=ctx.openapi_json, content_type=JSON)
