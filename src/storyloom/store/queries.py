"""Read queries shared by the CLI, the API and the web UI (so all three show the same thing)."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from storyloom.readmodels import (
    ArticleDetail,
    ArticleRow,
    Health,
    RawPayload,
    RemovedSpan,
    SearchHit,
    Sighting,
    StoreStats,
)
from storyloom.store.migrations import DECLARED_OF
from storyloom.store.packing import unpack_spans
from storyloom.store.sqlite import Store
from storyloom.timeparse import end_of_day

MARK_START, MARK_END = "\x02", "\x03"  # around matched words in snippets; each shell renders them its way

LIST_COLUMNS = "id, title, outlet, language, published, date_flag, url, kind, coalesce(chars, length(text)) AS chars, previous_id"


@dataclass(frozen=True)
class ArticleFilter:
    outlet: str | None = None
    language: str | None = None
    since: str | None = None  # ISO date or datetime, inclusive
    until: str | None = None  # ISO date or datetime, inclusive of the whole day when a date
    limit: int = 50
    offset: int = 0


def _row(r: sqlite3.Row) -> dict[str, Any]:
    return {k: r[k] for k in r.keys()}


def list_articles(store: Store, f: ArticleFilter) -> list[ArticleRow]:
    """Articles newest first (undated ones last), filtered by outlet, language and date range."""
    where, args = [], []
    if f.outlet:
        where.append("outlet = ? COLLATE NOCASE")
        args.append(f.outlet)
    if f.language:
        where.append("language = ?")
        args.append(f.language.lower())
    if f.since:
        where.append("published >= ?")
        args.append(f.since)
    if f.until:
        where.append("published <= ?")
        args.append(end_of_day(f.until))
    sql = f"SELECT {LIST_COLUMNS} FROM articles"
    if where:
        sql += " WHERE " + " AND ".join(where)
    # by the instant (published keeps the outlet's offset; published_utc is derived from it in SQL, store.migrations);
    # the date filters above compare the outlet's own dates, the days a reader sees
    sql += " ORDER BY published_utc IS NULL, published_utc DESC, rowid DESC LIMIT ? OFFSET ?"
    return [ArticleRow(**_row(r)) for r in store.conn.execute(sql, [*args, f.limit, f.offset])]


def resolve_id(store: Store, prefix: str) -> str | None:
    """An article id from a unique prefix (at least 4 characters), as git resolves short hashes."""
    prefix = prefix.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{4,16}", prefix):
        return None
    rows = store.conn.execute(
        "SELECT id FROM articles WHERE id >= ? AND id < ? LIMIT 2", (prefix, prefix + "g")
    ).fetchall()
    return rows[0]["id"] if len(rows) == 1 else None


# of ``articles a`` joined with ``article_texts t`` (the text and body decoded: migration 13, store.packing)
ARTICLE_COLUMNS = ("a.id, a.blob, a.kind, a.location, a.url, a.canonical_url, a.title, t.text, a.text_hash, a.published, "
                   "a.date_flag, a.outlet, a.author, a.language, a.extra, a.warnings, a.previous_id, a.ingested_at, t.body, "
                   f"storyloom_json(a.meta) AS meta, {DECLARED_OF.format(r='a')} AS declared, a.template_group")
ARTICLE_FROM = "articles a JOIN article_texts t ON t.rowid = a.rowid"


def removed_spans(store: Store, article_id: str) -> list[RemovedSpan]:
    row = store.conn.execute("SELECT spans FROM article_spans WHERE article_id = ?", (article_id,)).fetchone()
    return [RemovedSpan(start=s, end=e, reason=reason, rule=rule)
            for s, e, reason, rule in unpack_spans(row[0] if row else None)]


def get_article(store: Store, article_id: str, *, raw: bool = False) -> ArticleDetail | None:
    """One article with everything known about it: metadata, text, removed spans, where it was seen, the next
    version, its copy group and story; with ``raw``, the raw input as stored (text when it is UTF-8)."""
    from storyloom.store import copies as copies_sql

    full = resolve_id(store, article_id)
    if full is None:
        return None
    r = store.conn.execute(f"SELECT {ARTICLE_COLUMNS} FROM {ARTICLE_FROM} WHERE a.id = ?", (full,)).fetchone()
    art = _row(r)
    for key in ("extra", "warnings", "meta", "declared"):
        art[key] = json.loads(art[key])
    art["removed"] = removed_spans(store, full)
    art["sightings"] = [Sighting(**_row(s)) for s in store.conn.execute(
        "SELECT location, storyloom_hex(blob) AS blob, first_seen FROM sightings WHERE article_id = ? "
        "ORDER BY first_seen, location", (full,))]
    art["next_id"] = next(
        iter(r["id"] for r in store.conn.execute("SELECT id FROM articles WHERE previous_id = ?", (full,))), None
    )
    group = copies_sql.group_of(store, [full]).get(full)
    art["copy_group"] = copies_sql.group_detail(store, group) if group else None
    art["story_id"] = story_of(store, full)
    if raw:
        data = store.raw_bytes(art["blob"]) or b""
        try:
            art["raw"] = RawPayload(encoding="utf-8", data=data.decode("utf-8"))
        except UnicodeDecodeError:
            import base64

            art["raw"] = RawPayload(encoding="base64", data=base64.b64encode(data).decode())
    return ArticleDetail(**art)


_FTS_SPECIAL = re.compile(r'["*():^+\-]|\b(AND|OR|NOT|NEAR)\b')


def _fts_query(q: str) -> str:
    """A user's words as a safe FTS5 query: each word quoted (so punctuation is never syntax), all ANDed.

    Users who want FTS5 syntax (phrases, OR, prefix*) get it when the query parses; this is the fallback.
    """
    words = re.findall(r"\w+", q, flags=re.UNICODE)
    return " ".join(f'"{w}"' for w in words)


def _fts_columns(store: Store) -> tuple[int, int]:
    """The FTS index's column numbers of (title, text): (1, 0) since migration 19, (0, 1) in a store a reader
    could not upgrade.  Read each search (a schema look-up, microseconds), not kept: another process may upgrade
    the store under a long-lived reader."""
    names = [r[1] for r in store.conn.execute("PRAGMA table_info(articles_fts)")]
    return names.index("title"), names.index("text")


def search(store: Store, q: str, limit: int = 20, offset: int = 0) -> list[SearchHit]:
    """Full-text search over headline + text, best first (BM25, headline weighted ×5), with snippets.

    Two steps: rank every match and keep the page (rowid and score only), then build the snippets of that
    page alone.  In one statement SQLite makes a snippet for every match before sorting: a common word in a
    100k-article store (24k matches) took 66 ms that way and 30 ms this way, with the same rows."""
    title, text = _fts_columns(store)
    weights = ", ".join("5.0" if i == title else "1.0" for i in range(2))
    rank = (f"SELECT rowid, bm25(articles_fts, {weights}) AS score FROM articles_fts WHERE articles_fts MATCH ? "
            "ORDER BY score, rowid LIMIT ? OFFSET ?")
    page = (
        "SELECT a.id, a.title, a.outlet, a.language, a.published, "
        f"snippet(articles_fts, {text}, '{MARK_START}', '{MARK_END}', ' … ', 12) AS snippet "
        "FROM articles_fts JOIN articles a ON a.rowid = articles_fts.rowid "
        "WHERE articles_fts MATCH ? AND articles_fts.rowid = ?"
    )
    q = q.strip()
    if not q:
        return []
    attempts = [q, _fts_query(q)] if _FTS_SPECIAL.search(q) else [_fts_query(q)]
    for attempt in attempts:
        if not attempt:
            continue
        try:
            top = store.conn.execute(rank, (attempt, limit, offset)).fetchall()
        except sqlite3.OperationalError:
            continue  # not valid FTS5 syntax: fall back to plain words
        out = []
        for rowid, score in top:
            r = store.conn.execute(page, (attempt, rowid)).fetchone()
            if r is not None:  # deleted between the two statements (a concurrent re-clean)
                out.append(SearchHit(**_row(r), score=score))
        return out
    return []


def story_of(store: Store, article_id: str) -> str | None:
    """The story an article is a member of."""
    r = store.conn.execute("SELECT story_id FROM story_members WHERE article_id = ?", (article_id,)).fetchone()
    return str(r[0]) if r else None


def count(store: Store, table: str) -> int:
    """Rows of one of the store's tables (``articles``, ``stories``, …), for health checks and progress bars."""
    if table not in COUNTABLE:
        raise ValueError(f"not a countable table: {table!r}")
    return int(store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


COUNTABLE = frozenset({"articles", "stories", "blobs", "copy_groups", "copy_links", "story_members"})


def queued(store: Store, stage: str) -> int:
    """Articles waiting for an incremental stage (``copies`` or ``stories``)."""
    return int(store.conn.execute("SELECT count(*) FROM stage_queue WHERE stage = ?", (stage,)).fetchone()[0])


def health(store: Store) -> Health:
    return Health(status="ok", articles=count(store, "articles"), stories=count(store, "stories"),
                  schema_version=store.schema_version())


def stats(store: Store) -> StoreStats:
    c = store.conn
    one = lambda sql: c.execute(sql).fetchone()[0]
    return StoreStats(**{
        "articles": count(store, "articles"),
        "raw_inputs": count(store, "blobs"),
        "raw_bytes": one("SELECT coalesce(sum(size), 0) FROM blobs"),
        "stored_bytes": one("SELECT coalesce(sum(length(data)), 0) FROM blobs"),
        "sightings": one("SELECT count(*) FROM sightings"),
        "versions": one("SELECT count(*) FROM articles WHERE previous_id IS NOT NULL"),
        "outlets": one("SELECT count(DISTINCT outlet) FROM articles"),
        "undated": one("SELECT count(*) FROM articles WHERE published IS NULL"),
        "first_published": one("SELECT min(published_utc) FROM articles"),
        "last_published": one("SELECT max(published_utc) FROM articles"),
        "by_kind": {r[0]: r[1] for r in c.execute("SELECT kind, count(*) FROM articles GROUP BY kind ORDER BY 2 DESC")},
        "by_language": {
            r[0] or "?": r[1]
            for r in c.execute("SELECT language, count(*) FROM articles GROUP BY language ORDER BY 2 DESC LIMIT 15")
        },
        "top_outlets": {
            r[0] or "?": r[1]
            for r in c.execute("SELECT outlet, count(*) FROM articles GROUP BY outlet ORDER BY 2 DESC LIMIT 15")
        },
        "watched_feeds": one("SELECT count(*) FROM feeds"),
        "schema_version": store.schema_version(),
        "stories": count(store, "stories"),
    })
