"""Bearer-token checks, compared in constant time; tokens never appear in logs or errors."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping

from aiohttp import web

_SCHEME = "bearer "


def bearer_token(request: web.BaseRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    if len(header) <= len(_SCHEME) or header[: len(_SCHEME)].lower() != _SCHEME:
        return None
    return header[len(_SCHEME) :].strip() or None


def _find(presented: str, known: Iterable[str]) -> str | None:
    """Compare against every known token so the time taken does not say which one was close."""
    found = None
    # aiohttp decodes header bytes as UTF-8 with surrogateescape, so a client sending latin-1
    # gives lone surrogates; encoding back the same way recovers the bytes it sent.
    encoded = presented.encode("utf-8", "surrogateescape")
    for token in known:
        if hmac.compare_digest(encoded, token.encode("utf-8", "surrogateescape")):
            found = token
    return found


def channel_scopes(
    request: web.BaseRequest, tokens: Mapping[str, frozenset[str]]
) -> frozenset[str] | None:
    """The channels the caller's integration token may post to, or None when unauthenticated."""
    presented = bearer_token(request)
    if presented is None:
        return None
    token = _find(presented, tokens)
    return None if token is None else tokens[token]


def is_agent(request: web.BaseRequest, tokens: frozenset[str]) -> bool:
    presented = bearer_token(request)
    return presented is not None and _find(presented, tokens) is not None
