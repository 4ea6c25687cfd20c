"""Ingest of files and folders: each format, and each kind of bad input gets one clear line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from conftest import SAMPLE
from storyloom.errors import BadInput
from storyloom.ingest import iter_inputs
from storyloom.ingest.files import split_headline
from storyloom.models import RawDoc
from storyloom.pipeline import ingest
from storyloom.settings import Settings

HTML = b"""<!doctype html><html><head><meta charset="utf-8"><title>Dam bursts in the valley | Daily Planet</title>
<meta property="og:site_name" content="Daily Planet"><meta name="author" content="Lois Lane">
<meta property="article:published_time" content="2023-08-09T10:00:00+02:00"></head><body>
<nav>Home | World | Sport</nav><article><h1>Dam bursts in the valley</h1>
<p>A dam burst early on Wednesday, flooding three villages downstream and forcing the evacuation of more than two
thousand residents, officials said. Rescue teams worked through the night.</p>
<p>The regional governor said the reservoir had been at record levels after a week of heavy rain, and engineers
had warned of cracks in the structure last spring. An inquiry will be opened.</p>
<p>Residents described water rising within minutes. "We had no time to take anything," said one farmer, whose house
was flooded to the roof. Schools in the area will stay closed until Monday.</p></article>
<footer>Copyright Daily Planet</footer></body></html>"""


def items(paths: list[str], settings: Settings) -> tuple[list[RawDoc], list[BadInput]]:
    good, bad = [], []
    for it in iter_inputs(paths, settings):
        (bad if isinstance(it, BadInput) else good).append(it)
    return good, bad


def test_txt_first_line_is_headline(tmp_path: Path, settings: Settings) -> None:
    p = tmp_path / "a.txt"
    p.write_text("\n\n  The headline  \n\nFirst paragraph.\n\nSecond paragraph.\n", encoding="utf-8")
    (doc,), bad = items([str(p)], settings)
    assert not bad
    assert doc.title == "The headline" and doc.text == "First paragraph.\n\nSecond paragraph."
    assert doc.raw == p.read_bytes() and doc.kind == "txt"


def test_split_headline_handles_cr_and_blank() -> None:
    assert split_headline("T\r\nbody") == ("T", "body")
    assert split_headline("   \n\n") == ("", "")


def test_seeds_ingest_keep_every_line(tmp_path: Path, settings: Settings, store) -> None:  # type: ignore[no-untyped-def]
    rep = ingest([str(SAMPLE / "seeds")], store, settings)
    assert rep.counts["added"] == 2 and not rep.errors
    rows = store.conn.execute("SELECT title, text FROM article_texts ORDER BY title").fetchall()
    express = next(r for r in rows if r["title"].startswith("China alliance"))
    assert "ISW" in express["text"] and "Source: Read Full Article" not in express["text"]  # furniture cleaned
    assert "Ukraine has already received more than $43 billion" in express["text"]


def test_html_file_extracts_text_and_metadata(tmp_path: Path, settings: Settings, store) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "page.html").write_bytes(HTML)
    rep = ingest([str(tmp_path)], store, settings)
    assert rep.counts["added"] == 1, rep.errors
    r = store.conn.execute("SELECT a.title, t.text, a.outlet, a.author, a.published, a.language, a.published_utc "
                           "FROM articles a JOIN article_texts t ON t.rowid = a.rowid").fetchone()
    assert r["title"] == "Dam bursts in the valley"
    assert "flooding three villages" in r["text"] and "Home | World" not in r["text"]
    assert r["outlet"] == "Daily Planet" and r["author"] == "Lois Lane"
    assert r["published"] == "2023-08-09T10:00:00+02:00" and r["language"] == "en"  # the outlet's own offset kept
    assert r["published_utc"] == "2023-08-09T08:00:00Z"  # and the instant derived for ordering


def test_json_and_jsonl_fields_mapped_and_unknown_kept(tmp_path: Path, settings: Settings, store) -> None:  # type: ignore[no-untyped-def]
    rec = {"headline": "Hello world", "maintext": "Some body text long enough to matter here.", "date_publish": "2024-01-02 03:04:05",
           "source": {"id": "x", "name": "Wire"}, "lang": "en-GB", "authors": ["A", "B"], "link": "https://ex.com/a",
           "sentiment": 0.3}
    (tmp_path / "one.json").write_text(json.dumps(rec), encoding="utf-8")
    lines = [json.dumps({"title": f"T{i}", "text": f"Body number {i} of the feed.", "url": f"https://ex.com/{i}"}) for i in range(3)]
    (tmp_path / "many.jsonl").write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    rep = ingest([str(tmp_path)], store, settings)
    assert rep.counts["added"] == 4, rep.errors
    r = store.conn.execute("SELECT * FROM articles WHERE title = 'Hello world'").fetchone()
    assert r["published"] == "2024-01-02T03:04:05Z" and r["outlet"] == "Wire" and r["author"] == "A, B"
    assert r["language"] == "en" and r["url"] == "https://ex.com/a"
    assert json.loads(r["extra"]) == {"sentiment": 0.3}
    locs = {row[0] for row in store.conn.execute("SELECT location FROM articles WHERE kind = 'jsonl'")}
    assert {Path(l).name for l in locs} == {"many.jsonl:1", "many.jsonl:2", "many.jsonl:3"}


def test_gzip_of_each_format(tmp_path: Path, settings: Settings, store) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress(b"Title\n\nA gzipped text article body."))
    (tmp_path / "b.html.gz").write_bytes(gzip.compress(HTML))
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(b'{"title": "x", "text": "gz line body"}\n'))
    (tmp_path / "d.json.gz").write_bytes(gzip.compress(b'{"title": "y", "text": "gz json body"}'))
    rep = ingest([str(tmp_path)], store, settings)
    assert rep.counts["added"] == 4, rep.errors


def test_jsonl_larger_than_the_file_cap_is_streamed_whole(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(db_path=store.path, max_file_bytes=2_000, max_item_bytes=1_000)
    lines = [json.dumps({"title": f"t{i}", "text": f"Body number {i} of a long dump."}) for i in range(200)]
    lines.insert(50, json.dumps({"title": "huge", "text": "x " * 2_000}))  # one line over the item cap
    (tmp_path / "dump.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rep = ingest([str(tmp_path / "dump.jsonl")], store, settings)
    assert rep.counts["added"] == 200
    assert [why for _, why in rep.errors] == ["line larger than the item cap of 1,000 bytes"]


def test_bad_inputs_each_one_line_rest_ingested(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(db_path=store.path, max_file_bytes=50_000)
    (tmp_path / "good.txt").write_text("Good\n\nA good article.", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.txt").write_bytes(b"  \n\n \t")
    (tmp_path / "junk.txt").write_bytes(bytes(range(256)) * 20)
    (tmp_path / "junk.html").write_bytes(b"\x00\x01\x02" * 100)
    lines = b"".join(json.dumps({"title": "ok" if i == 0 else f"t{i}", "text": f"line {i} {i * 7919 % 10007}"}).encode() + b"\n"
                     for i in range(400))
    whole = gzip.compress(lines)
    (tmp_path / "trunc.jsonl.gz").write_bytes(whole[: len(whole) // 2])  # a download cut half-way
    (tmp_path / "trunc.txt.gz").write_bytes(gzip.compress(b"T\n\n" + b"word " * 1000)[:40])
    (tmp_path / "bad.jsonl").write_text('{"title":"a","text":"fine one"}\n{not json\n{"title":"c"}\n[1,2]\n', encoding="utf-8")
    (tmp_path / "big.txt").write_bytes(b"Big\n\n" + b"x " * 40_000)
    (tmp_path / "bomb.txt.gz").write_bytes(gzip.compress(b"a" * 5_000_000))
    rep = ingest([str(tmp_path)], store, settings)
    reasons = {Path(loc.split(":")[0].split("#")[0]).name + (":" + loc.split(":")[-1] if loc.count(":") else ""): why
               for loc, why in rep.errors}
    by_file: dict[str, list[str]] = {}
    for loc, why in rep.errors:
        by_file.setdefault(Path(loc).name, []).append(why)
    joined = "\n".join(f"{k}: {v}" for k, v in sorted(by_file.items()))
    assert "empty file" in " ".join(by_file["empty.txt"])
    assert "empty file" in " ".join(by_file["blank.txt"])
    assert "binary" in " ".join(by_file["junk.txt"]) and "binary" in " ".join(by_file["junk.html"])
    assert any("truncated" in w for w in by_file["trunc.jsonl.gz"])
    assert any("truncated" in w or "corrupt" in w for w in by_file["trunc.txt.gz"])
    assert "malformed JSON" in " ".join(by_file["bad.jsonl:2"])
    assert "no article body" in " ".join(by_file["bad.jsonl:3"])
    assert "expected a JSON object" in " ".join(by_file["bad.jsonl:4"])
    assert "size cap" in " ".join(by_file["big.txt"]) and "size cap" in " ".join(by_file["bomb.txt.gz"])
    assert reasons  # every error names its file
    # the good ones went in: good.txt, line 1 of bad.jsonl, and the complete lines of the truncated gzip
    assert rep.counts["added"] >= 3, joined
    titles = {r[0] for r in store.conn.execute("SELECT title FROM articles")}
    assert {"Good", "a", "ok"} <= titles
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_mislabelled_encoding_detected(tmp_path: Path, settings: Settings, store) -> None:  # type: ignore[no-untyped-def]
    text = "Überraschung in München\n\nDie Bürger äußerten sich überrascht über die Größe des Gebäudes und die Öffnungszeiten."
    (tmp_path / "latin.txt").write_bytes(text.encode("cp1252"))
    html = HTML.replace(b"charset=\"utf-8\"", b"charset=\"utf-8\"").replace(b"A dam burst", "Ein Staudamm brach, während Bürger schliefen. A dam burst".encode("cp1252"))
    (tmp_path / "lying.html").write_bytes(html)  # says utf-8, is cp1252
    rep = ingest([str(tmp_path)], store, settings)
    assert rep.counts["added"] == 2, rep.errors
    r = store.conn.execute("SELECT t.title, t.text FROM articles a JOIN article_texts t ON t.rowid = a.rowid WHERE a.kind = 'txt'").fetchone()
    assert r["title"] == "Überraschung in München" and "äußerten" in r["text"]
    page = store.conn.execute("SELECT t.text FROM articles a JOIN article_texts t ON t.rowid = a.rowid WHERE a.kind = 'html'").fetchone()
    assert "während Bürger" in page["text"]


def test_missing_path_and_unknown_type(tmp_path: Path, settings: Settings, store) -> None:  # type: ignore[no-untyped-def]
    tmp_path = tmp_path / "in"
    tmp_path.mkdir()
    (tmp_path / "notes.md").write_text("# not an article", encoding="utf-8")
    rep = ingest([str(tmp_path / "nope"), str(tmp_path / "notes.md"), str(tmp_path)], store, settings)
    assert rep.counts["failed"] == 2  # the missing path and the explicitly named .md
    assert rep.counts["skipped"] == 1  # the .md met while walking the folder is passed over quietly
    assert "no such file" in rep.errors[0][1] and "unsupported file type" in rep.errors[1][1]


def test_html_page_without_article(tmp_path: Path, settings: Settings, store) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "home.html").write_bytes(b"<html><body><nav><a href='/'>Home</a></nav></body></html>")
    (tmp_path / "broken.html").write_bytes(b"<html><body><div><div><p>" * 3000 + b"unclosed text " * 50)
    rep = ingest([str(tmp_path)], store, settings)
    assert rep.counts["failed"] + rep.counts["added"] == 2
    assert any("no article text" in why for _, why in rep.errors)


def test_json_must_be_utf8_or_utf16_never_guessed(tmp_path: Path, settings: Settings, store) -> None:  # type: ignore[no-untyped-def]
    rec = {"title": "Überraschung in München", "text": "Die Bürger äußerten sich überrascht über die Größe."}
    (tmp_path / "utf16.json").write_bytes(json.dumps(rec, ensure_ascii=False).encode("utf-16"))  # with its BOM
    (tmp_path / "latin.json").write_bytes(json.dumps({**rec, "title": "Zweite"}, ensure_ascii=False).encode("cp1252"))
    (tmp_path / "latin.jsonl").write_bytes(json.dumps({**rec, "title": "Dritte"}, ensure_ascii=False).encode("cp1252") + b"\n")
    rep = ingest([str(tmp_path)], store, settings)
    assert rep.counts["added"] == 1 and store.conn.execute("SELECT title FROM articles").fetchone()[0] == rec["title"]
    why = {Path(loc).name: reason for loc, reason in rep.errors}
    assert why["latin.json"].startswith("not valid UTF-8 (byte 0xfc at offset")
    assert why["latin.jsonl:1"].startswith("not valid UTF-8")


def test_a_headlines_site_name_is_cut_and_kept_in_the_meta(tmp_path: Path, settings: Settings, store) -> None:  # type: ignore[no-untyped-def]
    """"Dam bursts … | Daily Planet": the outlet's name is not part of the headline (the page's og:title is
    the page's og:title carries it); the cut part stays in the meta, and
    switching the rule off keeps the title whole."""
    page = HTML.replace(b"<title>", b'<meta property="og:title" content="Dam bursts in the valley | Daily Planet"><title>')
    rec = {"title": "Markets slide as rates rise - Reuters", "text": "Stocks fell on Tuesday as bond yields rose.",
           "source": "Reuters", "url": "https://example.org/markets"}
    (tmp_path / "page.html").write_bytes(page)
    (tmp_path / "one.json").write_text(json.dumps(rec), encoding="utf-8")
    rep = ingest([str(tmp_path)], store, settings)
    assert rep.counts["added"] == 2, rep.errors
    titles = {r["title"]: json.loads(r["meta"]).get("title_removed")
              for r in store.conn.execute("SELECT title, storyloom_json(meta) AS meta FROM articles")}
    assert titles == {"Dam bursts in the valley": {"text": " | Daily Planet", "rule": "title_site"},
                      "Markets slide as rates rise": {"text": " - Reuters", "rule": "title_site"}}

    off = Settings(db_path=str(tmp_path / "off.db"), disabled_rules=("title_site",))
    from storyloom.store import Store

    other = Store(off.db_path)
    try:
        ingest([str(tmp_path / "one.json")], other, off)
        assert other.conn.execute("SELECT title FROM articles").fetchone()[0] == "Markets slide as rates rise - Reuters"
    finally:
        other.close()


def test_an_outlet_is_stored_under_the_outlet_tables_spelling(tmp_path: Path, settings: Settings, store) -> None:  # type: ignore[no-untyped-def]
    """"AP News" (an alias) and an unnamed page on hosted.ap.org are both the Associated Press; an outlet the
    table does not know keeps the name it came with, and an unnamed one on an unknown host its host."""
    recs = [{"title": "One", "text": "First body about the flood.", "source": "AP News"},
            {"title": "Two", "text": "Second body about the flood.", "url": "https://hosted.ap.org/x/1"},
            {"title": "Three", "text": "Third body about the flood.", "source": "Harbour Post"},
            {"title": "Four", "text": "Fourth body about the flood.", "url": "https://www.nj.com/news/1"}]
    (tmp_path / "many.jsonl").write_text("\n".join(json.dumps(r) for r in recs), encoding="utf-8")
    rep = ingest([str(tmp_path)], store, settings)
    assert rep.counts["added"] == 4, rep.errors
    got = dict(store.conn.execute("SELECT title, outlet FROM articles").fetchall())
    assert got == {"One": "Associated Press", "Two": "Associated Press", "Three": "Harbour Post", "Four": "nj.com"}
