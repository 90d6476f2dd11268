"""Language by script share: agents are staffed per language, and zh/en/mixed is all we need.

A Han character carries about as much as two-thirds of an English word, so words are weighted
1.5; "我的app闪退了" stays Chinese while "paid via 微信 but failed" is mixed.
"""

from __future__ import annotations

import re

from .textnorm import HAN

_HAN = re.compile(rf"[{HAN}]")
_WORD = re.compile(r"[A-Za-z]{2,}")
WORD_WEIGHT = 1.5
ZH_SHARE = 0.75
EN_SHARE = 0.15
MIN_UNITS = 2.0
_HINTS = {"zh": "zh", "cn": "zh", "chi": "zh", "zho": "zh", "en": "en", "eng": "en"}


def detect_language(text: str, hint: str | None = None) -> str:
    """zh, en or mixed from the text; the integration's hint only when the text is too short."""
    han = len(_HAN.findall(text))
    words = len(_WORD.findall(text)) * WORD_WEIGHT
    total = han + words
    if total < MIN_UNITS:
        from_hint = _HINTS.get((hint or "").lower().replace("_", "-").split("-")[0])
        if from_hint:
            return from_hint
        if total == 0:
            return "und"
    share = han / total
    if share >= ZH_SHARE:
        return "zh"
    if share <= EN_SHARE:
        return "en"
    return "mixed"
