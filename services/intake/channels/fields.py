"""Field cleaning shared by the channels: what every envelope needs to be safe downstream.

PostgreSQL text and JSONB reject NUL, Kafka keys and ids must be stable, and the router must
see the same customer identity whichever channel it came from; these helpers see to that.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from datetime import UTC, datetime
from typing import TypeVar

import msgspec
import phonenumbers

from shared.models import AttributeValue, Customer

from .errors import InvalidInput, from_decode_error, from_validation_error
from .schemas import CustomerIn

Decoded = TypeVar("Decoded")

# C0 controls except TAB, LF, CR, plus DEL: stripped from text; any control refused in ids.
_STRIPPED_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_SPACE_OR_CONTROL_RE = re.compile(r"[\s\x00-\x1f\x7f]")
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_DEFAULT_REGION = "CN"
# A Chinese mobile number, bare or with +86/0086: 1[3-9] and nine more digits.
_CN_MOBILE = re.compile(r"(?:\+86|0086)?1[3-9]\d{9}")


def clean_text(value: str | None) -> str:
    """Plain text with one newline convention and no control characters, trimmed."""
    if not value:
        return ""
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    if _STRIPPED_RE.search(value):
        value = _STRIPPED_RE.sub("", value)
    return value.strip()


def clean_id(value: str, field: str) -> str:
    """An identifier, trimmed; blank ones and control characters are refused."""
    value = value.strip()
    if not value:
        raise InvalidInput(field, "must not be blank")
    if _CONTROL_RE.search(value):
        raise InvalidInput(field, "must not contain control characters")
    return value


def clean_token(value: str, field: str) -> str:
    """An identifier that is one token: ``clean_id``, and no whitespace inside it."""
    value = clean_id(value, field)
    if _SPACE_OR_CONTROL_RE.search(value):
        raise InvalidInput(field, "must not contain spaces")
    return value


def required_text(value: str, field: str) -> str:
    text = clean_text(value)
    if not text:
        raise InvalidInput(field, "must not be blank")
    return text


def check_time(value: datetime | None, field: str) -> datetime | None:
    """Times outside 1970..2200 are a broken clock, not a message date."""
    if value is not None and not _EARLIEST <= value < _LATEST:
        raise InvalidInput(field, "timestamp out of range (1970..2200)")
    return value


def utc_text(value: datetime) -> str:
    """One spelling per instant, so that an offset change does not change an id."""
    return value.astimezone(UTC).isoformat()


def arrival(clock: datetime, reported: datetime | None) -> datetime:
    """When the company first had the message: the integration's time if it is earlier."""
    if clock.tzinfo is None:
        clock = clock.replace(tzinfo=UTC)
    if reported is not None and reported < clock:
        return reported
    return clock


def language(tag: str | None) -> str | None:
    """``zh-CN`` / ``zh_Hans`` → ``zh``: the router works per language, not per region."""
    if not tag:
        return None
    return tag.replace("_", "-").split("-", 1)[0].lower()


def escape_part(value: str) -> str:
    """Escape ``%`` and ``:`` so that ``a:b`` joined ids stay unambiguous."""
    return value.replace("%", "%25").replace(":", "%3A")


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def normalize_phone(raw: str | None) -> str | None:
    """E.164 when the number parses (default region CN), else its digits; None without digits."""
    if not raw:
        return None
    # Decimal digits of any script, in ASCII (full-width ones are common); superscripts and
    # other digit-like signs are not part of a number. One "+" and only in front.
    if any(ch.isdigit() and not ch.isdecimal() for ch in raw):
        return None  # "+⁸⁶138…" is no number; dropping the superscripts would make another
    digits = "".join(str(unicodedata.decimal(ch)) for ch in raw if ch.isdecimal())
    if len(digits) < 3:
        return None
    if raw.lstrip().startswith(("+", "\uff0b")):
        digits = "+" + digits
    if _CN_MOBILE.fullmatch(digits):  # the common case, without the cost of a full parse
        return digits if digits.startswith("+") else f"+86{digits[-11:]}"
    return _parse_phone(digits)


@functools.lru_cache(maxsize=4096)
def _parse_phone(digits: str) -> str:
    try:
        number = phonenumbers.parse(digits, _DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return digits
    if phonenumbers.is_possible_number(number):
        return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return digits


def normalize_email(raw: str | None) -> str | None:
    """Lowercased address when it looks like one (one ``@``, no spaces), else None."""
    if not raw:
        return None
    address = raw.strip().lower()
    local, at, domain = address.partition("@")
    if not at or not local or not domain or "@" in domain or _SPACE_OR_CONTROL_RE.search(address):
        return None
    return address


def customer(
    given: CustomerIn | None,
    path: str,
    *,
    id: str | None = None,
    phone: str | None = None,
    email: str | None = None,
) -> Customer:
    """The posted ``customer`` object wins; channel fields (caller, sender) fill the gaps."""
    if given is None:
        return Customer(id=id, phone=normalize_phone(phone), email=normalize_email(email))
    given_id = clean_id(given.id, f"{path}.customer.id") if given.id is not None else None
    given_phone = None
    if given.phone is not None:
        given_phone = normalize_phone(given.phone)
        if given_phone is None:
            raise InvalidInput(f"{path}.customer.phone", "not a phone number")
    given_email = None
    if given.email is not None:
        given_email = normalize_email(given.email)
        if given_email is None:
            raise InvalidInput(f"{path}.customer.email", "not an email address")
    return Customer(
        id=given_id or id,
        phone=given_phone or normalize_phone(phone),
        email=given_email or normalize_email(email),
    )


def attributes(
    given: dict[str, AttributeValue], path: str, derived: dict[str, AttributeValue]
) -> dict[str, AttributeValue]:
    """The posted attributes plus what intake derived; a derived key overrides a posted one,
    also when the intake derived nothing for it."""
    out: dict[str, AttributeValue] = {}
    for key, value in given.items():
        if _CONTROL_RE.search(key):
            raise InvalidInput(f"{path}.attributes (key)", "must not contain control characters")
        out[key] = clean_text(value) if isinstance(value, str) else value
    for key, value in derived.items():
        if value is not None:
            out[key] = value
        else:  # the intake's to set: a posted value must not pass for the derived one
            out.pop(key, None)
    return out


def decode_json(decoder: msgspec.json.Decoder[Decoded], body: bytes | msgspec.Raw) -> Decoded:
    """Bytes → request Struct in one pass; every failure becomes an ``InvalidInput``."""
    if isinstance(body, bytes):
        if body.startswith(b"\xef\xbb\xbf"):
            body = body[3:]  # a UTF-8 BOM from a Windows integration is harmless
        if not body.isascii():
            # msgspec skips ignored fields without checking them; the whole body must be UTF-8.
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as error:
                raise from_decode_error(error) from None
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as error:
        raise from_validation_error(error) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise from_decode_error(error) from None
    except RecursionError:  # msgspec refuses nesting deeper than the interpreter's limit
        raise InvalidInput("body", "JSON is nested too deeply", status=400) from None
