"""Who says what: attributions ("ISW notes", "said a US official", "according to the ministry") and the
dates written in the text ("On August 9, …").

English patterns only for now (the seeds' Buna Times text is a machine translation into English); other
languages get no attributions rather than wrong ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from storyloom.enrich.sentences import split_sentences

VERBS = (
    r"said|says|say|told|tells|noted|notes|note|highlighted|highlights|wrote|writes|write|reported|reports|"
    r"stated|states|added|adds|stressed|stresses|warned|warns|claimed|claims|announced|announces|confirmed|"
    r"confirms|argued|argues|explained|explains|insisted|insists|suggested|suggests|believes|believed|"
    r"estimated|estimates|assessed|assesses|concluded|concludes|observed|observes|emphasized|emphasised|"
    r"indicated|indicates|denied|denies|acknowledged|acknowledges|urged|urges|portrayed|described"
)
_CAP = r"[A-Z][\w'’.&-]*"
_NAME = rf"(?:{_CAP}(?:(?:\s+(?:of|for|the|and|on|de|al|bin|von|van)){{1,2}}\s+{_CAP}|\s+{_CAP}){{0,7}})(?:\s*\([A-Z][A-Za-z]{{1,8}}\))?"
_DESCRIPTOR = (
    r"\b(?:[Aa]n?|[Tt]he|[Tt]wo|[Tt]hree|[Ss]everal|[Ss]ome|[Mm]any|[Oo]ther|[Ss]enior|[Oo]ne)\s+(?:[\w-]+\s+){0,3}?"
    r"(?:official|officials|source|sources|spokesman|spokeswoman|spokesperson|diplomat|diplomats|analyst|analysts|"
    r"expert|experts|minister|ministry|report|statement|assessment|witness|witnesses|resident|residents|"
    r"police|authorities|agency|study|survey|researchers|scientists|lawmakers|people familiar with the matter)\b"
    r"|\b(?:[Ee]xperts|[Aa]nalysts|[Oo]fficials|[Aa]uthorities|[Ww]itnesses|[Rr]esearchers)\b"
)
_SPEAKER = rf"(?:(?:the|The)\s+)?(?:{_NAME})|{_DESCRIPTOR}"
_SUBJECT_VERB = re.compile(rf"(?P<who>{_SPEAKER})\s+(?:has\s+|have\s+|had\s+)?(?P<verb>{VERBS})\b")
_VERB_SUBJECT = re.compile(rf"\b(?P<verb>said|says|told|wrote|added|noted)\s+(?P<who>{_DESCRIPTOR}|(?:the\s+)?{_NAME})")
_ACCORDING = re.compile(rf"\b(?P<verb>according to)\s+(?P<who>{_DESCRIPTOR}|(?:the\s+)?{_NAME})")
_NOT_SPEAKERS = {"it", "he", "she", "they", "this", "that", "which", "who", "we", "i", "you", "there", "the"}
_LEADING_NOISE = re.compile(r"^(?:And|But|So|Yet|Also|Meanwhile|However|Then|In|On|At|As|While)\s+")


@dataclass(frozen=True)
class Attribution:
    source: str  # as written: "the Institute for the Study of War (ISW)", "a US official"
    verb: str
    sentence: int  # index of the sentence in split_sentences(text)


def _clean_source(who: str) -> str | None:
    who = _LEADING_NOISE.sub("", who.strip()).strip(" ,")
    if not who or who.lower() in _NOT_SPEAKERS or len(who) < 2:
        return None
    return who


def attributions(text: str) -> list[Attribution]:
    """Every attribution found, in sentence order; one sentence may attribute to several sources."""
    out: list[Attribution] = []
    for i, sent in enumerate(split_sentences(text)):
        seen: set[str] = set()
        for rx in (_ACCORDING, _VERB_SUBJECT, _SUBJECT_VERB):
            for m in rx.finditer(sent):
                who = _clean_source(m.group("who"))
                if who and who.lower() not in seen:
                    seen.add(who.lower())
                    out.append(Attribution(who, m.group("verb"), i))
    return out


MONTHS = {m: i + 1 for i, m in enumerate(
    "january february march april may june july august september october november december".split())}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9
_MONTH = r"(January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"
_MDY = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b")
_DMY = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+(\d{{4}}))?\b")


@dataclass(frozen=True)
class TextDate:
    text: str
    iso: str  # YYYY-MM-DD, or --MM-DD when the year is not written


def text_dates(text: str) -> list[TextDate]:
    """Calendar dates written in the text, in order of appearance (no relative dates like "on Monday")."""
    found: list[tuple[int, TextDate]] = []
    for m in _MDY.finditer(text):
        month, day, year = MONTHS[m.group(1).lower().rstrip(".")], int(m.group(2)), m.group(3)
        if 1 <= day <= 31:
            found.append((m.start(), TextDate(m.group(0), f"{year}-{month:02d}-{day:02d}" if year else f"--{month:02d}-{day:02d}")))
    for m in _DMY.finditer(text):
        day, month, year = int(m.group(1)), MONTHS[m.group(2).lower().rstrip(".")], m.group(3)
        if 1 <= day <= 31 and not any(abs(p - m.start()) < 3 for p, _ in found):
            found.append((m.start(), TextDate(m.group(0), f"{year}-{month:02d}-{day:02d}" if year else f"--{month:02d}-{day:02d}")))
    return [d for _, d in sorted(found, key=lambda x: x[0])]
