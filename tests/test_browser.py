"""The web UI in a real browser (Playwright driving Debian's chromium) against the real server on 127.0.0.1:
feed → story (the digest first, above the fold; sections that open and close) → claim matrix → article on the
sample, the graph drawn, nothing executes from an article made of script tags, onerror handlers and javascript:
links, and every page passes axe-core's WCAG 2 A/AA rules (npm's axe-core, which .ci/run installs into .axe/).
Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLE, start_server, stop_server
from storyloom.ingest.records import record_to_raw
from storyloom.pipeline import ingest, ingest_items
from storyloom.settings import Settings
from storyloom.store import Store

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = ROOT / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
XSS_TITLE = "<script>alert('title')</script> Harbour <b>festival</b>"
XSS_TEXT = ("Boats filled the harbour <img src=x onerror=\"alert('text')\"> on Saturday as the festival opened.\n"
            "<script>document.title='pwned'</script> Music played until late <a href=\"javascript:alert('link')\">here</a>.")

from playwright.sync_api import sync_playwright  # noqa: E402  - a test dependency ('.[test]'): a broken install fails, it does not skip

pytestmark = [
    # chromium is a system package, not a Python dependency: its absence is the one reason to skip
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (apt-get install chromium)"),
    pytest.mark.slow,  # a real server and browser: 24 s measured for the module (11 s of it starting them)
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    db = tmp_path_factory.mktemp("ui") / "s.db"
    settings = Settings(db_path=str(db), line_classifier=False)
    pages = sorted((SAMPLE / "aeb").glob("*.html.gz"))[:10]
    with Store(db) as store:
        ingest([str(SAMPLE / "seeds"), *map(str, pages)], store, settings)
        rec = {"title": XSS_TITLE, "text": XSS_TEXT, "url": "javascript:alert('url')", "outlet": "<i>Evil</i> Times",
               "published": "2024-06-01T10:00:00Z"}
        ingest_items([record_to_raw(rec, json.dumps(rec).encode(), "jsonl", "xss")], store, settings)
    proc, base = start_server(db)
    yield base
    stop_server(proc)


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync"])
        yield b
        b.close()


def watch(page):  # type: ignore[no-untyped-def]
    """Collect dialogs (an executed alert) and console errors."""
    events: dict[str, list[str]] = {"dialogs": [], "errors": []}
    page.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
    page.on("console", lambda m: events["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: events["errors"].append(str(e)))
    return events


def accessible(page) -> None:  # type: ignore[no-untyped-def]
    """axe-core's WCAG 2.0/2.1 A and AA rules on the page as it is now: no violation."""
    assert AXE.is_file(), f"axe-core missing at {AXE}: run `npm install --prefix .axe axe-core@4` (.ci/run does)"
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    assert result == [], f"{page.url}: {result}"


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_feed_story_article_path(server: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # bypass: to inject axe
    events = watch(page)
    page.goto(server + "/")
    assert page.locator(".story-card").count() >= 5
    accessible(page)
    shot(page, "feed")
    page.locator(".story-card a.headline", has_text="China alliance with Russia").click()
    page.wait_for_url("**/stories/*")
    # the digest leads, above the fold: the key facts the two outlets share (the ISW claims)
    facts = page.locator("#digest ol.facts > li")
    assert facts.count() >= 3
    assert facts.first.bounding_box()["y"] < 900 and page.locator("#key-facts").bounding_box()["y"] < 600
    assert "2 outlets" in facts.first.inner_text()
    # sections open and close without script
    outlets = page.locator("details#outlets")
    assert outlets.get_attribute("open") is None and not page.locator("details#outlets ul.outlets").is_visible()
    outlets.locator("summary").click()
    assert page.locator("details#outlets ul.outlets").is_visible()
    outlets.locator("summary").click()
    assert not page.locator("details#outlets ul.outlets").is_visible()
    page.locator("details#provenance summary").click()
    page.locator("details#timeline summary").click()
    assert page.locator("svg.graph .node.source").count() >= 2 and page.locator("svg.graph line.edge").count() >= 4
    assert page.locator("svg.timeline circle.dot").count() == 2
    page.locator("svg.graph .node.source").first.click()
    assert page.locator("#node-details").is_visible()
    accessible(page)
    shot(page, "story")
    page.locator("a", has_text="Full claim matrix").click()
    page.wait_for_url("**/matrix")
    assert page.locator("table.matrix tr.row.shared").count() >= 3  # the shared ISW claims
    assert page.locator("table.matrix th").count() == 3  # the status column + two outlets
    accessible(page)
    page.go_back()
    page.locator("details#members summary").click()
    page.locator("details#members a", has_text="The results of the talks").first.click()
    page.wait_for_url("**/articles/*")
    assert page.locator("del.removed").count() == 3 and page.locator("span.reason").first.is_visible()
    accessible(page)
    shot(page, "article")
    assert not events["dialogs"] and not events["errors"], events


def test_phone_width_and_search(server: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 390, "height": 844}, bypass_csp=True)
    events = watch(page)
    page.goto(server + "/search?q=Lavrov")
    assert page.locator("ol.hits li").count() == 2 and page.locator("mark").count() >= 2
    accessible(page)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400  # no sideways scrolling of the page itself
    shot(page, "search-phone")
    assert not events["dialogs"] and not events["errors"], events


def test_untrusted_article_never_executes(server: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    events = watch(page)
    page.goto(server + "/search?q=harbour festival")
    page.locator("ol.hits a").first.click()
    page.wait_for_url("**/articles/*")
    assert "<script>" in page.locator("h1").inner_text()  # shown as text
    assert page.title() != "pwned" and page.locator("img").count() == 0
    assert page.locator("a[href^='javascript:']").count() == 0
    story_link = page.locator("dd a[href^='/stories/']").first.get_attribute("href")
    page.goto(server + story_link)
    assert "<script>" in page.locator("h1").inner_text()  # the story page and its digest show it as text too
    assert page.locator("#digest").count() == 1 and page.locator("img").count() == 0
    page.goto(server + story_link + "/matrix")
    assert page.title() != "pwned"
    page.goto(server + "/")
    shot(page, "xss")
    assert not events["dialogs"], events["dialogs"]
    assert not [e for e in events["errors"] if "alert" in e or "pwned" in e], events["errors"]


BIG_FACTS = ["Heavy rain flooded the old town of Novi Sad on Monday night.",
             "Rescue teams evacuated 3,000 residents from the riverside districts.",
             "The Danube rose two metres above its usual level in a single day.",
             "The regional government declared a state of emergency for the whole province.",
             "Schools in the flooded districts will stay closed until Friday.",
             "The army sent boats and helicopters to reach villages cut off by the water.",
             "Power was cut to 40,000 homes as a precaution, the utility said."]


def test_a_50_article_story_page_fits_a_screen(tmp_path_factory: pytest.TempPathFactory, browser) -> None:  # type: ignore[no-untyped-def]
    """The digest of a large story fits one screen with its sections folded; the matrix has its own pages."""
    import random

    db = tmp_path_factory.mktemp("big") / "b.db"
    settings = Settings(db_path=str(db), line_classifier=False, translations=False)
    rnd = random.Random(3)
    recs = []
    for k in range(50):
        facts = rnd.sample(BIG_FACTS, 5) + [f"Outlet {k} adds a detail of its own, number {k}, about the flood."]
        recs.append({"title": f"Floods hit Novi Sad ({k})", "text": " ".join(facts), "outlet": f"Outlet {k:02d}",
                     "published": f"2024-05-06T{8 + k % 12:02d}:{k:02d}:00Z", "language": "en"})
    with Store(db) as store:
        ingest_items([record_to_raw(r, json.dumps(r).encode(), "jsonl", f"r{k}") for k, r in enumerate(recs)],
                     store, settings)
    proc, base = start_server(db)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)
        page.goto(base + "/?min_articles=20")
        page.locator(".story-card a.headline").first.click()
        page.wait_for_url("**/stories/*")
        for _ in range(60):  # a story this large is compared behind the page: it reloads until the digest is in
            if page.locator("#digest ol.facts > li").count():
                break
            page.wait_for_timeout(500)
            page.reload()
        assert page.locator("#digest ol.facts > li").count() >= 5
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height <= 2 * 900, height  # one screen and a bit, whatever the number of articles
        shot(page, "story-50")
        accessible(page)
    finally:
        stop_server(proc)
