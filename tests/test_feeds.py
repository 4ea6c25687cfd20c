"""RSS/Atom entries → RawDocs (full content, linked page, summary fallback) and OPML feed lists."""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from httpserver import LOREM, LocalServer, Reply, article_html, http_server, opml, rss, server  # noqa: F401
from storyloom.errors import BadInput, FetchError
from storyloom.ingest.feeds import (
    FULL_CONTENT_CHARS,
    iter_feed,
    iter_opml_feeds,
    looks_like_feed,
    looks_like_opml,
    parse_opml,
)
from storyloom.ingest.web import Fetcher
from storyloom.models import RawDoc
from storyloom.settings import Settings

FAST = Settings(fetch_timeout=0.5, fetch_total_timeout=3.0, max_fetch_bytes=100_000, allow_private=True)
FULL = "<p>" + LOREM * 4 + "</p>"  # comfortably over FULL_CONTENT_CHARS of text
assert len(LOREM * 4) > FULL_CONTENT_CHARS


def docs(items: list[RawDoc | BadInput]) -> list[RawDoc]:
    return [i for i in items if isinstance(i, RawDoc)]


def bad(items: list[RawDoc | BadInput]) -> list[BadInput]:
    return [i for i in items if isinstance(i, BadInput)]


# -- RSS and Atom ---------------------------------------------------------------------------------------


def test_rss_entries_full_content_linked_page_summary_fallback_and_nothing(server: LocalServer) -> None:
    server.route("/story2", Reply(200, article_html("Second story"), {"Content-Type": "text/html"}))
    feed_url = server.url("/feed.xml")
    data = rss([
        {"title": "Full story", "link": server.url("/story1"), "guid": "g1", "description": "teaser one",
         "content": FULL, "pubDate": "Tue, 03 Jun 2025 09:00:00 GMT"},
        {"title": "Second story", "link": server.url("/story2"), "guid": "g2", "description": "teaser two"},
        {"title": "Gone story", "link": server.url("/gone"), "guid": "g3", "description": "only a teaser survives"},
        {"title": "Empty story", "link": server.url("/gone-too"), "guid": "g4"},
    ])
    with Fetcher(FAST) as f:
        items = list(iter_feed(data, feed_url, FAST, f))
    assert len(items) == 4
    full, page, fallback, nothing = items

    assert isinstance(full, RawDoc) and full.kind == "feed"
    assert full.location == f"{feed_url}#g1" and full.url == server.url("/story1")
    assert "breakwater" in (full.html or "") and full.title == "Full story"
    assert full.outlet == "Harbour News" and full.language == "en" and full.published
    assert json.loads(full.raw)["content"]  # the raw bytes are the canonical entry record
    assert server.hits("/story1") == []  # full content: the page is not fetched

    assert isinstance(page, RawDoc) and page.kind == "url"
    assert page.location == server.url("/story2") and page.url == server.url("/story2")
    assert page.raw == article_html("Second story") and page.title == "Second story"
    assert page.extra["feed"] == feed_url and page.outlet == "Harbour News"

    assert isinstance(fallback, RawDoc) and fallback.kind == "feed"
    assert "only a teaser survives" in (fallback.html or "")
    assert "404" in fallback.extra["warning"] and "404" in json.loads(fallback.raw)["warning"]

    assert isinstance(nothing, BadInput) and not isinstance(nothing, RawDoc)
    assert len(server.hits("/gone-too")) == 1


def test_atom_entries(server: LocalServer) -> None:
    server.route("/a2", Reply(200, article_html("Atom two"), {"Content-Type": "text/html"}))
    data = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">
  <title>Le Port</title><id>urn:feed</id><updated>2025-06-03T10:00:00Z</updated>
  <entry><title>Atom one</title><id>urn:a1</id><link href="{server.url('/a1')}"/>
    <updated>2025-06-03T10:00:00Z</updated><author><name>Ana</name></author>
    <content type="html"><![CDATA[{FULL}]]></content></entry>
  <entry><title>Atom two</title><id>urn:a2</id><link rel="alternate" href="{server.url('/a2')}"/>
    <updated>2025-06-03T11:00:00Z</updated><summary>short</summary></entry>
</feed>""".encode()
    assert looks_like_feed(data)
    with Fetcher(FAST) as f:
        one, two = iter_feed(data, server.url("/atom"), FAST, f)
    assert isinstance(one, RawDoc) and one.kind == "feed" and one.author == "Ana" and one.outlet == "Le Port"
    assert one.location.endswith("#urn:a1") and one.published and "breakwater" in (one.html or "")
    assert isinstance(two, RawDoc) and two.kind == "url" and two.url == server.url("/a2")
    assert server.hits("/a1") == []


def test_without_a_fetcher_the_summary_is_used() -> None:
    data = rss([{"title": "t", "link": "http://example.org/x", "guid": "x", "description": "a short summary"}])
    [doc] = iter_feed(data, "feed.xml", FAST, None)
    assert isinstance(doc, RawDoc) and doc.kind == "feed" and "a short summary" in (doc.html or "")
    assert "warning" not in doc.extra


def test_same_feed_twice_gives_the_same_bytes() -> None:
    data = rss([{"title": "t", "link": "http://example.org/x", "guid": "x", "content": FULL}])
    a = docs(list(iter_feed(data, "http://example.org/feed", FAST)))
    b = docs(list(iter_feed(data, "http://example.org/feed", FAST)))
    assert [d.raw for d in a] == [d.raw for d in b] and a[0].id == b[0].id


def test_relative_entry_links_resolve_against_the_feed_url(server: LocalServer) -> None:
    server.route("/news/rel", Reply(200, article_html("Relative story"), {"Content-Type": "text/html"}))
    data = rss([{"title": "Relative story", "link": "/news/rel", "guid": "r", "description": "teaser"}])
    with Fetcher(FAST) as f:
        [doc] = iter_feed(data, server.url("/news/feed.xml"), FAST, f)
    assert isinstance(doc, RawDoc) and doc.kind == "url" and doc.url == server.url("/news/rel")
    assert len(server.hits("/news/rel")) == 1


@pytest.mark.parametrize("location", ["http://example.org/feed", "feeds/local.xml"])
def test_encoding_utf8_by_default_and_as_declared(location: str) -> None:
    plain = ('<rss version="2.0"><channel><title>Z\u00fcrich Zeitung</title><item><title>Gr\u00fc\u00dfe</title>'
             "<guid>u</guid><description>\u00c4rger in Z\u00fcrich</description></item></channel></rss>")
    [a] = iter_feed(plain.encode("utf-8"), location, FAST)
    declared = plain.replace("<rss", '<?xml version="1.0" encoding="windows-1252"?><rss', 1).encode("cp1252")
    [b] = iter_feed(declared, location, FAST)
    for doc in (a, b):
        assert isinstance(doc, RawDoc) and doc.outlet == "Z\u00fcrich Zeitung" and doc.title == "Gr\u00fc\u00dfe"
        assert "\u00c4rger" in (doc.html or "")


def test_known_pages_are_skipped_without_fetching(server: LocalServer) -> None:
    server.route("/k", Reply(200, article_html("Known")))
    data = rss([{"title": "Known", "link": server.url("/k"), "guid": "k", "description": "teaser"}])
    with Fetcher(FAST) as f:
        assert list(iter_feed(data, server.url("/feed"), FAST, f, known_url=lambda u: u == server.url("/k"))) == []
    assert server.hits() == []


def test_a_refused_link_falls_back_to_the_summary() -> None:
    """A feed linking to an internal address: the page is not fetched (SSRF guard), the teaser is kept."""
    data = rss([{"title": "t", "link": "http://169.254.169.254/latest/meta-data/", "guid": "m", "description": "teaser"}])
    with Fetcher(Settings(fetch_timeout=0.5)) as f:
        [doc] = iter_feed(data, "http://example.org/feed", FAST, f)
    assert isinstance(doc, RawDoc) and doc.kind == "feed" and "refused" in doc.extra["warning"]


@pytest.mark.parametrize("data", [
    b"this is plainly not a feed",
    b"<html><head><title>hi</title></head><body><p>just a page</p></body></html>",
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>broken',
    b"\x00\x01\x02\x03binary\xff\xfe",
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>No items</title></channel></rss>',
    b"",
])
def test_malformed_or_non_feed_bytes_give_one_bad_input(data: bytes) -> None:
    items = list(iter_feed(data, "http://example.org/feed", FAST))
    assert len(items) == 1 and isinstance(items[0], BadInput)


def test_feed_bytes_are_never_taken_for_a_file_name(tmp_path: Path) -> None:
    """A server answering with a local path must not make the parser read that file."""
    secret = tmp_path / "local.xml"
    secret.write_bytes(rss([{"title": "Local secret", "link": "http://example.org/s", "guid": "s", "content": FULL}]))
    items = list(iter_feed(str(secret).encode(), "http://evil.example/feed", FAST))
    assert len(items) == 1 and isinstance(items[0], BadInput)


def test_empty_or_binary_linked_page_falls_back_to_the_summary(server: LocalServer) -> None:
    server.route("/empty", Reply(200, b"  \n", {"Content-Type": "text/html"}))
    server.route("/bin", Reply(200, b"\x00\x01PK\x03\x04" * 50, {"Content-Type": "application/zip"}))
    data = rss([{"title": "e", "link": server.url("/empty"), "guid": "e", "description": "teaser e"},
                {"title": "b", "link": server.url("/bin"), "guid": "b", "description": "teaser b"}])
    with Fetcher(FAST) as f:
        e, b = iter_feed(data, server.url("/feed"), FAST, f)
    assert isinstance(e, RawDoc) and e.kind == "feed" and "empty" in e.extra["warning"]
    assert isinstance(b, RawDoc) and b.kind == "feed" and "binary" in b.extra["warning"]


def test_fetch_error_without_body_is_reported_for_the_entry(server: LocalServer) -> None:
    data = rss([{"title": "nothing", "link": server.url("/nope"), "guid": "n"}])
    with Fetcher(FAST) as f:
        [item] = iter_feed(data, server.url("/feed"), FAST, f)
    assert isinstance(item, FetchError) and "404" in item.reason


# -- OPML -----------------------------------------------------------------------------------------------


def test_opml_nested_outlines_flattened_in_order_with_duplicates_dropped() -> None:
    data = b"""<?xml version="1.0"?><opml version="2.0"><head><title>mine</title></head><body>
      <outline text="World">
        <outline text="A" title="Feed A" type="rss" xmlUrl="https://a.example/rss" language="en"/>
        <outline text="Europe"><outline text="B" xmlUrl="https://b.example/atom" language="de"/></outline>
      </outline>
      <outline text="A again" xmlUrl="https://a.example/rss"/>
      <outline text="C" xmlurl=" https://c.example/feed "/>
      <outline text="no url here"/>
    </body></opml>"""
    assert looks_like_opml(data) and not looks_like_feed(data)
    refs = parse_opml(data, "mine.opml")
    assert [r.url for r in refs] == ["https://a.example/rss", "https://b.example/atom", "https://c.example/feed"]
    assert refs[0].title == "Feed A" and refs[0].language == "en" and refs[0].category == "World"
    assert refs[1].category == "Europe" and refs[1].language == "de"


@pytest.mark.parametrize("data,why", [
    (b"<opml><body><outline xmlUrl='https://a.example/'></body>", "malformed"),
    (b"", "malformed"),
    (b'<?xml version="1.0"?><opml version="2.0"><body><outline text="empty folder"/></body></opml>', "no feeds"),
    (b'<?xml version="1.0"?><opml version="2.0"><head/><body/></opml>', "no feeds"),
    (b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', "not an OPML"),
])
def test_bad_opml_is_one_bad_input(data: bytes, why: str) -> None:
    with pytest.raises(BadInput) as ei:
        parse_opml(data, "list.opml")
    assert ei.value.location == "list.opml"
    assert why.split()[-1] in ei.value.reason
    items = list(iter_opml_feeds(data, "list.opml", FAST, None))
    assert len(items) == 1 and isinstance(items[0], BadInput)


def test_opml_does_not_expand_external_entities(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("https://leaked.example/")
    data = f"""<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file://{secret}">]>
<opml version="2.0"><body><outline text="a" xmlUrl="&x;"/><outline xmlUrl="https://ok.example/"/></body></opml>""".encode()
    try:
        refs = parse_opml(data, "x.opml")
    except BadInput:
        return
    assert all("leaked" not in r.url for r in refs)


def test_opml_feeds_are_fetched_once_each(server: LocalServer) -> None:
    a = server.route("/a.xml", Reply(200, rss([{"title": "A1", "link": "http://example.org/a1", "guid": "a1", "content": FULL}])))
    b = server.route("/b.xml", Reply(200, rss([{"title": "B1", "link": "http://example.org/b1", "guid": "b1", "content": FULL}])))
    with Fetcher(FAST) as f:
        items = list(iter_opml_feeds(opml([a, b, a, server.url("/missing.xml")], nested=True), "l.opml", FAST, f))
    assert [d.title for d in docs(items)] == ["A1", "B1"]
    assert len(bad(items)) == 1 and "404" in bad(items)[0].reason
    assert len(server.hits("/a.xml")) == 1


def test_opml_without_network_is_one_bad_input() -> None:
    items = list(iter_opml_feeds(opml(["https://a.example/rss"]), "l.opml", FAST, None))
    assert len(items) == 1 and "network" in items[0].reason  # type: ignore[union-attr]


def test_bundled_feed_list() -> None:
    path = resources.files("storyloom") / "data" / "feeds.opml"
    refs = parse_opml(path.read_bytes(), str(path))
    assert len(refs) >= 50
    urls = [r.url for r in refs]
    assert len(set(urls)) == len(urls)
    assert all(urlsplit(u).scheme in ("http", "https") and urlsplit(u).hostname for u in urls)
    langs = Counter(r.language for r in refs)
    assert None not in langs, "every bundled feed declares its language"
    assert len(langs) >= 8, langs
    assert all(r.title for r in refs)


# -- end to end through the pipeline ----------------------------------------------------------------------


def kinds(store) -> Counter[str]:  # type: ignore[no-untyped-def]
    return Counter(r[0] for r in store.conn.execute("SELECT kind FROM articles"))


def test_pipeline_ingests_a_feed_url_and_a_rerun_adds_nothing(server: LocalServer, tmp_path: Path) -> None:
    from storyloom.pipeline import ingest
    from storyloom.store import Store

    server.route("/p1", Reply(200, article_html("Page one", seed="alpha"), {"Content-Type": "text/html"}))
    feed = server.route("/feed.xml", Reply(200, rss([
        {"title": "Entry with text", "link": server.url("/e0"), "guid": "e0", "content": FULL},
        {"title": "Page one", "link": server.url("/p1"), "guid": "e1", "description": "teaser"},
    ]), {"Content-Type": "application/rss+xml"}))
    with Store(tmp_path / "s.db") as store:
        first = ingest([feed], store, FAST)
        assert first.counts["added"] == 2 and first.failed == 0, first.errors
        assert kinds(store) == Counter({"feed": 1, "url": 1})
        row = store.conn.execute("SELECT url, outlet, language FROM articles WHERE kind = 'url'").fetchone()
        assert tuple(row) == (server.url("/p1"), "Harbour News", "en")
        second = ingest([feed], store, FAST)
        assert second.stored == 0 and second.counts["duplicate"] == 2
        assert store.conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 2


def test_pipeline_ingests_an_html_page_url(server: LocalServer, tmp_path: Path) -> None:
    from storyloom.pipeline import ingest
    from storyloom.store import Store

    server.route("/story", Reply(200, article_html("A page"), {"Content-Type": "text/html; charset=utf-8"}))
    server.route("/short", Reply(301, headers={"Location": "/story"}))
    with Store(tmp_path / "s.db") as store:
        rep = ingest([server.url("/short")], store, FAST)
        assert rep.counts["added"] == 1, rep.errors
        kind, url, title, extra = store.conn.execute("SELECT kind, url, title, extra FROM articles").fetchone()
    assert kind == "url" and url == server.url("/story") and title == "A page"
    assert json.loads(extra)["redirects"] == [server.url("/story")]


def test_pipeline_ingests_the_feeds_of_an_opml_url(server: LocalServer, tmp_path: Path) -> None:
    from storyloom.pipeline import ingest
    from storyloom.store import Store

    a = server.route("/a.xml", Reply(200, rss([{"title": "From A", "link": "http://example.org/a", "guid": "a", "content": FULL}])))
    b = server.route("/b.xml", Reply(200, rss([{"title": "From B", "link": "http://example.org/b", "guid": "b",
                                                 "content": FULL.replace("harbour", "airport")}])))
    lst = server.route("/list", Reply(200, opml([a, b]), {"Content-Type": "text/x-opml"}))
    with Store(tmp_path / "s.db") as store:
        rep = ingest([lst], store, FAST)
        titles = sorted(r[0] for r in store.conn.execute("SELECT title FROM articles"))
    assert rep.counts["added"] == 2 and rep.failed == 0, rep.errors
    assert titles == ["From A", "From B"]


def test_pipeline_reports_bad_urls_and_goes_on(server: LocalServer, tmp_path: Path) -> None:
    from storyloom.pipeline import ingest
    from storyloom.store import Store

    server.route("/ok", Reply(200, article_html("Fine page"), {"Content-Type": "text/html"}))
    server.route("/pdf", Reply(200, b"%PDF-1.4\x00\x01\x02binary", {"Content-Type": "application/pdf"}))
    urls = [server.url("/missing"), server.url("/pdf"), "http://10.0.0.1/", server.url("/ok")]
    with Store(tmp_path / "s.db") as store:
        rep = ingest(urls, store, FAST)
        assert rep.counts["added"] == 1 and rep.failed == 3
    reasons = dict(rep.errors)
    assert "404" in reasons[server.url("/missing")] and "pdf" in reasons[server.url("/pdf")]
    guarded = Settings(fetch_timeout=0.5)
    with Store(tmp_path / "t.db") as store:
        rep = ingest([server.url("/ok")], store, guarded)
    assert rep.failed == 1 and "refused" in rep.errors[0][1] and len(server.hits("/ok")) == 1
