"""Ingest: anything a user has (folders, files, URLs, feeds, feed lists) → a stream of RawDocs.

The stream carries errors as values (:class:`~storyloom.errors.BadInput`), in input order, so the caller
reports each bad item on one line and carries on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from storyloom.errors import BadInput, Skipped
from storyloom.ingest.files import Item, file_format, iter_file, walk_items
from storyloom.ingest.guard import guarded
from storyloom.models import RawDoc
from storyloom.settings import Settings

URL_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_url(s: str) -> bool:
    return bool(URL_RE.match(s))


def iter_url(url: str, settings: Settings, fetcher: Any) -> Iterator[Item]:
    """A URL may be an article page, an RSS/Atom feed or an OPML list: the response tells which.

    Never raises: an exception no reader expected is one BadInput for the URL (the API's worker and the
    CLI both rely on that)."""
    yield from guarded(_iter_url(url, settings, fetcher), url)


def _iter_url(url: str, settings: Settings, fetcher: Any) -> Iterator[Item]:
    from storyloom.decoding import header_charset
    from storyloom.ingest.decode import decode_html
    from storyloom.ingest.feeds import iter_feed, iter_opml_feeds, looks_like_feed, looks_like_opml

    if fetcher is None:
        yield BadInput(url, "URL ingest needs network access")
        return
    try:
        res = fetcher.fetch(url)
    except BadInput as exc:
        yield exc
        return
    data = res.content
    if not data.strip():
        yield BadInput(url, "empty response")
        return
    ctype = res.content_type
    if looks_like_opml(data):
        yield from iter_opml_feeds(data, url, settings, fetcher)
    elif "rss" in ctype or "atom" in ctype or looks_like_feed(data):
        yield from iter_feed(data, url, settings, fetcher if settings.fetch_links else None)
    elif ctype in ("", "text/html", "application/xhtml+xml", "text/plain") or data.lstrip()[:1] == b"<":
        charset = header_charset(res.headers.get("content-type"))
        extra: dict[str, Any] = {"redirects": res.redirects} if res.redirects else {}
        if charset:  # kept, so that a re-clean from the raw bytes decodes them exactly as now
            extra["http_charset"] = charset
        try:
            yield RawDoc(raw=data, kind="url", location=url, url=res.final_url,
                         html=decode_html(data, url, charset), extra=extra)
        except BadInput as exc:
            yield exc
    else:
        yield BadInput(url, f"unsupported content type {ctype!r}")


def iter_inputs(inputs: Iterable[str], settings: Settings, fetcher: Any | None = None, *, urls: bool = True,
                parquet: Callable[[str], Iterator[Item]] | None = None) -> Iterator[Item]:
    """Every item of every input, in order: paths are walked (sorted), URLs fetched.

    The one input walk of both the ingest and the local batch engine (``urls=False``: a URL is refused, it is
    fetched by ``storyloom ingest``; ``parquet``: the reader of ``.parquet`` files, which only batches take)."""
    for inp in inputs:
        if is_url(inp):
            if urls:
                yield from iter_url(inp, settings, fetcher)
            else:
                yield BadInput(inp, "not a batch input: give files or folders (URLs are fetched by `storyloom ingest`)")
            continue
        path = Path(inp)
        if not path.exists():
            yield BadInput(inp, "no such file or directory")
            continue
        explicit = not path.is_dir()
        for f in walk_items(path, settings.follow_symlinks):
            if isinstance(f, BadInput):
                yield f
                continue
            if parquet is not None and f.name.lower().endswith(".parquet"):
                yield from parquet(str(f))
                continue
            if not explicit and file_format(str(f)) is None:
                yield Skipped(str(f), "unknown file type")
                continue
            yield from iter_file(f, settings, fetcher)


__all__ = ["iter_inputs", "iter_url", "is_url", "Item"]
