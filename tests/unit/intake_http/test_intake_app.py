"""The intake's HTTP behaviour with a fake producer: status codes, problem+json, idempotency."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import msgspec
import pytest
from aiohttp.test_utils import RawTestServer, TestClient

from services.intake.app import Intake
from shared.kafka_producer import BrokerUnavailable
from shared.models import InboundMessage
from shared.settings import Settings, load_settings

TOKENS = {"all": frozenset({"phone", "email", "chat", "social"}), "chatonly": frozenset({"chat"})}


class FakeProducer:
    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes]] = []
        self.down = False
        self.in_flight = 0

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ready(self) -> bool:
        return not self.down

    def enqueue(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[None]:
        return asyncio.ensure_future(self.send_many([(topic, key, value)]))

    async def send_many(self, records: list[tuple[str, bytes, bytes]]) -> None:
        if self.down:
            raise BrokerUnavailable("TimeoutError")
        self.records.extend(records)


async def serve(aiohttp_client: Any, settings: Settings, producer: FakeProducer) -> TestClient:
    """The intake as ``switchboard intake`` serves it (aiohttp's low-level server)."""
    intake = Intake(settings, producer)  # type: ignore[arg-type]
    await intake.start()
    client: TestClient = await aiohttp_client(RawTestServer(intake.handle))
    return client


@pytest.fixture
async def client(aiohttp_client: Any) -> tuple[TestClient, FakeProducer]:
    producer = FakeProducer()
    settings = Settings(service="intake", intake_tokens=TOKENS, max_json_bytes=4096)
    return await serve(aiohttp_client, settings, producer), producer


def _h(token: str = "all") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


CHAT = {"session_id": "s-1", "message_id": "m-1", "text": "我的钱包被偷了"}


async def test_accepts_and_publishes_the_envelope(client: Any) -> None:
    http, producer = client
    resp = await http.post("/v1/inbound/chat", json=CHAT, headers=_h())
    assert resp.status == 202
    message_id = (await resp.json())["message_id"]
    [(topic, key, value)] = producer.records
    envelope = msgspec.json.decode(value, type=InboundMessage)
    assert topic == "inbound.messages.v1"
    assert key == envelope.conversation_key.encode()
    assert envelope.message_id == message_id and envelope.channel == "chat"


async def test_retry_gets_same_id_and_is_not_produced_twice(client: Any) -> None:
    http, producer = client
    ids = []
    for _ in range(3):
        resp = await http.post("/v1/inbound/chat", json=CHAT, headers=_h())
        assert resp.status == 202
        ids.append((await resp.json())["message_id"])
    assert len(set(ids)) == 1
    assert len(producer.records) == 1


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/v1/inbound/chat", {}, 401),
        ("/v1/inbound/chat", {"Authorization": "Bearer nope"}, 401),
        ("/v1/inbound/phone", {"Authorization": "Bearer chatonly"}, 403),
        ("/v1/inbound/fax", {"Authorization": "Bearer all"}, 404),
    ],
)
async def test_auth_and_unknown_channel(
    client: Any, path: str, headers: dict[str, str], status: int
) -> None:
    http, producer = client
    resp = await http.post(path, json=CHAT, headers=headers)
    assert resp.status == status
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    assert body["status"] == status
    assert "nope" not in await resp.text()
    assert producer.records == []


async def test_wrong_content_type_is_415(client: Any) -> None:
    http, _ = client
    resp = await http.post(
        "/v1/inbound/chat", data=b"hello", headers={**_h(), "Content-Type": "text/plain"}
    )
    assert resp.status == 415
    assert resp.content_type == "application/problem+json"


async def test_oversized_body_is_413(client: Any) -> None:
    http, _ = client
    body = {"session_id": "s", "text": "x" * 5000}
    resp = await http.post("/v1/inbound/chat", json=body, headers=_h())
    assert resp.status == 413


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", None),
        (b'{"session_id": 5, "text": "hi"}', "session_id"),
        (b'{"session_id": "s"}', "text"),
        (b"\xff\xfe", None),
        (b"[]", None),
    ],
)
async def test_bad_json_is_a_4xx_naming_the_field(
    client: Any, body: bytes, field: str | None
) -> None:
    http, producer = client
    resp = await http.post(
        "/v1/inbound/chat", data=body, headers={**_h(), "Content-Type": "application/json"}
    )
    assert resp.status in (400, 422)
    problem = await resp.json()
    assert resp.content_type == "application/problem+json"
    if field is not None:
        assert field in problem["field"]
    assert producer.records == []


async def test_broker_down_is_503_with_retry_after(client: Any) -> None:
    http, producer = client
    producer.down = True
    resp = await http.post("/v1/inbound/chat", json=CHAT, headers=_h())
    assert resp.status == 503
    assert resp.headers["Retry-After"].isdigit()
    ready = await http.get("/readyz")
    assert ready.status == 503
    producer.down = False
    resp = await http.post("/v1/inbound/chat", json=CHAT, headers=_h())
    assert resp.status == 202
    assert len(producer.records) == 1


async def test_batch_reports_per_item(client: Any) -> None:
    http, producer = client
    items = [CHAT, {"session_id": "s-2", "text": "refund please"}, {"session_id": 7}]
    resp = await http.post("/v1/inbound/chat/batch", json={"messages": items}, headers=_h())
    assert resp.status == 200
    data = await resp.json()
    assert [r["status"] for r in data["results"]] == [202, 202, 422]
    assert data["accepted"] == 2 and data["rejected"] == 1
    assert len(producer.records) == 2


async def test_an_item_repeated_in_a_batch_is_published_once(client: Any) -> None:
    http, producer = client
    other = {"session_id": "s-2", "text": "refund please"}
    resp = await http.post(
        "/v1/inbound/chat/batch", json={"messages": [CHAT, CHAT, other, CHAT]}, headers=_h()
    )
    data = await resp.json()
    ids = [r["message_id"] for r in data["results"]]
    assert [r["status"] for r in data["results"]] == [202] * 4
    assert ids[0] == ids[1] == ids[3] != ids[2]
    assert len(producer.records) == 2
    again = await http.post("/v1/inbound/chat/batch", json={"messages": [CHAT]}, headers=_h())
    assert (await again.json())["results"][0]["message_id"] == ids[0]
    assert len(producer.records) == 2  # acked before: the retry is a duplicate


async def test_health_metrics_and_openapi(client: Any) -> None:
    http, _ = client
    assert (await http.get("/healthz")).status == 200
    metrics = await (await http.get("/metrics")).text()
    assert "switchboard_intake_messages_total" in metrics
    doc = await (await http.get("/v1/openapi.json")).json()
    assert "/v1/inbound/chat" in doc["paths"]


async def test_publishes_to_inbound_unless_the_topic_is_configured(aiohttp_client: Any) -> None:
    assert load_settings("intake", {}).intake_topic == "inbound.messages.v1"
    settings = load_settings("intake", {"INTAKE_TOPIC": "bench.intake.sink"})
    producer = FakeProducer()
    http = await serve(aiohttp_client, replace(settings, intake_tokens=TOKENS), producer)
    resp = await http.post("/v1/inbound/chat", json=CHAT, headers=_h())
    assert resp.status == 202
    assert [topic for topic, _, _ in producer.records] == ["bench.intake.sink"]


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/nothing/here", 404, None),
        ("POST", "/v1/inbound/chat/", 404, None),
        ("POST", "/v1/inbound/", 404, None),
        ("GET", "/v1/inbound/chat", 405, "POST"),
        ("PUT", "/v1/inbound/chat/batch", 405, "POST"),
        ("GET", "/v1/inbound/fax", 405, "POST"),
        ("POST", "/healthz", 405, "GET, HEAD"),
        ("DELETE", "/v1/openapi.json", 405, "GET, HEAD"),
    ],
)
async def test_other_paths_and_methods_are_problems(
    client: Any, method: str, path: str, status: int, allow: str | None
) -> None:
    http, producer = client
    resp = await http.request(method, path, json=CHAT, headers=_h())
    assert resp.status == status
    assert resp.content_type == "application/problem+json"
    assert (await resp.json())["status"] == status
    assert resp.headers.get("Allow") == allow
    assert producer.records == []


@pytest.mark.parametrize("path", ["/v1/inbound/fax", "/v1/inbound/fax/batch"])
async def test_an_unknown_channel_is_a_404_naming_the_field(client: Any, path: str) -> None:
    http, _ = client
    resp = await http.post(path, json=CHAT, headers=_h())
    assert resp.status == 404
    assert (await resp.json())["field"] == "channel"


async def test_head_answers_like_get_without_a_body(client: Any) -> None:
    http, _ = client
    resp = await http.head("/healthz")
    assert resp.status == 200 and await resp.read() == b""


async def test_latency_is_labelled_by_route_template_never_by_the_raw_path(client: Any) -> None:
    http, _ = client
    await http.post("/v1/inbound/chat", json=CHAT, headers=_h())
    await http.post("/v1/inbound/x-secret-looking-channel", json=CHAT, headers=_h())
    await http.get("/no/such/path-with-a-secret")
    metrics = await (await http.get("/metrics")).text()
    count = "switchboard_http_request_duration_seconds_count"
    assert f'{count}{{code="202",method="POST",route="/v1/inbound/chat"}}' in metrics
    assert f'{count}{{code="404",method="POST",route="/v1/inbound/{{channel}}"}}' in metrics
    assert f'{count}{{code="404",method="GET",route="unmatched"}}' in metrics
    assert "secret" not in metrics


async def test_an_unexpected_error_is_a_logged_500_problem(client: Any) -> None:
    http, producer = client

    def broken(*_: object) -> asyncio.Future[None]:
        raise RuntimeError("a bug")

    producer.enqueue = broken  # type: ignore[method-assign]
    resp = await http.post("/v1/inbound/chat", json=CHAT, headers=_h())
    assert resp.status == 500
    assert (await resp.json())["detail"] == "internal error"


async def test_expect_100_continue_is_answered_and_a_refusal_needs_no_body(client: Any) -> None:
    http, producer = client
    resp = await http.post("/v1/inbound/chat", json=CHAT, headers=_h(), expect100=True)
    assert resp.status == 202
    refused = await http.post("/v1/inbound/chat", json=CHAT, headers=_h("nope"), expect100=True)
    assert refused.status == 401
    assert len(producer.records) == 1
