"""Decisions: the security lane always wins, priorities follow the table and every modifier."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.triage import Decision, Triage, TriageInput


@cache
def triage() -> Triage:
    return Triage.load()


def decide(text: str, channel: str = "chat", **kw: object) -> Decision:
    return triage().decide(TriageInput(channel=channel, text=text, **kw))  # type: ignore[arg-type]


THEFT = [
    "钱包被偷了",
    "手机丢了，怎么办",
    "錢包被偷了，卡都在裡面",
    "我的手机被偷了 phone stolen 请尽快处理",
    "My phone was stolen on the subway",
    "I lost my wallet with my card in it",
    "there is a payment I did not make",
    "账户被盗刷了",
]


@pytest.mark.parametrize("text", THEFT)
@pytest.mark.parametrize("channel", ["phone", "email", "chat", "social"])
def test_theft_is_security_p1_on_every_channel(text: str, channel: str) -> None:
    d = decide(text, channel, visibility="private", ivr_selection=("8",))
    assert (d.skill_group, d.priority) == ("security", "P1")
    assert any(r.startswith("rule security.") for r in d.reasons)


def test_theft_is_never_demoted_by_model_or_other_rules() -> None:
    d = decide("积分活动怎么参加？另外我的手机昨天被偷了", attributes={"tier": "basic"})
    assert (d.skill_group, d.priority) == ("security", "P1")


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("扣款了但是支付失败", "payments"),
        ("充值没到账", "funding"),
        ("提现失败", "funding"),
        ("同一笔订单扣了两次钱", "payments"),
        ("账户被锁了", "account"),
        ("My top-up hasn't arrived", "funding"),
        ("I was charged twice for the same order", "payments"),
        ("my withdrawal failed", "funding"),
        ("My account is locked", "account"),
    ],
)
def test_money_at_risk_is_at_least_p2(text: str, group: str) -> None:
    d = decide(text)
    assert d.skill_group == group
    assert d.priority in ("P1", "P2")


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("积分怎么用", "general"),
        ("美元汇率是多少", "general"),
        ("What is the top up limit?", "funding"),
    ],
)
def test_informational_is_p4(text: str, group: str) -> None:
    d = decide(text)
    assert (d.skill_group, d.priority) == (group, "P4")


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("忘记密码了", "account"),
        ("换了手机号，怎么换绑", "account"),
        ("我要退款", "refunds"),
        ("app闪退", "tech_support"),
        ("收不到验证码", "tech_support"),
        ("绑卡失败", "cards"),
    ],
)
def test_ordinary_problems_are_p3(text: str, group: str) -> None:
    d = decide(text)
    assert (d.skill_group, d.priority) == (group, "P3")


def test_public_social_post_is_at_least_p2() -> None:
    d = decide("积分怎么用", "social", visibility="public")
    assert d.priority == "P2"
    assert "modifier: public social post -> at least P2" in d.reasons
    assert decide("积分怎么用", "social", visibility="private").priority == "P4"


@pytest.mark.parametrize(
    "attrs", [{"tier": "vip"}, {"tier": "VIP"}, {"vip": True}, {"vip": "true"}]
)
def test_vip_raises_by_one(attrs: dict[str, object]) -> None:
    d = decide("我要退款", attributes=attrs)
    assert d.priority == "P2"
    assert "modifier: vip +1" in d.reasons
    assert decide("我要退款", attributes={"vip": False}).priority == "P3"


def test_complaint_raises_by_one() -> None:
    d = decide("投诉你们客服态度很差")
    assert (d.intent, d.priority) == ("general.complaint", "P2")
    assert any(r.startswith("modifier: complaint") for r in d.reasons)
    topical = decide("我要投诉，充值三天了还没到账")
    assert (topical.skill_group, topical.priority) == ("funding", "P1")


def test_security_stays_p1_whatever_the_modifiers() -> None:
    d = decide("钱包被偷了", "social", visibility="public", attributes={"tier": "vip"})
    assert d.priority == "P1"


def test_ivr_digits_route_calls() -> None:
    assert decide("", "phone", ivr_selection=("1",)).skill_group == "security"
    d = decide("", "phone", ivr_selection=("2",))
    assert d.skill_group == "payments" and "ivr 2 -> payments.other" in d.reasons
    assert decide("", "phone", ivr_selection=("3", "9")).skill_group == "funding"
    # the transcript can override a non-security menu choice, never demote security
    assert decide("我的手机被偷了", "phone", ivr_selection=("8",)).skill_group == "security"
    assert decide("积分怎么用", "phone", ivr_selection=("1",)).priority == "P1"


def test_email_subject_counts_and_quoted_history_does_not() -> None:
    d = decide("请尽快处理，谢谢", "email", subject="充值没到账")
    assert d.skill_group == "funding"
    d = decide("积分怎么用？", "email", quoted="> 您好，您的账户已被冻结，如有疑问请联系客服")
    assert d.skill_group == "general"


def test_nothing_to_go_on_falls_back_with_a_reason() -> None:
    d = decide("")
    assert (d.skill_group, d.language) == ("general", "und")
    assert d.reasons and "general.other" in d.reasons[0]


def test_language_is_reported() -> None:
    assert decide("充值没到账").language == "zh"
    assert decide("My top up has not arrived").language == "en"
    assert decide("我的top up还没到账 please check asap").language == "mixed"
    assert decide("👍", language="zh-CN").language == "zh"


def test_reasons_name_rule_model_and_priority() -> None:
    d = decide("充值没到账")
    assert any(r.startswith("rule funding.topup_not_arrived matched '") for r in d.reasons)
    assert any(r.startswith("model: funding ") for r in d.reasons)
    assert any(r.startswith("base priority P2") for r in d.reasons)


_NOISE = st.lists(
    st.sampled_from(
        ["积分", "退款", "app闪退", "汇率", "VIP", "top up", "refund", "，", " ", "!", "谢谢"]
    ),
    max_size=6,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(
    before=_NOISE,
    after=_NOISE,
    theft=st.sampled_from(THEFT),
    channel=st.sampled_from(["phone", "email", "chat", "social"]),
    vip=st.booleans(),
)
def test_theft_in_any_company_stays_p1(
    before: str, after: str, theft: str, channel: str, vip: bool
) -> None:
    d = decide(f"{before} {theft} {after}", channel, attributes={"vip": vip})
    assert (d.skill_group, d.priority) == ("security", "P1")


@pytest.mark.parametrize(
    "text",
    [
        "There's a withdrawal on my statement that doesn't belong to me",
        "Someone other than me has been paying with my card",
        "I want my card frozen right away",
        "A payment in a city I've never been to showed up this morning",
        "This debit looks fishy, I don't recall making it",
    ],
)
def test_more_ways_of_saying_not_my_transaction_are_security(text: str) -> None:
    d = decide(text)
    assert (d.skill_group, d.priority) == ("security", "P1"), d.reasons


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("I lost my card in the ATM this morning", "cards"),
        ("The cash machine ate my card, how do I get it back", "cards"),
        ("取款机把我的卡吞了", "cards"),
        ("I found my lost card, can I re-link it to the app?", "cards"),
        ("My cash withdrawal from yesterday isn't showing in the app yet", "funding"),
        ("My payment to the shop hasn't gone through yet", "payments"),
    ],
)
def test_near_misses_of_the_security_lane_go_to_their_team(text: str, group: str) -> None:
    d = decide(text)
    assert d.skill_group == group, d.reasons


def test_a_security_unless_phrase_withholds_the_model_boost() -> None:
    """'in the atm' cancels the theft rule and says the card is in a machine, not a thief's hand."""
    d = decide("lost my card in the atm")
    assert d.skill_group == "cards"
    assert any(r.startswith("near miss 'in the atm'") for r in d.reasons), d.reasons


@pytest.mark.parametrize("text", ["phone", "word word word word", "账户", "卡", "hello", "?"])
def test_a_word_or_two_without_a_rule_is_not_a_lane_of_its_own(text: str) -> None:
    """The model names a lane for "phone" with confidence it has not earned: no P1 for that."""
    d = decide(text)
    assert (d.intent, d.priority) == ("general.other", "P3")
    assert any("too little text" in r for r in d.reasons)


@pytest.mark.parametrize(
    ("text", "ivr", "group"),
    [("stolen", (), "security"), ("被偷", (), "security"), ("", ("1",), "security")],
)
def test_a_short_text_still_gets_its_rule_or_ivr_lane(
    text: str, ivr: tuple[str, ...], group: str
) -> None:
    d = decide(text, "phone", ivr_selection=ivr)
    assert (d.skill_group, d.priority) == (group, "P1")


@pytest.mark.parametrize("text", ["app很卡 用不了", "手机app太卡了根本用不了", "扫码页面一直卡顿"])
def test_a_laggy_app_is_tech_support_not_a_card(text: str) -> None:
    """卡 also means "laggy": the app, not a bank card."""
    assert decide(text).skill_group == "tech_support"
