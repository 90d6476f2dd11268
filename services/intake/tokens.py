"""Integration tokens → the channels they may post to, with accepted headers remembered.

Every request carries the same few ``Authorization`` values, and the constant-time comparison
against every known token costs more than the rest of authentication. A value that once
matched is remembered as a whole (a dict hit needs the exact value, so it tells an attacker
nothing about a near miss); anything else takes the constant-time path every time.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import hdrs, web

from shared.auth import channel_scopes


class TokenScopes:
    def __init__(self, tokens: Mapping[str, frozenset[str]], capacity: int = 1024) -> None:
        self._tokens = tokens
        self._capacity = capacity
        self._accepted: dict[str, frozenset[str]] = {}

    def of(self, request: web.BaseRequest) -> frozenset[str] | None:
        """The caller's channels, or None when it presented no valid bearer token."""
        header = request.headers.get(hdrs.AUTHORIZATION)
        if header is None:
            return None
        scopes = self._accepted.get(header)
        if scopes is None:
            scopes = channel_scopes(request, self._tokens)
            if scopes is not None and len(self._accepted) < self._capacity:
                self._accepted[header] = scopes
        return scopes
