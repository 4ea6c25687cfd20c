"""Compare coverage inside a story: the claim matrix, facts that differ, who was first, who copied whom.

:func:`compare_story` splits every member article into claims (:mod:`.claims`), aligns claims across
articles (:mod:`.align`), lays them out as rows × outlets, flags rows whose numbers disagree, names the
first reporter of the story and of each row (trusted publication times only), and builds the provenance
graph (:mod:`.provenance`).  Exports: JSON, CSV, Markdown.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from storyloom.compare.align import align, sentence_vectors
from storyloom.compare.claims import extract_claims
from storyloom.compare.conflicts import find_conflicts, same_value, units_of
from storyloom.compare.exports import to_csv, to_json, to_markdown
from storyloom.compare.provenance import build_graph
from storyloom.compare.vectors import sentence_vectors_kept
from storyloom.store import Store
from storyloom.store import compare as sql
from storyloom.timeparse import utc_key

COMPARE_VERSION = "4"  # bump when the comparison changes, so kept results are recomputed
MAX_MEMBERS = 60  # a story's largest copy groups are represented by their canonical member beyond this


def _column(m: dict[str, Any], taken: dict[str, int]) -> str:
    """The matrix column of an article: its outlet; without one, its file or host name."""
    base = m.get("outlet") or (m.get("location") or m["id"]).rsplit("/", 1)[-1].split("#")[0] or m["id"][:10]
    taken[base] = taken.get(base, 0) + 1
    return base if taken[base] == 1 else f"{base} ({taken[base]})"


def _conflicts(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Same unit (or a date), different values across outlets (years and bare numbers are not compared; one
    figure written two ways — $129 and $129.99 — is the same value).  ``values``: the figure as the first outlet
    wrote it → the columns giving it."""
    by_unit: dict[str, list[tuple[float, str, list[str]]]] = defaultdict(list)
    for c in cells:
        for unit, values in units_of(c).items():
            groups = by_unit[unit]
            for value, text in values.items():
                for seen, _, cols in groups:
                    if same_value(seen, value, unit):
                        if c["column"] not in cols:
                            cols.append(c["column"])
                        break
                else:
                    groups.append((value, text, [c["column"]]))
    out = []
    for unit, groups in sorted(by_unit.items()):
        seen_cols = {col for _, _, cs in groups for col in cs}
        if len(groups) > 1 and len(seen_cols) > 1:
            out.append({"unit": unit, "values": {text: sorted(cs) for _, text, cs in sorted(groups)}})
    return out


def compare_story(store: Store, story_id: str, write: Store | None = None) -> dict[str, Any] | None:
    """The full comparison of one story (JSON-ready); None when there is no such story.  Sentence vectors are
    read from ``store`` where kept and, when ``write`` is given, the new ones kept there (compare/vectors.py)."""
    started = time.perf_counter()
    story = sql.story(store, story_id)
    if story is None:
        return None
    members = sql.members(store, story_id)
    dropped = 0
    if len(members) > MAX_MEMBERS:  # keep one article per copy group first, then the earliest
        seen, keep = set(), []
        for m in members:
            if m["group_id"] not in seen:
                seen.add(m["group_id"])
                keep.append(m)
        dropped = len(members) - len(keep[:MAX_MEMBERS])
        members = keep[:MAX_MEMBERS]
    taken: dict[str, int] = {}
    for m in members:
        m["column"] = _column(m, taken)
    claims = []
    for m in members:
        claims.extend(extract_claims(m["id"], m["text"]))
    texts = [c.text for c in claims]
    def embed(ts: Sequence[str]) -> np.ndarray | None:  # claims and their clause views: kept vectors first
        return sentence_vectors_kept(list(ts), sentence_vectors, store, write)

    vectors = embed(texts) if texts and len(members) > 1 else None  # one article: nothing to align
    links = sql.copy_links(store, [m["id"] for m in members])
    translated = sorted({(str(x["a"]), str(x["b"])) for x in links if x["kind"] == "translation"})
    rows_idx, pairs = align(texts, [c.article_id for c in claims], vectors, view_embed=embed, translated=translated)
    col_of = {m["id"]: m["column"] for m in members}
    time_of = {m["id"]: (m["published"] if not m.get("date_flag") else None) for m in members}
    columns = [m["column"] for m in members]
    row_of = {i: r for r, idx in enumerate(rows_idx) for i in idx}
    evidence: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for (i, j), p in sorted(pairs.items()):  # once, not once per row: a 50-article story has thousands of pairs
        if row_of[i] == row_of[j]:
            evidence[row_of[i]].append({"a": claims[i].key, "b": claims[j].key, "p": round(p, 3)})
    as_dicts = [c.as_dict() for c in claims]
    rows: list[dict[str, Any]] = []
    for r_index, idx in enumerate(rows_idx):
        cells: list[dict[str, Any]] = [{"column": col_of[claims[i].article_id], **as_dicts[i]} for i in idx]
        cols = sorted({str(cell["column"]) for cell in cells}, key=columns.index)
        dated = sorted(((time_of[cell["article_id"]], cell["column"]) for cell in cells if time_of[cell["article_id"]]),
                       key=lambda t: (utc_key(t[0]), t[1]))
        conflicts = _conflicts(cells)
        status = "shared" if len(cols) == len(columns) and len(columns) > 1 else ("partial" if len(cols) > 1 else "only")
        rows.append({
            "status": status, "columns": cols, "cells": cells, "conflicts": conflicts,
            "first": {"column": dated[0][1], "time": dated[0][0]} if dated else None,
            "evidence": evidence.get(r_index, []),
            "position": min(claims[i].index / 1000 + columns.index(col_of[claims[i].article_id]) for i in idx),
        })
    fact_conflicts = find_conflicts(as_dicts, vectors, [row_of[i] for i in range(len(claims))])
    rows.sort(key=lambda r: ({"shared": 0, "partial": 1, "only": 2}[r["status"]], r["position"]))
    for r in rows:
        del r["position"]
    dated_members = sorted(((m["published"], m["column"], m["id"]) for m in members
                            if m["published"] and not m.get("date_flag")), key=lambda t: (utc_key(t[0]), t[1], t[2]))
    by_article: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c, d in zip(claims, as_dicts):
        by_article[c.article_id].append(d)
    graph = build_graph(story, members, links, by_article)
    return {
        "story": {k: story[k] for k in ("id", "label", "first_seen", "last_seen", "n_articles")},
        "columns": [{"column": m["column"], "article_id": m["id"], "outlet": m.get("outlet"), "title": m["title"],
                     "published": m["published"], "date_flag": m.get("date_flag"), "language": m.get("language"),
                     "url": m.get("url")} for m in members],
        "rows": rows,
        "summary": {
            "claims": len(claims), "rows": len(rows),
            "shared_by_all": sum(r["status"] == "shared" for r in rows),
            "partial": sum(r["status"] == "partial" for r in rows),
            "only_in": {col: sum(1 for r in rows if r["status"] == "only" and r["columns"] == [col]) for col in columns},
            "conflicting": sum(bool(r["conflicts"]) for r in rows),
            "members_left_out": dropped,
        },
        "first_reporter": {"column": dated_members[0][1], "article_id": dated_members[0][2], "time": dated_members[0][0]}
        if dated_members else None,
        "untrusted_dates": [m["column"] for m in members if not m["published"] or m.get("date_flag")],
        "fact_conflicts": [{"a": claims[c["a"]].key, "b": claims[c["b"]].key, "unit": c["unit"], "values": c["values"],
                            "cosine": c["cosine"]} for c in fact_conflicts],
        "provenance": graph,
        "seconds": round(time.perf_counter() - started, 3),
    }


def warm() -> None:
    """Load what comparing a story needs (sentence embedder, language identifier, claim aligner): several
    seconds of CPU that a server pays at start, not inside the first story page a reader opens."""
    from storyloom.compare.features import ClaimAligner
    from storyloom.enrich.language import detect_language

    sentence_vectors(["warm"])
    detect_language("a sentence long enough to be identified")
    ClaimAligner.load()


def kept(store: Store, story_id: str) -> tuple[str | None, dict[str, Any] | None]:
    """(the story's current version, its kept comparison if up to date)."""
    version = sql.story_version(store, story_id)
    if version is None:
        return None, None
    version = f"{version}|{COMPARE_VERSION}"
    hit = sql.cached(store, story_id, version)
    return version, hit[1] if hit else None


def kept_any(store: Store, story_id: str) -> dict[str, Any] | None:
    """The story's kept comparison whatever story version it was computed for (None if none was kept, or if
    it was computed by another comparison code version: its shape may differ)."""
    hit = sql.cached(store, story_id, None)
    return hit[1] if hit and hit[0].endswith(f"|{COMPARE_VERSION}") else None


def compare_kept(store: Store, story_id: str, write: Store | None = None) -> dict[str, Any] | None:
    """The comparison of a story, from the store when it is up to date; computed (and kept, when a writable
    store is given) otherwise.  Comparing costs sentence embeddings: keeping it makes a story page a read."""
    version, hit = kept(store, story_id)
    if version is None or hit is not None:
        return hit
    result = compare_story(store, story_id, write)
    if result is not None and write is not None:
        sql.save_cached(write, story_id, version, result)
    return result


def precompute(store: Store, min_articles: int = 2, limit: int = 10_000) -> int:
    """Compare every multi-article story whose kept comparison is missing or stale; returns how many."""
    n = 0
    for sid in sql.stale_stories(store, min_articles, f"|{COMPARE_VERSION}", limit):
        compare_kept(store, sid, write=store)
        n += 1
    return n


__all__ = ["compare_story", "compare_kept", "kept", "kept_any", "precompute", "to_csv", "to_json", "to_markdown", "warm"]
