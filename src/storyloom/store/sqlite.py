"""SQLite store: schema, migrations, the writers, and the connection setup.

WAL mode lets readers (the CLI, the web UI) work while a writer ingests.  Writes happen in batches, one
transaction each, so a process killed at any moment leaves the store as it was after the last complete
batch; re-running the ingest then adds exactly what is missing (every insert is keyed by a content hash).
Several writing processes take turns for SQLite's one write lock, a transaction at a time, each waiting
for the lock (with a progress line) rather than failing: see :meth:`Store.transaction`.
"""

from __future__ import annotations

import hashlib
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from storyloom.canonical import canonical_json
from storyloom.errors import StoreError
from storyloom.models import Article, RawDoc
from storyloom.settings import Settings
from storyloom.store.migrations import LATEST, MIGRATIONS, packed_read
from storyloom.store.packing import (
    BLOB_DICT_AFTER,
    PackedBlob,
    RawPacker,
    decode_blob,
    key_of,
    line_hex,
    line_int,
    pack_json_text,
    pack_skip,
    pack_spans,
    pack_text,
    register,
    stored_body,
    train_blob_dict,
)
from storyloom.timeparse import utc_now

log = logging.getLogger("storyloom.store")
T = TypeVar("T")

DEFAULT_BUSY_TIMEOUT_MS = 10_000  # SQLite's own wait on a locked store, for any one statement
DEFAULT_BUSY_WAIT = Settings.busy_wait_seconds  # seconds a writer waits for the write lock in all
DEFAULT_CACHE_MB = Settings.store_cache_mb  # page cache of a writing connection (SQLite's own default: 2 MB)
CACHED_STATEMENTS = 512  # prepared statements kept per connection (Python's default 128 churns: see set_cache_mb)
REPORT_EVERY = 5.0  # seconds between two "store busy" lines while waiting
QUEUED_STAGES = ("copies", "stories")  # incremental stages that must see every new or changed article


@dataclass(frozen=True)
class WriteOutcome:
    """What writing one item did: ``added`` a new article, ``version`` (added, linked to an older version
    at the same URL), ``unchanged`` (new raw bytes whose text equals the latest version: raw kept, no new
    article) or ``duplicate`` (these exact bytes were already stored)."""

    status: str
    article_id: str


_json = canonical_json


DECLARED = ("url", "title", "published", "outlet", "author", "language")


def declared_fields(raw: RawDoc) -> dict[str, object]:
    """What the source itself said about an item (feed entry, WARC header, JSON fields): kept so that a
    re-clean from the raw bytes starts from the same facts."""
    return {k: getattr(raw, k) for k in DECLARED if getattr(raw, k) is not None}


# What re-cleaning reads of stored articles (Store.iter_for_reclean, store.templates.rows_for_reclean): the raw
# input to clean again, the stored text and body to compare with, the fields a re-clean may change; + a WHERE clause
RECLEAN_SELECT = ("SELECT a.rowid, a.id, a.blob, a.kind, a.location, "
                  f"{packed_read('a.declared', 'storyloom_raw(b.codec, b.data)')} AS declared, a.extra, a.previous_id, "
                  "t.body, a.template_group, a.title, t.text, a.published, a.date_flag, a.author, a.language, "
                  "storyloom_json(a.meta) AS meta, a.outlet, a.url, a.canonical_url, a.template_skip, b.codec, b.data "
                  "FROM articles a JOIN blobs b ON b.sha256 = a.blob JOIN article_texts t ON t.rowid = a.rowid ")
IN_CHUNK = 400  # ids per "IN (…)" list: well under SQLite's 32,766 bound variables, even doubled


def select_in(conn: sqlite3.Connection, sql: str, keys: Sequence[Any], before: Sequence[Any] = (),
              after: Sequence[Any] = ()) -> Iterator[sqlite3.Row]:
    """Rows of ``sql`` for a long list of keys, in chunks: each ``{in}`` in ``sql`` becomes a "?, ?, …" list
    of one chunk (every occurrence gets the same chunk); ``before``/``after`` are the other parameters."""
    keys = list(keys)
    for i in range(0, len(keys), IN_CHUNK):
        chunk = keys[i : i + IN_CHUNK]
        n = sql.count("{in}")
        yield from conn.execute(sql.replace("{in}", ",".join("?" * len(chunk))), [*before, *(chunk * n), *after])


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """Is this SQLite's "the store is locked by another connection" (SQLITE_BUSY), which waiting cures?"""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF == sqlite3.SQLITE_BUSY
    return "database is locked" in str(exc)


def sql_statements(script: str) -> Iterator[str]:
    """The statements of a SQL script, one by one (a trigger's body, with its own semicolons, stays whole)."""
    buf = ""
    *pieces, tail = script.split(";")
    for piece in pieces:
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            yield buf
            buf = ""
    rest = "\n".join(line for line in (buf + tail).splitlines() if not line.strip().startswith("--")).strip()
    if rest:
        raise StoreError(f"incomplete SQL statement at the end of a script: {rest[:80]!r}")


_now = utc_now


def text_hash(title: str, text: str) -> str:
    return hashlib.sha256(f"{title}\x00{text}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Store:
    """A handle on one SQLite file.  Create one per thread.

    Several processes may write to one store (two ingests, ``watch`` beside an HTTP ingest…): SQLite lets one
    hold the write lock at a time, and a writer that finds it taken waits for it (see :meth:`transaction`)
    instead of failing its batch.  ``busy_wait_seconds`` is how long it waits in all before giving up with
    one clear :class:`StoreError`; when it is not given, a caller that named its own ``busy_timeout_ms``
    (the web UI keeping a comparison, which must never hold a page) waits just that long, and everyone else
    waits :data:`DEFAULT_BUSY_WAIT` seconds (``Settings.busy_wait_seconds``; the pipeline applies the
    configured value to the store it is given).
    """

    def __init__(self, path: str | Path, *, readonly: bool = False, busy_timeout_ms: int | None = None,
                 busy_wait_seconds: float | None = None) -> None:
        self.path = str(path)
        timeout_ms = DEFAULT_BUSY_TIMEOUT_MS if busy_timeout_ms is None else int(busy_timeout_ms)
        self.busy_timeout = max(0.0, timeout_ms / 1000)
        if busy_wait_seconds is not None:
            self.busy_wait_seconds = float(busy_wait_seconds)
        else:
            self.busy_wait_seconds = self.busy_timeout if busy_timeout_ms is not None else DEFAULT_BUSY_WAIT
        self.on_busy: Callable[[float], None] = self._log_busy  # called with the seconds waited so far
        self.longest_hold = 0.0  # seconds: the longest this handle held the write lock (one transaction)
        if readonly:
            if not Path(self.path).exists():
                raise StoreError(f"{self.path}: no such store (run `storyloom ingest` first)")
            uri = f"file:{Path(self.path).resolve()}?mode=ro"
            self.conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False,
                                        cached_statements=CACHED_STATEMENTS)
        else:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                        cached_statements=CACHED_STATEMENTS)
        self.conn.row_factory = sqlite3.Row
        self.blobs = register(self.conn)
        if not readonly:  # readers (the server's threads, one connection each) keep SQLite's 2 MB
            self.set_cache_mb(DEFAULT_CACHE_MB)
        self.conn.execute(f"PRAGMA busy_timeout = {timeout_ms}")
        self.conn.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            self._wait_out_busy("WAL set-up", lambda: self.conn.execute("PRAGMA journal_mode = WAL"))
            # NORMAL in WAL mode: a crash of the process never corrupts or loses a committed batch;
            # only an OS crash / power loss can drop the last batches, which a re-run restores.
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.migrate()
            self.pack_old_texts()
        else:
            self._check_version()
            if self.schema_version() < LATEST:
                self._upgrade_for_reading()

    def _upgrade_for_reading(self) -> None:
        """A reader (the web UI, ``storyloom article``) opening a store an older storyloom wrote: its reads use
        what the newer migrations made (the ``article_texts`` view, new columns), so the store is upgraded first,
        through a writing handle of its own, when the file can be written; when it cannot, the reader goes on and
        only what the old schema has can be read."""
        try:
            Store(self.path).close()
        except (StoreError, sqlite3.Error) as exc:
            log.warning("%s: a store at schema %d, older than this storyloom's %d, could not be upgraded (%s); "
                        "open it once for writing", self.path, self.schema_version(), LATEST, exc)

    def set_cache_mb(self, mb: int) -> None:
        """SQLite's page cache for this connection.  Its own default (2 MB) is far below what the stages touch at
        random per article (the word document frequencies, the active stories, the copy buckets, the FTS index).
        Measured (bench/store_cache.py): no difference up to 40k articles, where the OS's page cache holds the file;
        the larger bound is for stores past that.  Memory is taken as pages are read, up to this bound.  Statements are prepared once and reused from the connection's cache
        (``cached_statements``): the hot loops use a fixed set of SQL texts, and ``select_in`` lists come in one
        size but for the last chunk."""
        self.conn.execute(f"PRAGMA cache_size = {-1024 * int(mb)}")

    # -- waiting for the write lock -----------------------------------------------------------------

    def _log_busy(self, waited: float) -> None:
        log.warning("%s: store busy (another writer): waiting… %d s (gives up after %d s)",
                    self.path, round(waited), round(self.busy_wait_seconds))

    def _wait_out_busy(self, what: str, attempt: Callable[[], T]) -> T:
        """``attempt()`` until it does not find the store locked, for up to ``busy_wait_seconds`` in all.

        Only for statements that have done nothing when they fail with SQLITE_BUSY: BEGIN IMMEDIATE, COMMIT
        (SQLite keeps the transaction open then, and a COMMIT may be retried), a journal-mode change.  Each try
        lets SQLite's own busy handler wait, at most ``REPORT_EVERY`` seconds so that the user hears about it
        (``on_busy``); a try refused at once (SQLite does not wait where waiting could deadlock, e.g. two
        connections turning a new file to WAL) sleeps a random moment before the next, so they do not spin.
        """
        started = time.monotonic()
        budget = self.busy_wait_seconds
        full_ms = round(1000 * self.busy_timeout)
        current, next_report = full_ms, REPORT_EVERY
        try:
            while True:
                left = budget - (time.monotonic() - started)
                wanted = max(0, round(1000 * min(self.busy_timeout, REPORT_EVERY, left)))
                if wanted != current:
                    self.conn.execute(f"PRAGMA busy_timeout = {wanted}")
                    current = wanted
                tried = time.monotonic()
                try:
                    return attempt()
                except sqlite3.OperationalError as exc:
                    if not is_busy(exc):
                        raise
                    waited = time.monotonic() - started
                    if waited >= budget:
                        raise StoreError(
                            f"{self.path}: store busy: another writer kept the write lock for {waited:.0f} s "
                            f"(waiting for {what}); gave up (busy_wait_seconds = {self.busy_wait_seconds:g}). "
                            "Nothing of this unit of work was written: re-run to add the rest"
                        ) from exc
                if time.monotonic() - tried < 0.05:
                    time.sleep(min(max(0.0, budget - waited), random.uniform(0.02, 0.2)))
                waited = time.monotonic() - started
                if waited >= next_report:
                    self.on_busy(waited)
                    next_report = waited + REPORT_EVERY
        finally:
            if current != full_ms:
                self.conn.execute(f"PRAGMA busy_timeout = {full_ms}")

    # -- schema -------------------------------------------------------------------------------------

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _check_version(self, version: int | None = None) -> None:
        version = self.schema_version() if version is None else version
        if version > LATEST:
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this storyloom knows ({LATEST}); "
                "upgrade storyloom"
            )

    def migrate(self) -> list[int]:
        """Apply every migration newer than the store, each in its own transaction.

        Another process may be creating or upgrading the same store at this moment, so the version is read
        again *under the write lock* before each migration and only what is still missing is applied (the
        first read, without the lock, only spares an up-to-date store the lock: versions never go down).
        The statements run one by one inside the transaction, since ``executescript`` would commit it.
        """
        self._check_version()
        applied: list[int] = []
        if self.schema_version() >= LATEST:
            return applied
        # A migration that rebuilds a table other tables refer to (raw inputs, migration 12) drops the old one:
        # with foreign keys enforced SQLite would first delete its rows and refuse.  So they are off while
        # migrating (the pragma cannot change inside a transaction) and checked before each commit instead
        # (SQLite's own recipe for schema changes).
        self.conn.execute("PRAGMA foreign_keys = OFF")
        try:
            while True:
                with self.transaction() as c:
                    version = self.schema_version()
                    self._check_version(version)
                    todo = [m for m in MIGRATIONS if m[0] > version]
                    if not todo:
                        return applied
                    number, name, sql = todo[0]
                    try:
                        for statement in sql_statements(sql):
                            c.execute(statement)
                        broken = c.execute("PRAGMA foreign_key_check").fetchone()
                        if broken is not None:
                            raise sqlite3.IntegrityError(f"a row of {broken[0]} refers to a missing {broken[2]} row")
                        c.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (number, name, _now()))
                        c.execute(f"PRAGMA user_version = {int(number)}")
                    except sqlite3.Error as exc:  # the transaction rolls back: the store stays at `version`
                        raise StoreError(f"{self.path}: migration {number} ({name}) failed: {exc}") from exc
                applied.append(number)
        finally:
            self.conn.execute("PRAGMA foreign_keys = ON")

    def pack_old_texts(self, batch: int = 500) -> int:
        """Pack the plain texts a store held before migration 13 (:func:`pack_text`), a batch per transaction,
        so that upgrading a large store never holds the write lock for long and a process killed on the way
        resumes where it stopped (the cursor is in ``counters``, advanced with each batch).  Texts written since
        are packed already; the FTS index is left alone (its trigger sees the same text).  Returns the texts
        packed.  Nothing to do, the usual case, costs one lookup."""
        done = 0
        while True:
            state = dict(self.conn.execute(
                "SELECT key, value FROM counters WHERE key IN ('texts_packed_upto', 'texts_plain_upto')").fetchall())
            if len(state) < 2:
                return done
            with self.transaction() as c:
                state = dict(c.execute(
                    "SELECT key, value FROM counters WHERE key IN ('texts_packed_upto', 'texts_plain_upto')").fetchall())
                if len(state) < 2:
                    return done
                lo, hi = state["texts_packed_upto"], state["texts_plain_upto"]
                rows = c.execute(
                    "SELECT a.rowid, a.text, b.codec, b.data FROM articles a JOIN blobs b ON b.sha256 = a.blob "
                    "WHERE a.rowid > ? AND a.rowid <= ? ORDER BY a.rowid LIMIT ?", (lo, hi, batch)).fetchall()
                for rowid, text, codec, data in rows:
                    if isinstance(text, str):
                        packed = pack_text(text, decode_blob(codec, data, self.blobs))
                        if packed is not text:
                            c.execute("UPDATE articles SET text = ?, chars = ? WHERE rowid = ?", (packed, len(text), rowid))
                            done += 1
                if rows and rows[-1][0] < hi:
                    c.execute("UPDATE counters SET value = ? WHERE key = 'texts_packed_upto'", (rows[-1][0],))
                    continue
                c.execute("DELETE FROM counters WHERE key IN ('texts_packed_upto', 'texts_plain_upto')")
            log.info("%s: %d texts of an older store packed", self.path, done)
            return done

    def close(self) -> None:
        self.conn.close()

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def set_interrupt(self, stop: Callable[[], bool] | None, every: int = 20_000) -> None:
        """Stop a running statement (it raises ``sqlite3.OperationalError: interrupted``) as soon as ``stop()``
        says so, checked every ``every`` SQLite VM steps; None removes the check.  The server uses it to bound a
        request's time and to stop the work of a client that has gone."""
        if stop is None:
            self.conn.set_progress_handler(None, 0)
        else:
            self.conn.set_progress_handler(lambda: 1 if stop() else 0, every)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all or nothing.  IMMEDIATE takes the write lock up front.

        When another process holds the lock, BEGIN waits for it (reporting through ``on_busy``) for up to
        ``busy_wait_seconds``, then raises one :class:`StoreError`.  Retrying here, around BEGIN and COMMIT
        only, is enough to make every unit of work (a pipeline batch, a copies or stories chunk, a kept
        comparison) safe without re-running its body:

        * a BEGIN IMMEDIATE that failed with "database is locked" has done nothing, and the body has not run;
        * once BEGIN IMMEDIATE succeeded the body cannot meet a busy store in WAL mode: this connection holds
          the only write lock, and neither its statements nor COMMIT need another lock (the checkpoint after a
          commit is passive and never fails it).  Readers read their snapshot and do not block it;
        * were the store not in WAL mode (a file system without shared memory), COMMIT could find readers in
          the way: SQLite then keeps the transaction open and a COMMIT may simply be retried, which this does;
          a busy error *inside* the body (only possible then) rolls back and raises, with nothing written.

        Any other failure of COMMIT (disk full, I/O error) rolls back, so the handle never stays inside a
        transaction the next unit of work would trip over.
        """
        self._wait_out_busy("the write lock", lambda: self.conn.execute("BEGIN IMMEDIATE"))
        held_since = time.perf_counter()
        try:
            yield self.conn
        except BaseException as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and is_busy(exc):
                raise StoreError(f"{self.path}: store busy in the middle of a write (is it in WAL mode?); "
                                 "nothing of this unit was written") from exc
            raise
        try:
            self._wait_out_busy("its commit", lambda: self.conn.execute("COMMIT"))
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        finally:
            self.longest_hold = max(self.longest_hold, time.perf_counter() - held_since)

    # -- writes -------------------------------------------------------------------------------------

    def has_blob(self, key: str) -> bool:
        return self.conn.execute("SELECT 1 FROM blobs WHERE sha256 = ?", (key,)).fetchone() is not None

    def write_batch(self, items: Iterable[tuple[RawDoc, Article]],
                    then: Callable[[], object] | None = None,
                    packed: Mapping[str, PackedBlob] | None = None) -> list[WriteOutcome]:
        """Store a batch of (raw input, cleaned article) pairs in one transaction (``then`` runs inside it,
        after the writes: the ingest re-cleans there the stored articles whose template lines they changed).

        Idempotent: an item whose raw bytes are already stored only records the new place it was seen.
        A page at a URL already stored with other text becomes a new version linked to the latest one.
        The raw bytes are compressed before the write lock is taken: other writers wait for that lock, and
        compressing 500 web pages (~110 MB) took 1.8 s of a 4.6 s hold when it was done inside.

        ``packed``: raw inputs compressed already, by blob key, each as (dictionary id, codec, bytes): the
        ingest's cleaning workers compress them once the store has a dictionary (:class:`RawPacker`).  One is
        used only when made with the dictionary this batch writes with, so the stored bytes are the same
        whoever compressed them.
        """
        items = list(items)
        given = packed or {}
        new: dict[str, bytes] = {}  # the raw inputs this batch stores, in the order they are written
        for raw, art in items:
            if art.blob not in new and not self.has_blob(art.blob):
                new[art.blob] = raw.raw
        used = self.blobs.latest()
        # the batch that trains the store's dictionary compresses its raw inputs with it, under the lock: deflating
        # them first would be thrown away (500 web pages: ~3 s of CPU)
        blobs = None if used is None and self._trains_with(len(new)) else self._pack_blobs(new, used, given)
        # an item whose raw input is stored already is a duplicate, its text never written: a re-run packs nothing
        texts = {art.id: pack_text(art.text, raw.raw) for raw, art in items if art.blob in new}
        outcomes: list[WriteOutcome] = []
        now = _now()
        with self.transaction() as c:
            current = self.blobs.latest()
            if current is None:
                current = self._train_blob_dict(c, list(new.values()))
            if blobs is None or current != used:  # trained now, or by another writer since: read under the lock
                blobs = self._pack_blobs(new, current, given)
            packer = self.blobs.packer(current)
            for raw, art in items:
                outcomes.append(self._write_one(c, raw, art, now, packer, blobs.get(art.blob), texts.get(art.id)))
            if then is not None:
                then()
        return outcomes

    def _pack_blobs(self, new: Mapping[str, bytes], did: int | None,
                    given: Mapping[str, PackedBlob]) -> dict[str, tuple[str, bytes]]:
        """(codec, bytes) of each new raw input with dictionary ``did``: the form handed in when it was made with
        that dictionary, else compressed here."""
        packer = self.blobs.packer(did)
        out: dict[str, tuple[str, bytes]] = {}
        for key, data in new.items():
            ready = given.get(key)
            out[key] = (ready[1], ready[2]) if ready is not None and ready[0] == did else packer.encode(data)
        return out

    def _trains_with(self, n_new: int) -> bool:
        """Would a batch of ``n_new`` new raw inputs train the store's dictionary (:meth:`_train_blob_dict`)?  Read
        before the lock, so only a guess: the write decides again under it."""
        if self.conn.execute("SELECT 1 FROM blob_dicts LIMIT 1").fetchone() is not None:
            return False
        return int(self.conn.execute("SELECT count(*) FROM blobs").fetchone()[0]) + n_new >= BLOB_DICT_AFTER

    def _train_blob_dict(self, c: sqlite3.Connection, new: Sequence[bytes]) -> int | None:
        """The store's zstd dictionary for raw inputs (:func:`storyloom.store.packing.train_blob_dict`), trained in
        the batch that brings the store to :data:`BLOB_DICT_AFTER` raw inputs, on exactly the first that many (by
        rowid; those stored already, then this batch's ``new`` ones in order); the ones stored already are
        recompressed with it.  So every raw input of a store is compressed alike whatever the batches were (the
        first ones too), and a store written before migration 17 gets its dictionary from its own first raw
        inputs at its next write (its later ones stay zlib).  Returns the dictionary's id, None until then (or
        when the training found too little: an empty row says it was tried)."""
        if c.execute("SELECT 1 FROM blob_dicts LIMIT 1").fetchone() is not None:
            return None
        stored = c.execute("SELECT count(*) FROM blobs").fetchone()[0]
        if stored + len(new) < BLOB_DICT_AFTER:
            return None
        firsts = c.execute("SELECT rowid, codec, data FROM blobs ORDER BY rowid LIMIT ?", (BLOB_DICT_AFTER,)).fetchall()
        samples = [decode_blob(r[1], r[2], self.blobs) for r in firsts]
        samples += list(new[: BLOB_DICT_AFTER - len(samples)])
        made = train_blob_dict(samples)
        did = int(c.execute("INSERT INTO blob_dicts (samples, dict) VALUES (?, ?) RETURNING id",
                            (len(samples), made)).fetchone()[0])
        if not made:
            return None
        for rowid, codec, data in firsts:
            if codec == "zlib":
                c.execute("UPDATE blobs SET codec = ?, data = ? WHERE rowid = ?",
                          (*self.blobs.packer(did).encode(decode_blob(codec, data)), rowid))
        return did

    def _write_one(self, c: sqlite3.Connection, raw: RawDoc, art: Article, now: str, packer: RawPacker,
                   packed: tuple[str, bytes] | None = None, text: str | bytes | None = None) -> WriteOutcome:
        """One item; ``packed``: its raw input as stored, when the batch stores it (else it is stored already,
        or, should another writer have had it, compressed here by the batch's ``packer``: the same bytes)."""
        key = art.blob
        seen_as = key_of(key)  # how sightings hold a blob key: its 32 bytes (migration 20)
        existing = c.execute("SELECT article_id FROM sightings WHERE blob = ? LIMIT 1", (seen_as,)).fetchone()
        if existing is not None:
            c.execute(
                "INSERT OR IGNORE INTO sightings VALUES (?, ?, ?, ?)", (existing[0], raw.location, seen_as, now)
            )
            return WriteOutcome("duplicate", existing[0])
        th = text_hash(art.title, art.text)
        previous = None
        if art.url:
            previous = c.execute(
                "SELECT id, text_hash FROM articles WHERE url = ? AND kind = ? ORDER BY rowid DESC LIMIT 1",
                (art.url, art.kind),
            ).fetchone()
        if packed is None and not self.has_blob(key):
            packed = packer.encode(raw.raw)
        if packed is not None:
            c.execute("INSERT OR IGNORE INTO blobs (sha256, size, codec, data) VALUES (?, ?, ?, ?)",
                      (key, len(raw.raw), *packed))
        if previous is not None and previous["text_hash"] == th:
            c.execute("INSERT OR IGNORE INTO sightings VALUES (?, ?, ?, ?)", (previous["id"], raw.location, seen_as, now))
            return WriteOutcome("unchanged", previous["id"])
        c.execute(
            """INSERT INTO articles (id, blob, kind, location, url, canonical_url, title, text, text_hash,
                   published, date_flag, outlet, author, language, extra, warnings, previous_id, ingested_at,
                   body, meta, declared, template_group, chars, template_skip)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                art.id, key, art.kind, art.location, art.url, art.canonical_url, art.title,
                pack_text(art.text, raw.raw) if text is None else text, th,
                art.published, art.date_flag, art.outlet, art.author, art.language, _json(art.extra),
                _json(list(art.warnings)), previous["id"] if previous is not None else None, now,
                stored_body(art.body, art.text), pack_json_text(_json(art.meta)),
                # what the source said of the item is in its raw input: packed against it as the text is
                # (0.25 -> 0.03 KB a real article)
                pack_text(_json(declared_fields(raw)), raw.raw), art.template_group,
                len(art.text), pack_skip(art.template_skip),
            ),
        )
        self._write_spans(c, art)
        c.executemany("INSERT OR IGNORE INTO stage_queue VALUES (?, ?)", [(st, art.id) for st in QUEUED_STAGES])
        if previous is None and art.template_group:
            self._count_template_lines(c, art.template_group, art.line_keys)
        c.execute("INSERT OR IGNORE INTO sightings VALUES (?, ?, ?, ?)", (art.id, raw.location, seen_as, now))
        return WriteOutcome("version" if previous is not None else "added", art.id)

    @staticmethod
    def _write_spans(c: sqlite3.Connection, art: Article) -> None:
        packed = pack_spans((s.start, s.end, s.reason, s.rule) for s in art.removed)
        if packed is None:
            c.execute("DELETE FROM article_spans WHERE article_id = ?", (art.id,))
        else:
            c.execute("INSERT INTO article_spans (article_id, spans) VALUES (?, ?) "
                      "ON CONFLICT(article_id) DO UPDATE SET spans = excluded.spans", (art.id, packed))

    @staticmethod
    def _count_template_lines(c: sqlite3.Connection, group: str, keys: Iterable[str]) -> None:
        gid = c.execute(
            "INSERT INTO template_groups (grp, n) VALUES (?, 1) ON CONFLICT(grp) DO UPDATE SET n = n + 1 RETURNING gid",
            (group,)).fetchone()[0]
        c.executemany(
            "INSERT INTO template_lines VALUES (?, ?, 1) ON CONFLICT(gid, line_key) DO UPDATE SET n = n + 1",
            [(gid, line_int(k)) for k in sorted(set(keys))],
        )

    # -- template counts (storyloom.clean.text.TemplateCounts) --------------------------------------

    def group_size(self, group: str) -> int:
        row = self.conn.execute("SELECT n FROM template_groups WHERE grp = ?", (group,)).fetchone()
        return int(row[0]) if row else 0

    def line_counts(self, group: str, keys: Sequence[str]) -> dict[str, int]:
        sql = ("SELECT l.line_key, l.n FROM template_groups g JOIN template_lines l ON l.gid = g.gid "
               "WHERE g.grp = ? AND l.line_key IN ({in})")
        return {line_hex(r[0]): r[1] for r in select_in(self.conn, sql, [line_int(k) for k in keys], before=[group])}

    def rebuild_template_counts(self, rows: Iterable[tuple[str, Iterable[str]]]) -> None:
        """Recount template lines from scratch from (group, line keys) of every first version."""
        with self.transaction() as c:
            c.execute("DELETE FROM template_lines")
            c.execute("DELETE FROM template_groups")
            for group, keys in rows:
                self._count_template_lines(c, group, keys)

    # -- re-cleaning --------------------------------------------------------------------------------

    def iter_for_reclean(self, batch: int = 500) -> Iterator[list[sqlite3.Row]]:
        """Every article with what re-cleaning needs, in rowid order, a batch at a time."""
        last = 0
        while True:
            rows = self.conn.execute(
                RECLEAN_SELECT + "WHERE a.rowid > ? ORDER BY a.rowid LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            yield rows
            last = rows[-1]["rowid"]

    def update_cleaned(self, arts: Iterable[Article]) -> int:
        """Replace the cleaning results of stored articles (text, removals, metadata); FTS follows by trigger.
        In a transaction of its own, or in the caller's when one is open (see :meth:`write_batch`)."""
        if self.conn.in_transaction:
            return self._update_cleaned(self.conn, arts)
        with self.transaction() as c:
            return self._update_cleaned(c, arts)

    def _update_cleaned(self, c: sqlite3.Connection, arts: Iterable[Article]) -> int:
        n = 0
        for art in arts:
            c.execute(
                """UPDATE articles SET title = ?, text = ?, text_hash = ?, body = ?, meta = ?, author = ?,
                       published = ?, date_flag = ?, language = ?, outlet = ?, url = ?, canonical_url = ?,
                       template_group = ?, warnings = ?, chars = ?, template_skip = ?
                   WHERE id = ?""",
                (art.title, pack_text(art.text, self.raw_bytes(art.blob)), text_hash(art.title, art.text),
                 stored_body(art.body, art.text), pack_json_text(_json(art.meta)),
                 art.author,
                 art.published, art.date_flag, art.language, art.outlet, art.url, art.canonical_url,
                 art.template_group, _json(list(art.warnings)), len(art.text), pack_skip(art.template_skip),
                 art.id),
            )
            self._write_spans(c, art)
            c.executemany("INSERT OR IGNORE INTO stage_queue VALUES (?, ?)", [(st, art.id) for st in QUEUED_STAGES])
            n += 1
        return n

    def has_url(self, url: str) -> bool:
        """Is a page with this URL stored, under its final URL or the one it was fetched by?"""
        return (self.conn.execute("SELECT 1 FROM articles WHERE url = ? LIMIT 1", (url,)).fetchone() is not None
                or self.conn.execute("SELECT 1 FROM sightings WHERE location = ? LIMIT 1", (url,)).fetchone() is not None)

    def raw_bytes(self, key: str) -> bytes | None:
        row = self.conn.execute("SELECT codec, data FROM blobs WHERE sha256 = ?", (key,)).fetchone()
        return decode_blob(row["codec"], row["data"], self.blobs) if row else None

    # -- feed polling state -------------------------------------------------------------------------

    def feed_state(self, url: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()

    def save_feed_state(self, url: str, **fields: object) -> None:
        cols = ["url", *fields]
        updates = ", ".join(f"{k} = excluded.{k}" for k in fields) or "url = url"
        with self.transaction() as c:
            c.execute(
                f"INSERT INTO feeds ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                f"ON CONFLICT(url) DO UPDATE SET {updates}",
                [url, *fields.values()],
            )
