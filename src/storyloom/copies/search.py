"""Candidates of the class representatives of a chunk, verified with the groups in mind.

Two rules keep a heap of *near*-identical texts (one word changed per copy: every copy its own exact class)
linear, as :mod:`storyloom.copies.classes` does for identical ones:

* **enough links into a group**: candidates are tried best first (most shared LSH bands, then sentence
  keys); once an article has ``LINKS_PER_GROUP`` verified links into the copy group it belongs to, further
  candidates already in that group are not verified.  The groups (connected components) are exactly those
  that verifying every candidate would give — a link inside a component does not change the components —
  and a small group still gets all its links (and its evidence);
* **no bucket entry the group holds already**: after its candidates are verified, the article's band and
  sentence keys that a candidate of its own copy group also holds are taken out of the buckets (a later text
  sharing the key finds that member, and through it the group), so buckets grow with the groups, not with
  their members, and stay under ``copy_bucket_cap`` instead of being skipped.  When a member's text
  changes, the members of its group get all their keys back (:func:`storyloom.copies.classes.restore_keys`).

Both depend on the order in which articles arrive (which member of a group a link goes to), unlike exact
classes; only the groups are order-independent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from storyloom.copies.classes import ClassPlan
from storyloom.copies.fingerprint import sentences_needed
from storyloom.copies.groups import UnionFind, group_id_for
from storyloom.copies.verify import TextPrint, verify
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store import copies as sql

LINKS_PER_GROUP = 3


@dataclass
class Found:
    links: list[dict[str, Any]] = field(default_factory=list)
    candidates: int = 0
    skipped: int = 0  # candidates not verified: already in the article's group with enough links
    capped: int = 0


class Components:
    """Copy groups as they stand during a chunk: the stored ones, merged by the chunk's links so far."""

    def __init__(self, store: Store) -> None:
        self.store, self.uf, self.label = store, UnionFind(), {}  # type: ignore[var-annotated]

    def know(self, ids: list[str]) -> None:
        new = [i for i in ids if i not in self.label]
        stored = sql.group_of(self.store, new) if new else {}
        for i in new:
            self.label[i] = stored.get(i) or group_id_for([i])

    def same(self, a: str, b: str) -> bool:
        self.know([a, b])
        return self.uf.find(self.label[a]) == self.uf.find(self.label[b])

    def join(self, a: str, b: str) -> None:
        self.know([a, b])
        self.uf.union(self.label[a], self.label[b])


def candidates(store: Store, aid: str, settings: Settings, events: list[str]) -> tuple[dict[str, tuple[int, int]], int]:
    """Representatives sharing an LSH band or enough sentence keys with ``aid`` ((bands, sentences) shared
    each), oversized buckets skipped and logged; and how many buckets were skipped."""

    bands, skeys = sql.keys_of(store, aid)
    by_band, over_b = sql.keyed_candidates(store, "copy_bands", "band", bands, aid, settings.copy_bucket_cap)
    by_sent, over_s = sql.keyed_candidates(store, "copy_sentences", "skey", skeys, aid, settings.copy_bucket_cap)
    if over_b or over_s:
        events.append(f"{aid}: skipped {len(over_b)} band and {len(over_s)} sentence buckets over the cap of "
                      f"{settings.copy_bucket_cap}")
    need = sentences_needed(len(skeys))
    found = {c: (n, by_sent.get(c, 0)) for c, n in by_band.items()}
    found.update({c: (by_band.get(c, 0), n) for c, n in by_sent.items() if n >= need})
    return found, len(over_b) + len(over_s)


def search(store: Store, plan: ClassPlan, prints: dict[str, TextPrint], done: set[tuple[str, str]],
           comps: Components, settings: Settings, events: list[str],
           link_record: Callable[[str, str, Any], dict[str, Any]]) -> Found:
    """Verify the candidates of each searcher (a class representative), best first, group-aware; takes a
    searcher out of the buckets its group's members hold (run it inside the chunk's transaction)."""
    out = Found()
    for aid in plan.searchers:
        # in the buckets only now, as if the chunk's articles had come one at a time: an article meets the
        # earlier ones already out of the buckets their copies hold, not a whole chunk of near-copies
        sql.set_keys(store, aid, *plan.keys[aid])
        found, capped = candidates(store, aid, settings, events)
        out.capped += capped
        for c in plan.extra.get(aid, set()):
            found.setdefault(c, (0, 0))
        todo = sorted((c for c in found if c != aid and (min(aid, c), max(aid, c)) not in done),
                      key=lambda c: (-found[c][0], -found[c][1], c))
        missing = [c for c in [aid, *todo] if c not in prints]
        if missing:
            for cid, r in sql.texts(store, missing).items():
                prints[cid] = TextPrint.of(r["text"])
        comps.know([aid, *todo])
        linked = 0  # verified links of aid so far: all of them into aid's own group
        for c in todo:
            a, b = min(aid, c), max(aid, c)
            if linked >= LINKS_PER_GROUP and comps.same(aid, c):
                out.skipped += 1
                continue
            done.add((a, b))
            out.candidates += 1
            if a not in prints or b not in prints or prints[a].exact == prints[b].exact:
                continue  # gone meanwhile, or the same text: one class, linked through its star
            v = verify(prints[a], prints[b])
            if v is None:
                continue
            out.links.append(link_record(a, b, v))
            comps.join(a, b)
            linked += 1
        # every key a member of aid's group holds already adds no reach to the group: aid leaves those buckets
        sql.prune_keys(store, aid, [c for c in found if c != aid and comps.same(aid, c)])
    return out
