"""Redaction: social posts lose everything personal; every channel loses card numbers (PCI).

Shared by the intake (which redacts before it publishes) and the router (which redacts again,
as defence in depth, before it stores). Redacting redacted text changes nothing.

Decisions where the spec is silent:
- A card becomes `[card ****1234]`: the last four digits are allowed by PCI DSS and let an agent
  match the customer's card. Other kinds become `[phone]`, `[email]`, `[id_number]`, and for
  secrets only the value is replaced (`验证码是[verification_code]`, `password: [password]`).
- Full-width digits, letters and separators (`６２２２．０２１２`, `ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ`,
  `验证码：８８９９００`) are matched as their ASCII forms; the text around them is kept as written.
- A card is 13-19 digits passing Luhn, written solid or in groups separated by one space, dash
  or dot: groups of four (the last 1-4), 4-6-4/4-6-5 (Diners/Amex), 4-6-6, or any other split
  into groups of 3-6 digits. Digits glued to Latin letters (T2026...) are identifiers, and a
  phone number (+86 / 0086 and a mobile, or a `+` country code) is not a card.
- A number right after an order/transaction word ("order 2026...", "订单号：", "交易号", "ref #")
  is an order number and stays readable even if it happens to pass Luhn, unless it is written
  in card-style groups. Anywhere else a Luhn-valid number is masked: PCI wins.
- A valid resident ID (GB 11643 check digit, province code, real birth date; solid or 6-8-4)
  is never counted as a card; outside social posts it is left alone, as the spec asks only for
  card numbers.
- Secrets: after a code/password word (a quote before the value is skipped; a card's CVV is
  3-4 digits after cvv/cvc/安全码). With `:`/`=` any value goes; after "is"/"是" a value
  that is a plain English word of the sentence ("is wrong", "is expired") is no secret; with
  nothing between, only values with a digit are. A secret may hold a space: the following
  tokens that look like password parts (a digit or symbol in them) go too. Sentence
  punctuation at the end (`hunter2.`) is not part of it.
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
KINDS = (CARD, ID, PHONE, EMAIL, CODE, PASSWORD)


@dataclass(frozen=True)
class Redaction:
    text: str
    counts: Mapping[str, int]


# One character for one character, so that spans found in the folded text are spans of the
# original: full-width ASCII (U+FF01-FF5E), odd spaces and dashes.
_FOLD = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_FOLD.update({c: ord(" ") for c in (0x00A0, 0x3000, 0x202F, 0x205F, *range(0x2000, 0x200B))})
_FOLD.update({c: ord("-") for c in range(0x2010, 0x2016)})
_FOLD.update({0x2212: ord("-"), 0xFE63: ord("-")})
# Invisible format characters (zero-width space and joiners, word joiner, BOM, soft hyphen):
# pasted between digits they hide a card from a regex but not from a reader.
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_FOLD.update({ord(c): ord(" ") for c in _INVISIBLE})
# Line breaks and tabs: a number typed across lines (or an HTML mail's <br>) is still one.
_FOLD.update({ord(c): ord(" ") for c in "\t\n\r\x0b\x0c\x85\u2028\u2029"})

# Thirteen digits with at most two separators between neighbours ("\r\n", ". ", a space and
# a zero-width one): nothing shorter is a card.
# Python's \d and \s are Unicode-aware, so this also sees full-width digits and spaces.
_CARD_SEPARATORS = r"\s.\-\u2010-\u2015\u2212\ufe63\uff0d\uff0e" + _INVISIBLE
CARD_MIN_DIGITS = 13
_MAYBE_CARD = re.compile(r"\d(?:[" + _CARD_SEPARATORS + r"]{0,2}\d){12}")
# Necessary for the above and several times cheaper to refute (one repeated class).
_MAYBE_RUN = re.compile(r"\d[\d" + _CARD_SEPARATORS + r"]{12}")
_RUN = re.compile(r"\d+(?:[ .-]{1,2}\d+)*")
_RUN_SEPARATOR = re.compile(r"[ .-]{1,2}")
_ID = re.compile(r"(?<![0-9A-Za-z])\d{6}([ -]{0,2})\d{8}\1\d{3}[\dXx](?![0-9A-Za-z])")
# Bounded as RFC 5321 bounds them (local part 64, label 63): unbounded, a long run of
# "a.a.a…" before an "@" cost quadratic time (40 KB: 1.8 s).
_EMAIL = re.compile(
    r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,9}"
    r"\.[A-Za-z]{2,24}"
)
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
_VALUE = r"[A-Za-z0-9!@#$%^&*._+~?-]{4,32}"
_QUOTE = "[\"'\u201c\u2018\u300c\u300e]?"
_ZH_SECRET = re.compile(
    r"(验证码|校验码|动态码|短信码|动态密码|支付密码|登录密码|交易密码|密码|口令)"
    r"\s*(是|为)?\s*([:=])?\s*" + _QUOTE + "(" + _VALUE + ")"
)
# Word edges by Latin letters and digits only: "我的password是..." has one before "password".
_EN_SECRET = re.compile(
    r"(?<![A-Za-z0-9])(verification code|security code|sms code|otp|passcode|password|passwd"
    r"|pwd|pin|code)(?![A-Za-z0-9])\s*(is(?![A-Za-z])|was(?![A-Za-z])|是|为)?\s*([:=-])?\s*"
    r"(?:is\s+)?" + _QUOTE + "(" + _VALUE + ")",
    re.IGNORECASE,
)
# The card's security code is three or four digits.
_CVV = re.compile(
    r"(?:(?<![A-Za-z0-9])(?:cvv2?|cvc2?|cvn|csc)(?![A-Za-z0-9])|安全码|卡背三位数?)"
    r"\s*(?:is\b|是|为)?\s*[:=]?\s*(\d{3,4})(?!\d)",
    re.IGNORECASE,
)
_NOT_SECRET = re.compile(
    r"(error|promo|promotion|coupon|discount|referral|invite|invitation|zip|postal|post|swift"
    r"|sort|country|area|qr|bar|dial|source|tracking|voucher|gift)\s*$",
    re.IGNORECASE,
)
# Words that follow "my password is" in a sentence about the password, not in the password.
_PLAIN_WORDS = frozenset(
    re.findall(
        r"[a-z]+",
        """
    a an the my your his her our their its this that it not no never too very so just only
    still also already always now being been wrong incorrect invalid expired correct right
    same different changed reset locked blocked frozen forgotten lost gone weak strong short
    long required needed missing empty ok okay fine working accepted rejected refused and or
    but because since when if for to of on in at with from by about like what which there here
    sent received coming sensitive compromised stolen leaked hacked safe secure none mine
    easy hard simple complicated please help urgent asap anymore again yet
    """,
    )
)
_SENTENCE_END = ".,;:!?'\")]}"
_NEXT_TOKEN = re.compile(r" (" + _VALUE + ")")
_SECRET_PART = re.compile(r"[0-9!@#$%^&*~+]")
_CN_MOBILE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)")
_MOBILE_PREFIX = re.compile(r"1[3-9]\d$")
_PHONE_DIGITS = re.compile(r"(?:0086|86)?1[3-9]\d{9}")
_PROVINCES = frozenset(  # GB/T 2260 province-level codes
    re.findall(
        r"\d\d", "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61"
    )
    + re.findall(r"\d\d", "62 63 64 65 71 81 82 83 91")
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# What redaction writes, for readers that must look past it (the classifier, re-redaction).
PLACEHOLDER = re.compile(
    r"\[(?:card \*{4}\d{4}|phone|email|id_number|verification_code|password)\]"
)

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
    if len(value) != 18 or not value[:17].isdecimal() or value[:2] not in _PROVINCES:
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > datetime.now(UTC).date():
        return False
    check = sum(int(c) * w for c, w in zip(value[:17], _ID_WEIGHTS, strict=True)) % 11
    return value[17].upper() == _ID_CHECK[check]


def may_hold_card(text: str) -> bool:
    """Cheap precheck (one C-level scan): False means `redact(text, full=False)` changes nothing."""
    found = _MAYBE_RUN.search(text)
    return found is not None and _MAYBE_CARD.search(text, found.start()) is not None


def redact(text: str, *, full: bool) -> Redaction:
    """Mask card numbers; with `full` (social) also IDs, phones, emails, codes, passwords."""
    if not full and not may_hold_card(text):
        return Redaction(text, {})
    folded = text.translate(_FOLD)
    spans: list[Span] = []
    ids = [
        m.span()
        for m in _ID.finditer(folded)
        if resident_id_ok(m.group().replace(" ", "").replace("-", ""))
    ]
    if full:
        spans += [(s, e, ID, "[id_number]") for s, e in ids if not _order_context(folded, s)]
        spans += [(m.start(), m.end(), EMAIL, "[email]") for m in _EMAIL.finditer(folded)]
    spans += _cards(folded, ids)
    if full:
        phones = _phones(folded)
        spans += _secrets(folded, [(a, b) for a, b, _, _ in spans + phones])
        spans += phones
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


def neutral(text: str) -> str:
    """Redacted text as classification should read it: a masked number stays a number (`0`),
    a masked e-mail or password is gone, so that `[card ****1234]` neither adds the word
    "card" nor makes Chinese text look mixed."""
    if "[" not in text:
        return text
    return PLACEHOLDER.sub(lambda m: " " if m.group() in ("[email]", "[password]") else "0", text)


def merge_counts(*counts: Mapping[str, int]) -> dict[str, int]:
    """Counts of several redaction passes over different values (body, subject, ...)."""
    merged: dict[str, int] = {}
    for one in counts:
        for kind, n in one.items():
            merged[kind] = merged.get(kind, 0) + n
    return merged


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
        if end - start < 13:
            continue
        glued = (start > 0 and _alnum(text[start - 1]), end < len(text) and _alnum(text[end]))
        if any(s <= start and end <= e for s, e in ids):
            continue
        for lo, hi, digits, grouped in _card_windows(m.group(), glued):
            s, e = start + lo, start + hi
            if not grouped and _order_context(text, s):
                continue
            if _phone_shaped(text, s, digits):
                continue
            found.append((s, e, CARD, f"[card ****{digits[-4:]}]"))
    return found


def _card_windows(run: str, glued: tuple[bool, bool]) -> list[tuple[int, int, str, bool]]:
    """Card-shaped stretches of a digit run: (offset, end, digits, grouped), longest first.

    A stretch touching a Latin letter (`glued`) is part of an identifier and never a card.
    Windows hold at most 19 digits, so a long run costs linear time.
    """
    parts = _RUN_SEPARATOR.split(run)
    offsets = [m.start() for m in re.finditer(r"\d+", run)]
    first, last = (1 if glued[0] else 0), len(parts) - (1 if glued[1] else 0)
    windows: list[tuple[int, int, str, bool]] = []
    for i in range(first, last):
        size = 0
        for j in range(i + 1, last + 1):
            if j - 1 > i and not 3 <= len(parts[j - 2]) <= 6:
                break  # inside a grouping a part has 3 to 6 digits: no longer window is one
            size += len(parts[j - 1])
            if size > 19:
                break
            if size < 13:
                continue
            group = parts[i:j]
            solid = j == i + 1
            if not solid and not _card_grouping(group):  # cheaper than Luhn: first
                continue
            digits = "".join(group)
            if not luhn_ok(digits):
                continue
            if solid and resident_id_ok(digits):
                continue
            windows.append((offsets[i], offsets[j - 1] + len(parts[j - 1]), digits, not solid))
    windows.sort(key=lambda w: (-len(w[2]), w[0]))
    taken: list[tuple[int, int, str, bool]] = []
    for w in windows:
        if all(w[1] <= t[0] or w[0] >= t[1] for t in taken):
            taken.append(w)
    return taken


def _card_grouping(group: list[str]) -> bool:
    sizes = [len(g) for g in group]
    if sizes in ([4, 6, 4], [4, 6, 5], [4, 6, 6]):
        return True
    if len(sizes) >= 3 and all(n == 4 for n in sizes[:-1]) and 1 <= sizes[-1] <= 4:
        return True
    if not all(3 <= n <= 6 for n in sizes):
        return False
    # Two spaced-out mobile numbers side by side ("138 1234 5678 139 ...") are no card.
    return not any(
        sizes[k : k + 3] == [3, 4, 4] and _MOBILE_PREFIX.match(group[k])
        for k in range(len(sizes) - 2)
    )


def _phone_shaped(text: str, start: int, digits: str) -> bool:
    """+86/0086 and a mobile, or digits after a `+` (a country code): a phone, not a card."""
    if start > 0 and text[start - 1] == "+":
        return True
    return _PHONE_DIGITS.fullmatch(digits) is not None


def _order_context(text: str, start: int) -> bool:
    """The number comes right after an order/transaction word ("订单号：", "order #")."""
    return _ORDER_BEFORE.search(text, max(0, start - 24), start) is not None


def _secrets(text: str, others: list[tuple[int, int]]) -> list[Span]:
    """Codes and passwords; ``others`` (cards, phones, ...) bound how far a secret extends."""
    found: list[Span] = []
    found += [(m.start(1), m.end(1), CODE, f"[{CODE}]") for m in _CVV.finditer(text)]
    for m in _ZH_SECRET.finditer(text):
        kind = CODE if "码" in m.group(1) and "密码" not in m.group(1) else PASSWORD
        if m.group(3) is None and m.group(4).lower() in _PLAIN_WORDS:
            continue
        span = _secret_span(text, m.start(4), m.end(4), others)
        if span is not None:
            found.append((*span, kind, f"[{kind}]"))
    for m in _EN_SECRET.finditer(text):
        word, verb, sep, value = m.group(1).lower(), m.group(2), m.group(3), m.group(4)
        if _NOT_SECRET.search(text[max(0, m.start() - 12) : m.start()]):
            continue
        if sep in (":", "="):
            pass
        elif verb:
            if value.lower().rstrip(_SENTENCE_END) in _PLAIN_WORDS:
                continue
        elif not any(c.isdigit() for c in value):
            continue
        span = _secret_span(text, m.start(4), m.end(4), others)
        if span is None:
            continue
        kind = PASSWORD if word in ("passcode", "password", "passwd", "pwd", "pin") else CODE
        found.append((*span, kind, f"[{kind}]"))
    return found


def _secret_span(
    text: str, start: int, end: int, others: list[tuple[int, int]]
) -> tuple[int, int] | None:
    """Where the secret found at start..end really ends: up to two password parts after a
    space go too ("P@ss w0rd"), sentence punctuation at the end stays."""
    for _ in range(2):
        if text[end - 1] in _SENTENCE_END:
            break  # "hunter2. 4111...": the sentence ended with the secret
        nxt = _NEXT_TOKEN.match(text, end)
        token = nxt.group(1).rstrip(_SENTENCE_END) if nxt else ""
        if not _SECRET_PART.search(token) or sum(c.isdigit() for c in token) >= 7:
            break  # a plain word, or a number of its own (an amount, a card, a phone)
        if nxt is None or any(a < nxt.end() and nxt.start() < b for a, b in others):
            break  # the start of a card or phone number, masked as such
        end = nxt.end()
    while end > start and text[end - 1] in _SENTENCE_END:
        end -= 1
    return (start, end) if end - start >= 4 else None


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
