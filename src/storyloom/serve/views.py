"""What the API and the web pages show, computed once from the store: both shells call these, so the JSON
and the HTML always agree.  Also the drawings (timeline, provenance graph, sparklines) as plain geometry, so
the pages are readable without JavaScript."""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from storyloom.embed import USE_LANGUAGES
from storyloom.errors import StoreError
from storyloom.readmodels import (
    ArticleDetail,
    ClaimMatrix,
    ComparisonStatus,
    CopyGroupRef,
    Digest,
    Page,
    Provenance,
    StoryCard,
    StoryDetail,
    StoryMember,
    StoryPage,
    Timeline,
)
from storyloom.serve.limits import decode_cursor, encode_cursor
from storyloom.serve.refresh import Refresher
from storyloom.store import Store
from storyloom.store import stories as stories_sql
from storyloom.store.queries import get_article
from storyloom.timeparse import timestamp, utc_key

log = logging.getLogger(__name__)
MATRIX_KEYS = ("columns", "rows", "summary", "first_reporter", "untrusted_dates")

# -- compare results -----------------------------------------------------------------------------------


def compared(store: Store, story_id: str, n_articles: int, *, refresher: Refresher | None = None,
             inline_max: int = 4, wait: bool = False, wait_seconds: float = 30.0,
             languages: Iterable[str] = ()) -> tuple[dict[str, Any] | None, str]:
    """The claim matrix of a story and how current it is: ``fresh`` (kept for this version of the story),
    ``stale`` (kept for an earlier version: a new one is being computed) or ``pending`` (none yet: being
    computed).  Comparisons are kept in the store per story version, so a story page is a read.  A missing or
    out-of-date one is computed here only for small stories (``inline_max`` articles: a fraction of a second),
    or when there is no refresher; otherwise the refresher computes it behind the page (see
    :mod:`storyloom.serve.refresh`).  ``wait`` waits for the refresher up to ``wait_seconds`` (the request's time
    left) and then answers with what is kept: a large story never holds a request past its deadline."""
    from storyloom.compare import compare_story, kept, kept_any
    from storyloom.store import compare as compare_sql

    version, hit = kept(store, story_id)
    if version is None:
        return None, "pending"
    if hit is not None:
        return hit, "fresh"
    # a story in a language the fast sentence model lacks is aligned with the slow one (seconds even when small):
    # compared behind the page like a large story
    slow = any(lang and lang.isalpha() and lang not in USE_LANGUAGES for lang in languages)
    if refresher is not None and (n_articles > inline_max or slow):
        if wait and refresher.wait_for(story_id, wait_seconds):
            version, hit = kept(store, story_id)
            if hit is not None:
                return hit, "fresh"
        else:
            refresher.request(story_id)
        old = kept_any(store, story_id)
        return old, ("stale" if old is not None else "pending")
    result = compare_story(store, story_id)
    if result is None:
        return None, "pending"
    # Keeping it is a favour to the next reader, never a reason to fail or hold this one: a read-only store,
    # or an ingest holding the write lock (its chunks take seconds), and the page is served uncached.
    try:
        writer = Store(store.path, busy_timeout_ms=KEEP_WAIT_MS)
    except (sqlite3.Error, StoreError, OSError) as exc:
        log.info("comparison of %s not kept (store not writable: %s)", story_id, exc)
        return result, "fresh"
    try:
        compare_sql.save_cached(writer, story_id, version, result)
    except (sqlite3.Error, StoreError) as exc:  # busy or read-only: the next reader computes it again
        log.info("comparison of %s not kept: %s", story_id, exc)
    finally:
        writer.close()
    return result, "fresh"


KEEP_WAIT_MS = 250


def compare_options(state: Any) -> dict[str, Any]:
    """The app's refresher and inline limit, as :func:`story` takes them."""
    return {"refresher": state.refresher, "inline_max": state.settings.compare_inline_articles}


def digest_options(state: Any) -> dict[str, Any]:
    """:func:`compare_options` and the user's outlet file, as :func:`digest` and :func:`story` take them."""
    return {**compare_options(state), "outlets_file": state.settings.outlets_file}


def survivor(store: Store, story_id: str) -> str | None:
    """The story a merged-away story now lives in (its id stays valid: links to it must keep working)."""
    return stories_sql.merged_into(store, story_id)


# -- drawings ---------------------------------------------------------------------------------------


def timeline(members: list[StoryMember], width: int = 760, row_h: int = 28) -> Timeline:
    """Articles as dots on a time axis, one row per outlet, in SVG coordinates."""
    outlets = list(dict.fromkeys(m.outlet or "unknown outlet" for m in members))
    times = [timestamp(m.time) for m in members]
    lo, hi = (min(times), max(times)) if times else (0.0, 1.0)
    span = (hi - lo) or 3600.0
    left, right = 170, 20
    dots = []
    for m, t in zip(members, times):
        row = outlets.index(m.outlet or "unknown outlet")
        dots.append({"x": round(left + (t - lo) / span * (width - left - right), 1), "y": 20 + row * row_h + row_h / 2,
                     "id": m.id, "title": m.title, "time": m.time, "flag": m.time_flag,
                     "outlet": m.outlet or "unknown outlet"})
    ticks = []
    for k in range(5):
        t = lo + span * k / 4
        ticks.append({"x": round(left + k / 4 * (width - left - right), 1),
                      "label": datetime.fromtimestamp(t, tz=UTC).strftime("%d %b %H:%M")})
    return Timeline.model_validate(
        {"width": width, "height": 40 + len(outlets) * row_h, "left": left,
         "rows": [{"label": o, "y": 20 + i * row_h + row_h / 2} for i, o in enumerate(outlets)],
         "dots": dots, "ticks": ticks})


def graph_layout(graph: dict[str, Any], width: int = 760) -> dict[str, Any]:
    """Sources on the left, articles in the middle (by time), outlets on the right: a layered drawing in
    which every edge reads left to right, "came from" pointing at the source."""
    cols = {"source": 110, "article": width // 2, "outlet": width - 110}
    by_kind: dict[str, list[dict[str, Any]]] = {"source": [], "article": [], "outlet": []}
    for n in graph["nodes"]:
        by_kind.setdefault(n["kind"], []).append(n)
    by_kind["article"].sort(key=lambda n: (utc_key(n.get("published")), n["id"]))
    pos: dict[str, tuple[float, float]] = {}
    height = 60 + 46 * max((len(v) for v in by_kind.values()), default=1)
    for kind, nodes in by_kind.items():
        step = (height - 40) / max(1, len(nodes))
        for i, n in enumerate(nodes):
            pos[n["id"]] = (cols.get(kind, width // 2), 30 + step * (i + 0.5))
    nodes = [{**n, "x": pos[n["id"]][0], "y": round(pos[n["id"]][1], 1)} for n in graph["nodes"]]
    edges = []
    for e in graph["edges"]:
        if e["source"] in pos and e["target"] in pos:
            (x1, y1), (x2, y2) = pos[e["source"]], pos[e["target"]]
            edges.append({**e, "x1": x1, "y1": round(y1, 1), "x2": x2, "y2": round(y2, 1)})
    return {"width": width, "height": round(height), "nodes": nodes, "edges": edges}


def sparkline(counts: list[int], width: int = 90, height: int = 22) -> str:
    """SVG polyline points for a small coverage curve (articles per day)."""
    if len(counts) < 2:
        return ""  # one day: nothing to draw
    top = max(counts) or 1
    step = width / (len(counts) - 1)
    return " ".join(f"{i * step:.1f},{height - 2 - (c / top) * (height - 4):.1f}" for i, c in enumerate(counts))


# -- pages' data --------------------------------------------------------------------------------------


def lenses(outlets_file: str | None) -> list[str]:
    """The lenses a blind-spot feed can use: kind, country, language and the outlets file's own columns."""
    from storyloom.outlets import table_for

    table = table_for(outlets_file)
    return ["kind", "country", "language", *sorted({k for row in table.rows for k in row.attributes})]


BLIND_SPOT_SCAN = 5_000  # stories looked at for a blind-spot feed (the newest or largest, as sorted)


def feed(store: Store, *, limit: int, cursor: str | None, blind_spot: str | None = None,
         outlets_file: str | None = None, **filters: Any) -> Page[StoryCard]:
    """A page of the story feed.  ``blind_spot`` (a lens: kind, country, language or an attribute of the outlets
    file) keeps the stories covered by one group of that lens only — what the other groups did not cover."""
    offset = decode_cursor(cursor)
    if blind_spot:
        from storyloom.outlets import blind_spot as alone
        from storyloom.outlets import table_for

        table = table_for(outlets_file)
        scanned = stories_sql.feed(store, limit=BLIND_SPOT_SCAN, offset=0, **{**filters, "min_articles": max(
            2, int(filters.get("min_articles") or 1))})
        kept = [r for r in scanned if alone(r.outlets, table, blind_spot)]
        rows = kept[offset: offset + limit + 1]
    else:
        rows = stories_sql.feed(store, limit=limit + 1, offset=offset, **filters)
    more = len(rows) > limit
    rows = rows[:limit]
    days = stories_sql.daily_counts(store, [r.id for r in rows])
    for r in rows:
        r.daily = days.get(r.id, [])
        r.sparkline = sparkline(r.daily)
    return Page[StoryCard](items=rows, next_cursor=encode_cursor(offset + limit) if more else None)


def language_relations(members: list[StoryMember], edges: list[dict[str, Any]]) -> dict[str, str]:
    """How each member relates to the story's other languages: a translated copy of another member ("translated
    from X", or "translation of X" where the direction is unknown) is told apart from an outlet's own report in
    another language than most members' ("own report in ru") -- a reader weighs the two very differently: one
    is the same text, the other an independent witness."""
    by_id = {m.id: m for m in members}
    counts = Counter(m.language for m in members if m.language)
    main = min(counts, key=lambda lang: (-counts[lang], lang)) if counts else None

    def label(aid: str) -> str:
        m = by_id[aid]
        return f"{m.outlet or m.title[:40]}{f' ({m.language})' if m.language else ''}"

    out: dict[str, str] = {}
    for e in edges:
        if e.get("kind") != "translated-from":
            continue
        src, dst = str(e["source"]).removeprefix("article:"), str(e["target"]).removeprefix("article:")
        if src not in by_id or dst not in by_id:
            continue
        if e.get("directed"):
            out[src] = f"translated from {label(dst)}"
        else:
            out.setdefault(src, f"translation of {label(dst)}")
            out.setdefault(dst, f"translation of {label(src)}")
    for m in members:
        if m.id not in out and m.language and main and m.language != main:
            out[m.id] = f"own report in {m.language}"
    return out


def story(store: Store, story_id: str, *, refresher: Refresher | None = None, inline_max: int = 4,
          wait: bool = False, wait_seconds: float = 30.0, outlets_file: str | None = None,
          with_digest: bool = False) -> tuple[StoryPage, dict[str, Any] | None, Digest | None] | None:
    """A story with its members, copy groups, timeline and comparison (claim matrix, provenance graph), the
    graph's drawing for the web page, and (``with_digest``) its digest, all from one read of the kept
    comparison.  ``comparison`` says how current the claim matrix is and for how many of the story's articles
    it was made; see :func:`compared`."""
    full = stories_sql.resolve_story(store, story_id)
    detail = stories_sql.story_detail(store, full) if full else None
    if detail is None:
        return None
    comp, status = compared(store, detail.id, detail.n_articles, refresher=refresher, inline_max=inline_max,
                            languages=detail.languages,
                            wait=wait, wait_seconds=wait_seconds)
    groups: dict[str, list[str]] = {}
    for m in detail.members:
        groups.setdefault(m.group_id or m.id, []).append(m.id)
    relations = language_relations(detail.members, comp["provenance"]["edges"] if comp is not None else [])
    for m in detail.members:
        m.language_relation = relations.get(m.id)
    page = StoryPage(
        **dict(detail),
        comparison=ComparisonStatus(status=status, articles=comp["story"]["n_articles"] if comp else None),
        copy_groups=[CopyGroupRef(group_id=g, members=ids) for g, ids in groups.items() if len(ids) > 1],
        timeline=timeline(detail.members),
        claim_matrix=ClaimMatrix.model_validate({k: comp[k] for k in MATRIX_KEYS}) if comp is not None else None,
        provenance=Provenance.model_validate(comp["provenance"]) if comp is not None else None,
        mentioned_in=stories_sql.mentions(store, detail.id),
    )
    digested = _digest(detail, comp, status, outlets_file) if with_digest else None
    return page, (graph_layout(comp["provenance"]) if comp is not None else None), digested


def _digest(card: StoryDetail, comp: dict[str, Any] | None, status: str, outlets_file: str | None,
            since: str | None = None) -> Digest:
    from storyloom.compare.digest import build_digest
    from storyloom.outlets import table_for

    if comp is None:
        return Digest(story_id=card.id, label=card.label, n_articles=card.n_articles, n_outlets=len(card.outlets),
                      languages=sorted(card.languages), first_seen=card.first_seen, last_seen=card.last_seen,
                      key_facts=[], conflicts=[], outlets=[], speakers=[], numbers=[], coverage=[], status="pending",
                      notes=["the comparison of this story is being computed: look again in a few seconds"])
    return build_digest(comp, table_for(outlets_file), since=since, status=status)


def digest(store: Store, story_id: str, *, outlets_file: str | None = None, since: str | None = None,
           refresher: Refresher | None = None, inline_max: int = 4, wait: bool = False,
           wait_seconds: float = 30.0) -> Digest | None:
    """The digest of a story (see :mod:`storyloom.compare.digest`), from its kept comparison; while none is kept
    (``pending``) an empty digest that says so."""
    full = stories_sql.resolve_story(store, story_id)
    card = stories_sql.story_detail(store, full) if full else None
    if card is None:
        return None
    comp, status = compared(store, card.id, card.n_articles, refresher=refresher, inline_max=inline_max, wait=wait,
                            languages=card.languages,
                            wait_seconds=wait_seconds)
    return _digest(card, comp, status, outlets_file, since)


def article(store: Store, article_id: str, raw: bool = False) -> ArticleDetail | None:
    return get_article(store, article_id, raw=raw)
