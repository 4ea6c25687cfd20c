"""One decoder for every path: pages made in the encodings that went wrong (UTF-8 with stray cp1252 bytes,
cp1251 without a meta tag, a meta tag that lies, UTF-16 with a BOM, a charset only in the HTTP header) decode
to the same, right text whether they come from a file, a WARC record, a URL, straight to the extractor, or
back from the stored raw bytes in a re-clean."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from httpserver import LocalServer, Reply, http_server, server  # noqa: F401  (fixtures)
from storyloom.clean.html import extract_html
from storyloom.decoding import decode, header_charset, meta_charset
from storyloom.pipeline import ingest, reclean
from storyloom.settings import Settings
from storyloom.store import Store

GERMAN = "Das Maskottchen des Vereins ist schön, sagte der Trainer. Die Fans grüßen es jedes Wochenende."
RUSSIAN = ("Министр иностранных дел России Сергей Лавров провёл телефонный разговор с китайским коллегой Ван И. "
           "Стороны обсудили двустороннюю и международную повестку дня.")


def page(body: str, meta: str | None = None, title: str = "Nachricht") -> str:
    head = f'<meta charset="{meta}">' if meta else ""
    paras = "".join(f"<p>{body} {k}.</p>" for k in range(4))
    return f"<!doctype html><html><head>{head}<title>{title}</title></head><body><article><h1>{title}</h1>{paras}</article></body></html>"


CASES = {
    # UTF-8 throughout but for one cp1252 byte (é) pasted into one paragraph
    "utf8-stray": (page(GERMAN).encode("utf-8").replace(b"Trainer", b"Trainer Andr\xe9"), None, ["schön", "grüßen", "André"]),
    "cp1251-no-meta": (page(RUSSIAN, title="Новости").encode("cp1251"), None, ["Лавров", "повестку"]),
    "meta-lies": (page(GERMAN, meta="iso-8859-1").encode("utf-8"), None, ["schön", "grüßen"]),
    "utf16-bom": (b"\xff\xfe" + page(GERMAN).encode("utf-16-le"), None, ["schön", "grüßen"]),
    "http-only": (page(RUSSIAN, title="Новости").encode("koi8-r"), "koi8-r", ["Лавров", "повестку"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_decoder_reads_each_case_right(name: str) -> None:
    data, http, want = CASES[name]
    text, how = decode(data, http_charset=http, html=True)
    assert all(w in text for w in want), (how, text[:200])
    assert "Ã" not in text and "Ă" not in text  # the mojibake of the old path


def test_header_and_meta_parsing() -> None:
    assert header_charset('text/html; charset="Windows-1251"') == "Windows-1251"
    assert header_charset("text/html") is None and header_charset(None) is None
    assert meta_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">') == "koi8-r"


def test_extractor_decodes_as_the_decoder_does() -> None:
    for name, (data, http, want) in CASES.items():
        if http:
            continue  # the extractor sees no HTTP header: that case needs the ingest path
        art = extract_html(data, name, None)
        assert all(w in art.text for w in want), (name, art.text[:200])


def _warc(path: Path, records: dict[str, tuple[bytes, str | None]]) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=False)
        for name, (data, http) in records.items():
            ctype = "text/html" + (f"; charset={http}" if http else "")
            headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(f"https://example.org/{name}", "response", payload=io.BytesIO(data),
                                                http_headers=headers))


def _texts(store: Store) -> list[str]:
    from storyloom.store.queries import ArticleFilter, get_article, list_articles

    out = []
    for row in list_articles(store, ArticleFilter(limit=100)):
        art = get_article(store, row.id)
        assert art is not None
        out.append(art.title + "\n" + art.text)
    return out


def test_every_ingest_path_and_a_reclean_decode_alike(tmp_path: Path, server: LocalServer) -> None:
    files = tmp_path / "pages"
    files.mkdir()
    for name, (data, http, _) in CASES.items():
        if not http:
            (files / f"{name}.html").write_bytes(data)
    _warc(tmp_path / "crawl.warc", {n: (d, h) for n, (d, h, _) in CASES.items()})
    for name, (data, http, _) in CASES.items():
        server.routes[f"/{name}"] = Reply(body=data, headers={
            "Content-Type": "text/html" + (f"; charset={http}" if http else "")})
    urls = [server.url(f"/{name}") for name in CASES]
    # each path into a store of its own: the same bytes arriving twice would be one article (ids are content
    # hashes), decided by whichever path came first
    for label, inputs, n in (("file", [str(files)], 4), ("warc", [str(tmp_path / "crawl.warc")], 5), ("url", urls, 5)):
        settings = Settings(db_path=str(tmp_path / f"{label}.db"), line_classifier=False, run_copies=False,
                            allow_private=True)
        with Store(settings.db_path) as store:
            rep = ingest(inputs, store, settings)
            assert rep.failed == 0, (label, rep.errors)
            texts = _texts(store)
            assert len(texts) == n, label
            for name, (_, http, want) in CASES.items():
                if label == "file" and http:
                    continue  # a file has no HTTP header
                assert [t for t in texts if all(w in t for w in want)], (label, name)
            assert not any("Ã" in t or "Ă" in t for t in texts), label
            again = reclean(store, settings)  # from the stored raw bytes (and the kept HTTP charset)
            assert again.changed == 0 and not again.failed, label


def test_extraction_off_the_main_thread_works_without_a_deadline() -> None:
    """The API ingests in worker threads, where SIGALRM cannot bound a page: extraction must still run there
    (it skips the deadline; the request's body cap bounds the work) and give the same text as on the main one."""
    import threading

    data = CASES["utf8-stray"][0]
    here = extract_html(data, "main", None).text
    got: dict[str, str] = {}

    def work() -> None:
        got["text"] = extract_html(data, "thread", None).text

    t = threading.Thread(target=work)
    t.start()
    t.join(60)
    assert got.get("text") == here and "André" in here


FRENCH = ("La Corée du Nord ferme la ville frontière de Kaesong après un cas suspect. Les autorités ont décrété "
          "un confinement complet de la ville, où un déserteur revenu du Sud présente des symptômes.")


def test_detection_ties_go_to_the_pages_language_then_cp1252() -> None:
    """French in cp1252 without a declaration scores exactly as cp1250 in charset-normalizer ("frontičre"):
    the page's language, else cp1252, settles it; a Polish page keeps cp1250."""
    fr = page(FRENCH, title="Corée").replace("<html>", '<html lang="fr">').encode("cp1252")
    text, how = decode(fr, html=True)
    assert "frontière" in text and "Corée" in text, (how, text[:300])
    polish = ("Rząd przyjął projekt ustawy o zmianie przepisów dotyczących ochrony środowiska. Minister powiedział, "
              "że zmiany wejdą w życie w przyszłym roku, a samorządy dostaną więcej pieniędzy na inwestycje.")
    pl = page(polish, title="Ustawa").replace("<html>", '<html lang="pl">').encode("cp1250")
    text, how = decode(pl, html=True)
    assert "przyjął" in text and "środowiska" in text, (how, text[:300])


def test_a_binary_html_column_is_decoded_by_the_one_decoder() -> None:
    """A Parquet row's ``html`` bytes (both batch engines read rows through ``record_item``) go through the
    decoder: a cp1251 page without a meta tag is Russian, not U+FFFD."""
    from storyloom.batch.stages import record_item
    from storyloom.models import RawDoc

    data, _, want = CASES["cp1251-no-meta"]
    item = record_item({"html": data, "url": "https://example.org/a"}, "x.parquet#0")
    assert isinstance(item, RawDoc) and item.html is not None
    assert all(w in item.html for w in want) and "\ufffd" not in item.html
    again = record_item({"html": CASES["utf8-stray"][0]}, "x.parquet#1")
    assert isinstance(again, RawDoc) and again.html is not None and "André" in again.html
