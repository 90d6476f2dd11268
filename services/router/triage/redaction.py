"""Redaction lives in the shared library (the intake redacts before it publishes, the router
again before it stores); re-exported here for the triage API."""

from shared.redaction import (
    CARD,
    CODE,
    EMAIL,
    ID,
    KINDS,
    PASSWORD,
    PHONE,
    PLACEHOLDER,
    Redaction,
    luhn_ok,
    may_hold_card,
    merge_counts,
    redact,
    resident_id_ok,
)

__all__ = [
    "CARD",
    "CODE",
    "EMAIL",
    "ID",
    "KINDS",
    "PASSWORD",
    "PHONE",
    "PLACEHOLDER",
    "Redaction",
    "luhn_ok",
    "may_hold_card",
    "merge_counts",
    "redact",
    "resident_id_ok",
]
