from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from shared.auth import bearer_token, channel_scopes, is_agent
from shared.models import message_id_for
from shared.settings import SettingsError, load_settings, parse_intake_tokens


def test_tokens_parse_scopes_and_star() -> None:
    tokens = parse_intake_tokens("abc=phone,email; all=*;")
    assert tokens["abc"] == frozenset({"phone", "email"})
    assert tokens["all"] == frozenset({"phone", "email", "chat", "social"})


@pytest.mark.parametrize("raw", ["abc", "=chat", "abc=fax"])
def test_bad_tokens_are_refused_without_echoing_them(raw: str) -> None:
    with pytest.raises(SettingsError) as info:
        parse_intake_tokens(raw)
    assert "abc=" not in str(info.value)


def test_settings_defaults_and_errors() -> None:
    settings = load_settings("router", {})
    assert settings.http_port == 8082
    assert load_settings("sla", {}).http_port == 8083
    with pytest.raises(SettingsError, match="HTTP_PORT"):
        load_settings("intake", {"HTTP_PORT": "eighty"})
    with pytest.raises(SettingsError, match="ROUTER_RULES"):
        load_settings("router", {"ROUTER_RULES": "/nonexistent/rules.yaml"})


def _request(auth: str | None) -> object:
    headers = {"Authorization": auth} if auth is not None else {}
    return make_mocked_request("POST", "/", headers=headers)


def test_bearer_parsing() -> None:
    assert bearer_token(_request("Bearer t0k")) == "t0k"  # type: ignore[arg-type]
    assert bearer_token(_request("bearer t0k")) == "t0k"  # type: ignore[arg-type]
    assert bearer_token(_request("Basic t0k")) is None  # type: ignore[arg-type]
    assert bearer_token(_request("Bearer ")) is None  # type: ignore[arg-type]
    assert bearer_token(_request(None)) is None  # type: ignore[arg-type]


def test_scopes_and_agents() -> None:
    tokens = {"a": frozenset({"chat"})}
    assert channel_scopes(_request("Bearer a"), tokens) == frozenset({"chat"})  # type: ignore[arg-type]
    assert channel_scopes(_request("Bearer b"), tokens) is None  # type: ignore[arg-type]
    assert is_agent(_request("Bearer x"), frozenset({"x"}))  # type: ignore[arg-type]
    assert not is_agent(_request("Bearer y"), frozenset({"x"}))  # type: ignore[arg-type]


def test_message_id_is_deterministic_per_channel_and_external_id() -> None:
    assert message_id_for("chat", "s1:m1") == message_id_for("chat", "s1:m1")
    assert message_id_for("chat", "s1:m1") != message_id_for("email", "s1:m1")
    assert message_id_for("chat", "s1:m1") != message_id_for("chat", "s1:m2")
