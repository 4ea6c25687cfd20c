"""Numbered schema migrations.  Append, never edit a released one: stores in the wild are at every step.

The number applied is kept in ``PRAGMA user_version`` (atomic with the migration's transaction) and
mirrored in ``schema_migrations`` for humans.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "articles, raw blobs, sightings, removed spans, FTS5, feeds",
        """
        CREATE TABLE schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL
        );
        -- Raw input bytes, content-addressed: every later stage can be re-run without fetching again.
        CREATE TABLE blobs (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            codec TEXT NOT NULL,          -- 'raw' or 'zlib'
            data BLOB NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE articles (
            rowid INTEGER PRIMARY KEY,    -- stable key for the FTS5 external-content index
            id TEXT NOT NULL UNIQUE,      -- content hash of the raw input (models.content_id)
            blob TEXT NOT NULL REFERENCES blobs(sha256),
            kind TEXT NOT NULL,
            location TEXT NOT NULL,       -- where it was first seen
            url TEXT,
            canonical_url TEXT,
            title TEXT NOT NULL,
            text TEXT NOT NULL,
            text_hash TEXT NOT NULL,      -- of title + text: tells a changed page from a re-fetch of the same
            published TEXT,               -- ISO 8601 UTC
            date_flag TEXT,
            outlet TEXT,
            author TEXT,
            language TEXT,
            extra TEXT NOT NULL DEFAULT '{}',
            warnings TEXT NOT NULL DEFAULT '[]',
            previous_id TEXT,             -- the earlier version of the page at the same URL
            ingested_at TEXT NOT NULL
        );
        CREATE INDEX articles_url ON articles(url);
        CREATE INDEX articles_outlet ON articles(outlet);
        CREATE INDEX articles_published ON articles(published);
        CREATE INDEX articles_language ON articles(language);
        -- Every place an article's raw input was seen (a file, a URL, a feed), with the blob seen there.
        CREATE TABLE sightings (
            article_id TEXT NOT NULL,
            location TEXT NOT NULL,
            blob TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            PRIMARY KEY (article_id, location, blob)
        ) WITHOUT ROWID;
        CREATE INDEX sightings_blob ON sightings(blob);
        CREATE TABLE removed_spans (
            article_id TEXT NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            reason TEXT NOT NULL,
            rule TEXT NOT NULL,
            PRIMARY KEY (article_id, start)
        ) WITHOUT ROWID;
        CREATE VIRTUAL TABLE articles_fts USING fts5(
            title, text, content='articles', content_rowid='rowid',
            tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
            INSERT INTO articles_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text);
        END;
        CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
            INSERT INTO articles_fts(articles_fts, rowid, title, text)
            VALUES ('delete', old.rowid, old.title, old.text);
        END;
        CREATE TRIGGER articles_au AFTER UPDATE OF title, text ON articles BEGIN
            INSERT INTO articles_fts(articles_fts, rowid, title, text)
            VALUES ('delete', old.rowid, old.title, old.text);
            INSERT INTO articles_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text);
        END;
        -- Polling state of watched feeds: conditional GET validators and error backoff.
        CREATE TABLE feeds (
            url TEXT PRIMARY KEY,
            title TEXT,
            etag TEXT,
            last_modified TEXT,
            last_checked REAL,
            last_status INTEGER,
            failures INTEGER NOT NULL DEFAULT 0,
            next_due REAL NOT NULL DEFAULT 0,
            last_error TEXT
        );
        """,
    ),
    (
        2,
        "cleaning: text before removals, text metadata, declared fields, template line counts",
        """
        ALTER TABLE articles ADD COLUMN body TEXT;            -- before furniture removal; spans index into it
        ALTER TABLE articles ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';   -- cited sources, attributions, dates
        ALTER TABLE articles ADD COLUMN declared TEXT NOT NULL DEFAULT '{}'; -- fields the source declared
        ALTER TABLE articles ADD COLUMN template_group TEXT;
        CREATE INDEX articles_template_group ON articles(template_group);
        -- In how many articles of a group (outlet, site, feed, folder) each line occurs: the corpus-level
        -- template detector.  Only first versions count, so re-fetches of one page do not make its lines look
        -- like templates.
        CREATE TABLE template_lines (
            grp TEXT NOT NULL,
            line_key TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (grp, line_key)
        ) WITHOUT ROWID;
        CREATE TABLE template_groups (grp TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
        """,
    ),
]

LATEST = MIGRATIONS[-1][0]
