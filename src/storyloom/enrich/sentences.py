"""Sentence splitting good enough for news prose, without a model.

Splits after . ! ? … (and a closing quote) when the next word starts a sentence, but not after common
abbreviations (Mr., U.S., Jan.) or initials; CJK full stops always split.  A sentence starts with a capital of
any cased script (Ł, Č, İ, Greek, Armenian and Cyrillic capitals as well as A-Z), a digit, or a letter of a script
without capitals whose writers end sentences with ". " (Arabic, Hebrew, Hangul, the Indic scripts, Georgian,
Ethiopic; :mod:`storyloom.enrich.scripts`).  Those scripts' own stops split too: ؟ and ۔ (Arabic, Urdu), । and ॥
(Devanagari and its kin), ։ (Armenian) and ። (Ethiopic).  (The Greek question mark is NFC-normalised to ";"
before any text gets here, and ";" is not a stop.)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from storyloom.enrich.scripts import CAPITALS, CASELESS_LETTERS

_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sen", "rep", "gov", "gen", "col", "lt", "sgt", "st", "jr", "sr", "co", "inc",
    "ltd", "corp", "vs", "etc", "no", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "u.s", "u.k", "u.n", "e.g", "i.e", "a.m", "p.m", "approx", "dept", "est", "fig", "op", "vol",
    # followed by a capital in languages whose capitals the splitter now knows (Ł Č Š …): "ul. Łąkowa", "tzv. Šťastný"
    "ul", "al", "pl", "np", "św", "ks", "tzw", "tj", "tzv", "sv", "nr", "ca", "bzw", "vgl", "hr", "gr",
}
_LAST_WORD = re.compile(r"([\w.]+)[.!?…]+[\"”’»)]*$")
_WORDISH = re.compile(r"[\w.]")
_STOPS = ".!?…؟۔।॥։።"
# possessive repeats (++, *+): a run of stops or spaces is taken whole, never retried from each of its positions
# and a match starts only at a run's first stop (20,000 dots in a row took seconds)
_BOUNDARY = re.compile(
    rf"(?<![{_STOPS}])([{_STOPS}]++[\"”’»)]*+)(\s++)(?=[\"“‘«(]?[{CAPITALS}{CASELESS_LETTERS}0-9])|([。！？]++)")


def _initial(candidate: str, last: re.Match[str]) -> bool:
    """Whether the word before a stop is an initial ("J. Smith"): one letter, not the end of a word whose vowel
    signs \\w does not match (Marathi "आहेत." leaves "त": a combining mark before it means a longer word)."""
    at = last.start()
    return len(last.group(1)) == 1 and not (at and unicodedata.category(candidate[at - 1]).startswith("M"))


def split_sentences(text: str) -> list[str]:
    """Sentences of a text, paragraph breaks always splitting."""
    return list(iter_sentences(text))


def iter_sentences(text: str) -> Iterator[str]:
    """The sentences one at a time: a caller that needs only the lead stops early instead of splitting a whole
    article (the stories stage wants six sentences of texts that run to hundreds)."""
    for para in text.split("\n"):
        para = para.strip()
        if not para:
            continue
        start = 0
        for m in _BOUNDARY.finditer(para):
            end = m.end(1) if m.group(1) else m.end(3)
            candidate = para[start:end]
            # Only the candidate's tail can hold the abbreviation: searching the whole of it with a "$"-anchored
            # pattern retried from every position and was the splitter's main cost on long paragraphs.
            lo = max(0, len(candidate) - 48)
            last = _LAST_WORD.search(candidate, lo)
            if last and lo and last.start() == lo and _WORDISH.match(candidate, lo - 1):  # a token longer than that
                last = _LAST_WORD.search(candidate)
            if m.group(1) and last and (last.group(1).lower().rstrip(".") in _ABBREV or _initial(candidate, last)):
                continue
            if candidate.strip():
                yield candidate.strip()
            start = m.end()
        if para[start:].strip():
            yield para[start:].strip()
