"""WARC / WARC.gz → RawDocs: the HTML payloads of HTTP response records.

warcio streams record by record, so a multi-GB crawl is never held in memory.  A truncated or corrupt
archive yields what was read before the damage and then one error line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from storyloom.errors import BadInput
from storyloom.ingest.decode import looks_binary
from storyloom.models import RawDoc
from storyloom.settings import Settings

HTML_TYPES = ("text/html", "application/xhtml+xml")


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip("\"' ")
    return None


def iter_warc(path: Path, settings: Settings) -> Iterator[RawDoc | BadInput]:
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    from storyloom.ingest.decode import decode_text

    loc = str(path)
    if path.stat().st_size == 0:
        yield BadInput(loc, "empty file")
        return
    count = 0
    with open(path, "rb") as fh:
        try:
            for record in ArchiveIterator(fh):
                if record.rec_type != "response" or record.http_headers is None:
                    continue
                ctype = record.http_headers.get_header("Content-Type") or ""
                if not ctype.lower().startswith(HTML_TYPES):
                    continue
                status = record.http_headers.get_statuscode()
                url = record.rec_headers.get_header("WARC-Target-URI")
                where = f"{loc}#{record.rec_headers.get_header('WARC-Record-ID') or count}"
                if status and not status.startswith("2"):
                    continue  # redirects and errors carry no article
                payload = record.content_stream().read(settings.max_item_bytes + 1)
                count += 1
                if len(payload) > settings.max_item_bytes:
                    yield BadInput(where, f"payload larger than the item cap of {settings.max_item_bytes:,} bytes")
                    continue
                if not payload.strip() or looks_binary(payload):
                    yield BadInput(where, "empty or binary payload")
                    continue
                try:
                    html = decode_text(payload, where, _charset(ctype))
                except BadInput as exc:
                    yield exc
                    continue
                yield RawDoc(
                    raw=payload,
                    kind="warc",
                    location=where,
                    url=url,
                    html=html,
                    extra={"warc_date": record.rec_headers.get_header("WARC-Date")},
                )
        except (ArchiveLoadFailed, EOFError, OSError, ValueError) as exc:
            yield BadInput(loc, f"truncated or corrupt WARC after {count} record(s): {exc}")
            return
    if count == 0:
        yield BadInput(loc, "no HTML response records")
