"""Message-ID handling for email threading, shared by the JSON and the raw MIME email paths.

Normal form: the text between ``<`` and ``>`` (or the whole value when unbracketed), with all
whitespace removed (folded headers) and the domain part lowercased. The local part keeps its
case: RFC 5322 makes it case-sensitive and generators (Gmail's ``CA...`` ids) use both cases,
while relays and clients only ever re-case the domain.
"""

from __future__ import annotations

import re

_BRACKETED = re.compile(r"<([^<>]*)>")
_SEPARATORS = re.compile(r"[\s,;]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ID_LENGTH = 998
_MAX_REFERENCES = 100


def normalize_message_id(raw: str) -> str | None:
    """The normal form of one Message-ID, or None when nothing usable is left."""
    match = _BRACKETED.search(raw)
    value = match.group(1) if match else raw
    value = _CONTROL.sub("", "".join(value.split()))
    if not value or len(value) > MAX_ID_LENGTH:
        return None
    local, at, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}" if at else value


def parse_id_list(raw: str | list[str] | None) -> list[str]:
    """Ids of an In-Reply-To/References value: ``<a> <b>``, ``a b`` or a JSON list of either.

    Chains longer than 100 keep the root and the 99 most recent ids.
    """
    if not raw:
        return []
    values = raw if isinstance(raw, list) else [raw]
    pieces = [
        p for value in values for p in (_BRACKETED.findall(value) or _SEPARATORS.split(value))
    ]
    if len(pieces) > _MAX_REFERENCES:  # the root and the most recent ones are what threading needs
        pieces = pieces[:1] + pieces[-(_MAX_REFERENCES - 1) :]
    return [normal for piece in pieces if (normal := normalize_message_id(piece)) is not None]


def thread(own_id: str, in_reply_to: list[str], references: list[str]) -> tuple[str, list[str]]:
    """(conversation root, envelope references): the root is the first of References, else
    In-Reply-To, else the message itself; references are In-Reply-To + References, deduplicated,
    without the message's own id."""
    root = references[0] if references else in_reply_to[0] if in_reply_to else own_id
    seen = {own_id}
    chain: list[str] = []
    for message_id in (*in_reply_to, *references):
        if message_id not in seen:
            seen.add(message_id)
            chain.append(message_id)
    return root, chain
