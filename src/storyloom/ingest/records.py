"""JSON article records → RawDoc, whatever the field names of the tool that produced them.

Scrapers and datasets disagree on names (newspaper: ``publish_date``, news-please: ``date_publish`` and
``maintext``, NewsAPI: ``source.name`` and ``publishedAt``, schema.org: ``articleBody``); we accept the common
ones and keep every field we do not know in ``extra``, so nothing a user had is lost.

Records are untrusted: JSON is depth-checked *before* it is parsed (a bracket scan, so 100,000 nested ``[``
cost a scan, not a RecursionError), must be UTF-8 (a wrong guess would store mojibake), and the fields that
carry the article (title, text, html) must be strings.  A list of paragraphs for ``text`` is refused rather
than joined: nothing tells how its items were meant to be separated, and a wrong join silently changes the
article.  Every failure is one :class:`BadInput` naming the record.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from storyloom.errors import BadInput
from storyloom.ingest.guard import unreadable
from storyloom.models import RawDoc

MAX_JSON_DEPTH = 100  # real article records nest < 10 deep; Python's parser and our walks stay far from the stack limit

FIELDS: dict[str, tuple[str, ...]] = {
    "url": ("url", "link", "source_url", "canonical_url", "uri"),
    "title": ("title", "headline", "name"),
    "text": ("text", "body", "content", "maintext", "articleBody", "article", "description_full"),
    "html": ("html", "raw_html", "page", "content_html"),
    "published": (
        "published", "date", "published_at", "publishedAt", "pubDate", "date_publish", "datePublished",
        "publish_date", "published_date", "pub_date", "created_at", "timestamp",
    ),
    "outlet": ("outlet", "source", "site", "sitename", "site_name", "publisher", "source_domain", "domain"),
    "author": ("author", "authors", "byline", "creator"),
    "language": ("language", "lang", "locale"),
}
STRING_FIELDS = ("title", "text", "html")  # the article itself: a string or nothing, never flattened

_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)  # possessive: linear on any input
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_depth(data: bytes) -> int:
    """The deepest bracket nesting of JSON text, brackets inside strings ignored, without parsing it.

    Cheap where it matters: a record with fewer brackets than the limit returns at once; otherwise the
    strings are cut out by one regex and the brackets counted in C (translate) and one accumulate.
    """
    if data.count(b"[") + data.count(b"{") <= MAX_JSON_DEPTH:
        return 0 if not (b"[" in data or b"{" in data) else 1
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    return max(accumulate(1 if b in b"[{" else -1 for b in brackets), default=0)


def parse_json_bytes(data: bytes, location: str) -> Any:
    """Parse untrusted JSON bytes (UTF-8, or UTF-16/32 with the encoding JSON allows) into Python values."""
    depth = json_depth(data)
    if depth > MAX_JSON_DEPTH:
        raise BadInput(location, f"JSON nested {depth:,} levels deep (the limit is {MAX_JSON_DEPTH})")
    try:
        obj = json.loads(data)
    except UnicodeDecodeError as exc:
        raise BadInput(location, f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                                 "JSON must be UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise BadInput(location, f"malformed JSON: {exc}") from exc
    except RecursionError as exc:  # the depth scan should have caught it: a fallback, not the design
        raise BadInput(location, "JSON nested too deep") from exc
    check_tree(obj, location)
    return obj


def check_tree(obj: Any, location: str) -> None:
    """Refuse a decoded value nested deeper than :data:`MAX_JSON_DEPTH` or holding lone surrogates.

    Iterative (a stack, not recursion), so it is safe on any value ``json.loads`` returned: the API parses
    bodies itself and hands the values here.  A lone surrogate (``"\\ud800"``) is legal JSON but no text:
    it cannot be encoded to UTF-8, so it would fail later in the store, far from the record that caused it.
    """
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise BadInput(location, "a string holds a lone surrogate escape (\\ud800-\\udfff), which is not text")
            continue
        if isinstance(value, dict):
            children: Any = list(value.keys()) + list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise BadInput(location, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        stack.extend((c, depth + 1) for c in children)


def _as_text(value: Any) -> str | None:
    """Flatten the shapes metadata comes in: strings, lists of names, {"name": …} objects, numbers."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict):
        for key in ("name", "title", "value", "url"):
            if isinstance(value.get(key), str):
                return value[key].strip() or None
        return None
    if isinstance(value, list):  # one level only: a list of names or of {"name": …}
        parts = [t for t in (_as_text(v) for v in value if not isinstance(v, list)) if t]
        return ", ".join(parts) or None
    return None


def _field(obj: dict[str, Any], field: str, names: tuple[str, ...], used: set[str], location: str) -> str | None:
    """The first usable alias of ``field``; for the article's own fields a non-string value is an error."""
    wrong: tuple[str, Any] | None = None
    for name in names:
        if name not in obj or name in used:
            continue
        value = obj[name]
        if field in STRING_FIELDS:
            if value is None:
                continue
            if not isinstance(value, str):
                wrong = wrong or (name, value)
                continue
            text = value.strip() or None
        else:
            text = _as_text(value)
        if text:
            used.add(name)
            return text
    if wrong is not None:
        kind = {list: "a list", dict: "an object", int: "a number", float: "a number", bool: "a boolean"}.get(
            type(wrong[1]), type(wrong[1]).__name__)
        raise BadInput(location, f"field {wrong[0]!r} is {kind}, expected a string")
    return None


def record_to_raw(obj: Any, raw: bytes, kind: str, location: str) -> RawDoc:
    """Map one decoded JSON object to a RawDoc; ``raw`` is the exact bytes it was decoded from.

    Any failure on this one record is a :class:`BadInput`: callers (files, the API) hold whole batches.
    """
    try:
        return _record_to_raw(obj, raw, kind, location)
    except BadInput:
        raise
    except Exception as exc:  # untrusted input: one bad record must not end the batch
        raise unreadable(location, exc) from exc


def _record_to_raw(obj: Any, raw: bytes, kind: str, location: str) -> RawDoc:
    if not isinstance(obj, dict):
        raise BadInput(location, f"expected a JSON object, got {type(obj).__name__}")
    check_tree(obj, location)
    found: dict[str, str | None] = {}
    used: set[str] = set()
    for field, names in FIELDS.items():
        found[field] = _field(obj, field, names, used, location)
    if not found["text"] and not found["html"]:
        raise BadInput(location, "no article body (none of text/body/content/maintext/html)")
    extra = {k: v for k, v in obj.items() if k not in used}
    lang = found["language"]
    return RawDoc(
        raw=raw,
        kind=kind,
        location=location,
        url=found["url"],
        title=found["title"],
        text=found["text"],
        html=found["html"],
        published=found["published"],
        outlet=found["outlet"],
        author=found["author"],
        language=lang.split("-")[0].split("_")[0].lower() if lang else None,
        extra=extra,
    )


def parse_record_line(line: bytes, kind: str, location: str) -> RawDoc | BadInput:
    """One JSON-lines record (a JSONL line, an NDJSON API body line) → a RawDoc, or the reason it is bad.

    Strict UTF-8: guessing a line's encoding from a few hundred bytes is how mojibake gets stored.
    Never raises for bad input.
    """
    stripped = line.strip()
    if stripped.startswith(b"\xef\xbb\xbf"):
        stripped = stripped[3:]
    try:
        return record_to_raw(parse_json_bytes(stripped, location), stripped, kind, location)
    except BadInput as exc:
        return exc
    except Exception as exc:
        return unreadable(location, exc)


def jsonl_item(line: bytes, where: str, max_item_bytes: int) -> RawDoc | BadInput | None:
    """One line of a JSON-lines file (None: a blank line): the one reading both the ingest and the batch
    engines use, so a line is an article, or the same bad-input line, whichever engine reads it."""
    stripped = bytes(line).strip()
    if not stripped:
        return None
    if len(stripped) > max_item_bytes:
        return BadInput(where, f"line larger than the item cap of {max_item_bytes:,} bytes")
    return parse_record_line(stripped, "jsonl", where)
