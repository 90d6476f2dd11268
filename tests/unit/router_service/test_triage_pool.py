from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec

from services.router.rules import RulesHolder
from services.router.triage_pool import TriagePool, Verdict, triage_all
from shared.models import InboundMessage

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TEXTS = (
    ("chat", "my phone was stolen yesterday please freeze my wallet", None),
    ("social", "card 4111 1111 1111 1111 call me on 13800138000", "public"),
    ("chat", "提现失败了，钱什么时候退回来？", None),
    ("email", "the app crashes every time I open the scan page", None),
)


def _messages() -> list[InboundMessage]:
    return [
        InboundMessage(
            message_id=str(uuid.uuid4()),
            channel=channel,  # type: ignore[arg-type]
            external_id=f"m{i}",
            conversation_key=f"{channel}:c{i}",
            received_at=NOW,
            body=body,
            visibility=visibility,
        )
        for i, (channel, body, visibility) in enumerate(TEXTS)
    ]


async def test_the_worker_decides_as_the_event_loop_does() -> None:
    rules = RulesHolder(None)
    messages = _messages()
    pool = TriagePool(rules, workers=1)
    try:
        running = pool.start([msgspec.json.encode(m) for m in messages])
        assert running is not None
        in_worker = await pool.result(running, messages)
    finally:
        pool.close()
    inline = triage_all(rules.current, messages)
    assert in_worker == inline
    assert all(isinstance(v, Verdict) for v in inline)
    social = inline[1]
    assert isinstance(social, Verdict)
    assert "4111" not in social.body and "13800138000" not in social.body


async def test_without_workers_triage_runs_when_awaited() -> None:
    rules = RulesHolder(None)
    pool = TriagePool(rules, workers=0)
    messages = _messages()
    assert pool.start([msgspec.json.encode(m) for m in messages]) is None
    assert await pool.result(None, messages) == triage_all(rules.current, messages)
