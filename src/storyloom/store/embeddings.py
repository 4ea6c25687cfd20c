"""SQL of the embedding cache: one vector per (article, model), computed once and reused by copies, stories and
compare (see :mod:`storyloom.embed.cache`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from storyloom.store.sqlite import Store, select_in


def save_embeddings(store: Store, model: str, rows: Iterable[tuple[str, bytes]], codec: str) -> None:
    """Keep vectors (``codec``: how the caller packed them, given back by the loaders) under (key, model)."""
    with store.transaction() as c:
        c.executemany("INSERT OR REPLACE INTO embeddings (article_id, model, codec, vec) VALUES (?, ?, ?, ?)",
                      [(aid, model, codec, vec) for aid, vec in rows])


def load_embeddings(store: Store, model: str, ids: Sequence[str]) -> dict[str, tuple[str, bytes]]:
    """key → (codec, packed vectors) of those of ``ids`` kept for ``model``."""
    sql = "SELECT article_id, codec, vec FROM embeddings WHERE model = ? AND article_id IN ({in})"
    return {r[0]: (r[1], r[2]) for r in select_in(store.conn, sql, ids, before=[model])}


def ranked_pool(store: Store, model: str, days: tuple[int, int] | None, max_rank: int,
                limit: int) -> Iterator[tuple[str, int, str, str | None, str, bytes]]:
    """(id, rank, language, published, codec, vector) of articles with a known language, stored up to ``max_rank``
    (rowid) and published within the day ordinals ``days`` (a day's margin either side: the caller filters
    exactly; undated ones too), newest first, at most ``limit``: where a translation of a chunk can be.  Read as the
    caller iterates: it must not run other statements on this connection meanwhile."""
    from datetime import date, timedelta

    where = ["e.model = ?", "a.language IS NOT NULL", "a.rowid <= ?"]
    args: list[Any] = [model, max_rank]
    if days is not None:
        lo = (date.fromordinal(days[0]) - timedelta(days=1)).isoformat()
        hi = (date.fromordinal(days[1]) + timedelta(days=1)).isoformat() + "T23:59:59~"
        where.append("(a.published_utc BETWEEN ? AND ? OR a.published_utc IS NULL OR a.published_utc NOT GLOB '[0-9]*')")
        args += [lo, hi]
    sql_ = (f"SELECT a.id, a.rowid, a.language, a.published, e.codec, e.vec FROM embeddings e JOIN articles a ON a.id = e.article_id "
            f"WHERE {' AND '.join(where)} ORDER BY a.rowid DESC LIMIT ?")
    # streamed, not listed: the caller keeps each vector in place (Pool.newest_first), never 20,000 rows at once
    return ((r[0], r[1], r[2], r[3], r[4], r[5]) for r in store.conn.execute(sql_, [*args, limit]))
