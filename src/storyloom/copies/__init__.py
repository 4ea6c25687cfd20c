"""Copies: exact, near-duplicate, containment (and translated) copies, grouped with evidence.

Split as record linkage is (dedupe's pairs → score → cluster):

* **pairs** — candidates from the store: the same exact key, a shared LSH band of the MinHash sketch, or
  shared whole sentences (which find trimmed and wrapped copies that banding misses); buckets larger than
  ``copy_bucket_cap`` are skipped and logged;
* **score** — :func:`storyloom.copies.verify.verify` on the real texts, never on the estimate;
* **cluster** — connected components of the verified links; a group's id comes from its members only.

The stage works from a queue (articles without fingerprints of the current version), one transaction per
chunk, so it is incremental, resumable after a crash and idempotent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from storyloom.copies.fingerprint import SKETCH_VERSION, band_keys, sentence_keys, sketch
from storyloom.copies.verify import TextPrint, verify
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store import copies as sql

Event = Callable[[str, object], None]


@dataclass
class CopyReport:
    processed: int = 0
    candidates: int = 0
    links: dict[str, int] = field(default_factory=dict)
    capped_buckets: int = 0
    seconds: float = 0.0


def group_id_for(members: list[str]) -> str:
    """A group's id: derived from its smallest member id, so the same articles give the same id whatever
    the order in which they arrived."""
    return "g" + min(members)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _regroup(store: Store, ids: list[str]) -> None:
    """Recompute the groups touched by ``ids``: their old groups' members plus everything linked to them."""
    frontier = set(ids)
    seen: set[str] = set()
    uf = _UnionFind()
    while frontier:  # closure over links and old group membership
        batch = sorted(frontier - seen)
        if not batch:
            break
        seen |= set(batch)
        frontier = set()
        for a, b in sql.linked(store, batch):
            uf.union(a, b)
            frontier |= {a, b}
        old = sql.group_of(store, batch)
        frontier |= set(sql.members(store, sorted(set(old.values()))))
    components: dict[str, list[str]] = {}
    for x in sorted(seen):
        components.setdefault(uf.find(x), []).append(x)
    sql.save_groups(store, {m: group_id_for(mem) for mem in components.values() for m in mem})


class Prints(NamedTuple):
    """What the stage keeps of one text to find its copies (a ``copy_prints`` row), local or on Spark."""

    article_id: str
    version: str
    exact: str
    n_words: int
    sketch: bytes
    bands: list[int]
    skeys: list[int]


def fingerprint(aid: str, text: str) -> tuple[TextPrint, Prints]:
    """The text's print (for verification) and what is stored of it: exact key, MinHash sketch, LSH band keys
    (none for a text too short to shingle), sentence keys."""
    tp = TextPrint.of(text)
    sig = sketch(tp.shingles)
    return tp, Prints(aid, SKETCH_VERSION, tp.exact, tp.n_words, sig.astype("<u4").tobytes(),
                      band_keys(sig) if tp.shingles else [], sentence_keys(text, tp.sentences))


FEW_SENTENCE_KEYS = 3  # an article with this many sentence keys or fewer is a candidate on one shared sentence


def sentences_needed(n_keys: int) -> int:
    """Shared sentence keys that make a candidate, for an article with ``n_keys`` of them (two, unless few)."""
    return 1 if n_keys <= FEW_SENTENCE_KEYS else 2


def link_record(a: str, b: str, v: Any) -> dict[str, Any]:
    """A verified pair as a ``copy_links`` row (details and evidence still Python objects)."""
    return {
        "a": a, "b": b, "kind": v.kind, "score": v.score, "direction": v.direction,
        "details": {"jaccard": v.jaccard, "containment_a": v.containment_a, "containment_b": v.containment_b},
        "evidence": v.evidence,
    }


def process_chunk(store: Store, ids: list[str], settings: Settings, report: CopyReport) -> None:
    """Fingerprint, link and group one chunk of articles.

    Fingerprints are stored first (so look-ups within the chunk see each other), links and groups last,
    and the chunk leaves the work queue only with them: a crash in between re-does the chunk, idempotently.
    """
    from storyloom.copies.translation import TransPrint, anchor_keys, find_translations

    rows = sql.texts(store, ids)
    prints: dict[str, TextPrint] = {}
    saved, anchor_rows = [], []
    for aid in ids:
        text = rows[aid]["text"] if aid in rows else ""
        prints[aid], fp = fingerprint(aid, text)
        saved.append(fp)
        if settings.translations and aid in rows:
            anchor_rows.append((aid, anchor_keys(list(TransPrint.of(text, rows[aid]["language"]).anchors))))
    with store.transaction():
        sql.save_prints(store, saved)
        sql.save_anchors(store, anchor_rows)

    done: set[tuple[str, str]] = set()
    links = []
    events = []
    for aid, _, exact, _, _, bands, skeys in saved:
        cands: set[str] = set(sql.exact_matches(store, exact, aid)) if prints[aid].shingles else set()
        by_band, over_b = sql.keyed_candidates(store, "copy_bands", "band", bands, aid, settings.copy_bucket_cap)
        by_sent, over_s = sql.keyed_candidates(store, "copy_sentences", "skey", skeys, aid, settings.copy_bucket_cap)
        cands |= set(by_band)
        need = sentences_needed(len(skeys))
        cands |= {c for c, n in by_sent.items() if n >= need}
        if over_b or over_s:
            report.capped_buckets += len(over_b) + len(over_s)
            events.append(f"{aid}: skipped {len(over_b)} band and {len(over_s)} sentence buckets over the cap of "
                          f"{settings.copy_bucket_cap}")
        todo = sorted(c for c in cands if (min(aid, c), max(aid, c)) not in done)
        missing = [c for c in todo if c not in prints]
        if missing:
            for cid, r in sql.texts(store, missing).items():
                prints[cid] = TextPrint.of(r["text"])
        for c in todo:
            a, b = min(aid, c), max(aid, c)
            done.add((a, b))
            report.candidates += 1
            if a not in prints or b not in prints:
                continue
            v = verify(prints[a], prints[b])
            if v is not None:
                links.append(link_record(a, b, v))
                report.links[v.kind] = report.links.get(v.kind, 0) + 1
    if settings.translations:
        try:
            found, tried = find_translations(store, ids, rows, settings, done)
        except ImportError as exc:  # embedding packages missing: copies without translations, said once
            found, tried = [], 0
            events.append(f"translation detection off: {exc}")
        links += found
        report.candidates += tried
        if found:
            report.links["translation"] = report.links.get("translation", 0) + len(found)
    with store.transaction():
        sql.save_links(store, links)
        for message in events:
            sql.log_event(store, "copies", message)
        _regroup(store, ids)
        sql.done(store, ids)
    report.processed += len(ids)


def find_copies(store: Store, settings: Settings, on_event: Event | None = None, chunk: int = 200) -> CopyReport:
    """Process every article still waiting for copy detection (all of them after ``--rebuild``)."""
    emit = on_event or (lambda kind, payload: None)
    report = CopyReport()
    start = time.perf_counter()
    if sql.stale(store, SKETCH_VERSION):
        sql.reset(store)
        with store.transaction():
            sql.log_event(store, "copies", f"fingerprint parameters changed to {SKETCH_VERSION}: recomputing all")
    while True:  # a pass over what is queued now; articles queued meanwhile get the next pass
        queued = sql.pending(store)
        if not queued:
            break
        for at in range(0, len(queued), chunk):
            ids = queued[at : at + chunk]
            process_chunk(store, ids, settings, report)
            for _ in ids:
                emit("item", "copies")
    report.seconds = time.perf_counter() - start
    return report


def rebuild_copies(store: Store, settings: Settings, on_event: Event | None = None) -> CopyReport:
    """Recompute every fingerprint, link and group from scratch (``storyloom copies --rebuild``)."""
    sql.reset(store)
    return find_copies(store, settings, on_event)
