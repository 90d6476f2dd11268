"""The router's HTTP API under the real app factory, with a fake pool, producer and consumer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from aiohttp.test_utils import TestClient

from services.router import app as router_app
from services.router.lifecycle import event_id_for
from shared.settings import Settings
from shared.topics import LIFECYCLE
from tests.unit.raw_http import raw_request

AGENT = {"Authorization": "Bearer agent-token"}


class FakeConnection:
    """Answers the lifecycle and claim queries from ``tickets``; records what was written."""

    def __init__(self, tickets: dict[uuid.UUID, dict[str, Any]]) -> None:
        self.tickets = tickets
        self.updates: list[tuple[str, tuple[Any, ...]]] = []
        self.outbox: list[tuple[Any, ...]] = []

    def transaction(self) -> FakeConnection:
        return self

    async def __aenter__(self) -> FakeConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def fetchrow(self, query: str, ticket_id: uuid.UUID) -> dict[str, Any] | None:
        row = self.tickets.get(ticket_id)
        return None if row is None else dict(row)

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        return []

    async def execute(self, query: str, *args: Any) -> str:
        if query.lstrip().startswith("UPDATE"):
            self.updates.append((query, args))
        return "OK"

    async def fetchval(self, query: str, *args: Any) -> Any:
        if "INSERT INTO outbox" in query:
            self.outbox.append(args)
            return len(self.outbox)
        return 0


class FakePool:
    def __init__(self) -> None:
        self.tickets: dict[uuid.UUID, dict[str, Any]] = {}
        self.conn = FakeConnection(self.tickets)

    def acquire(self) -> FakeConnection:
        return self.conn

    async def execute(self, query: str, *args: Any) -> str:
        return "DELETE"

    async def close(self) -> None: ...


class FakeProducer:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.records: list[tuple[str, bytes, bytes]] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ready(self) -> bool:
        return True

    async def send_many(self, records: list[tuple[str, bytes, bytes]]) -> None:
        self.records.extend(records)


class FakePipeline:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.lookahead = None

    async def start(self) -> None: ...

    async def handle(self, records: object) -> None: ...

    def close(self) -> None: ...


class FakeConsumer:
    running = True

    def __init__(self, **kwargs: Any) -> None:
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        await self._stopped.wait()

    async def stop(self) -> None:
        self._stopped.set()


async def _idle(*args: Any) -> None:
    await asyncio.Event().wait()


@pytest.fixture
async def router(
    aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[TestClient, FakePool, FakeProducer]]:
    pool = FakePool()

    async def create_pool(dsn: str) -> FakePool:
        return pool

    monkeypatch.setattr(router_app, "create_pool", create_pool)
    monkeypatch.setattr(router_app, "ResilientProducer", FakeProducer)
    monkeypatch.setattr(router_app, "RouterPipeline", FakePipeline)
    monkeypatch.setattr(router_app, "BatchConsumer", FakeConsumer)
    monkeypatch.setattr(router_app, "relay_forever", _idle)
    app = router_app.create_app(Settings(service="router", agent_tokens=frozenset({"agent-token"})))
    producer = app[router_app.PRODUCER]
    yield await aiohttp_client(app), pool, producer  # type: ignore[misc]


def _ticket(
    pool: FakePool,
    status: str,
    resolved_at: datetime | None = None,
    created_at: datetime | None = None,
) -> uuid.UUID:
    ticket_id = uuid.uuid4()
    created = created_at or datetime.now(UTC) - timedelta(hours=1)
    pool.tickets[ticket_id] = {
        "status": status,
        "resolved_at": resolved_at,
        "created_at": created,
    }
    return ticket_id


async def _problem(resp: Any, status: int, field: str | None) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    body: dict[str, Any] = await resp.json()
    assert body["status"] == status
    assert body.get("field") == field
    return body


# --- authentication ----------------------------------------------------------------------------


async def test_a_non_ascii_bearer_token_is_401(router: Any) -> None:
    client, _, _ = router
    status, rest = await raw_request(
        client,
        b"GET /v1/queues HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer caf\xe9\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert status == 401
    assert b"application/problem+json" in rest
    assert b'"field":"Authorization"' in rest


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
async def test_401_names_the_authorization_header(router: Any, headers: dict[str, str]) -> None:
    client, _, _ = router
    resp = await client.get("/v1/queues", headers=headers)
    await _problem(resp, 401, "Authorization")
    assert resp.headers["WWW-Authenticate"] == "Bearer"


# --- bodies --------------------------------------------------------------------------------------


def _event(kind: str = "resolved", at: datetime | None = None, **extra: Any) -> dict[str, Any]:
    when = at or datetime.now(UTC) - timedelta(seconds=5)
    return {"type": kind, "agent_id": "a-1", "at": when.isoformat(), **extra}


@pytest.mark.parametrize("path", ["/v1/queues/cards/claim", "/v1/tickets/{tid}/events"])
async def test_invalid_utf8_is_400_naming_the_body(router: Any, path: str) -> None:
    client, pool, _ = router
    url = path.format(tid=_ticket(pool, "waiting"))
    resp = await client.post(
        url,
        data=b'{"agent_id":"\xff"}',
        headers={**AGENT, "Content-Type": "application/json"},
    )
    await _problem(resp, 400, "body")


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b'{"agent_id":"a-1","x":' + b"[" * 2000 + b"]" * 2000 + b"}", {}),
        (b"garbage!!", {"Content-Encoding": "deflate"}),
    ],
    ids=["nested too deeply", "does not decode"],
)
async def test_an_unreadable_body_is_400_not_500(
    router: Any, body: bytes, headers: dict[str, str]
) -> None:
    client, _, _ = router
    resp = await client.post(
        "/v1/queues/cards/claim",
        data=body,
        headers={**AGENT, "Content-Type": "application/json", **headers},
    )
    await _problem(resp, 400, "body")


async def test_invalid_utf8_in_an_ignored_field_is_400(router: Any) -> None:
    client, _, _ = router
    resp = await client.post(
        "/v1/queues/cards/claim",
        data=b'{"note":"\xff","agent_id":"a-1"}',
        headers={**AGENT, "Content-Type": "application/json"},
    )
    await _problem(resp, 400, "body")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/queues/cards/claim", {}, "$.agent_id"),
        ("/v1/tickets/{tid}/events", {"agent_id": "a", "at": "2024-01-01T00:00:00Z"}, "$.type"),
        ("/v1/tickets/{tid}/events", {"type": "resolved", "agent_id": "a"}, "$.at"),
        (
            "/v1/tickets/{tid}/events",
            {"type": "resolved", "at": "2024-01-01T00:00:00Z"},
            "$.agent_id",
        ),
        ("/v1/tickets/{tid}/events", {**_event(), "type": "closed"}, "$.type"),
        ("/v1/tickets/{tid}/events", {**_event(), "at": "yesterday"}, "$.at"),
        ("/v1/queues/cards/claim", {"agent_id": 7}, "$.agent_id"),
        ("/v1/queues/cards/claim", {"agent_id": "a\x00b"}, "$.agent_id"),
    ],
)
async def test_422_names_the_field(router: Any, path: str, body: Any, field: str) -> None:
    client, pool, producer = router
    url = path.format(tid=_ticket(pool, "assigned"))
    resp = await client.post(url, json=body, headers=AGENT)
    problem = await _problem(resp, 422, field)
    assert "closed" not in problem["detail"] and "yesterday" not in problem["detail"]
    assert producer.records == []


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
@pytest.mark.parametrize("path", ["/v1/queues/cards/claim", "/v1/tickets/{tid}/events"])
async def test_a_body_that_is_not_json_is_415(router: Any, path: str, content_type: str) -> None:
    client, pool, producer = router
    url = path.format(tid=_ticket(pool, "assigned"))
    resp = await client.post(
        url, data=msgspec.json.encode(_event()), headers={**AGENT, "Content-Type": content_type}
    )
    problem = await _problem(resp, 415, "Content-Type")
    assert problem["allowed"] == ["application/json"]
    assert pool.conn.updates == [] and producer.records == []


async def test_a_claim_without_content_type_or_body_is_415(router: Any) -> None:
    client, _, _ = router
    resp = await client.post("/v1/queues/cards/claim", headers=AGENT)
    await _problem(resp, 415, "Content-Type")


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=UTF-8", "application/vnd.desk+json"],
)
async def test_json_media_types_are_accepted(router: Any, content_type: str) -> None:
    client, pool, producer = router
    tid = _ticket(pool, "assigned")
    resp = await client.post(
        f"/v1/tickets/{tid}/events",
        data=msgspec.json.encode(_event()),
        headers={**AGENT, "Content-Type": content_type},
    )
    assert resp.status == 202, await resp.text()
    assert len(producer.records) == 1


# --- lifecycle transitions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("waiting", "first_response"),
        ("assigned", "first_response"),
        ("waiting_on_customer", "first_response"),
        ("waiting", "waiting_on_customer"),
        ("assigned", "waiting_on_customer"),
        ("waiting", "resolved"),
        ("assigned", "resolved"),
        ("waiting_on_customer", "resolved"),
        ("resolved", "reopened"),
    ],
)
async def test_valid_events_are_202_and_published(router: Any, status: str, kind: str) -> None:
    client, pool, producer = router
    tid = _ticket(pool, status, datetime.now(UTC) if status == "resolved" else None)
    at = datetime.now(UTC) - timedelta(minutes=1)
    resp = await client.post(f"/v1/tickets/{tid}/events", json=_event(kind, at), headers=AGENT)
    assert resp.status == 202, await resp.text()
    answer = await resp.json()
    assert answer == {
        "event_id": event_id_for(tid, kind, "a-1", at),
        "ticket_id": str(tid),
        "type": kind,
    }
    [(topic, key, value)] = producer.records
    assert (topic, key) == (LIFECYCLE, str(tid).encode())
    assert msgspec.json.decode(value)["type"] == kind
    assert len(pool.conn.updates) == 1


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("waiting", "reopened"),
        ("assigned", "reopened"),
        ("waiting_on_customer", "reopened"),
        ("resolved", "first_response"),
        ("resolved", "waiting_on_customer"),
        ("resolved", "resolved"),
    ],
)
async def test_invalid_transitions_are_409_and_change_nothing(
    router: Any, status: str, kind: str
) -> None:
    client, pool, producer = router
    resolved_at = datetime.now(UTC) - timedelta(hours=1) if status == "resolved" else None
    tid = _ticket(pool, status, resolved_at)
    resp = await client.post(f"/v1/tickets/{tid}/events", json=_event(kind), headers=AGENT)
    problem = await _problem(resp, 409, "$.type")
    assert problem["ticket_status"] == status
    assert pool.conn.updates == [] and pool.conn.outbox == []
    assert producer.records == []


async def test_the_same_resolution_posted_again_is_a_202_no_op(router: Any) -> None:
    client, pool, producer = router
    at = datetime.now(UTC) - timedelta(minutes=3)
    tid = _ticket(pool, "resolved", at)
    resp = await client.post(
        f"/v1/tickets/{tid}/events", json=_event("resolved", at), headers=AGENT
    )
    assert resp.status == 202
    assert (await resp.json())["event_id"] == event_id_for(tid, "resolved", "a-1", at)
    assert pool.conn.updates == [] and producer.records == []


async def test_an_event_on_an_unknown_ticket_is_404(router: Any) -> None:
    client, _, _ = router
    resp = await client.post(f"/v1/tickets/{uuid.uuid4()}/events", json=_event(), headers=AGENT)
    await _problem(resp, 404, "ticket_id")


@pytest.mark.parametrize(
    "offset",
    [
        timedelta(minutes=6),  # in the future, past the clock-skew allowance
        timedelta(hours=3),
        timedelta(hours=-1, minutes=-10),  # before the ticket was created (an hour ago)
    ],
)
async def test_an_event_in_the_future_or_before_the_ticket_is_422(
    router: Any, offset: timedelta
) -> None:
    client, pool, producer = router
    now = datetime.now(UTC)
    tid = _ticket(pool, "assigned", created_at=now - timedelta(hours=1))
    resp = await client.post(
        f"/v1/tickets/{tid}/events", json=_event("first_response", now + offset), headers=AGENT
    )
    await _problem(resp, 422, "$.at")
    assert pool.conn.updates == [] and producer.records == []


async def test_a_little_clock_skew_is_tolerated(router: Any) -> None:
    client, pool, _ = router
    tid = _ticket(pool, "assigned")
    at = datetime.now(UTC) + timedelta(minutes=2)
    resp = await client.post(
        f"/v1/tickets/{tid}/events", json=_event("first_response", at), headers=AGENT
    )
    assert resp.status == 202
