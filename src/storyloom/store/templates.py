"""SQL for keeping template cleaning up to date as articles arrive (see :mod:`storyloom.retemplate`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

from storyloom.store.packing import line_hex, unpack_spans
from storyloom.store.sqlite import RECLEAN_SELECT, Store, select_in


def url_stored(store: Store, url: str, kind: str) -> bool:
    """Is an article of this kind stored at this URL (so a new text there is a version, not counted)?"""
    return store.conn.execute("SELECT 1 FROM articles WHERE url = ? AND kind = ? LIMIT 1", (url, kind)).fetchone() is not None


def group_sizes(store: Store, groups: Sequence[str]) -> dict[str, int]:
    sql = "SELECT grp, n FROM template_groups WHERE grp IN ({in})"
    return {r[0]: int(r[1]) for r in select_in(store.conn, sql, list(groups))}


def keys_counted_between(store: Store, group: str, lo: int, hi: int) -> dict[str, int]:
    """The group's line keys seen in ``lo``..``hi`` of its articles (those a moved threshold may flip)."""
    return {line_hex(r[0]): int(r[1]) for r in store.conn.execute(
        "SELECT l.line_key, l.n FROM template_groups g JOIN template_lines l ON l.gid = g.gid "
        "WHERE g.grp = ? AND l.n BETWEEN ? AND ?", (group, lo, hi))}


def group_bodies(store: Store, group: str) -> Iterator[tuple[str, bool, str, str | None]]:
    """(id, counted, body, template_skip) of every article of a template group; counted: a first version, whose
    lines count; template_skip as stored (store.packing.pack_skip)."""
    for r in store.conn.execute("SELECT a.id, a.previous_id IS NULL, t.body, a.template_skip FROM articles a "
                                "JOIN article_texts t ON t.rowid = a.rowid WHERE a.template_group = ? ORDER BY a.rowid",
                                (group,)):
        yield r[0], bool(r[1]), r[2] or "", r[3]


def template_span_starts(store: Store, ids: Sequence[str]) -> dict[str, set[int]]:
    """Where the stored articles' template spans start, by article id (none: no entry)."""
    out: dict[str, set[int]] = {}
    for r in select_in(store.conn, "SELECT article_id, spans FROM article_spans WHERE article_id IN ({in})", list(ids)):
        starts = {start for start, _, _, rule in unpack_spans(r[1]) if rule == "template"}
        if starts:
            out[r[0]] = starts
    return out


def set_template_skip(store: Store, rows: Sequence[tuple[str, str | None]]) -> None:
    """Record (id, packed template_skip) of articles whose cleaning is otherwise unchanged: bookkeeping only,
    so no later stage is queued again (in the caller's transaction when one is open)."""
    sql = "UPDATE articles SET template_skip = ? WHERE id = ?"
    if store.conn.in_transaction:
        store.conn.executemany(sql, [(skip, aid) for aid, skip in rows])
    else:
        with store.transaction() as c:
            c.executemany(sql, [(skip, aid) for aid, skip in rows])


def rows_for_reclean(store: Store, ids: Sequence[str]) -> list[sqlite3.Row]:
    """What re-cleaning needs of these articles (as :meth:`Store.iter_for_reclean` gives), in rowid order."""
    return sorted(select_in(store.conn, RECLEAN_SELECT + "WHERE a.id IN ({in})", list(ids)), key=lambda r: r["rowid"])
