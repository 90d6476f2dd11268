"""Field types of what integrations post, shared by the intake (which refuses a post that breaks
them) and `switchboard route` (which refuses such a line the same way): one set of limits."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

# Patterns end in ``\Z``: msgspec applies them with Python's ``re.search``, whose ``$`` also
# matches before a final newline ("zh\n" would pass). The OpenAPI document spells it ``$``.

Text = Annotated[str, Meta(max_length=100_000)]
Short = Annotated[str, Meta(max_length=1_000)]
Language = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*\Z",
        max_length=35,
        description="BCP 47 tag (zh-CN, en); reduced to its primary subtag in the envelope.",
    ),
]
AttributeKey = Annotated[str, Meta(min_length=1, max_length=64)]
AttributeValue = (
    Annotated[str, Meta(max_length=1_000)]
    | Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)]
    | float
    | bool
    | None
)
Attributes = Annotated[
    dict[AttributeKey, AttributeValue],
    Meta(max_length=50, description='Free scalar attributes, e.g. {"tier": "vip"}.'),
]
IvrSelection = Annotated[
    list[Annotated[str, Meta(pattern=r"^[0-9*#]{1,32}\Z")]],
    Meta(max_length=64, description="Digits pressed in the IVR, in order."),
]
