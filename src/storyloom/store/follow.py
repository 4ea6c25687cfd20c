"""SQL for following: subscriptions and their match keys, the matching cursor, news, alerts, deliveries.

Matching reads only the articles past the cursor (never the whole store) and looks their keys up in
``follow_keys``; the news it finds and the cursor's new position are written in one transaction, so a process
killed at any point either wrote both or neither, and the unique ``news_key`` makes a re-run add nothing twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from storyloom.readmodels import Alert, AlertStory, Delivery, Subscription
from storyloom.store.sqlite import Store, _json, _now, select_in

SUB_COLUMNS = "id, kind, target, filters, owner, token, webhook, secret, email, created_at"


def _sub(r: sqlite3.Row) -> dict[str, Any]:
    d = dict(r)
    d["filters"] = json.loads(d["filters"] or "{}")
    return d


# -- subscriptions ----------------------------------------------------------------------------------


def fts_error(store: Store, query: str) -> str | None:
    """Why SQLite's FTS5 refuses this query (None when it parses), checked against the real index."""
    try:
        store.conn.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? LIMIT 1", (query,)).fetchall()
    except sqlite3.OperationalError as exc:
        return str(exc)
    return None


def story_exists(store: Store, story_id: str) -> bool:
    return store.conn.execute("SELECT 1 FROM stories WHERE id = ?", (story_id,)).fetchone() is not None


def add_sub(store: Store, sub: dict[str, Any], keys: Iterable[str], baseline: Iterable[tuple[str, str]] = ()) -> None:
    """A subscription, its match keys and the news it must not be told (what the story already had)."""
    with store.transaction() as c:
        c.execute(f"INSERT INTO follow_subs ({SUB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (sub["id"], sub["kind"], sub["target"], _json(sub.get("filters") or {}), sub.get("owner") or "",
                   sub["token"], sub.get("webhook"), sub.get("secret"), sub.get("email"), sub["created_at"]))
        c.executemany("INSERT OR IGNORE INTO follow_keys VALUES (?, ?)", [(k, sub["id"]) for k in sorted(set(keys))])
        now = _now()
        c.executemany("INSERT OR IGNORE INTO follow_news (news_key, sub_id, story_id, article_id, what, line, at, "
                      "alert_id) VALUES (?, ?, ?, NULL, 'baseline', ?, ?, 'baseline')",
                      [(key, sub["id"], sub["target"], line, now) for key, line in baseline])


def delete_sub(store: Store, sub_id: str) -> bool:
    """Forget a subscription, its keys, news, alerts and delivery log (its feed token stops working)."""
    with store.transaction() as c:
        gone = c.execute("DELETE FROM follow_subs WHERE id = ?", (sub_id,)).rowcount
        c.execute("DELETE FROM follow_keys WHERE sub_id = ?", (sub_id,))
        c.execute("DELETE FROM follow_deliveries WHERE alert_id IN (SELECT id FROM follow_alerts WHERE sub_id = ?)",
                  (sub_id,))
        c.execute("DELETE FROM follow_alerts WHERE sub_id = ?", (sub_id,))
        c.execute("DELETE FROM follow_news WHERE sub_id = ?", (sub_id,))
    return gone > 0


def resolve_sub(store: Store, prefix: str) -> str | None:
    prefix = prefix.strip()
    if not prefix:
        return None
    rows = store.conn.execute("SELECT id FROM follow_subs WHERE id >= ? AND id < ? LIMIT 2",
                              (prefix, prefix + "\uffff")).fetchall()
    return str(rows[0][0]) if len(rows) == 1 else None


def sub_raw(store: Store, sub_id: str) -> dict[str, Any] | None:
    r = store.conn.execute(f"SELECT {SUB_COLUMNS} FROM follow_subs WHERE id = ?", (sub_id,)).fetchone()
    return _sub(r) if r else None


def sub_by_token(store: Store, token: str) -> dict[str, Any] | None:
    r = store.conn.execute(f"SELECT {SUB_COLUMNS} FROM follow_subs WHERE token = ?", (token,)).fetchone()
    return _sub(r) if r else None


def subs_by_id(store: Store, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    return {r["id"]: _sub(r) for r in select_in(store.conn, f"SELECT {SUB_COLUMNS} FROM follow_subs WHERE id IN ({{in}})",
                                                 sorted(set(ids)))}


def list_subs(store: Store, owner: str | None = None, show_tokens: bool = True,
              sub_id: str | None = None) -> list[Subscription]:
    """Subscriptions (of one owner, or the one ``sub_id``), with their alert counts and their story's status."""
    sql = (f"SELECT {SUB_COLUMNS}, (SELECT count(*) FROM follow_alerts a WHERE a.sub_id = s.id) AS n_alerts "
           "FROM follow_subs s WHERE 1")
    args: list[Any] = []
    if owner is not None:
        sql += " AND owner = ?"
        args.append(owner)
    if sub_id is not None:
        sql += " AND id = ?"
        args.append(sub_id)
    out = []
    for r in store.conn.execute(sql + " ORDER BY created_at, id", args):
        d = _sub(r)
        d.pop("secret")
        if not show_tokens:
            d["token"] = None
        if d["kind"] == "story":
            d["story_status"] = story_status(store, d["target"])
        out.append(Subscription(**d))
    return out


def story_status(store: Store, story_id: str) -> str:
    """live, "merged into ID" (the subscription follows it there) or gone."""
    from storyloom.store.stories import merged_into

    if story_exists(store, story_id):
        return "live"
    moved = merged_into(store, story_id)
    return f"merged into {moved}" if moved else "gone"


def kinds(store: Store) -> set[str]:
    """The kinds of subscription there are (matching skips the work no subscription needs)."""
    return {r[0] for r in store.conn.execute("SELECT DISTINCT kind FROM follow_subs")}


def has_subs(store: Store) -> bool:
    return store.conn.execute("SELECT 1 FROM follow_subs LIMIT 1").fetchone() is not None


def subs_for_keys(store: Store, keys: Iterable[str]) -> dict[str, list[str]]:
    """key → the subscriptions indexed under it, for the keys that have any."""
    out: dict[str, list[str]] = {}
    for key, sub in select_in(store.conn, "SELECT key, sub_id FROM follow_keys WHERE key IN ({in})", sorted(set(keys))):
        out.setdefault(key, []).append(sub)
    return out


# -- what the matcher reads ------------------------------------------------------------------------


def cursor(store: Store) -> int:
    r = store.conn.execute("SELECT value FROM follow_state WHERE key = 'cursor'").fetchone()
    return int(r[0]) if r else 0


def barrier(store: Store, stages: Sequence[str]) -> int | None:
    """The first article (rowid) still waiting for one of these stages: matching stops short of it."""
    if not stages:
        return None
    r = store.conn.execute(
        f"SELECT min(a.rowid) FROM stage_queue q JOIN articles a ON a.id = q.article_id "
        f"WHERE q.stage IN ({','.join('?' * len(stages))})", list(stages)).fetchone()
    return int(r[0]) if r and r[0] is not None else None


def last_rowid(store: Store, before: int | None) -> int | None:
    """The last article short of the barrier (None when there is none)."""
    if before is None:
        r = store.conn.execute("SELECT max(rowid) FROM articles").fetchone()
    else:
        r = store.conn.execute("SELECT max(rowid) FROM articles WHERE rowid < ?", (before,)).fetchone()
    return int(r[0]) if r and r[0] is not None else None


def new_articles(store: Store, after: int, before: int | None, limit: int) -> list[dict[str, Any]]:
    """Articles past the cursor (and short of the barrier), with their story, in rowid order."""
    sql = ("SELECT a.rowid AS rowid, a.id, a.title, t.text, a.outlet, a.language, a.url, a.published, m.story_id "
           "FROM articles a JOIN article_texts t ON t.rowid = a.rowid LEFT JOIN story_members m ON m.article_id = a.id WHERE a.rowid > ?")
    args: list[Any] = [after]
    if before is not None:
        sql += " AND a.rowid < ?"
        args.append(before)
    return [dict(r) for r in store.conn.execute(sql + " ORDER BY a.rowid LIMIT ?", [*args, limit])]


def fts_hits(store: Store, query: str, lo: int, hi: int) -> set[int]:
    """Rowids in (lo, hi] matching an FTS5 query: a rowid range FTS5 seeks to, so only the new rows are read."""
    try:
        return {r[0] for r in store.conn.execute(
            "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? AND rowid > ? AND rowid <= ?", (query, lo, hi))}
    except sqlite3.OperationalError:
        return set()


def members(store: Store, story_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Each story's members (rowid, id, outlet, language, url) in rowid order."""
    out: dict[str, list[dict[str, Any]]] = {s: [] for s in story_ids}
    sql = ("SELECT m.story_id, a.rowid AS rowid, a.id, a.outlet, a.language, a.url FROM story_members m "
           "JOIN articles a ON a.id = m.article_id WHERE m.story_id IN ({in}) ORDER BY a.rowid")
    for r in select_in(store.conn, sql, sorted(set(story_ids))):
        out[r["story_id"]].append(dict(r))
    return out


def labels(store: Store, story_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    return {r["id"]: {"label": r["label"], "outlets": json.loads(r["outlets"])} for r in select_in(
        store.conn, "SELECT id, label, outlets FROM stories WHERE id IN ({in})", sorted(set(story_ids)))}


def merged_from(store: Store, story_id: str, max_hops: int = 50) -> list[str]:
    """Stories merged into this one (and into those, …): a subscription to any of them follows it here."""
    out, frontier = [], [story_id]
    for _ in range(max_hops):
        got = [r[0] for r in select_in(store.conn, "SELECT other_id FROM story_events WHERE kind = 'merge' AND "
                                       "story_id IN ({in}) AND other_id IS NOT NULL", frontier)]
        got = [g for g in got if g not in out and g != story_id]
        if not got:
            break
        out += got
        frontier = got
    return out


def copy_links(store: Store, ids: Sequence[str]) -> list[dict[str, Any]]:
    sql = "SELECT a, b, kind FROM copy_links WHERE a IN ({in}) OR b IN ({in})"
    return [dict(r) for r in select_in(store.conn, sql, sorted(set(ids)))]


def outlets_of(store: Store, ids: Sequence[str]) -> dict[str, str | None]:
    return {r[0]: r[1] for r in select_in(store.conn, "SELECT id, outlet FROM articles WHERE id IN ({in})",
                                           sorted(set(ids)))}


# -- what the matcher writes -----------------------------------------------------------------------


def write_news(store: Store, news: Sequence[dict[str, Any]], new_cursor: int) -> int:
    """The news found and the cursor past the articles it came from, in one transaction; returns rows added."""
    with store.transaction() as c:
        before = c.total_changes
        c.executemany(
            "INSERT OR IGNORE INTO follow_news (news_key, sub_id, story_id, article_id, what, line, at, alert_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(n["key"], n["sub_id"], n.get("story_id"), n.get("article_id"), n["what"], n["line"], _now(),
              "baseline" if n.get("silent") else None) for n in news])
        added = c.total_changes - before
        c.execute("INSERT INTO follow_state VALUES ('cursor', ?) ON CONFLICT(key) DO UPDATE SET value = "
                  "max(value, excluded.value)", (new_cursor,))
    return added


def existing_keys(store: Store, keys: Iterable[str]) -> set[str]:
    return {r[0] for r in select_in(store.conn, "SELECT news_key FROM follow_news WHERE news_key IN ({in})",
                                     sorted(set(keys)))}


def pending_subs(store: Store, not_alerted_since: str) -> list[str]:
    """Subscriptions with news waiting whose last alert is older than ``not_alerted_since`` (or none)."""
    return [r[0] for r in store.conn.execute(
        "SELECT DISTINCT n.sub_id FROM follow_news n WHERE n.alert_id IS NULL AND NOT EXISTS (SELECT 1 FROM "
        "follow_alerts a WHERE a.sub_id = n.sub_id AND a.created_at > ?) ORDER BY n.sub_id", (not_alerted_since,))]


def pending_news(store: Store, sub_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The waiting news of these subscriptions, each in arrival order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in select_in(store.conn, "SELECT rowid, sub_id, news_key, story_id, article_id, what, line FROM follow_news "
                       "WHERE alert_id IS NULL AND sub_id IN ({in}) ORDER BY rowid", sorted(set(sub_ids))):
        out.setdefault(r["sub_id"], []).append(dict(r))
    return out


def write_alerts(store: Store, alerts: Sequence[dict[str, Any]]) -> list[str]:
    """Alerts, their news marked as told and their deliveries queued, in one transaction (an alert exists with
    its whole delivery log or not at all).  An alert whose news another process told first is skipped; the ids
    of those written."""
    written = []
    with store.transaction() as c:
        for alert in alerts:
            rowids = alert["news"]
            taken = sum(1 for _ in select_in(c, "SELECT 1 FROM follow_news WHERE alert_id IS NOT NULL AND rowid IN ({in})",
                                             rowids))
            if taken:
                continue
            c.execute("INSERT INTO follow_alerts VALUES (?, ?, ?, ?, ?)",
                      (alert["id"], alert["sub_id"], alert["created_at"], alert["why"], _json(alert["stories"])))
            c.executemany("UPDATE follow_news SET alert_id = ? WHERE rowid = ?", [(alert["id"], r) for r in rowids])
            c.executemany("INSERT OR IGNORE INTO follow_deliveries (alert_id, channel, status) VALUES (?, ?, 'pending')",
                          [(alert["id"], ch) for ch in alert["channels"]])
            written.append(alert["id"])
    return written


# -- alerts and deliveries -------------------------------------------------------------------------


def _alert(store: Store, r: sqlite3.Row) -> Alert:
    prev = store.conn.execute(  # the previous alert, or when the subscription was made: "new since" then
        "SELECT coalesce((SELECT max(created_at) FROM follow_alerts WHERE sub_id = ? AND created_at < ?), "
        "(SELECT created_at FROM follow_subs WHERE id = ?))", (r["sub_id"], r["created_at"], r["sub_id"])).fetchone()[0]
    deliveries = dict(store.conn.execute("SELECT channel, status FROM follow_deliveries WHERE alert_id = ?",
                                         (r["id"],)).fetchall())
    return Alert(id=r["id"], sub_id=r["sub_id"], created_at=r["created_at"], why=r["why"],
                 stories=[AlertStory(**s) for s in json.loads(r["stories"])], since=prev,
                 deliveries={str(k): str(v) for k, v in deliveries.items()})


def alerts(store: Store, sub_id: str | None = None, limit: int = 50) -> list[Alert]:
    """Alerts newest first, of one subscription or all."""
    sql, args = "SELECT id, sub_id, created_at, why, stories FROM follow_alerts", []
    if sub_id is not None:
        sql += " WHERE sub_id = ?"
        args.append(sub_id)
    rows = store.conn.execute(sql + " ORDER BY created_at DESC, id LIMIT ?", [*args, limit]).fetchall()
    return [_alert(store, r) for r in rows]


def alert(store: Store, alert_id: str) -> Alert | None:
    r = store.conn.execute("SELECT id, sub_id, created_at, why, stories FROM follow_alerts WHERE id = ?",
                           (alert_id,)).fetchone()
    return _alert(store, r) if r else None


def due(store: Store, now: float, limit: int = 100) -> list[Delivery]:
    return [Delivery(**dict(r)) for r in store.conn.execute(
        "SELECT alert_id, channel, status, attempts, next_try, last_error, done_at FROM follow_deliveries "
        "WHERE status = 'pending' AND next_try <= ? ORDER BY next_try, alert_id LIMIT ?", (now, limit))]


def deliveries(store: Store, status: str | None = None, limit: int = 100) -> list[Delivery]:
    sql, args = "SELECT alert_id, channel, status, attempts, next_try, last_error, done_at FROM follow_deliveries", []
    if status:
        sql += " WHERE status = ?"
        args.append(status)
    return [Delivery(**dict(r)) for r in store.conn.execute(sql + " ORDER BY alert_id, channel LIMIT ?", [*args, limit])]


def claim(store: Store, alert_id: str, channel: str, seen_next_try: float, lease_until: float) -> bool:
    """Take a due delivery for one attempt (False when another process took it first): its next try moves to the
    end of the lease, so a sender that dies mid-attempt leaves it due again then, not lost."""
    with store.transaction() as c:
        return c.execute("UPDATE follow_deliveries SET next_try = ? WHERE alert_id = ? AND channel = ? AND "
                         "status = 'pending' AND next_try = ?", (lease_until, alert_id, channel, seen_next_try)).rowcount == 1


def record_delivery(store: Store, alert_id: str, channel: str, status: str, attempts: int, next_try: float,
                    error: str | None) -> None:
    with store.transaction() as c:
        c.execute("UPDATE follow_deliveries SET status = ?, attempts = ?, next_try = ?, last_error = ?, done_at = "
                  "CASE WHEN ? = 'pending' THEN NULL ELSE ? END WHERE alert_id = ? AND channel = ?",
                  (status, attempts, next_try, error, status, _now(), alert_id, channel))
