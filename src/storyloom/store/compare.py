"""SQL for the compare stage: a story's members with their texts and metadata, and their copy links."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from storyloom.store.copies import placeholders
from storyloom.store.sqlite import Store


def story(store: Store, story_id: str) -> dict[str, Any] | None:
    r = store.conn.execute("SELECT id, label, first_seen, last_seen, n_articles FROM stories WHERE id = ?",
                           (story_id,)).fetchone()
    return dict(r) if r else None


def members(store: Store, story_id: str) -> list[dict[str, Any]]:
    """Members by time (trusted publication times first), with text, metadata and copy group."""
    rows = store.conn.execute(
        "SELECT a.id, a.title, t.text, a.outlet, a.language, a.published, a.date_flag, a.url, a.location, storyloom_json(a.meta) AS meta, "
        "m.time, g.group_id FROM story_members m JOIN articles a ON a.id = m.article_id JOIN article_texts t ON t.rowid = a.rowid "
        "LEFT JOIN copy_groups g ON g.article_id = a.id WHERE m.story_id = ? ORDER BY m.time, a.id", (story_id,)).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        d["meta"] = json.loads(d["meta"] or "{}")
        out.append(d)
    return out


def copy_links(store: Store, ids: Sequence[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    q = placeholders(len(ids))
    return [dict(r) for r in store.conn.execute(
        f"SELECT a, b, kind, score, direction FROM copy_links WHERE a IN ({q}) AND b IN ({q})", [*ids, *ids])]


def story_version(store: Store, story_id: str) -> str | None:
    r = store.conn.execute("SELECT updated_at, n_articles FROM stories WHERE id = ?", (story_id,)).fetchone()
    return f"{r[0]}|{r[1]}" if r else None


def cached(store: Store, story_id: str, version: str | None) -> tuple[str, dict[str, Any]] | None:
    """The kept comparison of a story as (its version, result) when its version is ``version``, or whatever
    version is kept when ``version`` is None (a stale comparison is still worth showing while a new one is
    computed)."""
    r = store.conn.execute("SELECT version, result FROM compare_cache WHERE story_id = ?", (story_id,)).fetchone()
    return (r[0], json.loads(r[1])) if r and (version is None or r[0] == version) else None


def save_cached(store: Store, story_id: str, version: str, result: dict[str, Any]) -> None:
    from storyloom.store.sqlite import _json, _now

    with store.transaction() as c:
        c.execute("INSERT OR REPLACE INTO compare_cache VALUES (?, ?, ?, ?)", (story_id, version, _json(result), _now()))


def stale_stories(store: Store, min_articles: int, version_suffix: str, limit: int) -> list[str]:
    """Stories of at least ``min_articles`` whose kept comparison is missing or out of date, newest first."""
    return [r[0] for r in store.conn.execute(
        "SELECT s.id FROM stories s LEFT JOIN compare_cache c ON c.story_id = s.id WHERE s.n_articles >= ? AND "
        "(c.version IS NULL OR c.version != s.updated_at || '|' || s.n_articles || ?) ORDER BY s.last_seen DESC LIMIT ?",
        (min_articles, version_suffix, limit))]
