"""Typed settings read from the environment, with defaults for the local native stack.

A setting that is present but malformed stops the service at start-up with a message naming it;
nothing here is ever re-read per request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.models import CHANNELS
from shared.topics import INBOUND


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable, never its value."""


@dataclass(frozen=True)
class Settings:
    service: str
    http_host: str = "0.0.0.0"  # noqa: S104 - services listen on all interfaces in containers
    http_port: int = 8081
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    database_url: str = "postgresql://switchboard:switchboard@127.0.0.1:5433/switchboard"
    intake_tokens: Mapping[str, frozenset[str]] = field(default_factory=dict)
    agent_tokens: frozenset[str] = frozenset()
    rules_path: Path | None = None
    policy_path: Path | None = None
    log_level: str = "INFO"
    max_json_bytes: int = 1 << 20
    max_mime_bytes: int = 10 << 20
    kafka_timeout_s: float = 5.0
    agent_capacity: int = 5
    batch_max: int = 500
    reuse_port: bool = False
    router_batch_max: int = 1000
    router_triage_workers: int = 1
    # Where the intake publishes; only a benchmark or a staging mirror points it elsewhere.
    intake_topic: str = INBOUND


DEFAULT_PORTS = {"intake": 8081, "router": 8082, "sla": 8083}


def parse_intake_tokens(raw: str) -> dict[str, frozenset[str]]:
    """Parse ``token=phone,email;other=chat`` (``*`` means every channel)."""
    tokens: dict[str, frozenset[str]] = {}
    for entry in filter(None, (part.strip() for part in raw.split(";"))):
        token, sep, scopes = entry.partition("=")
        if not sep or not token.strip():
            raise SettingsError("INTAKE_TOKENS: each entry must look like token=channel,channel")
        channels = {c.strip() for c in scopes.split(",") if c.strip()}
        if "*" in channels:
            channels = set(CHANNELS)
        unknown = channels - set(CHANNELS)
        if unknown:
            raise SettingsError(f"INTAKE_TOKENS: unknown channel(s) {sorted(unknown)}")
        tokens[token.strip()] = frozenset(channels)
    return tokens


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer") from None


def _at_least(env: Mapping[str, str], name: str, default: int, low: int) -> int:
    value = _int(env, name, default)
    if value < low:
        raise SettingsError(f"{name} must be at least {low}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number") from None


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name)
    if not raw:
        return None
    path = Path(raw)
    if not path.is_file():
        raise SettingsError(f"{name} names a file that does not exist")
    return path


def load_settings(service: str, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    tokens_raw = env.get("INTAKE_TOKENS", "")
    tokens_file = env.get("INTAKE_TOKENS_FILE")
    if tokens_file:
        try:
            tokens_raw = Path(tokens_file).read_text(encoding="utf-8").replace("\n", ";")
        except OSError:
            raise SettingsError("INTAKE_TOKENS_FILE cannot be read") from None
    return Settings(
        service=service,
        http_host=env.get("HTTP_HOST", "0.0.0.0"),  # noqa: S104
        http_port=_int(env, "HTTP_PORT", DEFAULT_PORTS.get(service, 8080)),
        kafka_bootstrap_servers=env.get(
            "KAFKA_BOOTSTRAP_SERVERS", Settings.kafka_bootstrap_servers
        ),
        database_url=env.get("DATABASE_URL", Settings.database_url),
        intake_tokens=parse_intake_tokens(tokens_raw),
        agent_tokens=frozenset(
            t.strip() for t in env.get("AGENT_TOKENS", "").split(",") if t.strip()
        ),
        rules_path=_path(env, "ROUTER_RULES"),
        policy_path=_path(env, "SLA_POLICY"),
        log_level=env.get("LOG_LEVEL", "INFO").upper(),
        max_json_bytes=_int(env, "INTAKE_MAX_JSON_BYTES", Settings.max_json_bytes),
        max_mime_bytes=_int(env, "INTAKE_MAX_MIME_BYTES", Settings.max_mime_bytes),
        kafka_timeout_s=_float(env, "KAFKA_SEND_TIMEOUT_S", Settings.kafka_timeout_s),
        agent_capacity=_int(env, "AGENT_CAPACITY", Settings.agent_capacity),
        reuse_port=env.get("HTTP_REUSE_PORT", "").lower() in {"1", "true", "yes"},
        router_batch_max=_at_least(env, "ROUTER_BATCH_MAX", Settings.router_batch_max, 1),
        router_triage_workers=_at_least(
            env, "ROUTER_TRIAGE_WORKERS", Settings.router_triage_workers, 0
        ),
        intake_topic=env.get("INTAKE_TOPIC", "").strip() or INBOUND,
    )
