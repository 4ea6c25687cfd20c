"""The merge check's second step: does an article state a fact that a story's members state too?

Named actors alone cannot tell one event from its topic: "Trump", "China" and "Beijing" name both a trade-deal
report and a markets piece on the trade war; "NASA" and "Jupiter" name both a map of Titan and the plumes of
Europa.  Reports of one event — or of the next development of one story — nearly always repeat at least one of
its facts (who did what, a figure, a quote), while look-alikes on one topic share none.  So a join the scores
find only middling (below ``strong``), made on few shared distinctive actors, is *suspect*, and only then is the
article's text split into claims and aligned with the claims of the story's latest members by the compare
stage's claim aligner (:func:`storyloom.compare.align.align`, the model behind the story page's claim matrix).
No accepted pair: the join (or merge) is refused and logged.

Cost: claims and their sentence vectors (USE, kept in the store, so the story page later reuses them) are
computed only for suspect joins, once per article per pass (kept in a bounded memory).  The verdict depends on
the article's and the members' texts alone: online and ``--rebuild`` see the same members and decide alike.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from storyloom.store import Store
from storyloom.store import stories as sql

FACT_MEMBERS = 3  # the story's latest members (in the article's language) the article is compared with
FACT_CLAIMS = 30  # claims read per article: its lead and first paragraphs, where a report states its facts
CACHE_ARTICLES = 2000

Embed = Callable[[Sequence[str]], "np.ndarray | None"]


@dataclass
class FactStats:
    checks: int = 0
    no_fact: int = 0  # suspect joins or merges that share no fact (refused)
    seconds: float = 0.0  # CPU of the checks, their embedding included
    embed_seconds: float = 0.0


class FactCheck:
    """Claims of articles, read and embedded once, and the question whether two sets of articles share one."""

    def __init__(self, store: Store, embed: Embed) -> None:
        self.store, self.embed = store, embed
        self.claims: OrderedDict[str, tuple[list[str], np.ndarray | None]] = OrderedDict()
        self.stats = FactStats()

    def _kept(self, texts: Sequence[str]) -> np.ndarray | None:
        """Sentence vectors kept in the store (as the story page keeps them: it reads these later)."""
        from storyloom.compare.vectors import sentence_vectors_kept

        started = time.process_time()
        try:
            return sentence_vectors_kept(list(texts), self.embed, self.store, self.store)
        finally:
            self.stats.embed_seconds += time.process_time() - started

    def _load(self, ids: Sequence[str]) -> None:
        from storyloom.compare.claims import extract_claims

        missing = [i for i in dict.fromkeys(ids) if i not in self.claims]
        if not missing:
            return
        rows = sql.articles(self.store, missing)
        for aid in missing:
            row = rows.get(aid)
            texts = [c.text for c in extract_claims(aid, row["text"] or "")[:FACT_CLAIMS]] if row else []
            self.claims[aid] = (texts, self._kept(texts) if texts else None)
            while len(self.claims) > CACHE_ARTICLES:
                self.claims.popitem(last=False)
        for aid in ids:
            self.claims.move_to_end(aid)

    def shares_fact(self, article: str, members: Sequence[str], language: str | None) -> bool | None:
        """Does ``article`` state a fact one of ``members`` states (claims aligned by the compare stage's model)?
        None when it cannot be judged: no claims on one side, a language (or none) the sentence model does not
        know, or no sentence vectors (the model leans on them: without, it finds nothing even between reports of
        one event)."""
        from storyloom.compare.align import align
        from storyloom.embed import USE_LANGUAGES

        if not members or language not in USE_LANGUAGES:  # the sentence model's cosine means little outside them
            return None
        started = time.process_time()
        self.stats.checks += 1
        try:
            self._load([article, *members])
            texts, groups, vecs = [], [], []
            for aid in (article, *members):
                t, v = self.claims[aid]
                if not t or v is None:
                    if aid == article:
                        return None
                    continue
                texts += t
                groups += [aid] * len(t)
                vecs.append(v)
            if len(set(groups)) < 2:
                return None
            _, pairs = align(texts, groups, np.vstack(vecs), languages=[language] * len(texts), clause_views=True,
                             view_embed=self._kept, fallback_budget=0)
            shared = any((groups[i] == article) != (groups[j] == article) for i, j in pairs)
            self.stats.no_fact += not shared
            return shared
        finally:
            self.stats.seconds += time.process_time() - started


__all__ = ["FactCheck", "FactStats", "FACT_MEMBERS"]
