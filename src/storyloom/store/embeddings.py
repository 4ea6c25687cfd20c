"""SQL of the embedding cache: one vector per (article, model), computed once and reused by copies, stories and
compare (see :mod:`storyloom.embed.cache`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from storyloom.store.sqlite import Store, select_in


def save_embeddings(store: Store, model: str, rows: Iterable[tuple[str, bytes]]) -> None:
    with store.transaction() as c:
        c.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)", [(aid, model, vec) for aid, vec in rows])


def load_embeddings(store: Store, model: str, ids: Sequence[str]) -> dict[str, bytes]:
    sql = "SELECT article_id, vec FROM embeddings WHERE model = ? AND article_id IN ({in})"
    return {r[0]: r[1] for r in select_in(store.conn, sql, ids, before=[model])}


def embedding_pool(store: Store, model: str, since: str | None, until: str | None,
                   limit: int) -> list[tuple[str, str, bytes]]:
    """(id, language, vector) of articles with a known language published in [since, until] (undated ones
    too), newest first, at most ``limit``: where a translation of the chunk's articles can be."""
    where = ["e.model = ?", "a.language IS NOT NULL"]
    args: list[Any] = [model]
    if since and until:
        where.append("(a.published_utc BETWEEN ? AND ? OR a.published IS NULL)")
        args += [since, until]
    sql_ = (f"SELECT a.id, a.language, e.vec FROM embeddings e JOIN articles a ON a.id = e.article_id "
            f"WHERE {' AND '.join(where)} ORDER BY a.rowid DESC LIMIT ?")
    return [(r[0], r[1], r[2]) for r in store.conn.execute(sql_, [*args, limit])]
