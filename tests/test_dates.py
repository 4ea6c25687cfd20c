"""Dates: the outlet's own date and offset are kept and shown; orders use the UTC instant.

2022-01-28T00:00:00+01:00 used to be stored as 2022-01-27T23:00:00Z, another calendar day; US evening times
became the next day.  Now ``published`` is the ISO form of what the page or feed said (offset included, a
date-only value stays a date) and the store derives ``published_utc`` for ordering (a generated column, store.migrations).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from storyloom.clean.meta import normalize_date
from storyloom.pipeline import ingest
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store.queries import ArticleFilter, get_article, list_articles, stats
from storyloom.timeparse import ISO_Z, parse_time

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("raw,want", [
    ("2022-01-28T00:00:00+01:00", "2022-01-28T00:00:00+01:00"),  # not 2022-01-27T23:00:00Z
    ("2022-01-27T20:30:00-05:00", "2022-01-27T20:30:00-05:00"),  # a US evening stays that evening
    ("Fri, 28 Jan 2022 00:00:00 +0100", "2022-01-28T00:00:00+01:00"),  # RSS pubDate
    ("Jan 27, 2022 10:30 PM EST", "2022-01-27T22:30:00-05:00"),  # a zone abbreviation
    ("2022-01-28T10:00:00.123456+05:30", "2022-01-28T10:00:00+05:30"),
    ("2022-01-28T10:00:00Z", "2022-01-28T10:00:00Z"),
    ("2022-01-28T10:00:00+00:00", "2022-01-28T10:00:00Z"),
    ("2022-01-28 10:00:00", "2022-01-28T10:00:00Z"),  # no offset given: UTC, as before
    ("1643328000", "2022-01-28T00:00:00Z"),  # Unix seconds are UTC
    ("2022-01-28", "2022-01-28"),  # a date stays a date
    ("28 January 2022", "2022-01-28"),
    ("January 28, 2022", "2022-01-28"),
])
def test_normalize_date_keeps_the_outlets_offset_and_day(raw: str, want: str) -> None:
    assert normalize_date(raw, now=NOW) == (want, None)


@pytest.mark.parametrize("raw,flag", [
    ("2099-01-01T00:00:00+01:00", "date in the future"),
    ("1970-01-01T00:00:00Z", "date before 1990"),
    ("not a date at all", "unparseable date"),
    ("", "no date"),
])
def test_untrusted_dates_are_flagged(raw: str, flag: str) -> None:
    date, why = normalize_date(raw, now=NOW)
    assert date is None and why is not None and why.startswith(flag)


def test_a_date_just_past_midnight_ahead_of_utc_is_not_in_the_future() -> None:
    now = datetime(2022, 1, 27, 23, 30, tzinfo=UTC)
    assert normalize_date("2022-01-28T00:10:00+01:00", now=now) == ("2022-01-28T00:10:00+01:00", None)


def _records(tmp_path: Path) -> Path:
    recs = [
        {"title": "Berlin story", "text": "The Berlin council met at midnight to pass the budget.",
         "url": "https://a.example/1", "outlet": "A", "published": "2022-01-28T00:00:00+01:00"},
        {"title": "London story", "text": "The London council met late in the evening to debate buses.",
         "url": "https://b.example/1", "outlet": "B", "published": "2022-01-27T23:30:00Z"},
        {"title": "New York story", "text": "The New York council met in the evening to discuss the subway.",
         "url": "https://c.example/1", "outlet": "C", "published": "2022-01-27T18:45:00-05:00"},
        {"title": "Day only story", "text": "A council somewhere met on this day to discuss a park.",
         "url": "https://d.example/1", "outlet": "D", "published": "2022-01-26"},
    ]
    path = tmp_path / "dated.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in recs) + "\n", encoding="utf-8")
    return path


def test_store_keeps_the_outlets_date_and_orders_by_utc(tmp_path: Path, store: Store) -> None:
    settings = Settings(db_path=store.path, line_classifier=False, run_copies=False, run_stories=False)
    rep = ingest([str(_records(tmp_path))], store, settings)
    assert rep.counts["added"] == 4, rep.errors
    rows = {r["outlet"]: (r["published"], r["published_utc"])
            for r in store.conn.execute("SELECT outlet, published, published_utc FROM articles")}
    assert rows == {
        "A": ("2022-01-28T00:00:00+01:00", "2022-01-27T23:00:00Z"),
        "B": ("2022-01-27T23:30:00Z", "2022-01-27T23:30:00Z"),
        "C": ("2022-01-27T18:45:00-05:00", "2022-01-27T23:45:00Z"),
        "D": ("2022-01-26", "2022-01-26"),
    }
    # newest first by the instant: C (23:45Z), B (23:30Z), A (23:00Z); text order would put A first
    listed = list_articles(store, ArticleFilter(limit=10))
    assert [r.outlet for r in listed] == ["C", "B", "A", "D"]
    assert listed[2].published == "2022-01-28T00:00:00+01:00"  # shown as the outlet gave it
    a = get_article(store, next(r.id for r in listed if r.outlet == "A"))
    assert a is not None and a.published == "2022-01-28T00:00:00+01:00"
    s = stats(store)
    assert (s.first_published, s.last_published) == ("2022-01-26", "2022-01-27T23:45:00Z")
    # the day filter matches the days a reader sees
    assert [r.outlet for r in list_articles(store, ArticleFilter(since="2022-01-28", limit=10))] == ["A"]


def test_the_stories_stage_sees_time_flow_in_utc(tmp_path: Path, store: Store) -> None:
    from storyloom.store import stories as story_sql

    settings = Settings(db_path=store.path, line_classifier=False, run_copies=False, run_stories=False)
    ingest([str(_records(tmp_path))], store, settings)
    ids = [r[0] for r in store.conn.execute("SELECT id FROM articles")]
    store.conn.executemany("INSERT OR IGNORE INTO stage_queue (stage, article_id) VALUES (?, ?)",
                           [(story_sql.STAGE, i) for i in ids])
    order = story_sql.pending(store)
    outlets = dict(store.conn.execute("SELECT id, outlet FROM articles").fetchall())
    assert [outlets[i] for i in order] == ["D", "A", "B", "C"]
    got = story_sql.articles(store, order)
    assert {got[i]["outlet"]: got[i]["published"] for i in order}["A"] == "2022-01-27T23:00:00Z"


@hsettings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(1991, 1, 1), max_value=datetime(2025, 12, 1)),
       st.integers(min_value=-12 * 4, max_value=14 * 4))
def test_kept_offset_same_day_same_instant_and_sqlite_agrees(local: datetime, quarters: int) -> None:
    """Whatever the offset: the stored value is the outlet's own wall-clock day and time, it means the same
    instant to timeparse, and the store's published_utc (SQLite's own conversion) is that instant in UTC."""
    aware = local.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=15 * quarters)))
    stored, flag = normalize_date(aware.isoformat(), now=NOW)
    assert flag is None and stored is not None
    assert stored[:19] == aware.replace(tzinfo=None).isoformat()  # the outlet's own date and time
    assert parse_time(stored) == aware
    utc = sqlite3.connect(":memory:").execute("SELECT strftime('%Y-%m-%dT%H:%M:%SZ', ?)", (stored,)).fetchone()[0]
    assert utc == aware.astimezone(UTC).strftime(ISO_Z)
