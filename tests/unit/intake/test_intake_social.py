"""Social posts and private messages → envelopes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.intake.channels import InvalidInput
from shared.models import message_id_for
from tests.unit.intake.intake_samples import post, social


def test_public_post() -> None:
    message = post("social", social())
    assert message.channel == "social"
    assert message.platform == "weibo"
    assert message.visibility == "public"
    assert message.author_handle == "@angry_user"
    assert message.external_id == "weibo:4962311234567890"
    assert message.message_id == message_id_for("social", "weibo:4962311234567890")
    assert message.conversation_key == "social:weibo:4962311234567890"
    assert message.body == "@WalletCS 充值两天了还没到账，客服也不回！"
    assert message.sent_at == datetime(2026, 11, 2, 1, 40, tzinfo=UTC)
    assert message.attributes["social_author_id"] == "1234567"
    assert message.attributes["social_url"] == "https://weibo.com/1234567/4962311234567890"


def test_private_message_in_a_thread_is_keyed_by_thread() -> None:
    payload = social(platform="WeChat", post_id="msg-2", visibility="private", thread_id="conv-88")
    message = post("social", payload)
    assert message.visibility == "private"
    assert message.platform == "wechat"
    assert message.conversation_key == "social:wechat:conv-88"
    assert message.external_id == "wechat:msg-2"


def test_replies_in_one_thread_share_the_key_not_the_id() -> None:
    first = post("social", social(post_id="1", thread_id="t"))
    second = post("social", social(post_id="2", thread_id="t"))
    assert first.conversation_key == second.conversation_key
    assert first.message_id != second.message_id


def test_same_post_id_on_two_platforms_is_two_messages() -> None:
    assert post("social", social(platform="x")).message_id != post("social", social()).message_id


def test_same_post_twice_is_one_message() -> None:
    assert post("social", social()).message_id == post("social", social(text="edited")).message_id


def test_author_without_id() -> None:
    message = post("social", social(author={"handle": "someone"}))
    assert "social_author_id" not in message.attributes


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"visibility": "friends-only"}, "$.visibility"),
        ({"author": {"id": "1"}}, "$.author.handle"),
        ({"author": "someone"}, "$.author"),
        ({"platform": "we chat"}, "$.platform"),
        ({"platform": ""}, "$.platform"),
        ({"post_id": None}, "$.post_id"),
        ({"text": " "}, "$.text"),
        ({"created_at": "yesterday"}, "$.created_at"),
        ({"thread_id": ""}, "$.thread_id"),
    ],
)
def test_bad_social_fields_are_named(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        post("social", social(**change))
    assert error.value.field == field
