"""The intake's baseline: an aiohttp handler on uvloop that reads the body and answers 202 JSON.

Run as ``python -m bench.noop_server --port 18090``: an ordinary aiohttp application
(``web.Application``, ``web.run_app``, no access log, uvloop, optional SO_REUSEPORT). The
intake runs on aiohttp's low-level server; docs/benchmarks.md says what that means here.
"""

from __future__ import annotations

import argparse

import uvloop
from aiohttp import web

_ANSWER = {"message_id": "00000000-0000-5000-8000-000000000000"}


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response(_ANSWER, status=202)


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/v1/inbound/{channel}", accept)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18090)
    parser.add_argument("--reuse-port", action="store_true")
    args = parser.parse_args()
    web.run_app(
        create_app(),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        reuse_port=args.reuse_port or None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
