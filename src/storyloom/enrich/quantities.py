"""Numbers and quantities in news prose, normalised: "$200 million" → 200,000,000 USD, "12 million rounds"
→ 12,000,000 rounds, "43 billion dollars" → 43,000,000,000 USD, "15%" → 15 percent.

So that claims from different outlets can be compared on their numbers (the same quantity with different
values is a conflict), whatever the wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCALES = {
    "thousand": 1e3, "k": 1e3, "million": 1e6, "mln": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "b": 1e9,
    "trillion": 1e12, "tn": 1e12, "hundred": 1e2, "dozen": 12,
}
CURRENCY_SIGNS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₽": "RUB", "₴": "UAH", "₹": "INR"}
CURRENCY_WORDS = {
    "dollar": "USD", "dollars": "USD", "usd": "USD", "euro": "EUR", "euros": "EUR", "eur": "EUR", "pound": "GBP",
    "pounds": "GBP", "gbp": "GBP", "yen": "JPY", "rouble": "RUB", "roubles": "RUB", "ruble": "RUB", "rubles": "RUB",
    "hryvnia": "UAH", "hryvnias": "UAH", "yuan": "CNY", "renminbi": "CNY", "rupees": "INR", "rupee": "INR",
}
WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100,
    "dozens": 24, "hundreds": 200, "thousands": 2000,
}
_UNIT_STOP = {"of", "in", "to", "and", "the", "a", "an", "for", "on", "at", "by", "from", "with", "as", "than", "since",
              "over", "more", "less", "about", "per", "who", "which", "that", "were", "was", "is", "are", "have", "has",
              # "5 August" is a date (the dates of a sentence are read by enrich.attribution.text_dates), not
              # five of a unit called "august": two dates would otherwise look like a conflict of figures
              "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
              "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
              "dec"}

_NUMBER = re.compile(
    r"(?P<cur>[$€£¥₽₴₹])?\s?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion|mln|bn|tn|[kmb])\b)?"
    r"(?P<pct>\s?(?:%|per ?cent|percent))?"
    r"(?:\s+(?P<unit>[A-Za-z][A-Za-z-]{1,20})(?:\s+(?P<unit2>[A-Za-z][A-Za-z-]{1,20}))?)?",
)
_YEAR = re.compile(r"^(19|20)\d{2}$")


@dataclass(frozen=True)
class Quantity:
    text: str  # as written
    value: float
    unit: str  # USD, percent, rounds, people, year, "" …
    start: int


def quantities(sentence: str) -> list[Quantity]:
    """Every number in a sentence with its normalised value and unit (years are unit "year")."""
    out: list[Quantity] = []
    for m in _NUMBER.finditer(sentence):
        raw_num = m.group("num")
        try:
            value = float(raw_num.replace(",", ""))
        except ValueError:
            continue
        scale = (m.group("scale") or "").lower()
        unit_word = (m.group("unit") or "").lower()
        if not scale and unit_word in SCALES and unit_word not in ("m", "b", "k"):
            scale, unit_word = unit_word, (m.group("unit2") or "").lower()
        if scale:
            value *= SCALES.get(scale, 1.0)
        unit, end = "", m.end("num")
        word_end = m.end("unit2") if (m.group("unit2") or "").lower() == unit_word and unit_word else m.end("unit")
        if m.group("scale"):
            end = m.end("scale")
        if m.group("cur"):
            unit = CURRENCY_SIGNS[m.group("cur")]
        elif m.group("pct"):
            unit, end = "percent", m.end("pct")
        elif unit_word in CURRENCY_WORDS:
            unit, end = CURRENCY_WORDS[unit_word], word_end
        elif unit_word and unit_word not in _UNIT_STOP:
            unit, end = (unit_word[:-1] if unit_word.endswith("s") and len(unit_word) > 3 else unit_word), word_end
        elif not scale and _YEAR.match(raw_num) and "," not in raw_num:
            unit = "year"
        out.append(Quantity(sentence[m.start("num") - (1 if m.group("cur") else 0) : end].strip(), value, unit, m.start()))
    return out


_QUOTE = re.compile(r"[“\"«„]([^”\"»“]{3,400})[”\"»“]")


def quotes(sentence: str) -> list[str]:
    """Quoted passages (straight, curly or guillemet quotes)."""
    return [q.strip() for q in _QUOTE.findall(sentence) if len(q.split()) >= 2]
