"""Keyword/phrase matching over units, indexed by first unit so a message costs one pass.

A single regex alternation of hundreds of phrases backtracks through every branch at every
position (milliseconds per message); a dict keyed by each phrase's first unit makes the scan
one lookup per unit, which keeps `decide` in the tens of microseconds.

Phrase syntax (what ops write in rules.yaml): words and Han characters match as written,
case-insensitive, traditional folded to simplified; `*` allows a gap (up to 8 characters in
Chinese lists, 4 words in English lists); a word ending in `~` matches any word it starts
(`recogni~` matches recognise, recognized, ...). A rule's `unless` phrases cancel it
("lost my card" unless "found it"); for a security rule they also withhold the model's security
boost (see classifier.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .textnorm import normalize, units

GAP = {"zh": 8, "en": 4}


@dataclass(frozen=True, slots=True)
class Phrase:
    rule_id: str
    intent: str
    text: str
    lang: str
    pattern: tuple[str, ...]
    weight: float = 1.0
    negate: bool = False  # an `unless` phrase: its match cancels the rule


def compile_pattern(phrase: str) -> tuple[str, ...]:
    """Units of a phrase with `*` gaps and `~` prefixes; ValueError when it matches nothing."""
    out: list[str] = []
    for k, segment in enumerate(normalize(phrase).split("*")):
        if k:
            out.append("*")
        for chunk in segment.split():
            found = units(chunk)
            if chunk.endswith("~") and found:
                found[-1] += "~"
            out.extend(found)
    words = [u for u in out if u != "*"]
    if not words or out[0] == "*" or out[-1] == "*" or "*\x00*" in "\x00".join(out):
        raise ValueError(f"phrase {phrase!r} has no words to match or a misplaced '*'")
    return tuple(out)


# id, phrase, units (no gaps) or gap-separated segments, simple, gap
_Entry = tuple[int, "Phrase", list[list[str]], bool, int]


class PhraseMatcher:
    """All phrases of one rule set; `find` returns each matching phrase once, in text order.

    Phrases are indexed by their first two units when both are literal (Chinese phrases share
    first characters such as 充 or 卡, so one character alone would leave dozens of candidates),
    else by the first unit, and by prefix for `~` heads.
    """

    def __init__(self, phrases: Iterable[Phrase]) -> None:
        self._one: dict[str, list[_Entry]] = {}
        self._two: dict[str, list[_Entry]] = {}
        self._prefix: dict[str, list[_Entry]] = {}
        for n, phrase in enumerate(phrases):
            pattern = list(phrase.pattern)
            simple = not any(u == "*" or u.endswith("~") for u in pattern)
            segments = [seg.split("\x00") for seg in "\x00".join(pattern).split("\x00*\x00")]
            entry: _Entry = (n, phrase, segments, simple, GAP[phrase.lang])
            head = pattern[0]
            if head.endswith("~"):
                self._prefix.setdefault(head[:-1], []).append(entry)
            elif len(pattern) > 1 and pattern[1] != "*" and not pattern[1].endswith("~"):
                self._two.setdefault(f"{head}\x00{pattern[1]}", []).append(entry)
            else:
                self._one.setdefault(head, []).append(entry)
        self._prefix_lens = sorted({len(k) for k in self._prefix})

    def find(self, text_units: list[str]) -> list[Phrase]:
        return self.scan(text_units)[0]

    def scan(self, text_units: list[str]) -> tuple[list[Phrase], list[Phrase]]:
        """Matching phrases (without cancelled rules) and the `unless` phrases that matched.

        The `unless` hits are returned too because a near miss says more than "not this rule":
        the classifier withholds the security boost when a security rule's `unless` matched.
        """
        hits = self._scan(text_units)
        if any(h.negate for h in hits):
            cancelled = {h.rule_id for h in hits if h.negate}
            kept = [h for h in hits if not h.negate and h.rule_id not in cancelled]
            return kept, [h for h in hits if h.negate]
        return hits, []

    def _scan(self, text: list[str]) -> list[Phrase]:
        seen: set[int] = set()
        hits: list[Phrase] = []
        one, two, prefix, lens = self._one, self._two, self._prefix, self._prefix_lens
        last = len(text) - 1
        for i, unit in enumerate(text):
            found = [one.get(unit), two.get(f"{unit}\x00{text[i + 1]}") if i < last else None]
            for size in lens:
                if len(unit) >= size:
                    found.append(prefix.get(unit[:size]))
            for candidates in found:
                if not candidates:
                    continue
                for n, phrase, segments, simple, gap in candidates:
                    if n in seen:
                        continue
                    if simple:
                        ok = text[i : i + len(segments[0])] == segments[0]
                    else:
                        ok = _match(segments, 0, text, i, gap)
                    if ok:
                        seen.add(n)
                        hits.append(phrase)
        return hits


def _match(segments: list[list[str]], k: int, text: list[str], i: int, gap: int) -> bool:
    """Segment k matches at i, and the rest follow within `gap` units of each other."""
    segment = segments[k]
    if not _segment_at(segment, text, i):
        return False
    if k + 1 == len(segments):
        return True
    lo = i + len(segment)
    hi = min(lo + gap, len(text) - 1) + 1
    head = segments[k + 1][0]
    if head[-1] == "~":
        stem = head[:-1]
        starts = [j for j in range(lo, hi) if text[j].startswith(stem)]
    elif head in text[lo:hi]:
        starts = [j for j in range(lo, hi) if text[j] == head]
    else:
        return False
    return any(_match(segments, k + 1, text, j, gap) for j in starts)


def _segment_at(segment: list[str], text: list[str], i: int) -> bool:
    if i + len(segment) > len(text):
        return False
    for want, unit in zip(segment, text[i : i + len(segment)], strict=True):
        if unit != want and not (want[-1] == "~" and unit.startswith(want[:-1])):
            return False
    return True
