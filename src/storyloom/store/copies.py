"""SQL for the copies stage: fingerprints, candidate look-ups with bucket caps, links and groups.

The writers do not open transactions of their own: the copies stage runs one chunk of articles inside one
``store.transaction()`` (fingerprints, links and groups together), so a crash never leaves an article
fingerprinted but unlinked, and look-ups inside the chunk see the chunk's own fingerprints.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from storyloom.readmodels import CopyGroup, CopyGroupSummary, CopyLink, CopyMember
from storyloom.store.packing import article_of, json_text, key_of, pack_json_if_smaller, pack_keys, unpack_keys
from storyloom.store.sqlite import Store, _json, _now, select_in
from storyloom.timeparse import utc_key


def placeholders(n: int) -> str:
    return ",".join("?" * n)


STAGE = "copies"
KEY_TABLES = {("copy_bands", "band"), ("copy_sentences", "skey"), ("copy_anchors", "akey")}



def pending(store: Store) -> list[str]:
    """Articles queued for copy detection, in the order they were stored (all of them by default: the order
    costs a sort of the whole queue, so callers take the list once, not a chunk at a time)."""
    return [r[0] for r in store.conn.execute(
        "SELECT q.article_id FROM stage_queue q JOIN articles a ON a.id = q.article_id "
        "WHERE q.stage = ? ORDER BY a.rowid", (STAGE,))]


def stale(store: Store, version: str) -> bool:
    """True when fingerprints of other parameters are stored (they cannot be compared with new ones)."""
    return store.conn.execute("SELECT 1 FROM copy_prints WHERE version != ? LIMIT 1", (version,)).fetchone() is not None


def done(store: Store, ids: Sequence[str]) -> None:
    store.conn.executemany("DELETE FROM stage_queue WHERE stage = ? AND article_id = ?", [(STAGE, i) for i in ids])


def reset(store: Store) -> None:
    """Forget every fingerprint, link and group and queue every article again (a rebuild)."""
    with store.transaction() as c:
        for table in ("copy_prints", "copy_bands", "copy_sentences", "copy_anchors", "copy_keys", "copy_links",
                      "copy_groups"):
            c.execute(f"DELETE FROM {table}")
        c.execute("INSERT OR IGNORE INTO stage_queue SELECT ?, id FROM articles", (STAGE,))


def save_prints(store: Store, rows: Iterable[tuple[str, str, str, int, bytes, list[int], list[int]]]) -> None:
    """(article_id, version, exact, n_words, sketch, band keys, sentence keys) for each article."""
    c = store.conn
    for aid, version, exact, n_words, sk, bands, skeys in rows:
        k = held_of(store, aid)
        old = _lists(store, k)
        _delete(store, k, old[0], old[1], [])
        c.execute("INSERT OR REPLACE INTO copy_prints VALUES (?, ?, ?, ?, ?)", (aid, version, exact, n_words, sk))
        _insert(store, k, bands, skeys, [])
        _put_lists(store, k, bands, skeys, old[2])


# -- how the key tables hold an article: its rowid (migration 18) -------------------------------------------

Held = int | bytes | str  # an article as the key tables hold it: its rowid, or (not stored) packing.key_of


def held_of(store: Store, aid: str) -> Held:
    """How the key tables (``copy_bands``, ``copy_sentences``, ``copy_anchors``, ``copy_keys``) hold an article:
    its rowid in ``articles`` (2-3 bytes in a row, where its id took 8: 86 rows a real article, 0.46 KB; the
    rowid of an article never changes: every writer updates a row in place), or, for an article that is not
    stored (none of the stages' stores has one), the 8 bytes of its id (:func:`storyloom.store.packing.key_of`)."""
    row = store.conn.execute("SELECT rowid FROM articles WHERE id = ?", (aid,)).fetchone()
    return int(row[0]) if row else key_of(aid)


def ids_of(store: Store, helds: Iterable[Held]) -> dict[Held, str]:
    """The article ids the key tables' ``article_id`` values stand for (see :func:`held_of`), one query for all
    the rowids; a rowid no stored article has (none should) is left out."""
    out: dict[Held, str] = {}
    rowids = []
    for h in set(helds):
        if isinstance(h, int):
            rowids.append(h)
        else:
            out[h] = article_of(h)
    for r, i in select_in(store.conn, "SELECT rowid, id FROM articles WHERE rowid IN ({in})", sorted(rowids)):
        out[int(r)] = i
    return out


# -- an article's keys (copy_keys): what it holds in each key table, kept beside them ----------------------


def _lists(store: Store, held: Held) -> tuple[list[int], list[int], list[int]]:
    """(band, sentence, anchor keys) an article (as the key tables hold its id) holds in the key tables."""
    r = store.conn.execute("SELECT bands, skeys, akeys FROM copy_keys WHERE article_id = ?", (held,)).fetchone()
    return (unpack_keys(r[0]), unpack_keys(r[1]), unpack_keys(r[2])) if r else ([], [], [])


def _put_lists(store: Store, held: Held, bands: Sequence[int], skeys: Sequence[int], akeys: Sequence[int]) -> None:
    if not (bands or skeys or akeys):
        store.conn.execute("DELETE FROM copy_keys WHERE article_id = ?", (held,))
        return
    store.conn.execute(
        "INSERT INTO copy_keys (article_id, bands, skeys, akeys) VALUES (?, ?, ?, ?) ON CONFLICT(article_id) DO UPDATE "
        "SET bands = excluded.bands, skeys = excluded.skeys, akeys = excluded.akeys",
        (held, pack_keys(bands), pack_keys(skeys), pack_keys(akeys)))


def _delete(store: Store, held: Held, bands: Sequence[int], skeys: Sequence[int], akeys: Sequence[int]) -> None:
    for table, col, keys in (("copy_bands", "band", bands), ("copy_sentences", "skey", skeys),
                             ("copy_anchors", "akey", akeys)):
        store.conn.executemany(f"DELETE FROM {table} WHERE {col} = ? AND article_id = ?", [(x, held) for x in keys])


def _insert(store: Store, held: Held, bands: Sequence[int], skeys: Sequence[int], akeys: Sequence[int]) -> None:
    for table, keys in (("copy_bands", bands), ("copy_sentences", skeys), ("copy_anchors", akeys)):
        store.conn.executemany(f"INSERT OR IGNORE INTO {table} VALUES (?, ?)", [(x, held) for x in keys])


# -- exact classes: the articles with one normalised text share one representative (its smallest id) -------


def class_reps(store: Store, keys: Iterable[str]) -> dict[str, str]:
    """The smallest stored article id of each exact key (one index probe per key, whatever the class size)."""
    out: dict[str, str] = {}
    for key in sorted(set(keys)):
        row = store.conn.execute("SELECT min(article_id) FROM copy_prints WHERE exact = ?", (key,)).fetchone()
        if row and row[0] is not None:
            out[key] = row[0]
    return out


def class_rep_outside(store: Store, key: str, exclude: Sequence[str]) -> str | None:
    """The smallest member of an exact class that is not among ``exclude`` (a chunk being processed)."""
    row = store.conn.execute(
        f"SELECT min(article_id) FROM copy_prints WHERE exact = ? AND article_id NOT IN ({placeholders(len(exclude))})",
        [key, *exclude]).fetchone()
    return row[0] if row else None


def class_members(store: Store, key: str) -> list[str]:
    return [r[0] for r in store.conn.execute(
        "SELECT article_id FROM copy_prints WHERE exact = ? ORDER BY article_id", (key,))]


def stored_prints(store: Store, ids: Sequence[str]) -> dict[str, tuple[str, int, bytes]]:
    """(exact key, word count, sketch) of those of ``ids`` already fingerprinted."""
    sql = "SELECT article_id, exact, n_words, sketch FROM copy_prints WHERE article_id IN ({in})"
    return {r[0]: (r[1], r[2], bytes(r[3])) for r in select_in(store.conn, sql, ids)}


def keys_of(store: Store, aid: str) -> tuple[list[int], list[int]]:
    """The band and sentence keys an article holds in the buckets (none for a member of an exact class)."""
    bands, skeys, _ = _lists(store, held_of(store, aid))
    return bands, skeys


def drop_keys(store: Store, ids: Sequence[str]) -> None:
    """Take articles out of the candidate buckets (band, sentence and anchor keys): a member of an exact class
    is found through its representative, so a heap of copies holds one entry per bucket, not one each."""
    for i in ids:
        held = held_of(store, i)
        _delete(store, held, *_lists(store, held))
        _put_lists(store, held, [], [], [])


def set_keys(store: Store, aid: str, bands: Sequence[int], skeys: Sequence[int]) -> None:
    k = held_of(store, aid)
    old = _lists(store, k)
    _insert(store, k, bands, skeys, [])
    _put_lists(store, k, [*old[0], *bands], [*old[1], *skeys], old[2])


def prune_keys(store: Store, aid: str, holders: Sequence[str]) -> None:
    """Take ``aid`` out of the band and sentence buckets that any of ``holders`` (its copy group) is in."""
    held = held_of(store, aid)
    bands, skeys, akeys = _lists(store, held)
    if not (bands or skeys):
        return
    theirs_b: set[int] = set()
    theirs_s: set[int] = set()
    for h in holders:
        hb, hs, _ = _lists(store, held_of(store, h))
        theirs_b.update(hb)
        theirs_s.update(hs)
    gone_b, gone_s = [b for b in bands if b in theirs_b], [x for x in skeys if x in theirs_s]
    if gone_b or gone_s:
        _delete(store, held, gone_b, gone_s, [])
        _put_lists(store, held, [b for b in bands if b not in theirs_b], [x for x in skeys if x not in theirs_s], akeys)


def group_mates(store: Store, ids: Sequence[str]) -> list[str]:
    """Every member of the copy groups of ``ids``."""
    groups = sorted(set(group_of(store, ids).values()))
    return sorted(set(members(store, groups))) if groups else []


def forget_links(store: Store, ids: Sequence[str]) -> int:
    """Delete every link touching ``ids`` (articles whose text is being fingerprinted again)."""
    n = 0
    for i in ids:
        n += store.conn.execute("DELETE FROM copy_links WHERE a = ? OR b = ?", (i, i)).rowcount
    return n


def drop_exact_links(store: Store, rep: str) -> None:
    """The star of a representative that is being replaced (exact links always go from the smallest id)."""
    store.conn.execute("DELETE FROM copy_links WHERE a = ? AND kind = 'exact'", (rep,))


def take_links(store: Store, aid: str, kinds: Sequence[str]) -> list[str]:
    """Delete ``aid``'s links of ``kinds`` and return the articles at their other ends."""
    q = placeholders(len(kinds))
    rows = store.conn.execute(f"SELECT a, b FROM copy_links WHERE (a = ? OR b = ?) AND kind IN ({q})",
                              [aid, aid, *kinds]).fetchall()
    store.conn.executemany("DELETE FROM copy_links WHERE a = ? AND b = ?", [(r[0], r[1]) for r in rows])
    return sorted({r[1] if r[0] == aid else r[0] for r in rows})


def keyed_candidates(store: Store, table: str, column: str, keys: Sequence[int], exclude: str, cap: int,
                     min_shared: int = 1) -> tuple[dict[str, int], list[int]]:
    """Articles sharing keys with one article, with how many keys each shares; keys whose bucket holds more
    than ``cap`` articles are skipped (and returned, so the caller can log them): a giant bucket means a
    degenerate text (empty, one repeated line), and comparing against all of it would be quadratic.
    ``min_shared``: only articles sharing at least that many keys (counted by SQLite: an article's anchors meet
    hundreds of articles once or twice, and counting them row by row here was most of the look-up)."""
    if (table, column) not in KEY_TABLES:
        raise ValueError(f"not a key table: {table}.{column}")
    if not keys:
        return {}, []
    keys = sorted(set(keys))
    sizes = dict(store.conn.execute(
        f"SELECT {column}, count(*) FROM {table} WHERE {column} IN ({placeholders(len(keys))}) GROUP BY {column}", keys))
    over = [k for k in keys if sizes.get(k, 0) > cap]
    usable = [k for k in keys if 0 < sizes.get(k, 0) <= cap]
    held_hits: dict[Held, int] = {}
    if usable and min_shared > 1:
        for held, n in store.conn.execute(
            f"SELECT article_id, count(*) FROM {table} WHERE {column} IN ({placeholders(len(usable))}) "
            "AND article_id != ? GROUP BY article_id HAVING count(*) >= ?", [*usable, held_of(store, exclude), min_shared]):
            held_hits[held] = n
    elif usable:
        for (held,) in store.conn.execute(
            f"SELECT article_id FROM {table} WHERE {column} IN ({placeholders(len(usable))}) AND article_id != ?",
            [*usable, held_of(store, exclude)]):
            held_hits[held] = held_hits.get(held, 0) + 1
    ids = ids_of(store, held_hits)
    return {ids[h]: n for h, n in held_hits.items() if h in ids}, over


def keyed_candidates_many(store: Store, table: str, column: str, keyed: Mapping[str, Sequence[int]], cap: int,
                          min_shared: int = 1) -> dict[str, tuple[dict[str, int], list[int]]]:
    """:func:`keyed_candidates` of many articles (id → its keys) at once, with the same answer for each as its
    own call: for look-ups that nothing written between them can change (the translation search's anchor
    candidates of a chunk, all asked after the chunk's anchors are stored).

    Why: one call an article made two statements of its own (its IN list's length makes each a new statement to
    compile) and read a shared key's bucket once per article holding the key; here each bucket's size and
    members are read once for the whole chunk (two statements per :data:`IN_CHUNK` keys) and the shared keys
    are counted with ``Counter`` (in C)."""
    if (table, column) not in KEY_TABLES:
        raise ValueError(f"not a key table: {table}.{column}")
    wanted = {aid: sorted(set(keys)) for aid, keys in keyed.items()}
    every = sorted({k for keys in wanted.values() for k in keys})
    sizes: dict[int, int] = {}
    for k, n in select_in(store.conn, f"SELECT {column}, count(*) FROM {table} WHERE {column} IN ({{in}}) "
                          f"GROUP BY {column}", every):
        sizes[k] = n
    usable = [k for k in every if k in sizes and sizes[k] <= cap]
    held_by: dict[int, list[Held]] = {}
    for k, held in select_in(store.conn, f"SELECT {column}, article_id FROM {table} WHERE {column} IN ({{in}})", usable):
        held_by.setdefault(k, []).append(held)
    ids = ids_of(store, {h for helds in held_by.values() for h in helds})
    out: dict[str, tuple[dict[str, int], list[int]]] = {}
    for aid, keys in wanted.items():
        counts: Counter[Held] = Counter()
        for k in keys:
            if k in held_by:
                counts.update(held_by[k])
        counts.pop(held_of(store, aid), None)
        out[aid] = ({ids[held]: n for held, n in counts.items() if n >= min_shared and held in ids},
                    [k for k in keys if sizes.get(k, 0) > cap])
    return out


def texts(store: Store, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Title, text, publication time, language, outlet, length and rank (store order: ``rowid``) of articles."""
    sql = ("SELECT a.id, a.title, t.text, a.published, a.language, a.outlet, coalesce(a.chars, length(a.text)) AS n, "
           "a.rowid AS rank FROM articles a JOIN article_texts t ON t.rowid = a.rowid WHERE a.id IN ({in})")
    return {r["id"]: dict(r) for r in select_in(store.conn, sql, ids)}


def save_links(store: Store, links: Iterable[dict[str, Any]]) -> int:
    n = 0
    for link in links:
        store.conn.execute(
            "INSERT OR REPLACE INTO copy_links VALUES (?, ?, ?, ?, ?, ?, ?)",
            (link["a"], link["b"], link["kind"], link["score"], link["direction"],
             _json(link.get("details", {})), pack_json_if_smaller(link.get("evidence", []))),
        )
        n += 1
    return n


def linked(store: Store, ids: Sequence[str]) -> list[tuple[str, str]]:
    sql = "SELECT a, b FROM copy_links WHERE a IN ({in}) UNION SELECT a, b FROM copy_links WHERE b IN ({in})"
    return [(r[0], r[1]) for r in select_in(store.conn, sql, ids)]


def group_of(store: Store, ids: Sequence[str]) -> dict[str, str]:
    sql = "SELECT article_id, group_id FROM copy_groups WHERE article_id IN ({in})"
    return {r[0]: r[1] for r in select_in(store.conn, sql, ids)}


def members(store: Store, group_ids: Sequence[str]) -> list[str]:
    return [r[0] for r in select_in(store.conn, "SELECT article_id FROM copy_groups WHERE group_id IN ({in})", group_ids)]


def save_groups(store: Store, assignment: dict[str, str]) -> None:
    store.conn.executemany("INSERT OR REPLACE INTO copy_groups VALUES (?, ?)", sorted(assignment.items()))


def rename_groups(store: Store, renames: dict[str, str]) -> None:
    """Give every member of each old group (key) its merged group's id (value): one indexed update per group."""
    store.conn.executemany("UPDATE copy_groups SET group_id = ? WHERE group_id = ?",
                           [(new, old) for old, new in sorted(renames.items()) if new != old])


def log_event(store: Store, stage: str, message: str) -> None:
    store.conn.execute("INSERT INTO events (at, stage, message) VALUES (?, ?, ?)", (_now(), stage, message))


def group_detail(store: Store, group_id: str) -> CopyGroup | None:
    """A copy group with its members (canonical first) and every link with its evidence."""
    rows = store.conn.execute(
        "SELECT a.id, a.title, a.outlet, a.published, a.language, a.url, coalesce(a.chars, length(a.text)) AS chars "
        "FROM copy_groups g JOIN articles a ON a.id = g.article_id WHERE g.group_id = ?", (group_id,)).fetchall()
    if not rows:
        return None
    mem = [dict(r) for r in rows]
    mem.sort(key=canonical_order)
    ids = [m["id"] for m in mem]
    # joined, not an IN list of the members: a group of copies can hold more ids than SQLite takes parameters
    links = [dict(r) for r in store.conn.execute(
        "SELECT l.* FROM copy_groups ga JOIN copy_links l ON l.a = ga.article_id "
        "JOIN copy_groups gb ON gb.article_id = l.b AND gb.group_id = ga.group_id "
        "WHERE ga.group_id = ? ORDER BY l.a, l.b", (group_id,))]
    for link in links:
        link["details"] = json.loads(link["details"])
        link["evidence"] = json.loads(json_text(link["evidence"]))
    return CopyGroup(group_id=group_id, canonical=ids[0], members=[CopyMember(**m) for m in mem],
                     links=[CopyLink(**link) for link in links])


def canonical_order(m: dict[str, Any]) -> tuple[Any, ...]:
    """Canonical member first: the earliest published (undated last), ties → the longest, then by id."""
    return (*utc_key(m["published"]), -(m.get("chars") or 0), m["id"])


def list_groups(store: Store, min_size: int = 2, limit: int = 50, offset: int = 0) -> list[CopyGroupSummary]:
    rows = store.conn.execute(
        "SELECT group_id, count(*) AS size FROM copy_groups GROUP BY group_id HAVING count(*) >= ? "
        "ORDER BY size DESC, group_id LIMIT ? OFFSET ?", (min_size, limit, offset)).fetchall()
    out = []
    for r in rows:
        detail = group_detail(store, r["group_id"])
        if detail:
            kinds: dict[str, int] = {}
            for link in detail.links:
                kinds[link.kind] = kinds.get(link.kind, 0) + 1
            out.append(CopyGroupSummary(group_id=r["group_id"], size=r["size"], canonical=detail.members[0],
                                        link_kinds=kinds))
    return out


# -- translations: anchors and embeddings -------------------------------------------------------------


def save_anchors(store: Store, rows: Iterable[tuple[str, list[int]]]) -> None:
    for aid, keys in rows:
        held = held_of(store, aid)
        bands, skeys, old = _lists(store, held)
        _delete(store, held, [], [], old)
        _insert(store, held, [], [], keys)
        _put_lists(store, held, bands, skeys, keys)


def languages(store: Store, ids: Sequence[str]) -> dict[str, str]:
    """The language of those of ``ids`` stored with a known one: the translation search keeps, of each
    article's candidates, those in another language than its own, for a whole chunk in one query."""
    sql = "SELECT id, language FROM articles WHERE id IN ({in}) AND language IS NOT NULL"
    return {r[0]: r[1] for r in select_in(store.conn, sql, sorted(set(ids)))}
