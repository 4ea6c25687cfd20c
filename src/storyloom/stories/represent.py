"""What the story clustering sees of an article: weighted terms, entities, a dense vector and a time.

Terms are language-specific (TF-IDF, title and lead weighted up); entities are names transliterated to ASCII
prefixes (so "Лавров" and "Lavrov" meet) and the dense vector is multilingual: together they let one story
gather coverage in every language.
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice

import numpy as np

from storyloom.enrich.sentences import iter_sentences
from storyloom.timeparse import hours_between as timeparse_hours

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


LEAD_SENTENCES, ENTITY_SENTENCES = 3, 6
TEXT_CAP, ENTITY_TEXT_CAP = 20000, 6000


def lead_sentences(text: str) -> list[str]:
    """The first sentences of a text, enough for the weighted lead and the entities; the rest is never split
    (splitting whole articles three times over was a third of the stage's cost)."""
    return list(islice(iter_sentences(text[:TEXT_CAP]), ENTITY_SENTENCES))


def term_counts(title: str, text: str, lead: list[str] | None = None) -> Counter[str]:
    """Term weights before IDF: title ×3, the first three sentences ×2, the rest ×1 (capped).

    The body's tokens are those of the whole text after the lead's: sentences cover the text in order and
    no token crosses a sentence boundary, so nothing needs splitting past the lead.
    """
    lead = lead_sentences(text) if lead is None else lead
    lead_tokens = tokens(" ".join(lead[:LEAD_SENTENCES]))
    c: Counter[str] = Counter()  # of weights (floats): Counter's arithmetic, not its int type
    # counted in C, then weighted once per distinct term (k × 3.0 is exactly 3.0 added k times)
    for part, weight in ((tokens(title), TITLE_WEIGHT), (lead_tokens, LEAD_WEIGHT),
                         (tokens(text[:TEXT_CAP])[len(lead_tokens):][:MAX_BODY_WORDS], 1.0)):
        for t, k in Counter(part).items():
            c[t] += k * weight  # type: ignore[assignment]
    return c


PRIOR_DOCS = 50  # phantom documents containing no term: early in a stream, IDF is uniform rather than noise


def tfidf(counts: Counter[str], df: dict[str, int], n_docs: int) -> dict[str, float]:
    """Sublinear TF × smoothed IDF, L2-normalised, the TOP_TERMS heaviest kept.

    The phantom documents matter at the start of a stream: with three documents seen, a term in all three
    would otherwise weigh nothing, and two reports of the same event could not find each other.
    """
    n = n_docs + PRIOR_DOCS
    weights = {t: (1 + math.log(w)) * math.log((1 + n) / (1 + df.get(t, 0))) + 1e-9 for t, w in counts.items() if w > 0}
    items: Iterable[tuple[str, float]] = weights.items()
    if len(weights) > TOP_TERMS:  # sort only what can make the cut (ties at the cut included, then by term)
        cut = heapq.nlargest(TOP_TERMS, weights.values())[-1]
        items = [(t, w) for t, w in items if w >= cut]
    top = sorted(items, key=lambda kv: (-kv[1], kv[0]))[:TOP_TERMS]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    return {t: w / norm for t, w in top}


def sparse_cos(a: dict[str, float], b: dict[str, float]) -> float:
    """Dot product of two sparse vectors.  The shared terms come from a set intersection (in C; two 60-term
    vectors share a handful) and are summed with ``fsum``, whose exactly rounded result does not depend on the
    order a set happens to iterate in: the same score on every run, machine and engine."""
    return math.fsum([a[t] * b[t] for t in a.keys() & b.keys()])


def entities(title: str, text: str, lead: list[str] | None = None) -> list[str]:
    """Name anchors of title and lead (transliterated prefixes), most frequent first."""
    from storyloom.enrich.anchors import anchors_in

    lead = lead_sentences(text) if lead is None else lead
    sents, room = [title], ENTITY_TEXT_CAP
    for sent in lead[:ENTITY_SENTENCES]:
        if room <= 0:
            break
        sents.append(sent[:room])
        room -= len(sent) + 1
    c = Counter(a for a in anchors_in(sents) if not a.startswith("#"))
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
    roundup: str | None = None  # why it reads as a round-up / live blog / explainer / list (see roundup_reason)
    # the entities the score compares with a story's: built once, not once per candidate story
    lead_entities: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.lead_entities = frozenset(self.entities[:10])


@dataclass(frozen=True)
class TextParts:
    """What an article's title and text alone decide for the clustering: its weighted terms, its entities and
    whether it reads as a round-up.  Computed once, it can stand in for the text: the Spark story stage
    computes it in the pass that counts document frequencies and ships it to the block runs, which then never
    split, tokenise or scan a text again (a third of a block run's work was doing so)."""

    counts: Counter[str]
    entities: list[str]
    roundup: str | None

    @classmethod
    def of(cls, title: str, text: str) -> TextParts:
        lead = lead_sentences(text)
        return cls(term_counts(title, text, lead), entities(title, text, lead), roundup_reason(title, text))

    def keys(self) -> list[str]:
        """What the article adds to the stage's document frequencies (see :func:`doc_keys`)."""
        return [*self.counts, *("@" + e for e in set(self.entities))]


def doc_keys(title: str, text: str) -> list[str]:
    """What one article adds to the stage's document frequencies: its terms, and its entities as "@name" (no
    term starts with "@"), whose frequency tells a distinctive actor from one every story names.  The batch
    engines count the same keys, so their IDF is the local run's."""
    lead = lead_sentences(text)
    return [*term_counts(title, text, lead), *("@" + e for e in set(entities(title, text, lead)))]


def hours_between(a: str, b: str) -> float:
    try:
        return timeparse_hours(a, b)
    except ValueError:
        return 0.0




# -- round-ups ----------------------------------------------------------------------------------------
# Round-ups, live blogs, explainers and lists tell many topics at once: each shares words and names with
# several stories, so as an ordinary member one of them glues unrelated stories together.  They are told
# apart from the article alone (a pure function: the same verdict on every run, chunking and engine).

_ROUNDUP_TITLE = re.compile(
    r"\b(?:opening|closing) bell\b"
    r"|\b(?:morning|evening|daily|weekly|weekend|midday|news|market)\s+(?:briefing|brief|digest|round-?up|wrap|newsletter)\b"
    r"|\bround-?up\b|\blive (?:blog|updates?|coverage)\b|\bas it happened\b|\bwhat we know\b|\b(?:need|things) to know\b"
    r"|\bexplain(?:ed|er)\b|\bguide to\b|\bgift guide\b|\bthe week in\b|\bthis week in\b|\bin brief\b"
    r"|^the \w+ (?:stream|digest|briefing|wrap|roundup)\b"
    r"|\b(?:best|top|early)\b[^|]*\bdeals\b|,\s*(?:and )?more\b(?:\s*[-|–].*)?$"
    r"|^\d+\s+(?:best|things|ways|reasons|takeaways|tips|stories)\b|\bthe \d+ (?:best|biggest|most)\b|^top \d+\b"
    r"|\b\d{1,2}\.\d{1,2}\.\d{2,4}\b",
    re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-•*·▪►–]\s|\d{1,2}[.)]\s)")
_SENTENCE_END = re.compile(r"[.!?:;\"”’)…。！？」』]\s*$")
LIST_MIN_LINES, LIST_SHARE, HEADS_SHARE = 6, 0.25, 0.35


def roundup_reason(title: str, text: str) -> str | None:
    """Why an article reads as a round-up / live blog / explainer / list, or None for an ordinary report.

    Signals: a title of the genre ("Opening Bell 11.18.19", "Morning briefing", "The 10 best … deals",
    "… guide to …", "…, AirPods, more"), list structure (many bullet or numbered lines) or many short
    headline-like lines (one per item of a deals post or a newsletter's sections)."""
    t = " ".join(title.split())
    if _ROUNDUP_TITLE.search(t):
        return "round-up title"
    lines = [ln.strip() for ln in text[:TEXT_CAP].splitlines() if ln.strip()]
    if len(lines) < LIST_MIN_LINES:
        return None
    bullets = sum(1 for ln in lines if _BULLET.match(ln))
    if bullets >= LIST_MIN_LINES and bullets >= LIST_SHARE * len(lines):
        return "list structure"
    heads = sum(1 for ln in lines if 2 <= len(ln.split()) <= 12 and not _SENTENCE_END.search(ln))
    if heads >= LIST_MIN_LINES and heads >= HEADS_SHARE * len(lines):
        return "many short items"
    return None
