"""Language-independent anchors of a text: numbers (normalised) and names transliterated to ASCII, in order.

Shared by three stages: copies (a translation keeps its source's anchors in order), stories (entities that meet
across scripts) and compare (names two sentences in different languages share).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from functools import lru_cache

from storyloom.enrich.sentences import split_sentences

# Numbers in any script's digits; the look-arounds are ASCII-only so "2020年" and "13日" still match.
_NUM = re.compile(
    r"(?<![0-9A-Za-z.,])\d{1,3}(?:[,.\u00a0 \u202f]\d{3})+(?:[.,]\d+)?(?![0-9A-Za-z])"
    r"|(?<![0-9A-Za-z.,])\d+(?:[.,]\d+)?(?![0-9A-Za-z])"
)
_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
NAME_PREFIX = 4
_NOT_LOWER = re.compile(r"[^a-z]")


def _number(token: str) -> str | None:
    t = re.sub(r"(?<=\d)[,.\u00a0 \u202f](?=\d{3}(?!\d))", "", token)  # thousands separators, any convention
    t = t.replace(",", ".")
    try:
        value = float(t)
    except ValueError:
        return None
    if value < 10 and "." not in t:
        return None  # small integers are often written as words in a translation
    return f"#{value:g}"


def anchors(text: str) -> list[str]:
    """Anchors in order of appearance: numbers (normalised) and capitalised non-initial words transliterated
    to ASCII and cut to a prefix (so inflections — Лавров, Лаврова — meet the English Lavrov)."""
    return anchors_in(split_sentences(text))


def anchors_in(sentences: Iterable[str]) -> list[str]:
    """:func:`anchors` of text already split into sentences (a word is a name only when it does not open its
    sentence, so the anchors need the split; callers holding it should not pay for a second one)."""
    out: list[str] = []
    for sent in sentences:
        for m in _NUM.finditer(sent):
            n = _number(m.group(0))
            if n:
                out.append(n)
        for i, m in enumerate(_WORD.finditer(sent)):
            w = m.group(0)
            if i == 0 or not w[0].isupper() or len(w) < NAME_PREFIX:
                continue
            key = _name_key(w)
            if key:
                out.append(key)
    return out


@lru_cache(maxsize=1 << 16)
def _name_key(word: str) -> str:
    """A name's ASCII prefix, or "" when too short; cached, names recur across a corpus and transliteration
    is pure Python."""
    from anyascii import anyascii

    ascii_ = _NOT_LOWER.sub("", anyascii(word).lower())
    return ascii_[:NAME_PREFIX] if len(ascii_) >= NAME_PREFIX else ""


def anchor_keys(tokens: list[str]) -> list[int]:
    return sorted({int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little", signed=True) for t in tokens})
