"""Which tools each language gets at each stage, and how well they work there.

Why this exists: a stage that does not cover a language fails *silently* — a translated copy is simply not
found, a claim is simply not aligned.  This module makes the coverage explicit: :func:`coverage` returns, for
every language storyloom claims (those of the default feed list and of the WMT21 pairs it is measured on),
the detector, sentence models, tokenizer and sentence splitter each stage uses, with the figures
``bench/languages.py`` measured (shipped as ``data/languages.json``, each naming its data and split); and
:func:`coverage_notes` gives the sentences a story page shows when one of its articles is in a language a
cross-lingual stage does not cover.

The tools are read from the code they describe (``USE_LANGUAGES``, py3langid's model, the feed list), so the
table cannot drift from them; only the splitter and tokenizer behaviour per script is written here, and
``tests/test_languages.py`` checks it against ``split_sentences`` and ``words``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from storyloom.embed import E5_LANGUAGES, USE_LANGUAGES, E5Embedder, USEEmbedder
from storyloom.enrich.scripts import script_of

WMT21_LANGUAGES = ("de", "en", "fr", "is", "ja", "ru")
DETECTOR = "py3langid"

NAMES = {"ar": "Arabic", "de": "German", "en": "English", "es": "Spanish", "fr": "French", "hi": "Hindi",
         "is": "Icelandic", "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "pl": "Polish",
         "pt": "Portuguese", "ru": "Russian", "th": "Thai", "tr": "Turkish", "uk": "Ukrainian", "zh": "Chinese"}

# What split_sentences and copies.fingerprint.words do with each script (tests/test_languages.py checks it); the
# script of a language is storyloom.enrich.scripts' table.
SPLITTER = {
    "Latin": ". ! ? … then a capital (A-Z, À-Þ, Ł Ś Ż Č Ş İ …) or a digit; abbreviations kept",
    "Cyrillic": ". ! ? … then a Cyrillic capital or digit",
    "Greek": ". ! ? … (and the Greek question mark) then a Greek capital or digit",
    "CJK": "。！？ always; . ! ? then a Latin capital",
    "Hangul": ". ! ? then a Hangul syllable or digit (no capitals to wait for)",
    "Arabic": ". ! ? ؟ ۔ then an Arabic letter or digit (no capitals to wait for)",
    "Devanagari": "। ॥ . ! ? then a Devanagari letter or digit (no capitals to wait for)",
    "Thai": "paragraphs only: Thai marks sentences with spaces",
}
TOKENIZER = {
    "Latin": r"\w+ words (NFKC, case-folded)",
    "Cyrillic": r"\w+ words (NFKC, case-folded)",
    "Greek": r"\w+ words (NFKC, case-folded)",
    "Arabic": r"\w+ words (NFKC)",
    "Devanagari": r"\w+ runs (NFKC; vowel signs are not \w, so words break inside)",
    "Hangul": r"\w+ words (space-separated eojeol)",
    "CJK": r"\w+ runs: no spaces, so a clause is one token",
    "Thai": r"\w+ runs cut at every vowel mark (not \w): no spaces, so tokens are pieces of phrases",
}
MODEL_TOKENIZER = "SentencePiece (inside USE and e5)"

STAGES = {  # figure key → the column it is shown in
    "langid_sentence": "langid sent", "langid_document": "langid doc", "splitter_f1": "split F1",
    "chars_per_token": "chr/tok", "sts_vs_en": "STS ρ vs en",
}
PAIR_STAGES = {
    "align_p1_use": "align P@1 (USE)", "align_p1_e5": "align P@1 (e5)", "copy_recall": "copy recall",
    "copy_precision": "copy precision", "story_recall": "story recall", "story_precision": "story precision",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Figure(_Model):
    """One measured figure: its value, on how many items, what it measures and on which data and split."""

    value: float
    n: int
    metric: str
    data: str
    model: str | None = None
    abstained: float | None = None  # language id: the share it left undecided (too short or unsure)


class LanguageCoverage(_Model):
    """One language: the tools each stage uses for it and the figures measured there."""

    code: str
    name: str
    feeds: int  # feeds of the default list in this language
    wmt21: bool  # one of the WMT21 pairs' languages (measured there)
    script: str
    detector: str
    detector_knows: bool  # the detector's model has this language
    copies_model: str | None  # translated copies: the model embedding it (None: no cross-lingual model)
    stories_model: str | None  # cross-lingual story links (the fast embedder only)
    compare_model: str | None  # claim alignment across languages (USE; e5 for a bounded number of claims elsewhere)
    tokenizer: str
    splitter: str
    figures: dict[str, Figure] = {}


class PairCoverage(_Model):
    """One WMT21 pair: the model the copies stage scores it with and the figures measured on it."""

    pair: str
    model: str
    figures: dict[str, Figure] = {}


class Coverage(_Model):
    languages: list[LanguageCoverage]
    pairs: list[PairCoverage]
    command: str | None = None
    measured: str | None = None
    commit: str | None = None


def copies_model(code: str | None) -> str | None:
    """The model the translated-copies stage embeds a language with (default settings): USE where it covers
    the language, e5 for the rest of XLM-R's languages, none outside them."""
    if code in USE_LANGUAGES:
        return USEEmbedder.name
    if code in E5_LANGUAGES:
        return E5Embedder.name
    return None


def fast_model(code: str | None) -> str | None:
    """The model of the stories stage and of claim alignment: USE only (e5 is too slow for every article)."""
    return USEEmbedder.name if code in USE_LANGUAGES else None


@lru_cache(maxsize=1)
def feed_languages() -> dict[str, int]:
    """Feeds per language in the default feed list (data/feeds.opml)."""
    from storyloom.ingest.feeds import parse_opml

    data = resources.files("storyloom").joinpath("data", "feeds.opml").read_bytes()
    return dict(Counter(ref.language for ref in parse_opml(data, "feeds.opml") if ref.language))


def claimed_languages() -> list[str]:
    return sorted(set(feed_languages()) | set(WMT21_LANGUAGES))


@lru_cache(maxsize=1)
def _detector_languages() -> frozenset[str]:
    from storyloom.enrich.language import _LANG_ALIASES, _identifier

    classes = set(_identifier().nb_classes)
    return frozenset(classes | {_LANG_ALIASES[c] for c in classes if c in _LANG_ALIASES})


def tools(code: str) -> LanguageCoverage:
    """A language's tools (no figures)."""
    script = script_of(code) or "Latin"  # a code the table lacks: the splitter and tokenizer treat it as Latin
    return LanguageCoverage(
        code=code, name=NAMES.get(code, code), feeds=feed_languages().get(code, 0), wmt21=code in WMT21_LANGUAGES,
        script=script, detector=DETECTOR, detector_knows=code in _detector_languages(),
        copies_model=copies_model(code), stories_model=fast_model(code), compare_model=copies_model(code),
        tokenizer=TOKENIZER.get(script, r"\w+ words (NFKC)"),
        splitter=SPLITTER.get(script, "see storyloom.enrich.sentences"))


def _figures(raw: Any) -> dict[str, Figure]:
    """The figures of one row; an entry that is not a well-formed figure is left out (the file is data)."""
    out: dict[str, Figure] = {}
    for key, val in (raw.items() if isinstance(raw, dict) else ()):
        if not isinstance(val, dict):
            continue
        try:
            out[str(key)] = Figure(**{f: val[f] for f in Figure.model_fields if f in val})
        except ValidationError:
            continue
    return out


def pairs_from(doc: dict[str, Any]) -> list[PairCoverage]:
    """The WMT21 pairs' rows of a measurement document, with the model the copies stage scores each with."""
    raw_pairs = doc.get("pairs")
    out = []
    for pair, raw in sorted(raw_pairs.items() if isinstance(raw_pairs, dict) else (), key=lambda kv: str(kv[0])):
        a, _, b = str(pair).partition("-")
        model = USEEmbedder.name if {a, b} <= USE_LANGUAGES else E5Embedder.name
        out.append(PairCoverage(pair=str(pair), model=model, figures=_figures(raw)))
    return out


def coverage_from(doc: dict[str, Any]) -> Coverage:
    """The table from a measurement document (``data/languages.json``'s shape); a language or pair with no
    figures still gets its row."""
    measured = doc.get("languages")
    measured = measured if isinstance(measured, dict) else {}
    langs = [tools(c).model_copy(update={"figures": _figures(measured.get(c, {}))}) for c in claimed_languages()]
    pairs = pairs_from(doc)
    meta = {k: doc[k] if isinstance(doc.get(k), str) else None for k in Coverage.model_fields
            if k not in ("languages", "pairs")}
    return Coverage(languages=langs, pairs=pairs, **meta)


@lru_cache(maxsize=1)
def measurements() -> dict[str, Any]:
    """The shipped figures (data/languages.json); empty when the file is missing or unreadable."""
    try:
        doc = json.loads(resources.files("storyloom").joinpath("data", "languages.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def coverage() -> Coverage:
    """The language table: every claimed language with its tools and the shipped figures."""
    return coverage_from(measurements())


def _pair_recall(code: str) -> str:
    """The measured translated-copy recall of a WMT21 pair with this language, as a clause ("" if none)."""
    for pair in pairs_from(measurements()):
        fig = pair.figures.get("copy_recall")
        if fig is not None and code in pair.pair.split("-"):
            return f" (translated-copy recall {fig.value:.2f} on WMT21 {pair.pair}, dev split)"
    return ""


def coverage_notes(languages: Iterable[str | None]) -> list[str]:
    """Notes for a story page: one per language of its articles that a cross-lingual stage does not cover,
    and one when an article's language is unknown, so a missing translated copy or an unaligned claim is
    explained instead of silent."""
    notes: list[str] = []
    seen = set(languages)
    if None in seen or "" in seen:
        notes.append("an article's language is unknown: translated copies of it are not looked for")
    for code in sorted(c for c in seen if c):
        if fast_model(code):
            continue
        label = f"{NAMES.get(code, code)} ({code})"
        if copies_model(code) is None:
            notes.append(f"{label}: no cross-lingual model covers it, so translated copies, cross-language story "
                         "links and claim alignment are not found for it")
        else:
            notes.append(f"{label}: the fast cross-lingual model (USE) does not cover it, so story links across "
                         "languages rely on shared names, numbers and words only, and claim alignment and translated "
                         f"copies use the slower e5 (alignment for a bounded number of claims){_pair_recall(code)}")
    return notes
