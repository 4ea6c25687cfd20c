"""Bytes → text for untrusted input: size caps, binary detection, encoding detection.

UTF-8 (with or without BOM) is tried first because it is what nearly all news text is and because a
successful strict UTF-8 decode is almost never wrong; anything else goes to charset-normalizer.
"""

from __future__ import annotations

import gzip
import io
import zlib
from typing import BinaryIO

from charset_normalizer import from_bytes

from storyloom.errors import BadInput

_TEXT_CONTROL = {9, 10, 12, 13, 27}


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
    control = sum(1 for b in head if b < 32 and b not in _TEXT_CONTROL)
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


def open_maybe_gzip(path: str, raw: BinaryIO) -> BinaryIO:
    """Wrap a file in a gzip reader when its name or magic bytes say so."""
    head = raw.read(2)
    raw.seek(0)
    if path.lower().endswith(".gz") or head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    return raw


def bytes_reader(data: bytes) -> BinaryIO:
    return io.BytesIO(data)
