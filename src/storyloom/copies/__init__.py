"""Copies: exact, near-duplicate, containment (and translated) copies, grouped with evidence.

Split as record linkage is (dedupe's pairs → score → cluster):

* **exact classes** — articles with one normalised text are a star around their smallest id, which alone
  holds bucket entries and looks for candidates (:mod:`storyloom.copies.classes`): linear in the copies;
* **pairs** — candidates of a representative from the store: a shared LSH band of the MinHash sketch, or
  shared whole sentences (which find trimmed and wrapped copies that banding misses); buckets larger than
  ``copy_bucket_cap`` are skipped and logged;
* **score** — :func:`storyloom.copies.verify.verify` on the real texts, never on the estimate; best
  candidates first, at most a few verified links into an article's own group, and a linked article leaves
  the buckets its copy holds (:mod:`storyloom.copies.search`): a heap of near-copies stays linear too;
* **cluster** — connected components of the verified links, merged incrementally
  (:mod:`storyloom.copies.groups`); a group's id comes from its members only.

The stage works from a queue (articles without fingerprints of the current version), a chunk at a time
(prints, buckets and verification in one transaction; links and groups in a second, after the translation
look-up, which writes embeddings in transactions of its own), so it is incremental, resumable after a crash
and idempotent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from storyloom.bootstrap import refuse_while_bootstrapping
from storyloom.copies import classes, groups, search
from storyloom.copies.fingerprint import (  # noqa: F401 - the interface
    FEW_SENTENCE_KEYS,
    SKETCH_VERSION,
    band_keys,
    sentence_keys,
    sentences_needed,
    sketch,
)
from storyloom.copies.groups import group_id_for  # noqa: F401 - part of this package's interface
from storyloom.copies.verify import TextPrint, Verdict
from storyloom.offered import Offered
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


def text_sketch(text: str) -> bytes:
    """The MinHash sketch :func:`fingerprint` gives ``text`` (what the batch tables hold of a print whose store
    kept none: :func:`storyloom.store.load.export_rows`)."""
    return fingerprint("", text)[1].sketch


PRINTS_OFFERED_MAX = 4096
# fingerprint() of a text computed elsewhere (a cleaning worker, storyloom.lookahead), by the text
OFFERED: Offered[str, tuple[TextPrint, Prints]] = Offered("copy fingerprints", PRINTS_OFFERED_MAX)


EXACT = Verdict("exact", 1.0, "same", 1.0, 1.0, 1.0)  # what verify() says of two texts with one exact key


def link_record(a: str, b: str, v: Any) -> dict[str, Any]:
    """A verified pair as a ``copy_links`` row (details and evidence still Python objects)."""
    return {
        "a": a, "b": b, "kind": v.kind, "score": v.score, "direction": v.direction,
        "details": {"jaccard": v.jaccard, "containment_a": v.containment_a, "containment_b": v.containment_b},
        "evidence": v.evidence,
    }


def process_chunk(store: Store, ids: list[str], settings: Settings, report: CopyReport) -> None:
    """Fingerprint, link and group one chunk of articles.

    Fingerprints are stored first, then each class representative enters the buckets and looks for its
    candidates in turn (so look-ups within the chunk see the chunk's earlier articles); links and groups
    come last, and the chunk leaves the work queue only with them: a crash in between re-does the chunk
    (its articles then count as fingerprinted again, which is handled like a changed text).  Copies of a
    text already stored join its exact class (see :mod:`storyloom.copies.classes`) and look for nothing else.
    """
    from storyloom.copies.translation import TransPrint, anchor_keys
    from storyloom.copies.transsearch import find_translations

    rows = sql.texts(store, ids)
    prints: dict[str, TextPrint] = {}
    saved: list[Prints] = []
    seen: dict[str, tuple[TextPrint, Prints]] = {}  # a heap of copies is fingerprinted once per chunk
    for aid in ids:
        text = rows[aid]["text"] if aid in rows else ""
        if text not in seen:
            offered = OFFERED.take(text)
            seen[text] = offered if offered is not None else fingerprint(aid, text)
        prints[aid], fp = seen[text][0], seen[text][1]._replace(article_id=aid)
        saved.append(fp)
    keyed = {fp.article_id: fp.exact for fp in saved if prints[fp.article_id].shingles}
    previous = sql.stored_prints(store, ids)  # fingerprinted before: old links go, their classes are redone
    before = sql.class_reps(store, set(keyed.values()) | {k for k, n, _ in previous.values() if n > 0})
    events: list[str] = []
    with store.transaction():
        if previous:
            mates = sql.group_mates(store, sorted(previous))  # they may have left buckets these held
            sql.forget_links(store, sorted(previous))
            sql.drop_keys(store, sorted(previous))
            classes.restore_keys(store, sorted(set(mates) - set(ids)))
        # the sketch (512 bytes) is kept only where the batch tables want it: what the store reads of it, its
        # band keys, is computed again from the text (classes.stored_keys), which the store keeps anyway
        sql.save_prints(store, [fp._replace(bands=[], skeys=[], sketch=fp.sketch if settings.copy_sketches else b"")
                                for fp in saved])
        plan = classes.settle(store, ids, keyed, before, {fp.article_id: (fp.bands, fp.skeys) for fp in saved})
        if plan.promoted:
            rows.update(sql.texts(store, plan.promoted))
        # articles without words have no class and no keys, but may still have a translation (by title)
        lookers = [*plan.searchers, *(aid for aid in ids if aid not in keyed and aid in rows)]
        if settings.translations:
            sql.save_anchors(store, [(aid, anchor_keys(list(TransPrint.of(rows[aid]["text"], rows[aid]["language"]).anchors)))
                                     for aid in lookers if aid in rows])
        # the search runs inside the transaction: it takes articles out of buckets as it links them, and
        # the next article of the chunk must see that (else a heap of near-copies fills every bucket)
        done: set[tuple[str, str]] = set(plan.exact_pairs)
        comps = search.Components(store)
        for a, b in plan.exact_pairs:
            comps.join(a, b)
        found = search.search(store, plan, prints, done, comps, settings, events, link_record)
    if plan.rebased:
        events.append(f"{plan.rebased} exact classes got a new representative")
    links = [exact_link(a, b) for a, b in plan.exact_pairs] + found.links
    report.candidates += found.candidates
    report.capped_buckets += found.capped
    for link in links:
        report.links[link["kind"]] = report.links.get(link["kind"], 0) + 1
    if settings.translations:
        # a pair linked as a copy is not also a translation; a pair the copy search tried and refused may be one
        linked = {(link["a"], link["b"]) for link in links}
        try:
            trans, tried = find_translations(store, [a for a in lookers if a in rows], rows, settings, linked)
        except ImportError as exc:  # embedding packages missing: copies without translations, said once
            trans, tried = [], 0
            events.append(f"translation detection off: {exc}")
        links += trans
        report.candidates += tried
        if trans:
            report.links["translation"] = report.links.get("translation", 0) + len(trans)
    with store.transaction():
        sql.save_links(store, links)
        for message in events:
            sql.log_event(store, "copies", message)
        if previous:  # links were removed: groups may split, walk them again
            groups.regroup(store, sorted(set(ids) | set(plan.promoted) | {x for link in links for x in (link["a"], link["b"])}))
        else:
            groups.merge(store, ids, [(link["a"], link["b"]) for link in links])
        sql.done(store, ids)
    report.processed += len(ids)


def exact_link(a: str, b: str) -> dict[str, Any]:
    """The link from a class representative to a member: same normalised text (evidence: the whole text)."""
    return link_record(a, b, EXACT)


def find_copies(store: Store, settings: Settings, on_event: Event | None = None, chunk: int = 200) -> CopyReport:
    """Process every article still waiting for copy detection (all of them after ``--rebuild``)."""
    refuse_while_bootstrapping("copies stage")
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
