"""An HTTP request sent byte for byte: aiohttp's client would encode header values as UTF-8,
and some tests need what a broken integration really sends (latin-1 tokens, for one)."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient


async def raw_request(client: TestClient, head: bytes) -> tuple[int, bytes]:
    """Send ``head`` (request line, headers and body) as it is; (status, the rest)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(head)
        await writer.drain()
        response = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    status_line, _, rest = response.partition(b"\r\n")
    return int(status_line.split()[1]), rest
