"""Fingerprints of an article's text for copy detection: exact key, shingles, MinHash sketch, LSH bands,
sentence keys.

Everything here is a pure function of the text and fixed parameters (seeded hashes, no process state), so
the local pipeline and Spark workers compute the same fingerprints, and sketches stored today can be
compared with tomorrow's.  ``SKETCH_VERSION`` names the parameters; a store holding another version's
sketches recomputes them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np

SHINGLE = 3  # words per shingle: short enough to survive typos/OCR noise, long enough to be specific
NUM_PERM = 128
BANDS, ROWS = 16, 8  # LSH: candidates at Jaccard ≳ (1/16)^(1/8) ≈ 0.71 with high probability
SEED = 20231
MIN_SENTENCE_WORDS = 6
MAX_SENTENCE_KEYS = 80
# How the buckets are kept: "e1" = one entry per exact class (its representative), not one per article.
# Part of SKETCH_VERSION so a store kept the other way is recomputed once instead of mixing the two.
BUCKET_LAYOUT = "e1"


def _sketch_version() -> str:
    try:
        from rensa import RMinHash

        algo = f"rensa{RMinHash.ALGORITHM_VERSION}"
    except ImportError:  # pragma: no cover - rensa is a dependency
        algo = "none"
    return f"{algo}-p{NUM_PERM}-s{SEED}-k{SHINGLE}-b{BANDS}x{ROWS}-{BUCKET_LAYOUT}"


SKETCH_VERSION = _sketch_version()

_QUOTES = str.maketrans({
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"',
    "″": '"', "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-",
})
_QUOTE_PAIRS = tuple((chr(k), v) for k, v in _QUOTES.items())
_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+", re.UNICODE)


def _unify_quotes(text: str) -> str:
    """``text.translate(_QUOTES)``, but a scan per character in C instead of a dict look-up per character in
    Python (this was a tenth of the copies stage's time)."""
    for ch, rep in _QUOTE_PAIRS:
        if ch in text:
            text = text.replace(ch, rep)
    return text


def fold(text: str) -> str:
    """NFKC and case folding: the form every word, shingle and exact key is read from."""
    return unicodedata.normalize("NFKC", text).casefold()


def _normal_form(folded: str) -> str:
    # quotes and dashes are unified after case folding: none of them has a case, so the order does not matter
    return _WS.sub(" ", _unify_quotes(folded)).strip()


def normalize(text: str) -> str:
    """NFKC, case folded, quotes and dashes unified, whitespace collapsed: the exact-copy normal form."""
    return _normal_form(fold(text))


def exact_key(text: str) -> str:
    return exact_key_of_folded(fold(text))


def exact_key_of_folded(folded: str) -> str:
    """``exact_key`` of a text already through :func:`fold` (callers that need its words too fold once)."""
    return hashlib.blake2b(_normal_form(folded).encode("utf-8"), digest_size=16).hexdigest()


def words(text: str) -> list[str]:
    return words_of_folded(fold(text))


def words_of_folded(folded: str) -> list[str]:
    return _WORD.findall(folded)


def shingles(tokens: Sequence[str], k: int = SHINGLE) -> set[str]:
    if not tokens:
        return set()
    if len(tokens) < k:
        return {" ".join(tokens)}
    return {" ".join(tokens[i : i + k]) for i in range(len(tokens) - k + 1)}


def sketch(shingle_set: Iterable[str]) -> np.ndarray:
    """MinHash signature (uint32[NUM_PERM]) of a shingle set, seeded and process-independent."""
    from rensa import RMinHash

    m = RMinHash(num_perm=NUM_PERM, seed=SEED)
    items = sorted(shingle_set)
    if items:
        m.update(items)
    return np.asarray(m.digest(), dtype=np.uint32)


def sketches(shingle_sets: Sequence[Iterable[str]]) -> np.ndarray:
    """Signatures of many documents at once (a rows × NUM_PERM matrix)."""
    if not shingle_sets:
        return np.zeros((0, NUM_PERM), dtype=np.uint32)
    return np.vstack([sketch(s) for s in shingle_sets])


def _int64(digest: bytes) -> int:
    return int.from_bytes(digest[:8], "little", signed=True)


def band_keys(sig: np.ndarray) -> list[int]:
    """One 64-bit key per LSH band: two documents sharing a key are candidates."""
    raw = np.ascontiguousarray(sig, dtype="<u4").tobytes()
    step = ROWS * 4
    return [_int64(hashlib.blake2b(bytes([b]) + raw[b * step : (b + 1) * step], digest_size=8).digest()) for b in range(BANDS)]


def estimate_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


def sentence_keys(text: str, sentences: Sequence[str] | None = None) -> list[int]:
    """Keys of the text's longer sentences: a trimmed or wrapped copy shares whole sentences with its source
    even when its overall Jaccard similarity is low, which MinHash banding cannot see.  ``sentences``: the
    text's sentences when the caller has split them already."""
    from storyloom.enrich.sentences import split_sentences

    out: list[int] = []
    seen: set[int] = set()
    for s in split_sentences(text) if sentences is None else sentences:
        w = words(s)
        if len(w) < MIN_SENTENCE_WORDS:
            continue
        key = _int64(hashlib.blake2b(" ".join(w).encode("utf-8"), digest_size=8).digest())
        if key not in seen:
            seen.add(key)
            out.append(key)
    if len(out) > MAX_SENTENCE_KEYS:  # keep the lead and an even sample of the rest: bounded per article
        head = out[: MAX_SENTENCE_KEYS // 2]
        rest = out[MAX_SENTENCE_KEYS // 2 :]
        stride = len(rest) / (MAX_SENTENCE_KEYS - len(head))
        out = head + [rest[int(i * stride)] for i in range(MAX_SENTENCE_KEYS - len(head))]
    return out


FEW_SENTENCE_KEYS = 3  # an article with this many sentence keys or fewer is a candidate on one shared sentence


def sentences_needed(n_keys: int) -> int:
    """Shared sentence keys that make a candidate, for an article with ``n_keys`` of them (two, unless few)."""
    return 1 if n_keys <= FEW_SENTENCE_KEYS else 2
