"""Bytes → text for untrusted input: size caps, binary detection, encoding detection.

UTF-8 (with or without BOM) is tried first because it is what nearly all news text is and because a
successful strict UTF-8 decode is almost never wrong; anything else goes to charset-normalizer.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from storyloom.decoding import decode
from storyloom.errors import BadInput

_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))
MIN_DETECT_BYTES = 64  # below this, a non-UTF-8 "encoding detection" is a guess: random bytes decode as CJK
MAX_NONTEXT_SHARE = 0.05  # decoded text with more control/unassigned/replacement characters than this is not text
# C0 controls bar tab/newlines/form feed/escape, DEL and C1, surrogates, private use, U+FFFD
_NONTEXT = re.compile("[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\ufffd\U000f0000-\U0010ffff]")


def looks_binary(data: bytes) -> bool:
    """True for data no text format produces: NUL bytes, or many C0 control bytes, in the first 8 KiB.

    UTF-16 text has NULs too, so a BOM exempts it.
    """
    head = data[:8192]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    if b"\x00" in head:
        return True
    if not head:
        return False
    control = len(head) - len(head.translate(None, _CONTROL_BYTES))  # counted in C
    return control / len(head) > 0.05


def nontext_share(text: str) -> float:
    """The share of characters no text is made of: C0/C1 controls (bar tab, newlines, form feed, escape),
    surrogates, private-use code points, and U+FFFD (what a failed decode leaves).  Sampled on the first
    64k characters (enough to judge, bounded on a 50 MB file) and counted by one regex, in C."""
    head = text[:65536]
    return len(_NONTEXT.findall(head)) / len(head) if head else 0.0


def _checked(text: str, location: str) -> str:
    share = nontext_share(text)
    if share > MAX_NONTEXT_SHARE:
        raise BadInput(location, f"not text: {share:.0%} of its characters are control, private-use or undecodable")
    return text


def decode_text(data: bytes, location: str, declared: str | None = None, *, html: bool = False) -> str:
    """Decode untrusted bytes to text with the one decoder (:mod:`storyloom.decoding`; ``declared``: the HTTP
    header's charset, ``html``: also honour a ``<meta charset>``).

    Refuses what is not text rather than storing noise: binary bytes, text that decodes to mostly control
    characters or to nothing (a byte-order mark alone: the bytes were not empty, the text is), and input too
    short for detection to be more than a guess (random bytes "decode" as CJK).
    """
    if looks_binary(data):
        raise BadInput(location, "binary content, not text")
    text, how = decode(data, http_charset=declared, html=html)
    if not text.strip():  # bytes that decode to nothing: a byte-order mark alone, UTF-16 spaces
        raise BadInput(location, "empty once decoded")
    if how not in ("bom", "utf-8", "http", "meta") and len(data) < MIN_DETECT_BYTES:
        raise BadInput(location, f"not UTF-8, and {len(data)} bytes are too few to detect the encoding reliably")
    return _checked(text, location)


def decode_html(data: bytes, location: str, http_charset: str | None = None) -> str:
    """A page's bytes as text: :func:`decode_text` honouring the HTTP header's and the page's own charset."""
    return decode_text(data, location, http_charset, html=True)


def read_capped(stream: BinaryIO, cap: int, location: str) -> bytes:
    """Read a whole stream, refusing it when it exceeds ``cap`` bytes (also guards against gzip bombs)."""
    try:
        data = stream.read(cap + 1)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise BadInput(location, f"truncated or corrupt compressed data ({exc})") from exc
    if len(data) > cap:
        raise BadInput(location, f"larger than the size cap of {cap:,} bytes")
    return data


class Truncated(Exception):
    """A compressed stream ended before its end marker (a partial download, a killed writer)."""


def iter_lines(fh: BinaryIO, max_line: int | None = None, chunk: int = 1 << 16) -> Iterator[bytes]:
    """Lines of a plain or gzip stream, recovering every complete line before any damage.

    ``gzip.GzipFile`` raises on a truncated member before handing out the lines it already inflated, so a
    partial download of a JSONL.gz would lose everything; decompressing chunk by chunk keeps them.  Handles
    concatenated gzip members.  Raises :class:`Truncated` after the last good line when the data is cut.

    With ``max_line``, memory stays bounded on a hostile file with no newline at all: a longer line is
    yielded as its first ``max_line + 1`` bytes (so the caller sees it is over the cap) and the rest of it
    is skipped, never held.
    """
    head = fh.read(2)
    fh.seek(0)
    limit = max_line + 1 if max_line is not None else None
    if head != b"\x1f\x8b":
        yield from _plain_lines(fh, limit)
        return
    d = zlib.decompressobj(wbits=31)
    buf = b""
    skipping = False  # inside an over-long line already reported
    while True:
        block = fh.read(chunk)
        if not block:
            break
        while block:
            try:
                out = d.decompress(block)
            except zlib.error as exc:
                if not skipping:
                    yield from _complete_lines(buf)[0]
                raise Truncated(f"corrupt compressed data ({exc})") from exc
            if skipping:
                nl = out.find(b"\n")
                out, skipping = (out[nl + 1 :], False) if nl >= 0 else (b"", True)
            lines, buf = _complete_lines(buf + out)
            yield from lines
            if limit is not None and len(buf) >= limit:
                yield buf[:limit]
                buf, skipping = b"", True
            block = d.unused_data if d.eof else b""
            if d.eof:
                if not block.lstrip(b"\x00"):
                    break
                d = zlib.decompressobj(wbits=31)  # next gzip member
    if not d.eof:
        # an incomplete last line of a cut stream is not a record: drop it, report below
        raise Truncated("compressed file ended before the end-of-stream marker")
    if buf:
        yield buf


def _plain_lines(fh: BinaryIO, limit: int | None) -> Iterator[bytes]:
    if limit is None:
        yield from fh
        return
    while True:
        line = fh.readline(limit)
        if not line:
            return
        yield line
        if len(line) == limit and not line.endswith(b"\n"):
            while True:  # skip the rest of the over-long line, a megabyte at a time
                rest = fh.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break


def _complete_lines(data: bytes) -> tuple[list[bytes], bytes]:
    parts = data.split(b"\n")
    return [p + b"\n" for p in parts[:-1]], parts[-1]
