"""Redaction: social posts lose everything personal; every channel loses card numbers (PCI).

Decisions where the spec is silent:
- A card becomes `[card ****1234]`: the last four digits are allowed by PCI DSS and let an agent
  match the customer's card. Other kinds become `[phone]`, `[email]`, `[id_number]`, and for
  secrets only the value is replaced (`验证码是[verification_code]`, `password: [password]`).
- A card is 13-19 digits passing Luhn, written solid or in groups of four (4-6-5/4-6-4 for
  Amex/Diners), with a space or dash between groups. Digits glued to Latin letters (T2026...)
  are identifiers, not cards.
- A number right after an order/transaction word ("order 2026...", "订单号：", "交易号", "ref #")
  is an order number and stays readable even if it happens to pass Luhn, unless it is written
  in card-style groups of four. Anywhere else a Luhn-valid number is masked: PCI wins.
- A valid resident ID (GB 11643 check digit, province code, real birth date) is never counted
  as a card; outside social posts it is left alone, as the spec asks only for card numbers.
- Amounts, dates, times and order numbers are shielded from the phone matcher.
Counts are kept per kind; values are never returned or logged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

import phonenumbers

CARD, ID, PHONE, EMAIL, CODE, PASSWORD = (
    "card_number",
    "id_number",
    "phone",
    "email",
    "verification_code",
    "password",
)


@dataclass(frozen=True)
class Redaction:
    text: str
    counts: Mapping[str, int]


_RUN = re.compile(r"\d+(?:[ -]\d+)*")
_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_ORDER_BEFORE = re.compile(
    r"(?:order|订单|单号|交易|流水|编号|transaction|txn|ref|reference|invoice|tracking|receipt"
    r"|账单|商户|快递|运单)\s*(?:no\.?|number|num|id|#|号|编号|单号|码)?\s*[:：#=]?\s*(?:是|为|is)?\s*$",
    re.IGNORECASE,
)
_SHIELD = re.compile(
    r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?"  # dates
    r"|\d{1,2}:\d{2}(?::\d{2})?"  # times
    r"|[¥$€£￥]\s?\d[\d,]*(?:\.\d+)?"  # amounts with a currency sign
    r"|\d[\d,]*(?:\.\d+)?\s?(?:元|块|万|rmb|cny|usd|hkd|美元|港币|dollars?)",
    re.IGNORECASE,
)
_ZH_SECRET = re.compile(
    r"(验证码|校验码|动态码|短信码|动态密码|支付密码|登录密码|交易密码|密码|口令)"
    r"\s*(?:是|为|:|：|=)?\s*([A-Za-z0-9!@#$%^&*._-]{4,32})"
)
_EN_SECRET = re.compile(
    r"\b(verification code|security code|sms code|otp|passcode|password|passwd|pwd|pin|code"
    r"|cvv|cvc)\b\s*(is\b|was\b|:|=|-)?\s*(?:is\s+)?([A-Za-z0-9!@#$%^&*._-]{4,32})",
    re.IGNORECASE,
)
_NOT_SECRET = re.compile(
    r"(error|promo|promotion|coupon|discount|referral|invite|invitation|zip|postal|post|swift"
    r"|sort|country|area|qr|bar|dial|source|tracking|voucher|gift)\s*$",
    re.IGNORECASE,
)
_CN_MOBILE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)")
_PROVINCES = frozenset(  # GB/T 2260 province-level codes
    re.findall(
        r"\d\d", "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61"
    )
    + re.findall(r"\d\d", "62 63 64 65 71 81 82 83 91")
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

Span = tuple[int, int, str, str]  # start, end, kind, replacement


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def resident_id_ok(value: str) -> bool:
    """18 characters, known province, real past birth date, GB 11643 check character."""
    if len(value) != 18 or not value[:17].isdigit() or value[:2] not in _PROVINCES:
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > datetime.now(UTC).date():
        return False
    check = sum(int(c) * w for c, w in zip(value[:17], _ID_WEIGHTS, strict=True)) % 11
    return value[17].upper() == _ID_CHECK[check]


def redact(text: str, *, full: bool) -> Redaction:
    """Mask card numbers; with `full` (social) also IDs, phones, emails, codes, passwords."""
    spans: list[Span] = []
    ids = [m.span() for m in _ID.finditer(text) if resident_id_ok(m.group())]
    if full:
        spans += [(s, e, ID, "[id_number]") for s, e in ids if not _order_context(text, s)]
        spans += [(m.start(), m.end(), EMAIL, "[email]") for m in _EMAIL.finditer(text)]
    spans += _cards(text, ids)
    if full:
        spans += _secrets(text)
        spans += _phones(text)
    if not spans:
        return Redaction(text, {})
    out: list[str] = []
    counts: dict[str, int] = {}
    pos = 0
    for start, end, kind, replacement in _resolve(spans):
        out.append(text[pos:start])
        out.append(replacement)
        counts[kind] = counts.get(kind, 0) + 1
        pos = end
    out.append(text[pos:])
    return Redaction("".join(out), counts)


def _resolve(spans: list[Span]) -> list[Span]:
    """Earlier-listed kinds win overlaps (IDs and emails before cards, phones last)."""
    taken: list[Span] = []
    for span in spans:
        if all(span[1] <= t[0] or span[0] >= t[1] for t in taken):
            taken.append(span)
    return sorted(taken)


def _cards(text: str, ids: list[tuple[int, int]]) -> list[Span]:
    found: list[Span] = []
    for m in _RUN.finditer(text):
        start, end = m.span()
        glued = (start > 0 and _alnum(text[start - 1]), end < len(text) and _alnum(text[end]))
        if any(s <= start and end <= e for s, e in ids):
            continue
        window = _card_window(m.group(), glued)
        if window is None:
            continue
        lo, hi, digits, grouped = window
        s, e = start + lo, start + hi
        if not grouped and _order_context(text, s):
            continue
        found.append((s, e, CARD, f"[card ****{digits[-4:]}]"))
    return found


def _card_window(run: str, glued: tuple[bool, bool]) -> tuple[int, int, str, bool] | None:
    """The longest card-shaped stretch of a digit run: (offset, end, digits, grouped).

    A stretch touching a Latin letter (`glued`) is part of an identifier and never a card.
    """
    parts = re.split(r"[ -]", run)
    offsets = [m.start() for m in re.finditer(r"\d+", run)]
    best: tuple[int, int, str, bool] | None = None
    for i in range(1 if glued[0] else 0, len(parts)):
        for j in range(len(parts) - (1 if glued[1] else 0), i, -1):
            digits = "".join(parts[i:j])
            solid = j == i + 1
            if not 13 <= len(digits) <= 19 or not luhn_ok(digits):
                continue
            if solid and resident_id_ok(digits):
                continue
            if not solid and not _card_grouping(parts[i:j]):
                continue
            if best is None or len(digits) > len(best[2]):
                best = (offsets[i], offsets[j - 1] + len(parts[j - 1]), digits, not solid)
            break
    return best


def _card_grouping(group: list[str]) -> bool:
    sizes = [len(g) for g in group]
    if sizes in ([4, 6, 5], [4, 6, 4]):
        return True
    return all(n == 4 for n in sizes[:-1]) and 1 <= sizes[-1] <= 4 and len(sizes) >= 3


def _order_context(text: str, start: int) -> bool:
    """The number comes right after an order/transaction word ("订单号：", "order #")."""
    return _ORDER_BEFORE.search(text, max(0, start - 24), start) is not None


def _secrets(text: str) -> list[Span]:
    found: list[Span] = []
    for m in _ZH_SECRET.finditer(text):
        kind = CODE if "码" in m.group(1) and "密码" not in m.group(1) else PASSWORD
        found.append((m.start(2), m.end(2), kind, f"[{kind}]"))
    for m in _EN_SECRET.finditer(text):
        word, sep, value = m.group(1).lower(), m.group(2), m.group(3)
        if _NOT_SECRET.search(text[max(0, m.start() - 12) : m.start()]):
            continue
        if not any(c.isdigit() for c in value) and sep not in (":", "="):
            continue
        kind = PASSWORD if word in ("passcode", "password", "passwd", "pwd", "pin") else CODE
        found.append((m.start(3), m.end(3), kind, f"[{kind}]"))
    return found


def _phones(text: str) -> list[Span]:
    shields = [m.span() for m in _SHIELD.finditer(text)]
    found: list[Span] = []
    candidates = [
        (m.start, m.end)
        for m in phonenumbers.PhoneNumberMatcher(text, "CN", leniency=phonenumbers.Leniency.VALID)
    ]
    candidates += [m.span() for m in _CN_MOBILE.finditer(text)]
    for s, e in candidates:
        if any(s < b and a < e for a, b in shields) or _order_context(text, s):
            continue
        found.append((s, e, PHONE, "[phone]"))
    return found


def _alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()
