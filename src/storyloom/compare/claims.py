"""Claims: an article split into claim units (sentences; clauses of long sentences), each with who says it,
what it quotes, its numbers (normalised), dates and named entities."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from storyloom.enrich.attribution import attributions, text_dates
from storyloom.enrich.quantities import quantities, quotes
from storyloom.enrich.sentences import split_sentences

LONG_SENTENCE_WORDS = 45
MIN_CLAUSE_WORDS = 8
MAX_CLAIMS = 400  # a table-like article with thousands of "sentences" is cut here (and says so)
_CLAUSE = re.compile(r";\s+|,\s+(?=(?:and|but|while|whereas|although)\s)")
_ENTITY = re.compile(r"(?<![\w])(?:[A-Z][\w'’.-]+(?:\s+(?:of|for|the|and|de|al)\s+|\s+)?){1,5}")


@dataclass(frozen=True)
class Claim:
    article_id: str
    index: int
    text: str
    source: str | None = None  # who says it: "the ISW", "a US official"
    verb: str | None = None
    quotes: tuple[str, ...] = ()
    quantities: tuple[dict[str, Any], ...] = ()
    dates: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    cut: bool = field(default=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.article_id}:{self.index}"

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["key"] = self.key
        return d


_CONTRAST_LEAD = re.compile(r"^(?:While|Whereas|Although|Though)\s+(?P<sub>.+?),\s+(?P<main>[A-Z\"“‘'].+)$", re.S)
CONTRAST_MIN_WORDS = 5  # each side of a "While X, Y" sentence needs this many words to stand as a fact


def _contrast(sentence: str) -> list[str] | None:
    """"While the Russians claimed X, China reported Y" carries two facts, each of which another outlet may
    report on its own: split at the first comma followed by a capital (the main clause's subject; the
    subordinate clause's own commas, "including the war", are followed by lower case)."""
    m = _CONTRAST_LEAD.match(sentence)
    if not m:
        return None
    sub, main = m.group("sub").strip(), m.group("main").strip()
    if len(sub.split()) < CONTRAST_MIN_WORDS or len(main.split()) < CONTRAST_MIN_WORDS:
        return None
    return [sub[0].upper() + sub[1:] + ".", main]


def _clauses(sentence: str) -> list[str]:
    contrast = _contrast(sentence)
    if contrast:
        return [c for part in contrast for c in _clauses(part)]
    if len(sentence.split()) <= LONG_SENTENCE_WORDS:
        return [sentence]
    parts, current = [], ""
    for piece in _CLAUSE.split(sentence):
        current = f"{current} {piece}".strip() if current else piece
        if len(current.split()) >= MIN_CLAUSE_WORDS:
            parts.append(current)
            current = ""
    if current:
        if parts:
            parts[-1] = f"{parts[-1]} {current}"
        else:
            parts.append(current)
    return parts


_EDGE_WORDS = {"the", "a", "an", "in", "on", "at", "of", "for", "and", "to", "by", "this", "that", "these", "those",
               "it", "he", "she", "they", "we", "but", "as", "after", "before", "while", "when", "monday", "tuesday",
               "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february", "march", "april",
               "may", "june", "july", "august", "september", "october", "november", "december"}


def entities(sentence: str) -> list[str]:
    """Capitalised name sequences ("Chinese Foreign Ministry", "Wang Yi"), trimmed of function words."""
    out = []
    for m in _ENTITY.finditer(sentence):
        words = m.group(0).strip().rstrip(".,;:").split()
        while words and words[0].lower().strip("’'") in _EDGE_WORDS:
            words.pop(0)
        while words and words[-1].lower() in _EDGE_WORDS:
            words.pop()
        name = " ".join(words)
        if len(name) > 2 and not (m.start() == 0 and len(words) == 1 and len(m.group(0).split()) == 1):
            out.append(name)
    return out


def extract_claims(article_id: str, text: str) -> list[Claim]:
    units: list[str] = []
    for s in split_sentences(text):
        units.extend(_clauses(s))
    cut = len(units) > MAX_CLAIMS
    units = units[:MAX_CLAIMS]
    attrs = attributions("\n".join(units))
    by_unit: dict[int, tuple[str, str]] = {}
    for a in attrs:
        by_unit.setdefault(a.sentence, (a.source, a.verb))
    claims = []
    for i, u in enumerate(units):
        src = by_unit.get(i)
        dates = text_dates(u)
        in_dates = " ".join(d.text for d in dates)
        nums = [q for q in quantities(u) if not (q.unit == "" and q.text in in_dates.split())]  # "August 9"
        claims.append(Claim(
            article_id, i, u, src[0] if src else None, src[1] if src else None, tuple(quotes(u)),
            tuple({"text": q.text, "value": q.value, "unit": q.unit} for q in nums),
            tuple(d.iso for d in dates), tuple(dict.fromkeys(entities(u))), cut,
        ))
    return claims
