"""Redaction: what must go (valid cards, IDs, contacts, secrets) and what must stay readable."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.redaction import luhn_ok, may_hold_card, redact, resident_id_ok
from tests.unit.triage.triage_gen import (
    bad_id_checksum,
    bad_luhn,
    card_number,
    grouped,
    resident_id,
)

RNG = random.Random(20261102)
CARDS = [
    card_number(RNG, n, p) for n, p in [(16, "4"), (16, "5"), (19, "62"), (15, "37"), (13, "4")]
]
IDS = [resident_id(RNG) for _ in range(5)] + ["11010519491231002X"]


@pytest.mark.parametrize("card", CARDS)
@pytest.mark.parametrize("channel_full", [True, False])
def test_valid_cards_are_masked_on_every_channel(card: str, channel_full: bool) -> None:
    for shown in (card, grouped(card), grouped(card, "-")):
        out = redact(f"我的卡号是{shown}，请查一下", full=channel_full)
        assert card not in out.text.replace(" ", "").replace("-", "")
        assert f"[card ****{card[-4:]}]" in out.text
        assert out.counts == {"card_number": 1}


def test_amex_grouping_is_masked() -> None:
    card = card_number(RNG, 15, "37")
    out = redact(f"amex {card[:4]} {card[4:10]} {card[10:]} thanks", full=False)
    assert out.counts == {"card_number": 1}


@pytest.mark.parametrize(
    "text",
    [
        f"card {bad_luhn(CARDS[0])} please",  # bad Luhn
        "order 12345678901",  # too short
        "I paid ¥500 on 2026-11-02 at 14:30, 500元, $20.50",
        "2026年11月2日 转了 1000 块",
        "call 13812345678 code",  # 11 digits
        "T4111111111111111 is my transaction id",  # glued to letters: an identifier
        "12345678901234567890123",  # too long for a card
    ],
)
def test_near_misses_stay(text: str) -> None:
    out = redact(text, full=False)
    assert out.text == text and out.counts == {}


def test_order_number_passing_luhn_stays_next_to_order_words() -> None:
    body = "202611021234567"
    number = body + next(d for d in "0123456789" if luhn_ok(body + d))
    for text in (f"order {number} not delivered", f"订单号：{number}", f"交易号 {number}"):
        assert redact(text, full=True).text == text
    # the same digits without order context, or in card-style groups, are masked
    assert redact(f"here {number}", full=False).counts == {"card_number": 1}
    assert redact(f"order {grouped(number)}", full=False).counts == {"card_number": 1}


def test_card_next_to_an_order_number_is_still_masked() -> None:
    out = redact(f"order 2026110212345 paid with {CARDS[0]}", full=False)
    assert "2026110212345" in out.text and CARDS[0] not in out.text


@pytest.mark.parametrize("rid", IDS)
def test_resident_ids_redacted_on_social(rid: str) -> None:
    assert resident_id_ok(rid)
    out = redact(f"身份证{rid}，帮我查", full=True)
    assert rid not in out.text and out.counts == {"id_number": 1}
    assert redact(f"身份证{rid}", full=False).text == f"身份证{rid}"


@pytest.mark.parametrize("rid", IDS)
def test_bad_id_checksum_or_date_stays(rid: str) -> None:
    wrong = bad_id_checksum(rid)
    assert redact(f"号码 {wrong}", full=True).counts.get("id_number") is None
    bad_date = rid[:10] + "1340" + rid[14:]
    assert not resident_id_ok(bad_date)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("我的手机13812345678，联系我", "phone"),
        ("电话 138 1234 5678", "phone"),
        ("call me at +1 415-555-2671", "phone"),
        ("座机 010-12345678", "phone"),
        ("香港号码 +852 9123 4567", "phone"),
        ("mail me: zhang.san+wallet@example.com", "email"),
    ],
)
def test_contacts_redacted_on_social(text: str, kind: str) -> None:
    out = redact(text, full=True)
    assert out.counts == {kind: 1}
    assert f"[{kind}]" in out.text
    assert redact(text, full=False).text == text


@pytest.mark.parametrize(
    ("text", "kind", "secret"),
    [
        ("验证码是482913，别告诉别人", "verification_code", "482913"),
        ("动态码：5521", "verification_code", "5521"),
        ("支付密码 147258", "password", "147258"),
        ("密码是abc12345", "password", "abc12345"),
        ("my OTP is 918273", "verification_code", "918273"),
        ("password: hunter2", "password", "hunter2"),
        ("password: letmein", "password", "letmein"),
        ("my PIN is 4321", "password", "4321"),
        ("the code 662211 came late", "verification_code", "662211"),
    ],
)
def test_secrets_redacted(text: str, kind: str, secret: str) -> None:
    out = redact(text, full=True)
    assert secret not in out.text and out.counts == {kind: 1}


@pytest.mark.parametrize(
    "text",
    [
        "I forgot my password yesterday",
        "my password is wrong",
        "验证码收不到",
        "密码错误",
        "promo code SAVE2026 does not work",
        "the app shows error code 5001",
        # sentences about a password, not in one
        "my password is not working.",
        "the password was reset yesterday",
        "密码是对的",
        "my pin is blocked",
        "password-reset link does not work",
        "the code has expired",
        "my password是错的",
        "passwords are hard to remember",
        "cvv",
    ],
)
def test_secret_words_without_a_secret_stay(text: str) -> None:
    assert redact(text, full=True).text == text


def test_amounts_dates_and_orders_survive_full_redaction() -> None:
    text = "订单号 T20261102000123 于2026-11-02 14:30 支付¥500，11月2日到账 500元 $20.50"
    assert redact(text, full=True).text == text


def test_counts_never_hold_values() -> None:
    out = redact(f"卡 {CARDS[0]} 电话 13812345678 邮箱 a@b.cn 卡 {CARDS[1]}", full=True)
    assert out.counts == {"card_number": 2, "phone": 1, "email": 1}
    assert all(isinstance(v, int) for v in out.counts.values())


_FILLER = st.lists(
    st.sampled_from([*"abc xyz 的钱卡号是，。!?:-", "¥5", "2026-11-02", " 12 ", "card", "卡号"]),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    before=_FILLER,
    after=_FILLER,
    seed=st.integers(0, 2**32),
    length=st.integers(13, 19),
    style=st.sampled_from(["solid", "space", "dash"]),
    full=st.booleans(),
)
def test_any_valid_card_in_random_text_is_masked(
    before: str, after: str, seed: int, length: int, style: str, full: bool
) -> None:
    card = card_number(random.Random(seed), length)
    shown = {"solid": card, "space": grouped(card), "dash": grouped(card, "-")}[style]
    text = f"{before} {shown} {after}"
    out = redact(text, full=full)
    assert shown not in out.text
    assert card not in out.text.replace(" ", "").replace("-", "")


@settings(max_examples=200, deadline=None)
@given(before=_FILLER, after=_FILLER, seed=st.integers(0, 2**32))
def test_any_valid_id_in_random_social_text_is_removed(before: str, after: str, seed: int) -> None:
    rid = resident_id(random.Random(seed))
    out = redact(f"{before} {rid} {after}", full=True)
    assert rid not in out.text


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200), full=st.booleans())
def test_redaction_never_crashes_and_only_changes_what_it_counts(text: str, full: bool) -> None:
    out = redact(text, full=full)
    assert (out.text == text) == (not out.counts)


# --- card formats, full-width forms, secrets with spaces (QA probe) ---------------------------

_FW = {ord(c): ord(c) + 0xFEE0 for c in "0123456789.-@:abcdefghijklmnopqrstuvwxyz"}


def _split(number: str, sizes: list[int], sep: str) -> str:
    out, pos = [], 0
    for n in sizes:
        out.append(number[pos : pos + n])
        pos += n
    return sep.join(out)


@pytest.mark.parametrize("sep", [" ", "-", "."])
@pytest.mark.parametrize(
    ("length", "prefix", "sizes"),
    [
        (16, "62", [4, 4, 4, 4]),
        (16, "62", [4, 6, 6]),
        (15, "37", [4, 6, 5]),
        (14, "36", [4, 6, 4]),
        (19, "62", [4, 4, 4, 4, 3]),
        (19, "62", [6, 13]),
        (13, "4", [4, 4, 5]),
    ],
)
@pytest.mark.parametrize("full", [True, False])
def test_grouped_cards_are_masked(
    sep: str, length: int, prefix: str, sizes: list[int], full: bool
) -> None:
    rng = random.Random(f"{length}{sizes}{sep}")
    for _ in range(5):
        card = card_number(rng, length, prefix)
        shown = _split(card, sizes, sep)
        if sizes == [6, 13]:
            shown = _split(card, [4, 4, 4, 4, 3], sep)  # 19 digits, but split in 3-6 groups
        out = redact(f"卡号 {shown}，谢谢", full=full)
        assert out.text == f"卡号 [card ****{card[-4:]}]，谢谢"
        assert out.counts == {"card_number": 1}


def test_the_probe_examples_are_masked() -> None:
    assert redact("6222.0212.3456.7894", full=False).text == "[card ****7894]"
    assert redact("card 6222 021234 567894.", full=False).text == "card [card ****7894]."


@pytest.mark.parametrize("card", CARDS)
@pytest.mark.parametrize("sep", ["", " ", "-", ".", "\u3000"])
def test_full_width_cards_are_masked(card: str, sep: str) -> None:
    shown = grouped(card, sep).translate(_FW)
    out = redact(f"我的卡号是{shown}。", full=False)
    assert out.text == f"我的卡号是[card ****{card[-4:]}]。"


def test_two_cards_in_one_run_are_both_masked() -> None:
    out = redact(f"{CARDS[0]} {CARDS[1]}", full=False)
    assert out.counts == {"card_number": 2}
    assert out.text == f"[card ****{CARDS[0][-4:]}] [card ****{CARDS[1][-4:]}]"


def _luhn_valid_phone(prefix: str) -> str:
    body = prefix + "1381234567"
    return body + next(d for d in "0123456789" if luhn_ok(body + d))


@pytest.mark.parametrize(
    "text",
    [
        "I paid ¥1,234.56 and 1234.50元 on 2026.11.02, $20.50 at 14:30",
        "转账 2026.11.02 12:00 金额 1,000,000.00 元",
        f"card {bad_luhn(CARDS[0])[:4]}.{bad_luhn(CARDS[0])[4:8]}.{bad_luhn(CARDS[0])[8:]}",
        "call +86 138 1234 5678 or +86-138-1234-5678",
        f"call 00{_luhn_valid_phone('86')[:2]} {_luhn_valid_phone('86')[2:5]} 1234 5670",
        "tel 138 1234 5678 139 8765 4321",
        "2026-11-02 2026-11-03 2026-11-04",
        "v1.2.3.4.5.6.7.8.9.10.11.12.13",
    ],
)
def test_near_misses_with_separators_stay(text: str) -> None:
    assert redact(text, full=False).text == text


def test_luhn_valid_phone_with_country_prefix_is_no_card() -> None:
    number = _luhn_valid_phone("0086")
    assert luhn_ok(number) and len(number) == 15
    assert redact(f"call {number}", full=False).counts == {}
    assert redact(f"call {number}", full=True).counts == {"phone": 1}


@pytest.mark.parametrize("label", ["订单号：", "order no. ", "order number ", "交易号 "])
def test_labelled_luhn_valid_order_numbers_stay(label: str) -> None:
    body = "2026110212345678"
    number = body + next(d for d in "0123456789" if luhn_ok(body + d))
    text = f"{label}{number} 还没发货"
    assert redact(text, full=False).text == text
    assert redact(text, full=True).text == text


def test_long_digit_runs_cost_linear_time() -> None:
    text = "1 " * 20_000 + "4111 1111 1111 1111"
    out = redact(text, full=False)
    assert out.text.endswith("[card ****1111]")


@pytest.mark.parametrize(
    "separator",
    ["\n", "\t", "\r\n", "  ", "..", ". ", " \u200b", "\u2028", "\u200b"],
    ids=repr,
)
def test_a_card_split_across_lines_or_by_two_separators_is_masked(separator: str) -> None:
    """A QA probe: only one separator between groups was seen, so a card typed over lines,
    an HTML mail's <br>, or ". " left it whole."""
    card = CARDS[2]  # 19 digits: 4-4-4-4-3
    shown = separator.join([card[:4], card[4:8], card[8:12], card[12:16], card[16:]])
    for full in (True, False):
        assert redact(f"card {shown} ok", full=full).text == f"card [card ****{card[-4:]}] ok"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("138\n1234\n5678", "phone"),
        ("110105\n19491231\n002X", "id_number"),
        ("110105  19491231  002X", "id_number"),
        ("110105 \n19491231 \n002X", "id_number"),
    ],
)
def test_phones_and_ids_split_across_lines_are_redacted_on_social(text: str, kind: str) -> None:
    assert redact(f"找我 {text} 谢谢", full=True).counts == {kind: 1}


def test_an_email_with_a_long_run_before_it_is_still_found() -> None:
    """The local part is bounded (RFC 5321: 64) so that a long run before an "@" costs linear
    time; a longer one still loses its last 64 characters and its domain."""
    assert redact("mail zhang.san@example.com ok", full=True).text == "mail [email] ok"
    masked = redact("a." * 20_000 + "zhang@example.com", full=True).text
    assert masked.endswith("[email]") and "example.com" not in masked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my password is letmein", "my password is [password]"),
        ("my password is P@ss w0rd", "my password is [password]"),
        ("my password is P@ss w0rd, please help", "my password is [password], please help"),
        ("password: hunter2.", "password: [password]."),
        ("my password is hunter2!", "my password is [password]!"),
        ("密码是 P@ss w0rd。", "密码是 [password]。"),
        ("验证码：８８９９００", "验证码：[verification_code]"),
        ("验证码是 ４８２９１３，别告诉别人", "验证码是 [verification_code]，别告诉别人"),
        ("邮箱ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ，谢谢", "邮箱[email]，谢谢"),
        ("mail zhang@example.com.", "mail [email]."),
        ("电话１３８１２３４５６７８。", "电话[phone]。"),
        ("验证码是：123456", "验证码是：[verification_code]"),
        ("password is: hunter2", "password is: [password]"),
        ("the password is 'hunter2'", "the password is '[password]'"),
        ("密码是“abc123”", "密码是“[password]”"),
        ("card 4111111111111111 cvv 123", "card [card ****1111] cvv [verification_code]"),
        ("安全码 123", "安全码 [verification_code]"),
        ("我的password是letmein", "我的password是[password]"),
        ("电话password: letmein，谢谢", "电话password: [password]，谢谢"),
        ("我的cvv是123", "我的cvv是[verification_code]"),
    ],
)
def test_probe_secrets_and_contacts(text: str, expected: str) -> None:
    assert redact(text, full=True).text == expected


def test_grouped_resident_id_is_redacted_on_social() -> None:
    rid = IDS[0]
    shown = f"{rid[:6]} {rid[6:14]} {rid[14:]}"
    assert redact(f"身份证 {shown}", full=True).text == "身份证 [id_number]"


_PII = st.sampled_from(
    [
        *CARDS,
        grouped(CARDS[0], "."),
        grouped(CARDS[2]).translate(_FW),
        "13812345678",
        "zhang@example.com",
        "password: hunter2.",
        "my password is P@ss w0rd",
        "验证码：８８９９００",
        IDS[0],
    ]
)


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(st.one_of(_PII, _FILLER), max_size=8), full=st.booleans())
def test_redacting_twice_changes_nothing_more(parts: list[str], full: bool) -> None:
    once = redact(" ".join(parts), full=full)
    twice = redact(once.text, full=full)
    assert twice.text == once.text and twice.counts == {}


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from([*"0123456789０９ .-．－\u3000a,"]), max_size=60))
def test_the_card_precheck_never_hides_a_card(text: str) -> None:
    if not may_hold_card(text):
        assert redact(text, full=False).counts == {}


@pytest.mark.parametrize(
    "number",
    [grouped(CARDS[0]).translate(_FW), "138 1234 5678", grouped(CARDS[1])],
)
def test_a_secret_with_a_space_stops_where_a_card_or_phone_starts(number: str) -> None:
    out = redact(f"my password is P@ss w0rd {number}", full=True)
    assert out.text.startswith("my password is [password] [")
    assert "w0rd" not in out.text and len(out.counts) == 2
