"""What the story clustering sees of an article: weighted terms, entities, a dense vector and a time.

Terms are language-specific (TF-IDF, title and lead weighted up); entities are names transliterated to ASCII
prefixes (so "Лавров" and "Lavrov" meet) and the dense vector is multilingual: together they let one story
gather coverage in every language.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

import numpy as np

from storyloom.enrich.sentences import split_sentences

TITLE_WEIGHT, LEAD_WEIGHT = 3.0, 2.0
MAX_BODY_WORDS = 1500
TOP_TERMS = 60
_TOKEN = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
# Function words of the commonest languages: they carry no story signal and dominate raw counts.
STOPWORDS = frozenset("""
the and for that with this from have has had was were are but not you his her its they their them will would
could should said says also been into than then there which who whom what when where while about after before
over under more most some such only other into very just can may one two new our out all any per via
les des une est que qui dans pour par sur avec pas plus aux ces ses son sont été elle ils
der die das und den dem des ein eine einer ist sich mit auf für von nicht auch wie als bei nach aus wird sind
los las una por con para del que como más sus pero fue son este esta
что как это для его она они был была были так уже или при также
""".split())


def tokens(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold()) if t not in STOPWORDS]


def term_counts(title: str, text: str) -> Counter[str]:
    """Term weights before IDF: title ×3, the first three sentences ×2, the rest ×1 (capped)."""
    sents = split_sentences(text[:20000])
    lead, rest = " ".join(sents[:3]), " ".join(sents[3:])
    c: Counter[str] = Counter()
    for t in tokens(title):
        c[t] += TITLE_WEIGHT
    for t in tokens(lead):
        c[t] += LEAD_WEIGHT
    for t in tokens(rest)[:MAX_BODY_WORDS]:
        c[t] += 1.0
    return c


PRIOR_DOCS = 50  # phantom documents containing no term: early in a stream, IDF is uniform rather than noise


def tfidf(counts: Counter[str], df: dict[str, int], n_docs: int) -> dict[str, float]:
    """Sublinear TF × smoothed IDF, L2-normalised, the TOP_TERMS heaviest kept.

    The phantom documents matter at the start of a stream: with three documents seen, a term in all three
    would otherwise weigh nothing, and two reports of the same event could not find each other.
    """
    n = n_docs + PRIOR_DOCS
    weights = {t: (1 + math.log(w)) * math.log((1 + n) / (1 + df.get(t, 0))) + 1e-9 for t, w in counts.items() if w > 0}
    top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_TERMS]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    return {t: w / norm for t, w in top}


def sparse_cos(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b[t] for t, w in a.items() if t in b)  # the same sum as with b.get(t, 0.0), fewer steps


def entities(title: str, text: str) -> list[str]:
    """Name anchors of title and lead (transliterated prefixes), most frequent first."""
    from storyloom.copies.translation import anchors

    lead_text = f"{title}. " + " ".join(split_sentences(text[:6000])[:6])
    c = Counter(a for a in anchors(lead_text) if not a.startswith("#"))
    return [e for e, _ in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))][:20]


@dataclass
class ArticleRep:
    id: str
    title: str
    time: str  # ISO; the trusted publication time or the ingest time
    time_flag: str | None
    outlet: str | None
    language: str | None
    counts: Counter[str]
    entities: list[str]
    vector: np.ndarray | None  # unit-length, or None when no model covers the language
    group: str | None = None  # copy group


def hours_between(a: str, b: str) -> float:
    from datetime import datetime, timezone

    def parse(s: str) -> datetime:
        s = s.replace("Z", "+00:00")
        dt = datetime.fromisoformat(s if "T" in s else s + "T12:00:00+00:00")
        return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)

    try:
        return abs((parse(a) - parse(b)).total_seconds()) / 3600.0
    except ValueError:
        return 0.0
