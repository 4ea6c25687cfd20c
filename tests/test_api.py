"""The JSON API through the app factory on a temporary store: shapes, filters, cursors, errors, ingest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import SAMPLE
from storyloom import blas
from storyloom.pipeline import ingest
from storyloom.serve import create_app
from storyloom.settings import Settings
from storyloom.store import Store

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    db = tmp_path_factory.mktemp("api") / "s.db"
    settings = Settings(db_path=str(db), line_classifier=False, api_token=TOKEN, max_request_bytes=200_000)
    pages = sorted((SAMPLE / "aeb").glob("*.html.gz"))[:12]
    with Store(db) as store:
        ingest([str(SAMPLE / "seeds"), *map(str, pages)], store, settings)
    return TestClient(create_app(settings))


def seeds_story(client: TestClient) -> dict:  # type: ignore[type-arg]
    items = client.get("/api/stories", params={"min_articles": 2}).json()["items"]
    return next(s for s in items if "Beijing" in s["label"])


def test_health_and_openapi(client: TestClient) -> None:
    h = client.get("/api/health").json()
    assert h["status"] == "ok" and h["articles"] == 14 and h["stories"] >= 2
    assert "/api/stories" in client.get("/openapi.json").json()["paths"]


def test_stories_paging_and_filters(client: TestClient) -> None:
    first = client.get("/api/stories", params={"limit": 5}).json()
    assert len(first["items"]) == 5 and first["next_cursor"]
    second = client.get("/api/stories", params={"limit": 5, "cursor": first["next_cursor"]}).json()
    assert not {s["id"] for s in first["items"]} & {s["id"] for s in second["items"]}
    big = client.get("/api/stories", params={"sort": "size", "limit": 3}).json()["items"]
    assert big[0]["n_articles"] >= big[-1]["n_articles"]
    english = client.get("/api/stories", params={"language": "en"}).json()["items"]
    assert english and all("en" in s["languages"] for s in english)  # not vacuously true of an empty page
    hits = client.get("/api/stories", params={"q": "Lavrov"}).json()["items"]
    assert [s["n_articles"] for s in hits] == [2]
    assert client.get("/api/stories", params={"cursor": "garbage!"}).status_code == 400


def test_story_detail_has_matrix_timeline_graph(client: TestClient) -> None:
    s = seeds_story(client)
    d = client.get(f"/api/stories/{s['id']}").json()
    assert len(d["members"]) == 2 and d["timeline"]["dots"]
    assert d["claim_matrix"]["summary"]["shared_by_all"] >= 3
    kinds = {e["kind"] for e in d["provenance"]["edges"]}
    assert {"cites", "attributes-to"} <= kinds


def test_article_detail_removed_spans_and_raw(client: TestClient) -> None:
    s = seeds_story(client)
    d = client.get(f"/api/stories/{s['id']}").json()
    buna = next(m for m in d["members"] if m["title"].startswith("The results"))
    a = client.get(f"/api/articles/{buna['id']}", params={"raw": "true"}).json()
    assert {r["rule"] for r in a["removed"]} == {"inline_css_js", "source_footer", "author_bio"}
    assert a["raw"]["encoding"] == "utf-8" and "Source: Racurs" in a["raw"]["data"]
    assert a["story_id"] == s["id"]


def test_search(client: TestClient) -> None:
    r = client.get("/api/search", params={"q": "Wang Yi"}).json()
    assert r["items"] and "[[" in r["items"][0]["snippet"]
    assert client.get("/api/search").status_code == 422


def test_error_shape(client: TestClient) -> None:
    for url in ("/api/stories/s-nope", "/api/articles/ffffffff", "/api/nothing-here"):
        r = client.get(url)
        assert r.status_code == 404 and set(r.json()["error"]) == {"code", "message", "request_id"}, url


@pytest.fixture
def empty_client(tmp_path: Path) -> TestClient:
    """An app on its own empty store, for the tests that write: the module's ``client`` store stays as ingested,
    so its counts hold whatever order the tests run in."""
    settings = Settings(db_path=str(tmp_path / "w.db"), line_classifier=False, api_token=TOKEN,
                        max_request_bytes=200_000)
    Store(settings.db_path).close()
    return TestClient(create_app(settings))


def test_ingest_needs_token_and_limits_size(empty_client: TestClient) -> None:
    client = empty_client
    doc = {"title": "Harbour festival opens", "text": "The harbour festival opened on Saturday with boats and music.",
           "outlet": "Harbour Times", "published": "2024-06-01T10:00:00Z"}
    assert client.post("/api/ingest", json=doc).status_code == 401
    assert client.post("/api/ingest", json=doc, headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.post("/api/ingest", json=doc, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json()["counts"] == {"added": 1}
    again = client.post("/api/ingest", json=doc, headers={"Authorization": f"Bearer {TOKEN}"})
    assert again.json()["counts"] == {"duplicate": 1}  # the same record twice: stored once
    lines = client.post("/api/ingest", content=json.dumps({**doc, "title": "Second day"}) + "\n{bad json\n",
                        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"})
    assert lines.json()["counts"] == {"added": 1, "failed": 1}
    assert lines.json()["errors"][0]["location"] == "api:2"
    big = client.post("/api/ingest", content=b"x" * 300_000, headers={"Authorization": f"Bearer {TOKEN}"})
    assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
    bad = client.post("/api/ingest", content=b"{nope", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_json"
    assert client.get("/api/health").json()["articles"] == 2  # the two added, nothing from the refused posts


def test_no_token_configured_means_no_writes(tmp_path: Path) -> None:
    settings = Settings(db_path=str(tmp_path / "s.db"))
    Store(settings.db_path).close()
    c = TestClient(create_app(settings))
    assert c.post("/api/ingest", json={"text": "x"}).status_code == 403


def test_reads_can_be_closed_with_the_token(tmp_path: Path) -> None:
    settings = Settings(db_path=str(tmp_path / "s.db"), api_token=TOKEN, token_for_reads=True)
    Store(settings.db_path).close()
    c = TestClient(create_app(settings))
    assert c.get("/api/stories").status_code == 401 and c.get("/").status_code == 401
    assert c.get("/api/stories", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert c.get("/api/health").status_code == 200


def test_pages_render_and_send_security_headers(client: TestClient) -> None:
    s = seeds_story(client)
    for url in ("/", f"/stories/{s['id']}", "/search?q=ISW"):
        r = client.get(url)
        assert r.status_code == 200 and "text/html" in r.headers["content-type"], url
        assert "script-src 'self'" in r.headers["content-security-policy"]
    assert client.get("/stories/s-nope").status_code == 404


def test_story_comparison_is_kept_after_first_view(client: TestClient) -> None:
    s = seeds_story(client)
    first = client.get(f"/api/stories/{s['id']}").json()
    db = client.app.state.settings.db_path  # type: ignore[attr-defined]
    with Store(db, readonly=True) as store:
        row = store.conn.execute("SELECT version FROM compare_cache WHERE story_id = ?", (s["id"],)).fetchone()
    assert row is not None  # kept: the next view is a read
    assert client.get(f"/api/stories/{s['id']}").json()["claim_matrix"] == first["claim_matrix"]


def test_story_page_is_served_while_an_ingest_holds_the_write_lock(tmp_path: Path) -> None:
    """Keeping a first-viewed comparison needs the writer; an ingest holding it must not fail or stall the page."""
    import sqlite3
    import time

    db = tmp_path / "l.db"
    settings = Settings(db_path=str(db), line_classifier=False)
    with Store(db) as store:
        ingest([str(SAMPLE / "seeds")], store, settings)
    client = TestClient(create_app(settings))
    sid = client.get("/api/stories", params={"min_articles": 2}).json()["items"][0]["id"]
    ingest_lock = sqlite3.connect(db, isolation_level=None)
    ingest_lock.execute("BEGIN IMMEDIATE")  # what an ingest chunk holds for seconds
    try:
        started = time.monotonic()
        r = client.get(f"/api/stories/{sid}")
        assert r.status_code == 200 and r.json()["claim_matrix"]["rows"]
        assert client.get(f"/stories/{sid}").status_code == 200
        assert time.monotonic() - started < 9  # not the store's 10 s busy wait
    finally:
        ingest_lock.execute("ROLLBACK")
        ingest_lock.close()
    with Store(db, readonly=True) as store:
        assert store.conn.execute("SELECT count(*) FROM compare_cache").fetchone()[0] == 0  # not kept, not failed
    client.get(f"/api/stories/{sid}")
    with Store(db, readonly=True) as store:
        assert store.conn.execute("SELECT count(*) FROM compare_cache").fetchone()[0] == 1  # kept once free


def test_large_story_pages_answer_at_once_and_compare_behind_the_page(tmp_path: Path) -> None:
    """Stale-while-revalidate: above the inline limit a story page does not compare inside the request; it
    answers with what is kept (stale, or pending when nothing is) and the refresher computes the current one."""
    db = tmp_path / "r.db"
    settings = Settings(db_path=str(db), line_classifier=False, compare_inline_articles=1)
    with Store(db) as store:
        ingest([str(SAMPLE / "seeds")], store, settings)
    import threading

    from storyloom.serve.refresh import Refresher

    gate = threading.Event()

    class Gated(Refresher):  # holds each comparison until the test has seen the page without it
        def _refresh(self, story_id: str) -> None:
            gate.wait(60)
            super()._refresh(story_id)

    app = create_app(settings)
    app.state.refresher = Gated(str(db))
    client = TestClient(app)
    sid = client.get("/api/stories", params={"min_articles": 2}).json()["items"][0]["id"]

    first = client.get(f"/api/stories/{sid}").json()
    assert first["comparison"] == {"status": "pending", "articles": None} and first["claim_matrix"] is None
    page = client.get(f"/stories/{sid}").text
    assert 'http-equiv="refresh"' in page and "being computed" in page
    assert app.state.refresher.pending() == 1  # asked twice, queued once
    gate.set()
    assert app.state.refresher.wait_idle(120) and app.state.refresher.failed == 0
    done = client.get(f"/api/stories/{sid}").json()
    assert done["comparison"] == {"status": "fresh", "articles": 2} and done["claim_matrix"]["rows"]
    assert 'http-equiv="refresh"' not in client.get(f"/stories/{sid}").text

    gate.clear()
    with Store(db) as store:  # the story changes (as an ingest would): what is kept is now out of date
        store.conn.execute("UPDATE stories SET updated_at = '2099-01-01T00:00:00+00:00' WHERE id = ?", (sid,))
    stale = client.get(f"/api/stories/{sid}").json()
    assert stale["comparison"]["status"] == "stale" and stale["claim_matrix"] == done["claim_matrix"]
    assert "being computed" in client.get(f"/stories/{sid}").text
    gate.set()
    assert app.state.refresher.wait_idle(120)
    assert client.get(f"/api/stories/{sid}").json()["comparison"]["status"] == "fresh"

    with Store(db) as store:
        store.conn.execute("UPDATE stories SET updated_at = '2099-01-02T00:00:00+00:00' WHERE id = ?", (sid,))
    now = client.get(f"/api/stories/{sid}", params={"fresh": "true"}).json()  # the caller chooses to wait
    assert now["comparison"]["status"] == "fresh" and now["claim_matrix"]["rows"]


def test_pooled_read_connections_see_later_writes(tmp_path: Path) -> None:
    """Read handles are kept between requests; each request still sees what was committed before it."""
    db = tmp_path / "p.db"
    settings = Settings(db_path=str(db), line_classifier=False, run_copies=False, run_stories=False,
                        api_token=TOKEN)
    Store(db).close()
    client = TestClient(create_app(settings))
    assert client.get("/api/search", params={"q": "lighthouse"}).json()["items"] == []
    auth = {"Authorization": f"Bearer {TOKEN}"}
    rec = {"title": "Lighthouse keeper retires", "text": "The last lighthouse keeper of the coast retired on Friday.",
           "url": "https://pool.example/1"}
    assert client.post("/api/ingest", json=rec, headers=auth).status_code == 200
    assert len(client.get("/api/search", params={"q": "lighthouse"}).json()["items"]) == 1
    with Store(db) as store:  # a write from another process's connection, not through the app
        store.conn.execute("DELETE FROM articles_fts")
    assert client.get("/api/search", params={"q": "lighthouse"}).json()["items"] == []


@pytest.mark.slow  # two uvicorn workers started and four concurrent ingests: ~20-50 s
def test_serve_with_worker_processes(tmp_path: Path) -> None:
    """`storyloom serve --workers 2`: every worker gets the settings (the token), and ingests sent at once over
    HTTP all land, serialised by the writer lock across processes."""
    import threading

    import httpx

    from conftest import start_server, stop_server

    db = tmp_path / "w.db"
    with Store(db) as store:
        ingest([str(SAMPLE / "seeds")], store, Settings(db_path=str(db), line_classifier=False))
        before = store.conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    proc, base = start_server(db, "--workers", "2", "--token", "s3cret")
    try:
        kids = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _ppid(p) == proc.pid]
        assert len(kids) >= 2, "uvicorn did not start worker processes"
        if not blas.user_chose():  # processes side by side: one BLAS thread each (storyloom.blas)
            for kid in kids:
                assert b"OPENBLAS_NUM_THREADS=1" in (kid / "environ").read_bytes().split(b"\0"), kid
        assert httpx.post(base + "/api/ingest", json={"title": "x", "text": "y"}).status_code == 401
        codes: list[int] = []

        def post(k: int) -> None:
            recs = [{"title": f"Ferry {k}-{i} docks late", "text": f"The ferry {k}-{i} docked four hours late on Monday "
                     "after a storm. Passengers were given vouchers by the operator.", "url": f"https://w{k}.example/{i}"}
                    for i in range(5)]
            codes.append(httpx.post(base + "/api/ingest", json=recs, headers={"Authorization": "Bearer s3cret"},
                                    timeout=120).status_code)

        threads = [threading.Thread(target=post, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert codes == [200] * 4
        assert httpx.get(base + "/api/stories").json()["items"]
    finally:
        stop_server(proc)
    with Store(db) as store:
        assert store.conn.execute("SELECT count(*) FROM articles").fetchone()[0] == before + 20


def _ppid(proc_dir: Path) -> int:
    try:
        return int((proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def test_api_json_writes_read_models_in_one_pass() -> None:
    """The API's JSON is the read model written by pydantic in one pass: UTF-8 as is, and never a NaN (not
    JSON) whatever a float holds."""
    from storyloom.readmodels import SearchHit
    from storyloom.serve.api import ModelJSON

    body = ModelJSON(SearchHit(id="a1", title="Пекин", snippet="x", score=float("nan"))).body
    assert json.loads(body) == {"id": "a1", "title": "Пекин", "outlet": None, "language": None, "published": None,
                                "snippet": "x", "score": None}
    assert "Пекин".encode() in body
