"""WARC / WARC.gz → RawDocs: the HTML payloads of HTTP response records.

warcio streams record by record, so a multi-GB crawl is never held in memory.  A crawl is untrusted input:
warcio raises on some malformed records (a response without WARC-Target-URI: AttributeError deep inside it),
and an exception inside its iterator ends that iterator.  So a failure is one BadInput for the record, and
reading resumes at the next record boundary found after it (a ``WARC/1.`` line, or a gzip member header in a
.warc.gz), with a fresh iterator: one bad record never costs the records after it.  warcio's own warnings
(written straight to stderr) are kept off the user's terminal; the records they concern are still judged.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from storyloom.decoding import header_charset
from storyloom.errors import BadInput
from storyloom.ingest.decode import decode_html, looks_binary
from storyloom.ingest.guard import describe, unreadable
from storyloom.models import RawDoc
from storyloom.settings import Settings

HTML_TYPES = ("text/html", "application/xhtml+xml")
GZIP_MAGIC = b"\x1f\x8b\x08"
WARC_MAGIC = b"WARC/1."
MAX_HEADER_BYTES = 64 * 1024
_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d{1,15})[ \t]*\r?$")
MAX_RESYNCS = 10_000  # a file of nothing but damage ends after this many recoveries, not after one per byte


def _next_boundary(fh: BinaryIO, start: int, gz: bool) -> int | None:
    """Offset of the next record start at or after ``start`` (None: there is none), read in 1 MB windows."""
    magic = GZIP_MAGIC if gz else b"\n" + WARC_MAGIC
    fh.seek(start)
    pos, carry = start, b""
    while True:
        block = fh.read(1 << 20)
        if not block:
            return None
        window = carry + block
        i = window.find(magic)
        if i >= 0:
            return pos - len(carry) + i + (0 if gz else 1)
        carry = window[-(len(magic) - 1):]
        pos += len(block)


def _record_end(fh: BinaryIO, offset: int) -> int:
    """Where the uncompressed record starting at ``offset`` ends, by its own Content-Length when its header
    block says so (a record whose *content* broke warcio is skipped exactly, payload and all, so a
    ``WARC/1.0`` line inside its payload is never taken for a record); else ``offset + 1``, to scan from."""
    fh.seek(offset)
    head = fh.read(MAX_HEADER_BYTES)
    body_start = len(head) - len(head.lstrip())
    end = head.find(b"\r\n\r\n", body_start)
    sep = 4
    if end < 0:
        end, sep = head.find(b"\n\n", body_start), 2
    match = _CONTENT_LENGTH.search(head, body_start, end) if end >= 0 and head.startswith(WARC_MAGIC, body_start) else None
    return offset + end + sep + int(match.group(1)) if match else offset + 1


def _quiet_next(it: Any) -> Any:
    """``next(it)`` with warcio's stderr warnings captured (it prints them itself, unasked)."""
    with contextlib.redirect_stderr(io.StringIO()):
        return next(it)


def iter_warc(path: Path, settings: Settings) -> Iterator[RawDoc | BadInput]:
    from warcio.archiveiterator import ArchiveIterator

    loc = str(path)
    if path.stat().st_size == 0:
        yield BadInput(loc, "empty file")
        return
    count = 0  # HTML response records met (good or bad)
    seen = 0  # records of any kind
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
        start: int | None = 0
        resyncs = 0
        while start is not None:
            fh.seek(start)
            it = ArchiveIterator(fh)
            offset = start
            try:
                while True:
                    try:
                        record = _quiet_next(it)
                    except StopIteration:
                        start = None
                        break
                    seen += 1
                    offset = it.offset
                    try:
                        item = _record_item(record, loc, seen, settings)
                    except BadInput as exc:
                        item = exc
                    except Exception as exc:
                        item = unreadable(f"{loc}#{seen}", exc)
                    if item is not None:
                        count += 1
                        yield item
            except Exception as exc:
                resyncs += 1
                offset = max(offset, getattr(it, "offset", offset))  # the failing record's start, when warcio got there
                yield BadInput(f"{loc}@{offset}", f"malformed or truncated WARC record ({describe(exc)})")
                count += 1
                resume = offset + 1 if gz else _record_end(fh, offset)
                start = _next_boundary(fh, resume, gz) if resyncs < MAX_RESYNCS else None
    if count == 0:
        yield BadInput(loc, "no HTML response records")


def _record_item(record: Any, loc: str, n: int, settings: Settings) -> RawDoc | BadInput | None:
    """One record → its article, its error, or None when it carries no article (request, redirect, image…)."""
    if record.rec_type != "response" or record.http_headers is None:
        return None
    ctype = record.http_headers.get_header("Content-Type") or ""
    if not ctype.lower().startswith(HTML_TYPES):
        return None
    status = record.http_headers.get_statuscode()
    url = record.rec_headers.get_header("WARC-Target-URI")
    where = f"{loc}#{record.rec_headers.get_header('WARC-Record-ID') or n}"
    if status and not status.startswith("2"):
        return None  # redirects and errors carry no article
    payload = record.content_stream().read(settings.max_item_bytes + 1)
    if len(payload) > settings.max_item_bytes:
        return BadInput(where, f"payload larger than the item cap of {settings.max_item_bytes:,} bytes")
    if not payload.strip() or looks_binary(payload):
        return BadInput(where, "empty or binary payload")
    charset = header_charset(ctype)
    html = decode_html(payload, where, charset)
    return RawDoc(
        raw=payload,
        kind="warc",
        location=where,
        url=url,
        html=html,
        extra={"warc_date": record.rec_headers.get_header("WARC-Date"), **({"http_charset": charset} if charset else {})},
    )
