"""``switchboard``: run a service, migrate the database, create topics, or dry-run routing."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from shared.logs import configure_logging
from shared.settings import SettingsError, load_settings


def _serve(service: str) -> int:
    try:
        settings = load_settings(service)
    except SettingsError as exc:
        print(f"switchboard {service}: {exc}", file=sys.stderr)
        return 2
    configure_logging(service, settings.log_level)
    from shared.serving import run_app, run_server

    if service == "intake":
        from services.intake.app import Intake

        intake = Intake(settings)
        run_server(
            intake.handle,
            settings.http_host,
            settings.http_port,
            start=intake.start,
            stop=intake.stop,
            reuse_port=settings.reuse_port,
        )
        return 0
    if service == "router":
        from services.router.app import create_app as router_app

        app = router_app(settings)
    else:
        from services.sla.app import create_app as sla_app

        app = sla_app(settings)
    run_app(app, settings.http_host, settings.http_port, reuse_port=settings.reuse_port)
    return 0


def _migrate() -> int:
    from shared.db import migrate

    settings = load_settings("migrate")
    configure_logging("migrate", settings.log_level)
    applied = asyncio.run(migrate(settings.database_url))
    print(f"migrations applied: {len(applied)}" + (f" ({', '.join(applied)})" if applied else ""))
    return 0


def _topics() -> int:
    from shared.topics import ensure_topics

    settings = load_settings("topics")
    created = asyncio.run(ensure_topics(settings.kafka_bootstrap_servers))
    print(f"topics created: {len(created)}" + (f" ({', '.join(created)})" if created else ""))
    return 0


def _route(rules: Path | None) -> int:
    """JSON Lines are UTF-8 whatever the locale. Bytes that are not UTF-8 reach the parser as
    lone surrogates (and give an error line); a reader that goes away (``| head``) ends the
    run quietly."""
    from services.router.triage import commands

    for stream, errors in ((sys.stdin, "surrogateescape"), (sys.stdout, "backslashreplace")):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(encoding="utf-8", errors=errors)
    try:
        return int(commands.route(sys.stdin, sys.stdout, rules))
    except BrokenPipeError:
        # Python would flush stdout again at exit and print the error: point it at /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="switchboard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("intake", "router", "sla"):
        sub.add_parser(name, help=f"run the {name} service (settings from the environment)")
    sub.add_parser("migrate", help="apply database migrations (DATABASE_URL)")
    sub.add_parser("topics", help="create the Kafka topics (KAFKA_BOOTSTRAP_SERVERS)")
    route = sub.add_parser("route", help="dry run: JSON Lines on stdin, one decision per line out")
    route.add_argument("--rules", type=Path, help="rules file (default: ROUTER_RULES or packaged)")
    sub.add_parser(
        "evaluate", help="accuracy of the classifier on a labelled CSV/JSONL", add_help=False
    )
    sub.add_parser("train", help="fit the statistical model on labelled CSV/JSONL", add_help=False)
    args, rest = parser.parse_known_args(argv)

    if args.command in ("intake", "router", "sla"):
        return _serve(args.command)
    if args.command == "migrate":
        return _migrate()
    if args.command == "topics":
        return _topics()
    from services.router.triage import commands

    if args.command == "route":
        rules = args.rules or load_settings("route").rules_path
        return _route(rules)
    if args.command == "evaluate":
        return int(commands.evaluate(rest))
    return int(commands.train(rest))


if __name__ == "__main__":
    sys.exit(main())
