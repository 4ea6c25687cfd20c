"""Bytes → text for untrusted input: size caps, binary detection, encoding detection.

UTF-8 (with or without BOM) is tried first because it is what nearly all news text is and because a
successful strict UTF-8 decode is almost never wrong; anything else goes to charset-normalizer.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from charset_normalizer import from_bytes

from storyloom.errors import BadInput

_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))


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


def decode_text(data: bytes, location: str, declared: str | None = None) -> str:
    """Decode untrusted bytes to text, detecting the encoding when UTF-8 (or the declared one) fails."""
    if looks_binary(data):
        raise BadInput(location, "binary content, not text")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if declared:
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass  # the declaration lies (a common case): detect instead
    best = from_bytes(data[:1_000_000]).best()
    if best is None or best.encoding is None:
        raise BadInput(location, "undecodable text: no encoding fits")
    return data.decode(best.encoding, errors="replace")


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


def iter_lines(fh: BinaryIO, chunk: int = 1 << 16) -> Iterator[bytes]:
    """Lines of a plain or gzip stream, recovering every complete line before any damage.

    ``gzip.GzipFile`` raises on a truncated member before handing out the lines it already inflated, so a
    partial download of a JSONL.gz would lose everything; decompressing chunk by chunk keeps them.  Handles
    concatenated gzip members.  Raises :class:`Truncated` after the last good line when the data is cut.
    """
    head = fh.read(2)
    fh.seek(0)
    if head != b"\x1f\x8b":
        yield from fh
        return
    d = zlib.decompressobj(wbits=31)
    buf = b""
    while True:
        block = fh.read(chunk)
        if not block:
            break
        while block:
            try:
                out = d.decompress(block)
            except zlib.error as exc:
                yield from _complete_lines(buf)[0]
                raise Truncated(f"corrupt compressed data ({exc})") from exc
            lines, buf = _complete_lines(buf + out)
            yield from lines
            block = d.unused_data if d.eof else b""
            if d.eof:
                if not block.lstrip(b"\x00"):
                    break
                d = zlib.decompressobj(wbits=31)  # next gzip member
    if not d.eof:
        if buf:
            pass  # an incomplete last line of a cut stream is not a record: drop it, report below
        raise Truncated("compressed file ended before the end-of-stream marker")
    if buf:
        yield buf


def _complete_lines(data: bytes) -> tuple[list[bytes], bytes]:
    parts = data.split(b"\n")
    return [p + b"\n" for p in parts[:-1]], parts[-1]
