"""Work of the later stages that depends on one article alone, done ahead in the ingest's cleaning workers.

The copies and stories stages run in the ingesting process, in input order (they depend on the articles before
each one), and much of their cost on real text was per article: the fast model's title + lead vector (the
translation search's nearest leads and the story scores), the translation print (sentences and anchors,
:class:`storyloom.copies.translation.TransPrint`), the copy fingerprint (:func:`storyloom.copies.fingerprint`)
and the stories' text parts (:class:`storyloom.stories.represent.TextParts`).  The cleaning workers (:mod:`storyloom.clean.pool`) sit idle
while those stages run, so each worker computes these for the article it has just prepared, and the ingesting
process *offers* them to the caches that would compute them (one bounded type, :class:`storyloom.offered.Offered`:
``storyloom.embed.cache.OFFERED``, ``storyloom.copies.translation.OFFERED``, ``storyloom.copies.OFFERED``).

Offers are keyed by the very text that would be embedded or split (a digest of it for vectors), so one computed
from an article whose template lines were removed afterwards is simply never asked for; and an offer gives the
same bits as the computation it replaces (a vector is always computed one article at a time, see
:mod:`storyloom.embed.cache`), so the store is the same whatever the number of workers, with or without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from storyloom.clean import Prepared
from storyloom.settings import Settings


@dataclass
class Ahead:
    """What a worker computed for one prepared article."""

    vectors: list[tuple[str, str, Any]] = field(default_factory=list)  # (cache model key, text embedded, rows)
    prints: list[tuple[str, str | None, Any]] = field(default_factory=list)  # (text, language, its TransPrint)
    fingerprint: tuple[str, Any] | None = None  # (text, the copies stage's fingerprint of it)
    parts: tuple[str, str, Any] | None = None  # (title, text, the stories stage's TextParts of them)


def wanted(settings: Settings) -> bool:
    """Whether this ingest runs the copies stage (and the stories after it), which use what the workers compute."""
    return settings.run_copies


def _embeds(settings: Settings) -> bool:
    return settings.run_copies and (settings.translations or (settings.run_stories and settings.story_embeddings))


def warm(settings: Settings) -> None:
    """Load the fast model in the ingesting process before the workers fork, so they share its pages."""
    if _embeds(settings):
        try:
            from storyloom.embed import get_embedder

            get_embedder(settings.embedder_fast)
        except ImportError:
            pass


def compute(prep: Prepared, settings: Settings) -> Ahead | None:
    """In a worker: the copy fingerprint of the article as prepared, with translations on its translation print,
    and where embeddings are on the fast model's title + lead vector (if the model covers its language)."""
    if not wanted(settings):
        return None
    from storyloom.copies import fingerprint

    art = prep.article
    out = Ahead(fingerprint=(art.text, fingerprint(art.id, art.text)))
    if settings.run_stories:
        from storyloom.stories.represent import TextParts

        out.parts = (art.title, art.text, TextParts.of(art.title or "", art.text or ""))
    if settings.translations:
        from storyloom.copies.translation import make_print

        out.prints.append((art.text, art.language, make_print(art.text, art.language)))
    if not _embeds(settings):
        return out
    try:
        from storyloom.embed import covers, get_embedder, lead_for

        fast = get_embedder(settings.embedder_fast)
    except ImportError:  # no embedding packages: the stages say so themselves
        return out
    if covers(fast, art.language):
        text = lead_for(fast, art.title, art.text)
        out.vectors.append((fast.name, text, fast.embed([text])))
    return out


def offer(ahead: Ahead | None) -> None:
    """In the ingesting process, before the stages run: hand one article's results to the caches."""
    if ahead is None:
        return
    from storyloom.copies import OFFERED as fingerprints
    from storyloom.copies.translation import OFFERED as prints
    from storyloom.embed.cache import offer as offer_vectors

    for model, text, rows in ahead.vectors:
        offer_vectors(model, text, rows)
    for text, language, made in ahead.prints:
        prints.offer((text, language), made)
    if ahead.fingerprint is not None:
        fingerprints.offer(*ahead.fingerprint)


def story_parts(ahead: Ahead | None, title: str, text: str) -> Any | None:
    """The stories stage's text parts of an article whose stored title and text are these, if the worker made
    them from the same (``build_stories(..., parts=...)``: they stand in for the text)."""
    if ahead is None or ahead.parts is None or ahead.parts[:2] != (title, text):
        return None
    return ahead.parts[2]


def forget() -> None:
    """Drop what was offered and not asked for (after a pass of the stages: a bounded memory)."""
    from storyloom.offered import forget_all

    forget_all()
