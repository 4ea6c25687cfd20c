"""Language identification, shared by cleaning (an article's language), copies and stories (which model covers
it) and compare (cross-lingual claim pairs): one identifier, loaded once per process."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

_IDENTIFIER_LOCK = threading.Lock()


def _identifier() -> Any:
    """py3langid's model, loaded once per process (and per Spark worker) on first use; threads asking at once
    wait for the one load instead of each loading it."""
    with _IDENTIFIER_LOCK:
        return _load_identifier()


@lru_cache(maxsize=1)
def _load_identifier() -> Any:
    import py3langid.langid as L

    return L.LanguageIdentifier.from_modelpath(L.MODEL_DIR / L.MODEL_FILE, norm_probs=True)


_LANG_ALIASES = {"wuu": "zh", "yue": "zh", "nb": "no", "nn": "no"}
MIN_LANG_CHARS = 20
MIN_LANG_CONFIDENCE = 0.5


LANG_SAMPLE_CHARS = 700  # py3langid's cost grows with length; a paragraph is plenty to tell languages apart


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text, or None when it is too short or the model is unsure."""
    sample = text[:LANG_SAMPLE_CHARS]
    if len(sample.strip()) < MIN_LANG_CHARS:
        return None
    lang, prob = _identifier().classify(sample)
    if prob < MIN_LANG_CONFIDENCE:
        return None
    return _LANG_ALIASES.get(lang, lang)
