"""SQL for the stories stage: story records, members, the entity index, events, document frequencies."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from storyloom.readmodels import Mention, StoryCard, StoryDetail, StoryEvent, StoryMember
from storyloom.store.copies import placeholders
from storyloom.store.packing import json_text, pack_centroid, pack_weights, read_centroid
from storyloom.store.sqlite import Store, _json, _now, select_in
from storyloom.timeparse import end_of_day

STAGE = "stories"


def pending(store: Store) -> list[str]:
    """Queued articles, in publication-time order (undated by arrival) so the online pass sees time flow.

    The order needs a sort of the whole queue: callers take the whole list once and work through it in chunks
    (asking for one chunk at a time sorted the queue again for each: 19 s a chunk with 1M queued)."""
    return [r[0] for r in store.conn.execute(
        "SELECT q.article_id FROM stage_queue q JOIN articles a ON a.id = q.article_id WHERE q.stage = ? "
        "ORDER BY coalesce(a.published_utc, a.ingested_at), a.rowid", (STAGE,))]


def done(store: Store, ids: Sequence[str]) -> None:
    """Dequeue a chunk, in key order: a chunk's ids are random in the queue's key (article ids are hashes), and
    deleting them in that order walks the queue's B-tree leaf by leaf instead of jumping about a tree as large
    as the store's backlog."""
    store.conn.executemany("DELETE FROM stage_queue WHERE stage = ? AND article_id = ?",
                           [(STAGE, i) for i in sorted(ids)])


def articles(store: Store, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    # the stage orders and windows by instants: it gets the UTC form (published keeps the outlet's offset)
    sql = ("SELECT a.id, a.title, t.text, a.published_utc AS published, a.date_flag, a.ingested_at, a.outlet, "
           "a.language, g.group_id "
           "FROM articles a JOIN article_texts t ON t.rowid = a.rowid LEFT JOIN copy_groups g ON g.article_id = a.id "
           "WHERE a.id IN ({in})")
    return {r["id"]: dict(r) for r in select_in(store.conn, sql, ids)}


def group_story(store: Store, group_id: str) -> str | None:
    """The story already holding a member of this copy group, if any."""
    r = store.conn.execute(
        "SELECT m.story_id FROM copy_groups g JOIN story_members m ON m.article_id = g.article_id "
        "WHERE g.group_id = ? LIMIT 1", (group_id,)).fetchone()
    return r[0] if r else None


def doc_freqs(store: Store, terms: Iterable[str]) -> dict[str, int]:
    return {r[0]: r[1] for r in select_in(store.conn, "SELECT term, df FROM term_df WHERE term IN ({in})", sorted(set(terms)))}


def counter(store: Store, key: str) -> int:
    r = store.conn.execute("SELECT value FROM counters WHERE key = ?", (key,)).fetchone()
    return int(r[0]) if r else 0


def add_doc_freqs(store: Store, terms_per_doc: Sequence[Iterable[str]]) -> None:
    from collections import Counter

    c: Counter[str] = Counter()
    for terms in terms_per_doc:
        c.update(set(terms))
    store.conn.executemany(
        "INSERT INTO term_df VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET df = df + excluded.df", sorted(c.items()))
    store.conn.execute(
        "INSERT INTO counters VALUES ('docs', ?) ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
        (len(terms_per_doc),))


STORY_COLUMNS = ("id, label, label_article, label_score, first_seen, last_seen, n_articles, outlets, languages, "
                 "centroid, n_vectors, terms, entities")


def _story(r: Any) -> dict[str, Any]:
    d = dict(r)
    for k in ("outlets", "languages", "terms", "entities"):
        d[k] = json.loads(json_text(d[k]))
    if "centroid" in d:
        d["centroid"] = read_centroid(d["centroid"])
    return d


def stories_in_window(store: Store, since: str, until: str) -> list[dict[str, Any]]:
    """Stories whose span [first_seen, last_seen] comes within [since, until], by first_seen (then rowid).

    Searched by ``last_seen`` (the recency index; ``+first_seen`` keeps the planner off the first_seen index, in
    the search and the sort): the stream moves forward in time, so the stories seen since the window's start are
    the few recent ones, while ``first_seen <= until`` holds for nearly every story ever opened.  Planned on
    first_seen, each chunk read every story of the store (O(stories) per chunk: the stage's per-article cost grew
    with the store).  The order is the one that plan gave, so the stories are the same."""
    return [_story(r) for r in store.conn.execute(
        f"SELECT {STORY_COLUMNS} FROM stories WHERE last_seen >= ? AND +first_seen <= ? ORDER BY +first_seen, rowid",
        (since, until))]


def stories_by_id(store: Store, ids: Sequence[str]) -> list[dict[str, Any]]:
    return [_story(r) for r in select_in(store.conn, f"SELECT {STORY_COLUMNS} FROM stories WHERE id IN ({{in}})", ids)]


def stories_with_entities(store: Store, keys: Sequence[str], cap: int) -> list[str]:
    """Stories indexed under any of these entities; an entity in more than ``cap`` stories is too common."""
    if not keys:
        return []
    keys = sorted(set(keys))
    sizes = dict(store.conn.execute(
        f"SELECT ekey, count(*) FROM story_entities WHERE ekey IN ({placeholders(len(keys))}) GROUP BY ekey", keys))
    usable = [k for k in keys if 0 < sizes.get(k, 0) <= cap]
    if not usable:
        return []
    return sorted({r[0] for r in store.conn.execute(
        f"SELECT story_id FROM story_entities WHERE ekey IN ({placeholders(len(usable))})", usable)})


def save_stories(store: Store, stories: Iterable[dict[str, Any]]) -> None:
    now = _now()
    for s in stories:
        store.conn.execute(
            f"INSERT OR REPLACE INTO stories ({STORY_COLUMNS}, updated_at) VALUES ({placeholders(14)})",
            (s["id"], s["label"], s["label_article"], s["label_score"], s["first_seen"], s["last_seen"], s["n_articles"],
             _json(s["outlets"]), _json(s["languages"]), pack_centroid(s["centroid"]), s["n_vectors"], pack_weights(s["terms"]),
             _json(s["entities"]), now))
        store.conn.execute("DELETE FROM story_entities WHERE story_id = ?", (s["id"],))
        store.conn.executemany("INSERT OR IGNORE INTO story_entities VALUES (?, ?)",
                               [(e, s["id"]) for e in list(s["entities"])[:20]])


def delete_stories(store: Store, ids: Sequence[str]) -> None:
    for sid in ids:
        store.conn.execute("DELETE FROM stories WHERE id = ?", (sid,))
        store.conn.execute("DELETE FROM story_entities WHERE story_id = ?", (sid,))


def recent_members(store: Store, story_id: str, limit: int) -> list[tuple[str, str, str | None]]:
    """The story's ``limit`` latest ordinary members (round-ups left out) as (time, article id, language), oldest
    first: what the stage's fact check compares a new article with."""
    rows = store.conn.execute(
        "SELECT m.time, m.article_id, a.language FROM story_members m JOIN articles a ON a.id = m.article_id "
        "WHERE m.story_id = ? AND m.reason != 'roundup' ORDER BY m.time DESC, m.article_id DESC LIMIT ?",
        (story_id, limit)).fetchall()
    return [(r[0], r[1], r[2]) for r in reversed(rows)]


def save_members(store: Store, rows: Iterable[tuple[str, str, float, str, str, str | None]]) -> None:
    """In key order (the table is keyed by article id, a hash: see :func:`done`); one row per article, so the
    order changes nothing stored."""
    ordered = sorted(rows, key=itemgetter(0))  # stable: a repeated article keeps its last row
    store.conn.executemany("INSERT OR REPLACE INTO story_members VALUES (?, ?, ?, ?, ?, ?)", ordered)



def move_members(store: Store, from_id: str, to_id: str) -> None:
    store.conn.execute("UPDATE story_members SET story_id = ?, reason = CASE WHEN reason = 'opened' THEN 'merged' "
                       "ELSE reason END WHERE story_id = ?", (to_id, from_id))


def log(store: Store, kind: str, story_id: str, other_id: str | None, article_id: str | None, detail: str) -> None:
    store.conn.execute("INSERT INTO story_events (at, kind, story_id, other_id, article_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
                       (_now(), kind, story_id, other_id, article_id, detail))


def reset(store: Store) -> None:
    with store.transaction() as c:
        for table in ("stories", "story_members", "story_entities", "term_df", "counters"):
            c.execute(f"DELETE FROM {table}")
        c.execute("INSERT OR IGNORE INTO stage_queue SELECT ?, id FROM articles", (STAGE,))


# -- reading ----------------------------------------------------------------------------------------


def feed(store: Store, *, q: str | None = None, language: str | None = None, outlet: str | None = None,
         since: str | None = None, until: str | None = None, min_articles: int = 1, sort: str = "recent",
         limit: int = 30, offset: int = 0) -> list[StoryCard]:
    """Stories newest first (or largest first), filtered; ``q`` matches any member's headline or text."""
    where: list[str] = ["s.n_articles >= ?"]
    args: list[Any] = [min_articles]
    if since:
        where.append("s.last_seen >= ?")
        args.append(since)
    if until:
        where.append("s.first_seen <= ?")
        args.append(end_of_day(until))
    if language:
        where.append("EXISTS (SELECT 1 FROM json_each(s.languages) WHERE key = ?)")
        args.append(language.lower())
    if outlet:
        where.append("EXISTS (SELECT 1 FROM json_each(s.outlets) WHERE key = ? COLLATE NOCASE)")
        args.append(outlet)
    if q:
        from storyloom.store.queries import search

        hits = search(store, q, limit=500)
        ids = sorted({h.id for h in hits})
        if not ids:
            return []
        where.append(f"s.id IN (SELECT story_id FROM story_members WHERE article_id IN ({placeholders(len(ids))}))")
        args += ids
    order = "s.n_articles DESC, s.last_seen DESC" if sort == "size" else "s.last_seen DESC, s.n_articles DESC"
    rows = store.conn.execute(
        f"SELECT id, label, first_seen, last_seen, n_articles, outlets, languages, updated_at FROM stories s "
        f"WHERE {' AND '.join(where)} ORDER BY {order}, s.id LIMIT ? OFFSET ?", [*args, limit, offset]).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        d["outlets"] = json.loads(d["outlets"])
        d["languages"] = json.loads(d["languages"])
        out.append(StoryCard(**d))
    return out


def resolve_story(store: Store, prefix: str) -> str | None:
    prefix = prefix.strip()
    rows = store.conn.execute("SELECT id FROM stories WHERE id >= ? AND id < ? LIMIT 2", (prefix, prefix + "\uffff")).fetchall()
    return rows[0][0] if len(rows) == 1 else None


def merged_into(store: Store, story_id: str, max_hops: int = 50) -> str | None:
    """The live story a merged-away story ended up in (following merges of merges), or None."""
    current = story_id
    for _ in range(max_hops):
        row = store.conn.execute("SELECT story_id FROM story_events WHERE kind = 'merge' AND other_id = ? "
                                 "ORDER BY rowid DESC LIMIT 1", (current,)).fetchone()
        if row is None:
            return None
        current = row[0]
        if store.conn.execute("SELECT 1 FROM stories WHERE id = ?", (current,)).fetchone():
            return str(current)
    return None


def story_detail(store: Store, story_id: str) -> StoryDetail | None:
    r = store.conn.execute(
        "SELECT id, label, label_article, first_seen, last_seen, n_articles, outlets, languages, entities "
        "FROM stories WHERE id = ?", (story_id,)).fetchone()
    if r is None:
        return None
    d = dict(r)
    for k in ("outlets", "languages", "entities"):
        d[k] = json.loads(d[k])
    d["members"] = [StoryMember(**dict(m)) for m in store.conn.execute(
        "SELECT a.id, a.title, a.outlet, a.language, a.published, a.url, m.time, m.time_flag, m.score, m.reason, "
        "g.group_id FROM story_members m JOIN articles a ON a.id = m.article_id "
        "LEFT JOIN copy_groups g ON g.article_id = a.id WHERE m.story_id = ? ORDER BY m.time, a.id", (story_id,))]
    d["events"] = [StoryEvent(**dict(e)) for e in store.conn.execute(
        "SELECT at, kind, story_id, other_id, article_id, detail FROM story_events WHERE story_id = ? OR other_id = ? "
        "ORDER BY rowid", (story_id, story_id))]
    return StoryDetail(**d)


def mentions(store: Store, story_id: str) -> list[Mention]:
    """The round-ups kept apart that fit this story (``mention`` events), also those logged against a story
    merged into it since; a round-up that is a member of the story (a weak member) is listed with the members
    instead.  Newest first, each article once."""
    rows = store.conn.execute(
        "WITH RECURSIVE merged(id) AS (SELECT ? UNION SELECT e.other_id FROM story_events e JOIN merged m "
        "ON e.story_id = m.id WHERE e.kind = 'merge' AND e.other_id IS NOT NULL) "
        "SELECT a.id AS article_id, a.title, a.outlet, sm.time, sm.story_id, e.detail "
        "FROM story_events e JOIN merged ON e.story_id = merged.id JOIN articles a ON a.id = e.article_id "
        "LEFT JOIN story_members sm ON sm.article_id = a.id "
        "WHERE e.kind = 'mention' AND (sm.story_id IS NULL OR sm.story_id != ?) "
        "ORDER BY sm.time DESC, a.id", (story_id, story_id)).fetchall()
    out: dict[str, Mention] = {}
    for r in rows:
        if r["article_id"] not in out:
            why = r["detail"] or ""
            out[r["article_id"]] = Mention(article_id=r["article_id"], title=r["title"] or "", outlet=r["outlet"],
                                           time=r["time"], story_id=r["story_id"],
                                           why=why[why.find("(") + 1:why.find(")")] if "(" in why else None)
    return list(out.values())


def daily_counts(store: Store, story_ids: Sequence[str], max_days: int = 30) -> dict[str, list[int]]:
    """Articles per day over each story's span (the last ``max_days`` days of it), for sparklines."""
    out: dict[str, list[int]] = {}
    if not story_ids:
        return out
    rows = store.conn.execute(
        f"SELECT story_id, substr(time, 1, 10) AS day, count(*) FROM story_members WHERE story_id IN "
        f"({placeholders(len(story_ids))}) GROUP BY story_id, day ORDER BY story_id, day", list(story_ids)).fetchall()
    from datetime import date

    per: dict[str, dict[str, int]] = {}
    for sid, day, n in rows:
        per.setdefault(sid, {})[day] = n
    for sid, days in per.items():
        try:
            first, last = date.fromisoformat(min(days)), date.fromisoformat(max(days))
        except ValueError:
            out[sid] = list(days.values())
            continue
        span = min((last - first).days, max_days - 1)
        start = last.toordinal() - span
        out[sid] = [days.get(date.fromordinal(start + k).isoformat(), 0) for k in range(span + 1)]
    return out


def assignments(store: Store) -> dict[str, str]:
    return dict(store.conn.execute("SELECT article_id, story_id FROM story_members"))

