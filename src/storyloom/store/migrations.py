"""Numbered schema migrations.  Append, never edit a released one: stores in the wild are at every step.

The number applied is kept in ``PRAGMA user_version`` (atomic with the migration's transaction) and
mirrored in ``schema_migrations`` for humans.
"""

from __future__ import annotations


def packed_read(column: str, raw: str) -> str:
    """SQL reading a value kept by store.packing.pack_text as text; ``raw``: SQL giving the row's raw input, which
    is read only for a value packed against it (X'7a72313a' is 'zr1:', packing.TEXT_RAW_MAGIC)."""
    return f"storyloom_text({column}, CASE WHEN substr({column}, 1, 4) = X'7a72313a' THEN {raw} END)"


_RAW_OF = "(SELECT storyloom_raw(b.codec, b.data) FROM blobs b WHERE b.sha256 = {r}.blob)"
# An article's text as text, from the row ``{r}`` of ``articles`` (see migration 13 and store.packing.read_text).
TEXT_OF = packed_read("{r}.text", _RAW_OF)

# An article's declared fields as JSON text, from the row ``{r}``: kept as its text is (store.packing.pack_text,
# against the raw input those fields were read from), so read through the same function.
DECLARED_OF = packed_read("{r}.declared", _RAW_OF)

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
    (
        3,
        "copies: fingerprints, LSH bands, sentence keys, verified links, groups; a log of stage events",
        """
        CREATE TABLE copy_prints (
            article_id TEXT PRIMARY KEY,
            version TEXT NOT NULL,        -- fingerprint parameters (copies.fingerprint.SKETCH_VERSION)
            exact TEXT NOT NULL,          -- hash of the normalised text
            n_words INTEGER NOT NULL,
            sketch BLOB NOT NULL          -- MinHash signature, uint32 little-endian
        ) WITHOUT ROWID;
        CREATE INDEX copy_prints_exact ON copy_prints(exact);
        CREATE TABLE copy_bands (band INTEGER NOT NULL, article_id TEXT NOT NULL, PRIMARY KEY (band, article_id)) WITHOUT ROWID;
        CREATE TABLE copy_sentences (skey INTEGER NOT NULL, article_id TEXT NOT NULL, PRIMARY KEY (skey, article_id)) WITHOUT ROWID;
        -- Language-independent anchors (numbers, transliterated names): candidates for translated copies.
        CREATE TABLE copy_anchors (akey INTEGER NOT NULL, article_id TEXT NOT NULL, PRIMARY KEY (akey, article_id)) WITHOUT ROWID;
        -- Dense vectors of title + lead, per model (float16), computed once and reused by later stages.
        CREATE TABLE embeddings (
            article_id TEXT NOT NULL,
            model TEXT NOT NULL,
            vec BLOB NOT NULL,
            PRIMARY KEY (article_id, model)
        ) WITHOUT ROWID;
        -- One row per verified pair, a < b.  direction: same | a_in_b | b_in_a | a_from_b | b_from_a | unknown
        CREATE TABLE copy_links (
            a TEXT NOT NULL,
            b TEXT NOT NULL,
            kind TEXT NOT NULL,           -- exact | near_duplicate | containment | translation
            score REAL NOT NULL,
            direction TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '{}',   -- jaccard, containment both ways, anchors…
            evidence TEXT NOT NULL DEFAULT '[]',  -- aligned passages
            PRIMARY KEY (a, b)
        ) WITHOUT ROWID;
        CREATE INDEX copy_links_b ON copy_links(b);
        CREATE INDEX sightings_location ON sightings(location);  -- "have we got this page?" by any URL it had
        -- Every article's copy group; a group id is derived from its members only (order of arrival does not
        -- matter), and an article with no copies is a group of one.
        CREATE TABLE copy_groups (article_id TEXT PRIMARY KEY, group_id TEXT NOT NULL) WITHOUT ROWID;
        CREATE INDEX copy_groups_group ON copy_groups(group_id);
        CREATE TABLE events (
            rowid INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            stage TEXT NOT NULL,
            message TEXT NOT NULL
        );
        -- Work queues of the incremental stages: an article is queued when it is stored or its text changes,
        -- and leaves the queue in the same transaction that stores the stage's results for it.
        CREATE TABLE stage_queue (stage TEXT NOT NULL, article_id TEXT NOT NULL, PRIMARY KEY (stage, article_id)) WITHOUT ROWID;
        INSERT INTO stage_queue SELECT 'copies', id FROM articles;
        """,
    ),
    (
        4,
        "stories: records, members, entity index, events, document frequencies",
        """
        CREATE TABLE stories (
            id TEXT PRIMARY KEY,
            label TEXT NOT NULL,            -- the most representative headline
            label_article TEXT NOT NULL,
            label_score REAL NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            n_articles INTEGER NOT NULL,
            outlets TEXT NOT NULL,          -- {outlet: articles}
            languages TEXT NOT NULL,        -- {language: articles}
            centroid BLOB,                  -- float32 sum of member vectors (divide by n_vectors)
            n_vectors INTEGER NOT NULL,
            terms TEXT NOT NULL,            -- {term: summed tf-idf weight}, the heaviest kept
            entities TEXT NOT NULL,         -- {entity: count}, the commonest kept
            updated_at TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX stories_last_seen ON stories(last_seen);
        CREATE INDEX stories_first_seen ON stories(first_seen);
        CREATE TABLE story_members (
            article_id TEXT PRIMARY KEY,
            story_id TEXT NOT NULL,
            score REAL NOT NULL,
            reason TEXT NOT NULL,          -- opened | joined | copy | merged
            time TEXT NOT NULL,            -- the time used for ordering
            time_flag TEXT                 -- why it is not a trusted publication time
        ) WITHOUT ROWID;
        CREATE INDEX story_members_story ON story_members(story_id);
        CREATE TABLE story_entities (ekey TEXT NOT NULL, story_id TEXT NOT NULL, PRIMARY KEY (ekey, story_id)) WITHOUT ROWID;
        CREATE TABLE story_events (
            rowid INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,            -- open | merge
            story_id TEXT NOT NULL,
            other_id TEXT,
            article_id TEXT,
            detail TEXT
        );
        CREATE TABLE term_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
        INSERT OR IGNORE INTO stage_queue SELECT 'stories', id FROM articles;
        """,
    ),
    (
        5,
        "compare results kept per story version, so a story page is a read",
        """
        CREATE TABLE compare_cache (
            story_id TEXT PRIMARY KEY,
            version TEXT NOT NULL,        -- the story's updated_at and size, and the compare code's version
            result TEXT NOT NULL,         -- the JSON of compare.compare_story
            computed_at TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
    ),
    (
        6,
        "indexes for the per-article and per-story deletes of the copies and stories stages (without them every "
        "re-fingerprinted article or re-saved story scanned a whole key table: quadratic ingest)",
        """
        CREATE INDEX IF NOT EXISTS copy_bands_article ON copy_bands(article_id);
        CREATE INDEX IF NOT EXISTS copy_sentences_article ON copy_sentences(article_id);
        CREATE INDEX IF NOT EXISTS copy_anchors_article ON copy_anchors(article_id);
        CREATE INDEX IF NOT EXISTS story_entities_story ON story_entities(story_id);
        """,
    ),
    (
        7,
        "index the version chain: an article page asks for the next version of the article, which scanned every "
        "article (180 ms a page at 100k articles)",
        """
        CREATE INDEX IF NOT EXISTS articles_previous ON articles(previous_id) WHERE previous_id IS NOT NULL;
        """,
    ),
    (
        8,
        "the story feed's two orders as indexes: sorted by size, the feed sorted every story for its first page "
        "(60-120 ms at 100k articles), and by recency it sorted each day's stories again by size",
        """
        CREATE INDEX IF NOT EXISTS stories_by_size ON stories(n_articles DESC, last_seen DESC, id);
        CREATE INDEX IF NOT EXISTS stories_by_recency ON stories(last_seen DESC, n_articles DESC, id);
        """,
    ),
    (
        9,
        "index the story log by both stories: every story page read the whole log for its opens and merges, and "
        "a merged-away story's id is resolved to its survivor through it",
        """
        CREATE INDEX IF NOT EXISTS story_events_story ON story_events(story_id);
        CREATE INDEX IF NOT EXISTS story_events_other ON story_events(other_id) WHERE other_id IS NOT NULL;
        """,
    ),
    (
        10,
        "following: subscriptions, their match keys, the matching cursor, news, coalesced alerts, deliveries",
        """
        -- A subscription: a story, a saved search, an outlet or an entity; its token is the feed's capability.
        CREATE TABLE follow_subs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,             -- story | search | outlet | entity
            target TEXT NOT NULL,           -- story id, FTS5 query, outlet name, entity name
            filters TEXT NOT NULL DEFAULT '{}',  -- search: language, outlet, since, min_outlets
            owner TEXT NOT NULL DEFAULT '',
            token TEXT NOT NULL UNIQUE,
            webhook TEXT,
            secret TEXT,
            email TEXT,
            created_at TEXT NOT NULL
        ) WITHOUT ROWID;
        -- What a new article must carry for a subscription to be a candidate (story:ID, outlet:name,
        -- entity:key, term:word, prefix:abc): matching looks keys up, it never loops over subscriptions.
        CREATE TABLE follow_keys (key TEXT NOT NULL, sub_id TEXT NOT NULL, PRIMARY KEY (key, sub_id)) WITHOUT ROWID;
        CREATE INDEX follow_keys_sub ON follow_keys(sub_id);
        -- The last article (rowid) matching has looked at: advanced in the transaction that writes its news.
        CREATE TABLE follow_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO follow_state SELECT 'cursor', coalesce(max(rowid), 0) FROM articles;
        -- One line of news per (subscription, story, what): the unique key makes a re-run write nothing twice.
        CREATE TABLE follow_news (
            rowid INTEGER PRIMARY KEY,
            news_key TEXT NOT NULL UNIQUE,
            sub_id TEXT NOT NULL,
            story_id TEXT,
            article_id TEXT,
            what TEXT NOT NULL,             -- new_story | outlet | language | country | copy | fact | conflict | baseline
            line TEXT NOT NULL,
            at TEXT NOT NULL,
            alert_id TEXT                   -- NULL while waiting for the subscription's next alert
        );
        CREATE INDEX follow_news_pending ON follow_news(sub_id) WHERE alert_id IS NULL;
        CREATE INDEX follow_news_alert ON follow_news(alert_id);
        CREATE TABLE follow_alerts (
            id TEXT PRIMARY KEY,
            sub_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            why TEXT NOT NULL,
            stories TEXT NOT NULL           -- [{story_id, label, lines}]
        ) WITHOUT ROWID;
        CREATE INDEX follow_alerts_sub ON follow_alerts(sub_id, created_at);
        CREATE INDEX follow_alerts_created ON follow_alerts(created_at);
        -- The delivery log: one row per alert and channel, written with the alert; sent or dead once.
        CREATE TABLE follow_deliveries (
            alert_id TEXT NOT NULL,
            channel TEXT NOT NULL,          -- webhook | email
            status TEXT NOT NULL,           -- pending | sent | dead
            attempts INTEGER NOT NULL DEFAULT 0,
            next_try REAL NOT NULL DEFAULT 0,
            last_error TEXT,
            done_at TEXT,
            PRIMARY KEY (alert_id, channel)
        ) WITHOUT ROWID;
        CREATE INDEX follow_deliveries_due ON follow_deliveries(status, next_try);
        """,
    ),
    (
        11,
        "published keeps the outlet's own offset (2022-01-28T00:00:00+01:00 stays that calendar day); the UTC "
        "instant every order and window needs is derived from it in SQL, so no writer has to know about it",
        """
        ALTER TABLE articles ADD COLUMN published_utc TEXT GENERATED ALWAYS AS (
            CASE WHEN published IS NULL OR length(published) = 10 THEN published
                 ELSE coalesce(strftime('%Y-%m-%dT%H:%M:%SZ', published), published) END
        ) VIRTUAL;
        CREATE INDEX IF NOT EXISTS articles_published_utc ON articles(published_utc);
        """,
    ),
    (
        12,
        "issue 23's disk budget: raw inputs, embeddings, copy links and stories as rowid tables (in WITHOUT ROWID "
        "tables every row over ~1 KB left all but ~490 bytes to overflow pages: a 1 KB vector or a 3 KB raw input "
        "took a 4 KB page of its own), embeddings with their codec; article ids in the copy key tables and "
        "template line keys as integers or bytes, template groups by number",
        """
        CREATE TABLE blobs_v12 (
            sha256 TEXT NOT NULL UNIQUE,
            size INTEGER NOT NULL,
            codec TEXT NOT NULL,          -- 'raw' or 'zlib'
            data BLOB NOT NULL
        );
        INSERT INTO blobs_v12 (sha256, size, codec, data) SELECT sha256, size, codec, data FROM blobs ORDER BY sha256;
        DROP TABLE blobs;
        ALTER TABLE blobs_v12 RENAME TO blobs;
        CREATE TABLE embeddings_v12 (
            article_id TEXT NOT NULL,     -- or another key of what was embedded (a sentence's hash)
            model TEXT NOT NULL,
            codec TEXT NOT NULL,          -- 'f16': float16 rows; 'i8': int8 rows, each with its float32 scale
            vec BLOB NOT NULL,
            UNIQUE (article_id, model)
        );
        INSERT INTO embeddings_v12 (article_id, model, codec, vec)
            SELECT article_id, model, CASE WHEN model LIKE '%/sentence-int8' THEN 'i8' ELSE 'f16' END, vec
            FROM embeddings ORDER BY article_id, model;
        DROP TABLE embeddings;
        ALTER TABLE embeddings_v12 RENAME TO embeddings;
        CREATE TABLE copy_links_v12 (
            a TEXT NOT NULL,
            b TEXT NOT NULL,
            kind TEXT NOT NULL,           -- exact | near_duplicate | containment | translation
            score REAL NOT NULL,
            direction TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '{}',   -- jaccard, containment both ways, anchors…
            evidence TEXT NOT NULL DEFAULT '[]',  -- aligned passages
            UNIQUE (a, b)
        );
        INSERT INTO copy_links_v12 SELECT a, b, kind, score, direction, details, evidence FROM copy_links ORDER BY a, b;
        DROP TABLE copy_links;
        ALTER TABLE copy_links_v12 RENAME TO copy_links;
        CREATE INDEX copy_links_b ON copy_links(b);
        CREATE TABLE stories_v12 (
            id TEXT PRIMARY KEY,
            label TEXT NOT NULL,            -- the most representative headline
            label_article TEXT NOT NULL,
            label_score REAL NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            n_articles INTEGER NOT NULL,
            outlets TEXT NOT NULL,          -- {outlet: articles}
            languages TEXT NOT NULL,        -- {language: articles}
            centroid BLOB,                  -- float32 sum of member vectors (divide by n_vectors)
            n_vectors INTEGER NOT NULL,
            terms TEXT NOT NULL,            -- {term: summed tf-idf weight}, the heaviest kept
            entities TEXT NOT NULL,         -- {entity: count}, the commonest kept
            updated_at TEXT NOT NULL
        );
        INSERT INTO stories_v12 SELECT id, label, label_article, label_score, first_seen, last_seen, n_articles, outlets,
            languages, centroid, n_vectors, terms, entities, updated_at FROM stories ORDER BY id;
        DROP TABLE stories;
        ALTER TABLE stories_v12 RENAME TO stories;
        -- stories_last_seen is not made again: no statement of the store was planned on it (stories_by_recency
        -- starts with last_seen)
        CREATE INDEX stories_first_seen ON stories(first_seen);
        CREATE INDEX stories_by_size ON stories(n_articles DESC, last_seen DESC, id);
        CREATE INDEX stories_by_recency ON stories(last_seen DESC, n_articles DESC, id);
        -- the copy key tables: an article id as the 8 bytes its hex spells (storyloom_id_key: store.sqlite.key_of)

        CREATE TABLE copy_bands_v13 (band INTEGER NOT NULL, article_id NOT NULL, PRIMARY KEY (band, article_id)) WITHOUT ROWID;
        INSERT INTO copy_bands_v13 SELECT band, storyloom_id_key(article_id) FROM copy_bands ORDER BY 1, 2;
        DROP TABLE copy_bands;
        ALTER TABLE copy_bands_v13 RENAME TO copy_bands;
        CREATE INDEX copy_bands_article ON copy_bands(article_id);
        CREATE TABLE copy_sentences_v13 (skey INTEGER NOT NULL, article_id NOT NULL, PRIMARY KEY (skey, article_id)) WITHOUT ROWID;
        INSERT INTO copy_sentences_v13 SELECT skey, storyloom_id_key(article_id) FROM copy_sentences ORDER BY 1, 2;
        DROP TABLE copy_sentences;
        ALTER TABLE copy_sentences_v13 RENAME TO copy_sentences;
        CREATE INDEX copy_sentences_article ON copy_sentences(article_id);
        CREATE TABLE copy_anchors_v13 (akey INTEGER NOT NULL, article_id NOT NULL, PRIMARY KEY (akey, article_id)) WITHOUT ROWID;
        INSERT INTO copy_anchors_v13 SELECT akey, storyloom_id_key(article_id) FROM copy_anchors ORDER BY 1, 2;
        DROP TABLE copy_anchors;
        ALTER TABLE copy_anchors_v13 RENAME TO copy_anchors;
        CREATE INDEX copy_anchors_article ON copy_anchors(article_id);
        -- template counts: a group by a number, a line key as the 64-bit integer its hex spells
        -- (storyloom_line_int: store.sqlite.line_int), not ~25 + 16 characters in each of 35 rows an article
        CREATE TABLE template_groups_v12 (gid INTEGER PRIMARY KEY, grp TEXT NOT NULL UNIQUE, n INTEGER NOT NULL);
        INSERT INTO template_groups_v12 (grp, n) SELECT grp, n FROM template_groups ORDER BY grp;
        INSERT INTO template_groups_v12 (grp, n)
            SELECT DISTINCT grp, 0 FROM template_lines WHERE grp NOT IN (SELECT grp FROM template_groups) ORDER BY grp;
        CREATE TABLE template_lines_v12 (
            gid INTEGER NOT NULL,
            line_key INTEGER NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (gid, line_key)
        ) WITHOUT ROWID;
        INSERT INTO template_lines_v12 SELECT g.gid, storyloom_line_int(l.line_key), l.n
            FROM template_lines l JOIN template_groups_v12 g ON g.grp = l.grp ORDER BY 1, 2;
        DROP TABLE template_lines;
        DROP TABLE template_groups;
        ALTER TABLE template_groups_v12 RENAME TO template_groups;
        ALTER TABLE template_lines_v12 RENAME TO template_lines;
        """,
    ),
    (
        13,
        "issue 23's disk budget: article texts deflated (against their raw input when that is smaller: 5.54 -> 0.32 "
        "KB a real article), read through the view article_texts, which the FTS index now takes its content from",
        """
        -- The one place a stored text is decoded (store.packing.read_text): X'7a72313a' is 'zr1:', a text packed
        -- against its raw input, which is inflated only then.  Texts written before this migration are plain TEXT,
        -- read as they are (Store.pack_old_texts packs them afterwards, a bounded batch at a time).
        ALTER TABLE articles ADD COLUMN chars INTEGER;  -- characters of the text (NULL: a plain text, length(text))
        CREATE VIEW article_texts AS SELECT a.rowid AS rowid, a.id AS id, a.title AS title,
            @TEXT_A AS text,
            storyloom_body(a.body, @TEXT_A) AS body
            FROM articles a;
        DROP TRIGGER articles_ai;
        DROP TRIGGER articles_ad;
        DROP TRIGGER articles_au;
        DROP TABLE articles_fts;
        CREATE VIRTUAL TABLE articles_fts USING fts5(
            title, text, content='article_texts', content_rowid='rowid',
            tokenize='unicode61 remove_diacritics 2'
        );
        INSERT INTO articles_fts(articles_fts) VALUES ('rebuild');
        CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
            INSERT INTO articles_fts(rowid, title, text) SELECT rowid, title, text FROM article_texts WHERE rowid = new.rowid;
        END;
        CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
            INSERT INTO articles_fts(articles_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, @TEXT_OLD);
        END;
        -- a text packed anew (an older store's plain text, packed by Store.pack_old_texts) is the same text:
        -- the index is left alone then
        CREATE TRIGGER articles_au AFTER UPDATE OF title, text ON articles
            WHEN old.title IS NOT new.title OR @TEXT_OLD IS NOT @TEXT_NEW BEGIN
            INSERT INTO articles_fts(articles_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, @TEXT_OLD);
            INSERT INTO articles_fts(rowid, title, text) SELECT rowid, title, text FROM article_texts WHERE rowid = new.rowid;
        END;
        -- An article's keys in the three key tables as one row of sorted int64 lists (store.packing.pack_keys), in
        -- place of an index by article beside each table: a re-fingerprinted article's keys are deleted by key.
        CREATE TABLE copy_keys (
            article_id NOT NULL UNIQUE,   -- as the key tables hold it (store.packing.key_of)
            bands BLOB,
            skeys BLOB,
            akeys BLOB
        );
        INSERT INTO copy_keys (article_id, bands, skeys, akeys)
            SELECT k, (SELECT storyloom_pack_keys(band) FROM copy_bands WHERE article_id = k),
                   (SELECT storyloom_pack_keys(skey) FROM copy_sentences WHERE article_id = k),
                   (SELECT storyloom_pack_keys(akey) FROM copy_anchors WHERE article_id = k)
            FROM (SELECT article_id AS k FROM copy_bands UNION SELECT article_id FROM copy_sentences
                  UNION SELECT article_id FROM copy_anchors) ORDER BY k;
        DROP INDEX copy_bands_article;
        DROP INDEX copy_sentences_article;
        DROP INDEX copy_anchors_article;
        -- the rows Store.pack_old_texts still has to look at: rowid in (texts_packed_upto, texts_plain_upto]
        INSERT OR REPLACE INTO counters (key, value) VALUES ('texts_packed_upto', 0);
        INSERT OR REPLACE INTO counters (key, value) SELECT 'texts_plain_upto', coalesce(max(rowid), 0) FROM articles;
        """.replace("@TEXT_A", TEXT_OF.format(r="a"))
        .replace("@TEXT_OLD", TEXT_OF.format(r="old")).replace("@TEXT_NEW", TEXT_OF.format(r="new")),
    ),
    (
        14,
        "issue 23's disk budget: no MinHash sketch kept per article (512 bytes; the store reads only its band "
        "keys, computed again from the text: copies.classes.stored_keys; the batch export computes it too)",
        """
        -- an empty blob, not NULL: the column is NOT NULL, and a scratch store of the batch engines keeps sketches
        -- (Settings.copy_sketches); the pages freed are reused by later writes
        UPDATE copy_prints SET sketch = X'' WHERE length(sketch) > 0;
        """,
    ),
    (
        15,
        "issue 23's disk budget: the fast model's sentence matrices (a translation check's cache, 1.94 KB a real "
        "article, 22 % of them read back) are no longer kept (embed.cache.SentenceVectors)",
        """
        -- the slow model's cascade matrices (#head, #tail) stay
        DELETE FROM embeddings WHERE model LIKE '%#sents';
        """,
    ),
    (
        16,
        "issue 23's disk budget: an article's removed spans as one deflated row (store.packing.pack_spans), not a "
        "row per span: 0.35 -> 0.05 KB a real article",
        """
        CREATE TABLE article_spans (
            article_id TEXT NOT NULL UNIQUE,
            spans BLOB NOT NULL           -- [[start, end, reason, rule], ...] by start, deflated JSON
        );
        INSERT INTO article_spans (article_id, spans)
            SELECT article_id, storyloom_pack_spans(start, end, reason, rule) FROM removed_spans
            GROUP BY article_id ORDER BY article_id;
        DROP TABLE removed_spans;
        """,
    ),
    (
        17,
        "issue 23's disk budget: raw inputs compressed with a zstd dictionary the store trains on its first raw "
        "inputs (store.packing.train_blob_dict): 17-19 % smaller than zlib alone on the real texts",
        """
        -- A dictionary is written once and never changed; a raw input compressed with one says which in its
        -- codec ('zstd:1').  An empty dict: the training found too little, new raw inputs stay zlib.  Older raw
        -- inputs keep their codec (zlib reads as before); the ones the dictionary was trained on are recompressed
        -- with it (Store.write_batch), so a store's bytes do not depend on how its input was cut into batches.
        CREATE TABLE IF NOT EXISTS blob_dicts (
            id INTEGER PRIMARY KEY,
            samples INTEGER NOT NULL,     -- trained on the store's first `samples` raw inputs, by rowid
            dict BLOB NOT NULL
        );
        """,
    ),
    (
        18,
        "issue 23's disk budget: the copy key tables and copy_keys hold an article by its rowid (2-3 bytes) where "
        "they held the 8 bytes of its id (store.copies.held_of): 86 rows a real article, 0.46 KB",
        """
        -- what each stored article was held as (store.packing.key_of) and is held as now; a row of an article that
        -- is not stored keeps its 8 bytes (store.copies.ids_of reads both).  Run again, it changes nothing: a
        -- rowid is no key_of value.
        CREATE TEMP TABLE held_v18 (k PRIMARY KEY, r INTEGER NOT NULL) WITHOUT ROWID;
        INSERT OR IGNORE INTO temp.held_v18 SELECT storyloom_id_key(id), rowid FROM articles;
        CREATE TABLE copy_bands_v18 (band INTEGER NOT NULL, article_id NOT NULL, PRIMARY KEY (band, article_id)) WITHOUT ROWID;
        INSERT INTO copy_bands_v18 SELECT k.band, coalesce(m.r, k.article_id) FROM copy_bands k
            LEFT JOIN temp.held_v18 m ON m.k = k.article_id ORDER BY 1, 2;
        DROP TABLE copy_bands;
        ALTER TABLE copy_bands_v18 RENAME TO copy_bands;
        CREATE TABLE copy_sentences_v18 (skey INTEGER NOT NULL, article_id NOT NULL, PRIMARY KEY (skey, article_id)) WITHOUT ROWID;
        INSERT INTO copy_sentences_v18 SELECT k.skey, coalesce(m.r, k.article_id) FROM copy_sentences k
            LEFT JOIN temp.held_v18 m ON m.k = k.article_id ORDER BY 1, 2;
        DROP TABLE copy_sentences;
        ALTER TABLE copy_sentences_v18 RENAME TO copy_sentences;
        CREATE TABLE copy_anchors_v18 (akey INTEGER NOT NULL, article_id NOT NULL, PRIMARY KEY (akey, article_id)) WITHOUT ROWID;
        INSERT INTO copy_anchors_v18 SELECT k.akey, coalesce(m.r, k.article_id) FROM copy_anchors k
            LEFT JOIN temp.held_v18 m ON m.k = k.article_id ORDER BY 1, 2;
        DROP TABLE copy_anchors;
        ALTER TABLE copy_anchors_v18 RENAME TO copy_anchors;
        UPDATE copy_keys SET article_id = (SELECT m.r FROM temp.held_v18 m WHERE m.k = copy_keys.article_id)
            WHERE article_id IN (SELECT k FROM temp.held_v18);
        DROP TABLE temp.held_v18;
        """,
    ),
    (
        19,
        "issue 23's disk budget: the FTS index's columns as (text, title): FTS5 marks every term's positions in a "
        "column other than the first with two bytes, and most terms of an article are in its text (3.16 -> 2.51 "
        "KB a real article); the same hits, scores and snippets (store.queries.search reads the columns' order)",
        """
        -- the triggers of migration 13 name the columns, so they are left as they are
        DROP TABLE articles_fts;
        CREATE VIRTUAL TABLE articles_fts USING fts5(
            text, title, content='article_texts', content_rowid='rowid',
            tokenize='unicode61 remove_diacritics 2'
        );
        INSERT INTO articles_fts(articles_fts) VALUES ('rebuild');
        """,
    ),
    (
        20,
        "issue 23's disk budget: a sighting holds its raw input's SHA-256 as its 32 bytes, not 64 hex characters "
        "(in the table and both its indexes: 0.09 KB a real article); readers get the hex back (storyloom_hex)",
        """
        CREATE TABLE sightings_v20 (
            article_id TEXT NOT NULL,
            location TEXT NOT NULL,
            blob NOT NULL,                -- store.packing.key_of of the blob's key: its bytes (hex keys), else the text
            first_seen TEXT NOT NULL,
            PRIMARY KEY (article_id, location, blob)
        ) WITHOUT ROWID;
        INSERT INTO sightings_v20 SELECT article_id, location,
            CASE WHEN typeof(blob) = 'text' THEN storyloom_id_key(blob) ELSE blob END, first_seen
            FROM sightings ORDER BY 1, 2, 3;
        DROP TABLE sightings;
        ALTER TABLE sightings_v20 RENAME TO sightings;
        CREATE INDEX sightings_blob ON sightings(blob);
        CREATE INDEX sightings_location ON sightings(location);
        """,
    ),
    (
        21,
        "issue 23's bounded template work: an article's lines the template layer does not judge (store.packing."
        "pack_skip), so a stored article's template lines are judged again without cleaning it from its raw bytes",
        """
        -- NULL for the articles stored before: storyloom.retemplate cleans those from their raw bytes, as before,
        -- and fills it in then
        ALTER TABLE articles ADD COLUMN template_skip TEXT;
        """,
    ),
]

LATEST = MIGRATIONS[-1][0]
