"""Bytes → text: one decoder for every path a page or a text arrives by (a file, a WARC record, a URL, the
``html`` field of a JSON record, a re-clean from the stored raw bytes, a Spark task).

Three decoders used to disagree: the ingest path ran charset detection over a UTF-8 page with a few stray
bytes and stored it garbled ("MĂ¤scot", "schÃķn"), while the extractor read the same bytes right.  The order,
each step only when the one before gave no answer:

1. a byte-order mark (UTF-8, UTF-16, UTF-32): nothing is surer;
2. strict UTF-8: bytes that decode as UTF-8 are UTF-8 whatever a header or a meta tag claims (a multi-byte
   UTF-8 sequence by accident in another encoding is vanishingly rare, and lying declarations are common);
3. the HTTP header's charset, then the page's ``<meta charset>`` (for HTML): what the publisher declared;
4. UTF-8 with stray bytes repaired (each byte that is not UTF-8 read as cp1252) when the text is mostly UTF-8:
   a page assembled from UTF-8 templates with one latin-1 snippet;
5. detection (charset-normalizer), for a page in a legacy encoding that declares nothing; candidates that
   score alike are told apart by the page's ``<html lang>`` (its usual legacy encoding), else cp1252;
6. cp1252 as the last resort (every byte maps to a character: never an exception).
"""

from __future__ import annotations

import codecs
import re

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_META = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)
MOSTLY_UTF8_MAX_BAD = 20  # replacement characters in the first 64 KB below which a page is "UTF-8 with strays"
DETECT_BYTES = 1_000_000
_CP1252 = [bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256)]  # 5 holes: latin-1


def _cp1252_fallback(err: UnicodeError) -> tuple[str, int]:
    """Codec error handler: a byte that is not UTF-8 is read as cp1252 (latin-1 where cp1252 has a hole)."""
    assert isinstance(err, UnicodeDecodeError)
    bad = err.object[err.start : err.end]
    return "".join(_CP1252[b] for b in bad), err.end


try:
    codecs.lookup_error("storyloom-cp1252")
except LookupError:
    codecs.register_error("storyloom-cp1252", _cp1252_fallback)

REPAIR = "storyloom-cp1252"  # the error handler's name, for callers repairing surrogate-escaped bytes


def _codec(name: str | None) -> str | None:
    """A declared charset as a Python codec name, or None when Python does not know it."""
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'").lower()).name
    except (LookupError, ValueError):
        return None


def meta_charset(data: bytes) -> str | None:
    m = _META.search(data[:4096])
    return m.group(1).decode("ascii", "replace") if m else None


def header_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header value."""
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"' ")
    return None


def decode(data: bytes, *, http_charset: str | None = None, html: bool = False) -> tuple[str, str]:
    """``(text, how)``: the text and which step decided (``bom``, ``utf-8``, ``http``, ``meta``, ``utf-8+cp1252``,
    ``detected:<codec>``, ``cp1252``).  Never raises: callers that refuse non-text check the result."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), "bom"
            except UnicodeDecodeError:
                break  # a BOM followed by garbage: go on as if there were none
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    declared: list[tuple[str, str | None]] = [("http", _codec(http_charset))]
    if html:
        declared.append(("meta", _codec(meta_charset(data))))
    for how, name in declared:
        if name and name != "utf-8":
            try:
                return data.decode(name), how
            except UnicodeDecodeError:
                pass  # the declaration lies
    if data[:65536].decode("utf-8", errors="replace").count("\ufffd") < MOSTLY_UTF8_MAX_BAD:
        return data.decode("utf-8", errors=REPAIR), "utf-8+cp1252"
    try:
        detected = _detect(data, html)
        if detected:
            return data.decode(detected, errors="replace"), f"detected:{detected}"
    except Exception:
        pass
    return data.decode("cp1252", errors=REPAIR), "cp1252"


# The legacy encoding a page in a language most likely uses (WHATWG's "encoding for a locale" defaults):
# detection often cannot tell single-byte Latin encodings apart (French text in cp1252 scores exactly as in
# cp1250), and the page's own ``<html lang>`` settles the tie; a page that says nothing falls back to cp1252.
_LOCALE_CODEC = {
    **dict.fromkeys("ru uk be bg mk sr kk ky tg".split(), "cp1251"),
    **dict.fromkeys("pl cs sk hu sl hr ro bs sq".split(), "cp1250"),
    **dict.fromkeys("lt lv et".split(), "cp1257"),
    "el": "cp1253", "tr": "cp1254", "az": "cp1254", "he": "cp1255", "iw": "cp1255", "ar": "cp1256",
    "fa": "cp1256", "ur": "cp1256", "vi": "cp1258", "th": "cp874", "ja": "shift_jis", "ko": "euc_kr",
    "zh": "gb18030",
}
_HTML_LANG = re.compile(rb"""<html[^>]{0,300}?\blang\s*=\s*["']?([A-Za-z]{2,3})""", re.I)
DETECT_TIE = 0.01  # detection results this close in "chaos" to the best one are a tie


def _detect(data: bytes, html: bool) -> str | None:
    """charset-normalizer's answer, ties between close candidates settled by the page's language (its
    ``<html lang>``'s usual legacy encoding), else by cp1252, the commonest legacy encoding of the web."""
    from charset_normalizer import from_bytes

    results = list(from_bytes(data[:DETECT_BYTES]))
    if not results:
        return None
    best = min(r.chaos for r in results)
    tied = {_codec(r.encoding): r for r in results if r.chaos <= best + DETECT_TIE}
    m = _HTML_LANG.search(data[:4096]) if html else None
    wanted = _LOCALE_CODEC.get(m.group(1).decode("ascii").lower(), "cp1252") if m else "cp1252"
    for name in (_codec(wanted), "cp1252"):
        if name in tied:
            return name
    first = results[0].encoding
    return first or None


def decode_page(data: bytes, *, http_charset: str | None = None) -> str:
    """An HTML page's bytes as text (see the module docstring)."""
    return decode(data, http_charset=http_charset, html=True)[0]
