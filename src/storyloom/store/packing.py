"""The store's compact forms: how raw inputs, article texts, bodies, JSON values and key-table ids are kept on
disk, and read back.  Every form here is lossless (a raw input comes back byte for byte, a text or a body
character for character) and every reader accepts the plainer forms older stores hold.  Issue 23's disk budget
(15 KB a stored text article, raw input included) is why each exists; the figures are from
``bench/store_disk.py --real``.

The SQL side: :class:`storyloom.store.sqlite.Store` registers :func:`read_text`, :func:`decode_blob`,
:func:`read_body`, :func:`key_of` and :func:`line_int` on every connection (``storyloom_text``,
``storyloom_raw``, ``storyloom_body``, ``storyloom_id_key``, ``storyloom_line_int``), and the view
``article_texts`` (migration 13) gives every article's text and body as text: the one place that decodes them,
read by the FTS index (its external content) and by every reader of texts.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import struct
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from storyloom.canonical import canonical_json as _json
from storyloom.errors import StoreError
from storyloom.models import TemplateSkip


def register(conn: sqlite3.Connection) -> BlobDicts:
    """The decoding functions the schema uses (the view ``article_texts``, the FTS index's triggers, migrations),
    on a connection: every :class:`~storyloom.store.sqlite.Store` does this; a bare ``sqlite3`` connection that
    reads texts, searches with snippets or writes articles needs it too."""
    conn.create_function("storyloom_body", 2, read_body, deterministic=True)
    conn.create_function("storyloom_text", 2, read_text, deterministic=True)
    dicts = BlobDicts(conn)
    conn.create_function("storyloom_raw", 2, lambda codec, data: decode_blob(codec, data, dicts), deterministic=True)
    conn.create_function("storyloom_id_key", 1, key_of, deterministic=True)
    conn.create_function("storyloom_hex", 1, article_of, deterministic=True)
    conn.create_function("storyloom_json", 1, read_json, deterministic=True)
    conn.create_function("storyloom_line_int", 1, line_int, deterministic=True)
    conn.create_aggregate("storyloom_pack_keys", 1, KeysAggregate)  # type: ignore[arg-type]
    conn.create_aggregate("storyloom_pack_spans", 4, SpansAggregate)  # type: ignore[arg-type]
    return dicts


COMPRESS_OVER = 512  # bytes; smaller blobs are kept as they are (zlib would barely help)
COMPRESS_LEVEL = 6  # zlib's default: 8.6 % smaller raw inputs than level 1 on the real texts for 0.1 ms an article
BODY_MAGIC = b"zb1:"  # a packed body (stored_body); a plain body is TEXT
TEXT_MAGIC = b"zt1:"  # a text deflated alone (pack_text)
TEXT_RAW_MAGIC = b"zr1:"  # a text deflated with its raw input as zlib's preset dictionary (pack_text)
WINDOW = 32_768  # zlib's window: a preset dictionary longer than this is used by its last 32 KB only
RAW_DICT_MAX = 65_536  # bytes; a longer raw input is not tried as a text's dictionary (every read would inflate it)


def pack_text(text: str, raw: bytes | None) -> str | bytes:
    """What the ``text`` column holds: the smallest of the text itself, the text deflated alone, and the text
    deflated with the article's raw input as zlib's preset dictionary.

    Why the raw input: an article's text is cut from it (a JSON record's field, a page's paragraphs), so against
    it the text costs little more than where its pieces are.  On the 2,134 real texts: 5.54 KB of text an article,
    2.30 KB deflated alone, 0.32 KB against the raw input.  The raw input of an article never changes (it is
    content-addressed; a re-clean rewrites the text, packed again against the same raw input), so the dictionary
    a text was packed with is always there to read it.  Reading costs inflating the raw input too (68 µs an
    article on the real texts): raw inputs over :data:`RAW_DICT_MAX` are not tried, and the dictionary is their
    last :data:`WINDOW` bytes, all zlib looks at."""
    plain = text.encode("utf-8", "surrogatepass")
    best: str | bytes = text
    size = len(plain)
    alone = TEXT_MAGIC + zlib.compress(plain, COMPRESS_LEVEL)
    if len(alone) < size:
        best, size = alone, len(alone)
    if raw and len(raw) <= RAW_DICT_MAX:
        packer = zlib.compressobj(COMPRESS_LEVEL, zdict=raw[-WINDOW:])
        against = TEXT_RAW_MAGIC + packer.compress(plain) + packer.flush()
        if len(against) < size:
            best = against
    return best


def needs_raw(stored: str | bytes) -> bool:
    """Does reading this ``text`` value need the article's raw input (see :func:`pack_text`)?"""
    return isinstance(stored, bytes) and stored.startswith(TEXT_RAW_MAGIC)


def read_text(stored: str | bytes | None, raw: bytes | None = None) -> str | None:
    """The text a ``text`` column value stands for (:func:`pack_text`); ``raw``: the article's raw input, needed
    only when :func:`needs_raw` says so.  A plain TEXT value (what stores before migration 13 hold) is the text."""
    if stored is None or isinstance(stored, str):
        return stored
    if stored.startswith(TEXT_MAGIC):
        return zlib.decompress(stored[len(TEXT_MAGIC):]).decode("utf-8", "surrogatepass")
    if stored.startswith(TEXT_RAW_MAGIC):
        if not raw:
            raise StoreError("a text packed against a raw input that is missing")
        unpacker = zlib.decompressobj(zdict=bytes(raw[-WINDOW:]))
        return (unpacker.decompress(stored[len(TEXT_RAW_MAGIC):]) + unpacker.flush()).decode("utf-8", "surrogatepass")
    raise StoreError("a text of an unknown format")


def stored_body(body: str | None, text: str) -> bytes | None:
    """What the ``body`` column holds: NULL when the body is the text itself (nothing was removed, the case of
    most articles), else the body deflated with the text as zlib's preset dictionary.  The body is the text
    plus the lines cleaning removed, so against the text it costs only those lines: 3.25 KB a real article
    (over all articles, 551 of 2,134 with a body of their own) became 0.21 KB (issue 23's disk budget).
    Readers select ``storyloom_body(body, text)`` (:func:`read_body`, registered on every connection of the
    store), which also reads the plain-text bodies older stores hold.  The text and the body are always
    written together (a new article, a re-clean), so the dictionary is the one the body was packed with."""
    if body is None or body == text:
        return None
    packer = zlib.compressobj(6, zdict=text.encode("utf-8", "surrogatepass") or b"\0")
    return BODY_MAGIC + packer.compress(body.encode("utf-8", "surrogatepass")) + packer.flush()


def read_body(stored: str | bytes | None, text: str | None) -> str | None:
    """The body an article's ``body`` column stands for, given its text (see :func:`stored_body`)."""
    if stored is None:
        return text
    if isinstance(stored, str):  # a store from before bodies were packed
        return stored
    if not stored.startswith(BODY_MAGIC):
        raise StoreError("a body of an unknown format")
    unpacker = zlib.decompressobj(zdict=(text or "").encode("utf-8", "surrogatepass") or b"\0")
    return (unpacker.decompress(stored[len(BODY_MAGIC):]) + unpacker.flush()).decode("utf-8", "surrogatepass")


_HEX_ID = re.compile(r"(?:[0-9a-f]{2})+")


def key_of(aid: str) -> bytes | str:
    """How the key tables (``copy_bands``, ``copy_sentences``, ``copy_anchors``) hold an article id: the 8 bytes
    its hex spells (a content id, :func:`storyloom.models.content_id`), not 16 characters.  Those tables have
    a row per key per article (86 a real article) and an index by article beside them, so the id's size is
    most of their bytes: 5.75 -> 4.22 KB per real article (issue 23's disk budget; migration 12 converts
    older stores through this function, registered on every connection as ``storyloom_id_key``).  An id that
    is not lower-case hex of even length is kept as it is, so any id round-trips (:func:`article_of`)."""
    return bytes.fromhex(aid) if _HEX_ID.fullmatch(aid) else aid


def article_of(key: bytes | str) -> str:
    """The article id a key table's ``article_id`` holds (see :func:`key_of`)."""
    return key.hex() if isinstance(key, bytes) else key


JSON_MAGIC = b"zj1:"  # a deflated JSON value (pack_json); a plain one is TEXT


def pack_json(value: object) -> bytes:
    """A JSON value deflated, for the large ones read only whole and only by the store's own readers (a story's
    term weights: 1.16 -> 0.51 KB per real article).  Lossless: :func:`json_text` gives the same text back."""
    return JSON_MAGIC + zlib.compress(_json(value).encode("utf-8"), COMPRESS_LEVEL)


def pack_json_if_smaller(value: object) -> str | bytes:
    """A JSON value as its text, or deflated (:func:`pack_json`) when that is smaller: a copy link's evidence,
    the aligned passages of both articles (0.46 -> 0.25 KB per real article, most of ``copy_links``; an empty
    list stays ``[]``).  Read back with :func:`json_text`."""
    return pack_json_text(_json(value))


WEIGHTS_MAGIC = b"zw1:"  # a {term: float} object as its terms and float64s, deflated (pack_weights)


def pack_json_text(text: str) -> str | bytes:
    """A JSON text as it is, or deflated (:data:`JSON_MAGIC`) when that is smaller: an article's ``meta``
    (attributions, cited sources, dates: 120 -> 60 bytes a real article).  Read back with :func:`json_text`
    (SQL: ``storyloom_json``)."""
    packed = JSON_MAGIC + zlib.compress(text.encode("utf-8", "surrogatepass"), COMPRESS_LEVEL)
    return packed if len(packed) < len(text.encode("utf-8", "surrogatepass")) else text


def pack_weights(value: object) -> bytes:
    """A story's term weights ({term: summed tf-idf}, floats): the terms (sorted, NUL-separated) and their
    float64s, deflated, not their JSON text with 17 digits a weight (0.56 -> 0.48 KB per real article).
    Lossless: :func:`json_text` gives back the very text :func:`pack_json` keeps (a float64 round-trips, and the
    canonical JSON sorts the keys).  Any other value is kept as :func:`pack_json` keeps it."""
    if (isinstance(value, dict) and value and all(isinstance(k, str) and k and "\0" not in k for k in value)
            and all(type(v) is float and math.isfinite(v) for v in value.values())):
        terms = sorted(value)
        body = "\0".join(terms).encode("utf-8", "surrogatepass") + b"\0\0" + struct.pack(
            f"<{len(terms)}d", *(value[t] for t in terms))
        return WEIGHTS_MAGIC + zlib.compress(body, 9)
    return pack_json(value)


def json_text(stored: str | bytes) -> str:
    """The JSON text a column holds, plain (older rows, small values) or deflated (:func:`pack_json`,
    :func:`pack_json_text`, :func:`pack_weights`)."""
    if isinstance(stored, str):
        return stored
    if stored.startswith(WEIGHTS_MAGIC):
        body = zlib.decompress(stored[len(WEIGHTS_MAGIC):])
        cut = body.index(b"\0\0")  # no term is empty or holds a NUL
        terms = body[:cut].decode("utf-8", "surrogatepass").split("\0")
        weights = struct.unpack(f"<{len(terms)}d", body[cut + 2:])
        return _json(dict(zip(terms, weights, strict=True)))
    if not stored.startswith(JSON_MAGIC):
        raise StoreError("a JSON value of an unknown format")
    return zlib.decompress(stored[len(JSON_MAGIC):]).decode("utf-8", "surrogatepass")


def read_json(stored: str | bytes | None) -> str | None:
    """``storyloom_json``: :func:`json_text` for SQL (NULL stays NULL)."""
    return None if stored is None else json_text(stored)


def line_int(key: str) -> int:
    """A template line key (16 hex digits: :func:`storyloom.clean.text.line_key`) as the signed 64-bit integer
    ``template_lines`` keeps (8 bytes instead of 16 characters; registered as ``storyloom_line_int`` for
    migration 12)."""
    return int.from_bytes(bytes.fromhex(key), "big", signed=True)


def line_hex(value: int) -> str:
    """The line key a ``template_lines.line_key`` integer stands for (see :func:`line_int`)."""
    return int(value).to_bytes(8, "big", signed=True).hex()


# -- raw inputs: zlib alone, or zstd with a dictionary the store trained on its own first raw inputs -------------

ZSTD_CODEC = "zstd:"  # + the id of the dictionary in ``blob_dicts`` (migration 17): 'zstd:1'
BLOB_DICT_AFTER = 256  # raw inputs a store holds when it trains its dictionary, on exactly those (by rowid)
BLOB_DICT_SIZE = 65_536  # bytes; 110 KB gave 1.5 % smaller raw inputs on the real texts, 45 KB more per store
BLOB_DICT_SAMPLE = 65_536  # bytes of each raw input the trainer sees (its start): bounds the training's time
# a gzipped file (the HTML pages of the real-page bench are .html.gz) gains nothing from the dictionary and cost
# 2.1 ms more a page at level 15: it is deflated as before, and not a training sample
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_LEVEL = 15  # real texts, raw inputs held out of the training: level 9 0.86 of zlib's size, 15 0.83, 19 0.82
# A large raw input (an HTML page: 185 KB on average for the bench's 892 pages) at level 15 cost 16 ms of the
# ingesting process's CPU a page, ~14 s of the HTML run's write stage (5 -> 26 s from c402455 to d900783), where
# that process is the run's critical path; level 9 makes those pages 4.7 % larger for an eighth of the CPU
# (10.4 -> 1.3 s on 636 pages).  The real texts' raw inputs (JSON records, a few KB) stay at level 15.
ZSTD_LARGE = 65_536  # bytes: raw inputs above this are compressed at ZSTD_LEVEL_LARGE
ZSTD_LEVEL_LARGE = 9


def train_blob_dict(samples: Sequence[bytes]) -> bytes:
    """A zstd dictionary trained on ``samples`` (a store's first :data:`BLOB_DICT_AFTER` raw inputs), or b"" when
    zstd finds too little in them to make one.

    Why: a raw input is compressed alone, and a small one (a JSON record, a feed entry: 6 KB on the real texts)
    gives zlib little to work with; its field names, markup and the outlet's furniture recur from input to
    input.  A dictionary of what recurs, kept once in the store, makes the raw inputs of the real texts 17-19 %
    smaller than zlib at level 6 (raw inputs held out of the training).  Deterministic: the same samples give the
    same bytes (fixed parameters, one thread), so a store's bytes do not depend on when or by whom it was made."""
    import zstandard

    cut: list[bytes | bytearray | memoryview] = [bytes(s[:BLOB_DICT_SAMPLE]) for s in samples
                                                 if s and not s.startswith(GZIP_MAGIC)]
    try:
        made = zstandard.train_dictionary(BLOB_DICT_SIZE, cut, k=1024, d=8, threads=0, dict_id=1)
    except zstandard.ZstdError:  # too few or too small samples
        return b""
    return bytes(made.as_bytes())


PackedBlob = tuple[int, str, bytes]  # a raw input compressed ahead of its write: (dictionary id, codec, bytes)


class RawPacker:
    """How the store compresses a raw input (:func:`encode_blob`): with dictionary ``did`` (its bytes ``zdict``)
    or with none (zlib).  The one place raw inputs are compressed: the store's writes, its dictionary's
    training, and the ingest's cleaning workers, which are handed the store's dictionary once it has one
    (:mod:`storyloom.clean.pool`) and compress each raw input they clean, so the ingesting process, the
    pipeline's critical path, only stores the bytes (issue 23: zstd at level 15 was ~2.5 s of its CPU per 2,134
    real texts).  Deterministic: the same dictionary and input give the same bytes in any process."""

    def __init__(self, did: int | None = None, zdict: bytes | None = None) -> None:
        if (did is None) != (zdict is None):
            raise ValueError("a dictionary's id and bytes go together")
        self.did = did
        self._zdict: Any = None
        self._compressors: dict[int, Any] = {}  # by level, each made when first needed
        if did is not None and zdict is not None:
            import zstandard

            self._zdict = zstandard.ZstdCompressionDict(zdict)

    def encode(self, data: bytes) -> tuple[str, bytes]:
        """(codec, bytes) of a raw input: as it is when small, with the dictionary when there is one (and it is
        not gzipped already), else deflated alone."""
        if len(data) <= COMPRESS_OVER:
            return "raw", data
        if self._zdict is not None and not data.startswith(GZIP_MAGIC):
            return f"{ZSTD_CODEC}{self.did}", bytes(self._compressor(len(data)).compress(data))
        return "zlib", zlib.compress(data, COMPRESS_LEVEL)

    def _compressor(self, size: int) -> Any:
        """The dictionary's compressor at the level for an input of ``size`` bytes (pages: ZSTD_LEVEL_LARGE)."""
        level = ZSTD_LEVEL_LARGE if size > ZSTD_LARGE else ZSTD_LEVEL
        if level not in self._compressors:
            import zstandard

            self._compressors[level] = zstandard.ZstdCompressor(level=level, dict_data=self._zdict,
                                                                write_checksum=False, write_dict_id=False)
        return self._compressors[level]


ZLIB_ONLY = RawPacker()  # no dictionary: what a store without one (or a loader without a store) writes


class BlobDicts:
    """The zstd dictionaries of one store, read through one connection when first needed (a dictionary never
    changes once written: a new one gets a new id), with a packer and a decompressor each.  Not shared
    between threads: one per connection (:func:`register`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._dicts: dict[int, bytes] = {}
        self._packers: dict[int, RawPacker] = {}
        self._unpackers: dict[int, Any] = {}

    def latest(self) -> int | None:
        """The id of the dictionary new raw inputs are compressed with, or None (zlib): the store has made none
        yet, or its training found too little (an empty row, so it is not tried again)."""
        try:
            row = self.conn.execute("SELECT id FROM blob_dicts WHERE length(dict) > 0 ORDER BY id DESC LIMIT 1").fetchone()
        except sqlite3.OperationalError:  # a store from before migration 17 (a reader that could not upgrade it)
            return None
        return int(row[0]) if row else None

    def dict_bytes(self, did: int) -> bytes:
        """The bytes of dictionary ``did`` (what a :class:`RawPacker` elsewhere needs to write as this store does)."""
        if did not in self._dicts:
            row = self.conn.execute("SELECT dict FROM blob_dicts WHERE id = ?", (did,)).fetchone()
            if row is None or not row[0]:
                raise StoreError(f"a raw input compressed with dictionary {did}, which the store does not hold")
            self._dicts[did] = bytes(row[0])
        return self._dicts[did]

    def packer(self, did: int | None) -> RawPacker:
        """The packer for new raw inputs compressed with dictionary ``did`` (None: zlib alone)."""
        if did is None:
            return ZLIB_ONLY
        if did not in self._packers:
            self._packers[did] = RawPacker(did, self.dict_bytes(did))
        return self._packers[did]

    def decompress(self, data: bytes, did: int) -> bytes:
        if did not in self._unpackers:
            import zstandard

            self._unpackers[did] = zstandard.ZstdDecompressor(
                dict_data=zstandard.ZstdCompressionDict(self.dict_bytes(did)))
        return bytes(self._unpackers[did].decompress(data))


def encode_blob(data: bytes, dicts: BlobDicts | None = None, did: int | None = None) -> tuple[str, bytes]:
    """(codec, bytes) of a raw input (:meth:`RawPacker.encode`) with the store's dictionary ``did`` when it has
    one (:func:`train_blob_dict`), else deflated alone."""
    return (dicts.packer(did) if dicts is not None else ZLIB_ONLY).encode(data)


def decode_blob(codec: str, data: bytes, dicts: BlobDicts | None = None) -> bytes:
    """The raw input a ``blobs`` row holds; ``dicts``: the store's dictionaries, needed for a 'zstd:' row."""
    if codec == "raw":
        return bytes(data)
    if codec == "zlib":
        return zlib.decompress(data)
    if codec.startswith(ZSTD_CODEC) and codec[len(ZSTD_CODEC):].isdigit():
        if dicts is None:
            raise StoreError("a raw input compressed with a dictionary, read without the store's dictionaries")
        return dicts.decompress(bytes(data), int(codec[len(ZSTD_CODEC):]))
    raise StoreError(f"unknown blob codec {codec!r}")



CENTROID_MAGIC = b"\xff\xff\xff\xffci8:"  # as float32, a NaN first component: no summed centroid starts so


def pack_centroid(blob: bytes | None) -> bytes | None:
    """What ``stories.centroid`` holds: the float32 sum of a story's member vectors, or, when that sum is
    exactly int8 values times one float32 scale, those (a quarter of the bytes).  Why: a story of one article
    (most stories: 1,000 of 1,300 on the real texts) has its member's vector as its centroid, and the stored
    vectors are int8 with a scale (:mod:`storyloom.embed.cache`), so its centroid is exactly of that form.
    Lossless by construction: the int8 form is kept only when it gives back every bit of the float32 one."""
    if blob is None or len(blob) % 4 or not blob:
        return blob
    import numpy as np

    v = np.frombuffer(blob, dtype=np.float32)
    top = float(np.abs(v).max())
    if not np.isfinite(top):
        return blob
    if top == 0.0:
        return CENTROID_MAGIC + np.float32(1.0).tobytes() + np.zeros(len(v), np.int8).tobytes()
    s0 = np.float32(top / 127.0)
    for scale in (s0, np.nextafter(s0, np.float32(np.inf)), np.nextafter(s0, np.float32(0)),
                  np.float32(np.float32(top) / np.float32(127))):
        q = np.clip(np.rint(v / scale), -127, 127).astype(np.int8)
        if np.array_equal((q.astype(np.float32) * scale).view(np.uint32), v.view(np.uint32)):
            return CENTROID_MAGIC + np.float32(scale).tobytes() + q.tobytes()
    return blob


def read_centroid(stored: bytes | None) -> bytes | None:
    """The float32 bytes a ``stories.centroid`` value stands for (see :func:`pack_centroid`)."""
    if stored is None or not stored.startswith(CENTROID_MAGIC):
        return stored
    import numpy as np

    at = len(CENTROID_MAGIC)
    scale = np.frombuffer(stored, dtype=np.float32, count=1, offset=at)[0]
    q = np.frombuffer(stored, dtype=np.int8, offset=at + 4)
    return bytes((q.astype(np.float32) * scale).tobytes())


def pack_keys(keys: Iterable[int]) -> bytes | None:
    """A set of 64-bit keys (an article's band, sentence or anchor keys) as its sorted little-endian int64s, or
    NULL for none: ``copy_keys`` holds an article's keys so, instead of an index by article beside each key
    table (2.16 KB per real article for the three; the lists take ~0.8)."""
    ks = sorted(set(keys))
    return struct.pack(f"<{len(ks)}q", *ks) if ks else None


def unpack_keys(stored: bytes | None) -> list[int]:
    """The sorted keys a ``copy_keys`` column holds (see :func:`pack_keys`)."""
    return list(struct.unpack(f"<{len(stored) // 8}q", stored)) if stored else []


class KeysAggregate:
    """``storyloom_pack_keys(key)``: :func:`pack_keys` as an SQL aggregate (migration 13 fills ``copy_keys``)."""

    def __init__(self) -> None:
        self.keys: list[int] = []

    def step(self, key: int) -> None:
        self.keys.append(int(key))

    def finalize(self) -> bytes | None:
        return pack_keys(self.keys)


Span = tuple[int, int, str, str]  # (start, end, reason, rule) of a removed span


def pack_spans(spans: Iterable[Span]) -> bytes | None:
    """An article's removed spans as one deflated JSON list, by start, or NULL for none: ``article_spans`` holds
    an article's spans so, not a row per span (the reasons repeat within an article, "learned line classifier:
    looks like page furniture (p=1.00)" on every furniture line: 0.35 -> 0.05 KB per real article).  Spans with
    one start: the last wins, as the per-span table's primary key (article_id, start) had it."""
    by_start = {int(s[0]): [int(s[0]), int(s[1]), str(s[2]), str(s[3])] for s in spans}
    return pack_json([by_start[k] for k in sorted(by_start)]) if by_start else None


def unpack_spans(stored: str | bytes | None) -> list[Span]:
    """The spans :func:`pack_spans` kept, by start."""
    if not stored:
        return []
    return [(int(s), int(e), str(reason), str(rule)) for s, e, reason, rule in json.loads(json_text(stored))]


class SpansAggregate:
    """``storyloom_pack_spans(start, end, reason, rule)``: :func:`pack_spans` as an SQL aggregate (migration 16)."""

    def __init__(self) -> None:
        self.spans: list[Span] = []

    def step(self, start: int, end: int, reason: str, rule: str) -> None:
        self.spans.append((start, end, reason, rule))

    def finalize(self) -> bytes | None:
        return pack_spans(self.spans)


def pack_skip(skip: TemplateSkip | None) -> str | None:
    """``articles.template_skip`` (storyloom.clean.text.template_skip): the line indices the page rules took,
    ";", those a line rule took, each comma-separated: "" when every line is judged (most articles), a few
    bytes else.  NULL: not known (an article stored before migration 21; re-cleaned from its raw bytes)."""
    if skip is None:
        return None
    inactive, ruled = skip
    if not inactive and not ruled:
        return ""
    return ",".join(map(str, inactive)) + ";" + ",".join(map(str, ruled))


def unpack_skip(stored: str | None) -> TemplateSkip | None:
    """The inverse of :func:`pack_skip`."""
    if stored is None:
        return None
    if not stored:
        return (), ()
    inactive, ruled = stored.split(";")
    return (tuple(int(x) for x in inactive.split(",") if x), tuple(int(x) for x in ruled.split(",") if x))
