"""Customer identities as keyed hashes, so that one person is linked across channels.

Linking needs equality only; storing HMACs keeps phone numbers and email addresses out of the
database's identity table. Normalization makes "+86 138-0013-8000" and "13800138000" one key.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

import phonenumbers

from shared.models import InboundMessage


def normalize_phone(raw: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def identities(message: InboundMessage) -> list[tuple[str, str]]:
    """(kind, normalized value) pairs this message tells us about its sender."""
    found: list[tuple[str, str]] = []
    customer = message.customer
    if customer.id:
        found.append(("customer_id", customer.id.strip()))
    if customer.phone and (phone := normalize_phone(customer.phone)):
        found.append(("phone", phone))
    if customer.email and "@" in customer.email:
        found.append(("email", customer.email.strip().lower()))
    if message.channel == "social" and message.platform and message.author_handle:
        found.append(("social", f"{message.platform.lower()}:{message.author_handle.lower()}"))
    return found


class IdentityHasher:
    def __init__(self, key: bytes) -> None:
        self._key = key
        # Customers write again and again: remember the latest hashes (bounded).
        self._cached = functools.lru_cache(maxsize=65536)(self._hash)

    def _hash(self, kind: str, value: str) -> str:
        return hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    def __call__(self, kind: str, value: str) -> str:
        return self._cached(kind, value)
