"""RSS/Atom feeds and OPML feed lists.

feedparser reads the feed (never fetching anything itself: we hand it bytes fetched through the guarded
:class:`~storyloom.ingest.web.Fetcher`).  Each entry becomes one RawDoc: its full content when the feed
carries it (``content:encoded``, Atom ``content``), otherwise — when a fetcher is given — the linked page,
and the entry's summary when that page cannot be had (with a warning saying so).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from lxml import etree

from storyloom.decoding import header_charset
from storyloom.errors import BadInput
from storyloom.ingest.guard import describe, unreadable
from storyloom.models import RawDoc
from storyloom.settings import Settings

FULL_CONTENT_CHARS = 1200  # entry content shorter than this (as text) is a teaser: fetch the page


@dataclass(frozen=True)
class FeedRef:
    url: str
    title: str | None = None
    language: str | None = None
    category: str | None = None


class UnreadableFeed(BadInput):
    """The document is not a feed at all (an HTML page, broken XML): for a poller, the feed is failing."""


def looks_like_feed(data: bytes) -> bool:
    head = data[:2048].lstrip().lower()
    return head.startswith(b"<?xml") and any(t in data[:4096].lower() for t in (b"<rss", b"<feed", b"<rdf:rdf")) or head.startswith((b"<rss", b"<feed"))


def looks_like_opml(data: bytes) -> bool:
    return b"<opml" in data[:4096].lower()


def parse_opml(data: bytes, location: str) -> list[FeedRef]:
    """Feed outlines of an OPML file (nested categories flattened; order kept; duplicates dropped)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:  # ValueError: e.g. a str with an encoding declaration
        raise BadInput(location, f"malformed OPML: {exc}") from exc
    if root is None or not isinstance(root.tag, str) or root.tag.lower() != "opml":
        raise BadInput(location, "not an OPML document")
    refs: list[FeedRef] = []
    seen: set[str] = set()

    def visit(node: Any, category: str | None) -> None:
        for child in node:
            if not isinstance(child.tag, str) or child.tag.lower() != "outline":
                continue
            url = (child.get("xmlUrl") or child.get("xmlurl") or "").strip()
            label = child.get("title") or child.get("text")
            if url:
                if url not in seen:
                    seen.add(url)
                    refs.append(FeedRef(url, label, child.get("language"), category))
            else:
                visit(child, label or category)

    body = root.find("body")
    visit(body if body is not None else root, None)
    if not refs:
        raise BadInput(location, "OPML lists no feeds (no outline with xmlUrl)")
    return refs


def _entry_text(entry: Any) -> tuple[str | None, str | None]:
    """(html of full content, html of summary)."""
    content = None
    for c in entry.get("content") or []:
        value = c.get("value")
        if value and (content is None or len(value) > len(content)):
            content = value
    return content, entry.get("summary")


def _html_text_len(html: str) -> int:
    try:
        from lxml import html as lh

        return len(lh.fromstring(html).text_content().strip())
    except (etree.ParserError, ValueError):
        return len(html)


def entry_document(fragment: str) -> str:
    """Entry content is an HTML fragment (often one ``<p>``, or bare text); extractors expect a page."""
    if "<html" in fragment[:1024].lower():
        return fragment
    return f"<html><body>{fragment}</body></html>"


def entry_record(entry: Any, feed_url: str) -> dict[str, Any]:
    """The stable fields of an entry, as the canonical record we keep as its raw bytes."""
    content, summary = _entry_text(entry)
    tags = [t.get("term") for t in entry.get("tags") or [] if isinstance(t.get("term"), str) and t.get("term")]
    return {
        "feed": feed_url,
        "id": _str(entry.get("id")),
        "link": _str(entry.get("link")),
        "title": _str(entry.get("title")),
        "author": _str(entry.get("author")),
        "published": _str(entry.get("published")) or _str(entry.get("updated")),
        "summary": _str(summary),
        "content": _str(content),
        "tags": tags,
    }


def iter_feed(
    data: bytes, location: str, settings: Settings, fetcher: Any | None = None, known_url: Any = None
) -> Iterator[RawDoc | BadInput]:
    """Entries of one RSS/Atom document.  ``known_url(url) -> bool`` lets a poller skip pages it has."""
    import feedparser

    # A BytesIO, never the bytes themselves: given bytes that name an existing file, feedparser.parse()
    # reads that file (a server answering "/etc/passwd" or "/dev/zero" would make us read it).
    try:
        parsed = feedparser.parse(io.BytesIO(data))
    except Exception as exc:
        yield UnreadableFeed(location, f"not a readable feed ({describe(exc)})")
        return
    if not parsed.entries:
        if parsed.get("bozo") or not parsed.get("version"):  # no version: feedparser saw no RSS/Atom/RDF at all
            why = parsed.get("bozo_exception") or "no RSS, Atom or RDF document found"
            yield UnreadableFeed(location, f"not a readable feed: {why}")
        else:
            yield BadInput(location, "feed has no entries")
        return
    feed_title = _str(parsed.feed.get("title"))
    feed_lang = (_str(parsed.feed.get("language")) or "").split("-")[0].lower() or None
    for i, entry in enumerate(parsed.entries):
        try:
            yield from _entry_items(entry, i, location, feed_title, feed_lang, fetcher, known_url)
        except BadInput as exc:
            yield exc
        except Exception as exc:
            yield unreadable(f"{location}#{i}", exc)


def _str(value: Any) -> str | None:
    """A feed field as text: feedparser hands out whatever the document held."""
    return value if isinstance(value, str) else None


def _entry_items(entry: Any, i: int, location: str, feed_title: str | None, feed_lang: str | None,
                 fetcher: Any | None, known_url: Any) -> Iterator[RawDoc | BadInput]:
    """The article of one feed entry (its content, or its linked page), or why there is none."""
    rec = entry_record(entry, location)
    where = f"{location}#{rec['id'] or rec['link'] or i}"
    if rec["link"] and location.startswith(("http://", "https://")):
        rec["link"] = urljoin(location, rec["link"].strip())  # relative links are relative to the feed
    body = rec["content"] or rec["summary"]
    link = rec["link"]
    if link and fetcher is not None and (not rec["content"] or _html_text_len(rec["content"]) < FULL_CONTENT_CHARS):
        if known_url is not None and known_url(link):
            return
        from storyloom.ingest.decode import decode_html

        try:
            page = fetcher.fetch(link)
            if not page.content.strip():
                raise BadInput(link, "the page is empty")
            page_html = decode_html(page.content, link, header_charset(page.headers.get("content-type")))
        except BadInput as exc:
            if not body:
                yield exc
                return
            warning = f"linked page not fetched ({exc.reason}); feed text used"
            rec = {**rec, "warning": warning}
        else:
            yield RawDoc(
                raw=page.content, kind="url", location=link, url=page.final_url, title=rec["title"],
                html=page_html, published=rec["published"], outlet=feed_title,
                author=rec["author"], language=feed_lang, extra={"feed": location, "feed_entry": rec["id"]},
            )
            return
    if not body:
        yield BadInput(where, "entry has no content and no page could be fetched")
        return
    raw = json.dumps(rec, ensure_ascii=False, sort_keys=True).encode("utf-8")
    yield RawDoc(
        raw=raw, kind="feed", location=where, url=link, title=rec["title"], html=entry_document(body),
        published=rec["published"], outlet=feed_title, author=rec["author"], language=feed_lang,
        extra={k: v for k, v in rec.items() if k in ("feed", "id", "tags", "warning") and v},
    )


def iter_opml_feeds(data: bytes, location: str, settings: Settings, fetcher: Any | None) -> Iterator[RawDoc | BadInput]:
    """Ingesting an OPML file fetches each of its feeds once (``watch`` polls them repeatedly)."""
    try:
        refs = parse_opml(data, location)
    except BadInput as exc:
        yield exc
        return
    except Exception as exc:
        yield unreadable(location, exc)
        return
    if fetcher is None:
        yield BadInput(location, "an OPML feed list needs network access to fetch its feeds")
        return
    for ref in refs:
        yield from iter_feed_url(ref.url, settings, fetcher)


def iter_feed_url(url: str, settings: Settings, fetcher: Any) -> Iterator[RawDoc | BadInput]:
    try:
        res = fetcher.fetch(url)
    except BadInput as exc:
        yield exc
        return
    except Exception as exc:
        yield BadInput(url, f"cannot fetch ({describe(exc)})")
        return
    yield from iter_feed(res.content, url, settings, fetcher if settings.fetch_links else None)
