"""The tables a batch run writes (Parquet, one folder each) — the same columns whichever engine made them.

JSON-valued columns (``extra``, ``meta``, ``details``…) hold the JSON text the store keeps, serialised the
store's way, so a loaded store is byte-for-byte what an ingest would have written.
"""

from __future__ import annotations

from typing import Any

S, L, I, D, B = "string", "long", "int", "double", "binary"
LONGS = "array<long>"

TABLES: dict[str, list[tuple[str, str]]] = {
    "articles": [
        ("id", S), ("blob", S), ("kind", S), ("location", S), ("url", S), ("canonical_url", S), ("title", S),
        ("text", S), ("text_hash", S), ("published", S), ("date_flag", S), ("outlet", S), ("author", S),
        ("language", S), ("extra", S), ("warnings", S), ("previous_id", S), ("ingested_at", S), ("body", S),
        ("meta", S), ("declared", S), ("template_group", S),
    ],
    "removed_spans": [("article_id", S), ("start", L), ("end", L), ("reason", S), ("rule", S)],
    "blobs": [("sha256", S), ("size", L), ("data", B)],
    "sightings": [("article_id", S), ("location", S), ("blob", S)],
    "copy_prints": [("article_id", S), ("version", S), ("exact", S), ("n_words", L), ("sketch", B),
                    ("bands", LONGS), ("skeys", LONGS)],
    "copy_links": [("a", S), ("b", S), ("kind", S), ("score", D), ("direction", S), ("details", S), ("evidence", S)],
    "copy_groups": [("article_id", S), ("group_id", S)],
    "stories": [("id", S), ("label", S), ("label_article", S), ("label_score", D), ("first_seen", S),
                ("last_seen", S), ("n_articles", L), ("outlets", S), ("languages", S), ("centroid", B),
                ("n_vectors", L), ("terms", S), ("entities", S)],
    "story_members": [("article_id", S), ("story_id", S), ("score", D), ("reason", S), ("time", S), ("time_flag", S)],
    "story_events": [("kind", S), ("story_id", S), ("other_id", S), ("article_id", S), ("detail", S)],
    "term_df": [("term", S), ("df", L)],
    "errors": [("location", S), ("reason", S), ("status", S)],
}

MANIFEST = "_storyloom_batch.json"


def ddl(table: str) -> str:
    """Spark's DDL schema string of a table."""
    return ", ".join(f"`{name}` {typ}" for name, typ in TABLES[table])


def arrow_schema(table: str) -> Any:
    import pyarrow as pa

    types = {S: pa.string(), L: pa.int64(), I: pa.int32(), D: pa.float64(), B: pa.binary(), LONGS: pa.list_(pa.int64())}
    return pa.schema([(name, types[typ]) for name, typ in TABLES[table]])


def columns(table: str) -> list[str]:
    return [name for name, _ in TABLES[table]]
