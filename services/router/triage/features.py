"""Model features, shared verbatim by training and inference so the exported weights line up.

Chinese has no spaces, so Han runs give character 1-3 grams; English gives word uni/bi-grams
plus character 4-grams of longer words, which absorb typos and British/American spellings.
"""

from __future__ import annotations

from .textnorm import is_han, normalize, units


def features(text: str) -> list[str]:
    """Feature strings of one text (repeats kept: the count is the term frequency)."""
    out: list[str] = []
    prev: str | None = None
    run: list[str] = []
    for unit in units(normalize(text)):
        if is_han(unit):
            run.append(unit)
            prev = None
            continue
        if run:
            _han_grams("".join(run), out)
            run = []
        word = "#" if unit.isdigit() else unit
        out.append(word)
        if prev is not None:
            out.append(f"{prev} {word}")
        if len(word) > 3:
            padded = f"<{word}>"
            out.extend("~" + padded[i : i + 4] for i in range(len(padded) - 3))
        prev = word
    if run:
        _han_grams("".join(run), out)
    return out


def _han_grams(run: str, out: list[str]) -> None:
    for n in (1, 2, 3):
        out.extend(run[i : i + n] for i in range(len(run) - n + 1))
