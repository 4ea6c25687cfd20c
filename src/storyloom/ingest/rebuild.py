"""Rebuild a RawDoc from its stored raw bytes, so any later stage can be re-run without fetching again.

The bytes alone say most of it (a .txt's headline line, a JSON record's fields, a page's HTML); what only
the surrounding source said (a feed entry's outlet, a WARC record's URL) was stored as ``declared`` fields.
"""

from __future__ import annotations

import json
from typing import Any

from storyloom.errors import BadInput
from storyloom.ingest.decode import decode_html, decode_text
from storyloom.ingest.files import split_headline
from storyloom.ingest.records import parse_json_bytes, record_to_raw
from storyloom.models import RawDoc


def rebuild_raw(kind: str, location: str, raw: bytes, declared: dict[str, Any], extra: dict[str, Any]) -> RawDoc:
    if kind == "txt":
        title, body = split_headline(decode_text(raw, location))
        return RawDoc(raw=raw, kind=kind, location=location, title=title or None, text=body or title)
    if kind in ("json", "jsonl"):
        return record_to_raw(parse_json_bytes(raw, location), raw, kind, location)
    if kind == "feed":
        rec = json.loads(raw)
        from storyloom.ingest.feeds import entry_document

        html = rec.get("content") or rec.get("summary")
        if not html:
            raise BadInput(location, "feed entry has no content")
        return RawDoc(raw=raw, kind=kind, location=location, html=entry_document(html), extra=extra, **declared)
    if kind in ("html", "url", "warc"):
        return RawDoc(raw=raw, kind=kind, location=location, html=decode_html(raw, location, extra.get("http_charset")), extra=extra,
                      **declared)
    raise BadInput(location, f"cannot rebuild an item of kind {kind!r}")
