"""Decoding table: ``.venv/bin/python bench/decoding.py [--per-language 6] [--wcxb 10]``.

A benchmark, not a test: it prints a table of pages decoded right, by kind of encoding, through every path a
page reaches the extractor by.  Pages (real text, encodings made here):

* real article pages of WCXB dev (English, UTF-8 as published; ``--wcxb`` of them, the first by id);
* pages made from WMT21 news documents (``/work/shared/corpora/wmt21``: Russian, Japanese, German, French,
  Icelandic; the source or the reference translation, one ``<p>`` a sentence; ``--per-language`` of each).

Each page is written in every **kind** it can take: UTF-8 as published; with a UTF-8 BOM; UTF-16 with a BOM;
UTF-8 with up to three of its non-ASCII characters as stray cp1252 bytes (a latin-1 snippet in a UTF-8
template); its language's legacy encoding (cp1252, cp1251, Shift_JIS) declared in ``<meta charset>``; the
same with no declaration at all (detection); the same declared only in the HTTP header (KOI8-R for Russian);
UTF-8 bytes under a ``<meta charset>`` that says ISO-8859-1 (a lie); legacy bytes under a meta tag that says
UTF-8 (a lie the other way).  Characters the legacy encoding cannot hold are written as character references
(``&#8217;``), as a publisher's CMS does.

**Paths**: ``extractor`` (``extract_html`` on the bytes), ``file`` (an ``.html`` file through
``ingest.files.iter_file``, which the local batch and each Spark task also call, via ``batch.stages.file_items``),
``warc`` (a response record with its HTTP headers), ``url`` (fetched from a loopback server with its
``Content-Type``), ``parquet`` (a binary ``html`` column, through ``batch.stages.record_item``, which the local
and Spark batch engines share), ``re-clean`` (the stored raw bytes of the file, WARC and URL items rebuilt as
``storyloom clean`` does); beside them the baseline, ``detect only`` (charset-normalizer's best guess over
the bytes, what ``ingest/decode`` did before the one decoder).  A page is **decoded right** when the text extracted from what the path decoded is
the text extracted from the original Unicode page.  ``-``: the path cannot carry that kind (a file or a
Parquet cell has no HTTP header).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import wcxb
from storyloom.errors import BadInput

WMT = Path("/work/shared/corpora/wmt21/newstest2021_docs.jsonl")
LEGACY = {"en": "cp1252", "de": "cp1252", "fr": "cp1252", "is": "cp1252", "ru": "cp1251", "ja": "shift_jis"}
HTTP_ONLY = {"ru": "koi8-r"}  # the HTTP-header kind uses another legacy encoding where the language has one
KINDS = ("utf-8", "utf-8 BOM", "utf-16 BOM", "utf-8 + stray cp1252", "legacy, meta", "legacy, no meta",
         "legacy, HTTP header only", "utf-8, meta lies", "legacy, meta says utf-8")
PATHS = ("extractor", "file", "warc", "url", "parquet", "re-clean")
BASELINE = "detect only"  # charset-normalizer's best guess over the bytes: the old ingest path's decoder
_CHARSET_META = re.compile(r"<meta[^>]*charset[^>]*>", re.I)
_HEAD = re.compile(r"<head[^>]*>", re.I)


def wmt_pages(per_language: int) -> list[tuple[str, str, str]]:
    """(id, language, page) from WMT21 documents: sources (ru, ja, de) and references (fr, is)."""
    want = {"ru": per_language, "ja": per_language, "de": per_language, "fr": per_language, "is": per_language}
    out = []
    with WMT.open(encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            for lang, segs in ((d["src_lang"], d["src_segs"]), (d["tgt_lang"], next(iter(d["refs"].values())))):
                if want.get(lang, 0) <= 0 or len(segs) < 4:
                    continue
                want[lang] -= 1
                paras = "".join(f"<p>{_esc(s)}</p>\n" for s in segs[1:])
                page = (f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{_esc(segs[0])}'
                        f"</title></head>\n<body><nav><a href='/'>Home</a></nav><article><h1>{_esc(segs[0])}</h1>\n"
                        f"{paras}</article><footer>&copy; 2021</footer></body></html>")
                out.append((f"wmt-{lang}-{d['docid']}"[:60], lang, page))
    return out


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _declare(page: str, charset: str | None) -> str:
    """The page with its charset declarations removed, and ``<meta charset=…>`` added when given."""
    page = _CHARSET_META.sub("", page)
    if charset is None:
        return page
    tag = f'<meta charset="{charset}">'
    m = _HEAD.search(page)
    return page[: m.end()] + tag + page[m.end() :] if m else tag + page


def variants(lang: str, page: str) -> dict[str, tuple[bytes, str | None]]:
    """kind → (bytes, HTTP charset or None) for one page."""
    legacy = LEGACY[lang]
    bare = _declare(page, None)
    out: dict[str, tuple[bytes, str | None]] = {
        "utf-8": (_declare(page, "utf-8").encode("utf-8"), None),
        "utf-8 BOM": (b"\xef\xbb\xbf" + bare.encode("utf-8"), None),
        "utf-16 BOM": (b"\xff\xfe" + bare.encode("utf-16-le"), None),
        "legacy, meta": (_declare(page, legacy).encode(legacy, "xmlcharrefreplace"), None),
        "legacy, no meta": (bare.encode(legacy, "xmlcharrefreplace"), None),
        "legacy, HTTP header only": (bare.encode(HTTP_ONLY.get(lang, legacy), "xmlcharrefreplace"),
                                     HTTP_ONLY.get(lang, legacy)),
        "legacy, meta says utf-8": (_declare(page, "utf-8").encode(legacy, "xmlcharrefreplace"), None),
    }
    if any(ord(c) > 127 for c in bare):
        out["utf-8, meta lies"] = (_declare(page, "iso-8859-1").encode("utf-8"), None)
    body_at = bare.lower().find("<body")
    strays = [i for i, c in enumerate(bare) if i > body_at and ord(c) > 127 and _cp1252(c)][:3]
    if strays:
        parts, last = [], 0
        for i in strays:
            parts += [bare[last:i].encode("utf-8"), _cp1252(bare[i])]
            last = i + 1
        out["utf-8 + stray cp1252"] = (b"".join(parts) + bare[last:].encode("utf-8"), None)
    return out


def _cp1252(c: str) -> bytes:
    try:
        return c.encode("cp1252")
    except UnicodeEncodeError:
        return b""


class _Server:
    """Loopback HTTP: path → (body, content type)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, str]] = {}
        routes = self.routes

        class H(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body, ctype = routes.get(self.path, (b"", "text/plain"))
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--per-language", type=int, default=6, help="WMT21 documents per language")
    ap.add_argument("--wcxb", type=int, default=10, help="WCXB dev pages (English)")
    args = ap.parse_args()

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from storyloom.batch.stages import record_item
    from storyloom.clean.html import extract_html
    from storyloom.decoding import decode
    from storyloom.ingest import iter_url
    from storyloom.ingest.files import iter_file
    from storyloom.ingest.rebuild import rebuild_raw
    from storyloom.ingest.web import Fetcher
    from storyloom.models import RawDoc
    from storyloom.settings import Settings
    from storyloom.store.sqlite import declared_fields

    t0, c0 = time.perf_counter(), time.process_time()
    pages = [(f"wcxb-{p.pid}", "en", p.html) for p in wcxb.load(wcxb.DEFAULT_ROOT, "tune")[: args.wcxb]]
    pages += wmt_pages(args.per_language)
    cache: dict[str, str | None] = {}

    def text_of(html: str | bytes) -> str | None:
        key = html if isinstance(html, str) else html.hex()
        if key not in cache:
            try:
                cache[key] = extract_html(html, "bench", None).text
            except BadInput:
                cache[key] = None
        return cache[key]

    settings = Settings(allow_private=True, line_classifier=False)
    server = _Server()
    cells: dict[tuple[str, str], list[int]] = {}
    hows: Counter[tuple[str, str]] = Counter()
    wrong: list[str] = []
    n_pages = Counter[str]()
    try:
        with tempfile.TemporaryDirectory() as tmp, Fetcher(settings) as fetcher:
            root = Path(tmp)
            for pid, lang, page in pages:
                ref = text_of(page)
                if ref is None:
                    continue
                n_pages[lang] += 1
                vs = variants(lang, page)
                warc = root / f"{pid}.warc"
                with warc.open("wb") as fh:
                    w = WARCWriter(fh, gzip=False)
                    for kind, (data, http) in vs.items():
                        ctype = "text/html" + (f"; charset={http}" if http else "")
                        headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
                        w.write_record(w.create_warc_record(f"https://example.org/{pid}/{_slug(kind)}", "response",
                                                            payload=io.BytesIO(data), http_headers=headers))
                by_kind_warc: dict[str, RawDoc] = {}
                for item in iter_file(warc, settings):
                    if isinstance(item, RawDoc) and item.url:
                        by_kind_warc[item.url.rsplit("/", 1)[1]] = item
                for kind, (data, http) in vs.items():
                    got: dict[str, str | BadInput | None] = {}
                    hows[(kind, decode(data, http_charset=http, html=True)[1].split(":")[0])] += 1
                    got["extractor"] = None if http else data  # type: ignore[assignment]
                    got[BASELINE] = _detect_only(data)
                    raws: list[RawDoc] = []
                    if not http:
                        f = root / f"{pid}-{_slug(kind)}.html"
                        f.write_bytes(data)
                        items = list(iter_file(f, settings))
                        got["file"] = _html(items)
                        raws += [i for i in items if isinstance(i, RawDoc)]
                        row = record_item({"html": data, "url": f"https://example.org/{pid}"}, "bench.parquet#0")
                        got["parquet"] = row.html if isinstance(row, RawDoc) else row
                    wr = by_kind_warc.get(_slug(kind))
                    got["warc"] = wr.html if wr else BadInput(str(warc), "record missing")
                    if wr:
                        raws.append(wr)
                    path = f"/{pid}/{_slug(kind)}"
                    server.routes[path] = (data, "text/html" + (f"; charset={http}" if http else ""))
                    items = list(iter_url(server.url(path), settings, fetcher))
                    got["url"] = _html(items)
                    raws += [i for i in items if isinstance(i, RawDoc)]
                    re_ok = True
                    for r in raws:
                        try:
                            again = rebuild_raw(r.kind, r.location, r.raw, json.loads(json.dumps(declared_fields(r))),
                                                json.loads(json.dumps(r.extra)))
                            re_ok = re_ok and again.html is not None and text_of(again.html) == ref
                        except BadInput:
                            re_ok = False
                    for p in (*PATHS, BASELINE):
                        if p == "re-clean":
                            ok = re_ok and bool(raws)
                        elif p not in got or got[p] is None:
                            continue
                        else:
                            v = got[p]
                            ok = not isinstance(v, BadInput) and text_of(v) == ref  # type: ignore[arg-type]
                        c = cells.setdefault((kind, p), [0, 0])
                        c[0] += ok
                        c[1] += 1
                        if not ok:
                            wrong.append(f"{pid} {kind} via {p}")
    finally:
        server.close()

    total = sum(n_pages.values())
    print(f"{total} pages ({', '.join(f'{k} {v}' for k, v in sorted(n_pages.items()))}), "
          f"{len(cache)} distinct decodings extracted; {time.perf_counter() - t0:.0f} s wall, "
          f"{time.process_time() - c0:.0f} s CPU\n")
    print("## Pages decoded right, by kind and path (right / tried)\n")
    cols = (*PATHS, BASELINE)
    print(f"| {'kind':<26} | " + " | ".join(f"{p:>11}" for p in cols) + " | decided by (extractor's decode) |")
    print("|" + "-" * 28 + "|" + "|".join("-" * 13 for _ in cols) + "|" + "-" * 33 + "|")
    for kind in KINDS:
        row = []
        for p in cols:
            c = cells.get((kind, p))
            row.append(f"{c[0]}/{c[1]}" if c else "-")
        by = ", ".join(f"{h} {n}" for (k, h), n in sorted(hows.items()) if k == kind)
        print(f"| {kind:<26} | " + " | ".join(f"{x:>11}" for x in row) + f" | {by:<31} |")
    for label, keep in (("storyloom, every path", lambda p: p != BASELINE), (BASELINE, lambda p: p == BASELINE)):
        right = sum(c[0] for (_k, p), c in cells.items() if keep(p))
        tried = sum(c[1] for (_k, p), c in cells.items() if keep(p))
        print(f"\n{label}: {right}/{tried} decoded right ({right / max(tried, 1):.1%})", end="")
    print()
    for line in [w for w in wrong if not w.endswith(BASELINE)][:30]:
        print(f"  wrong: {line}")


def _detect_only(data: bytes) -> str:
    """The baseline: charset-normalizer's best guess over the whole page, as the old ingest path decoded."""
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    return data.decode(best.encoding, errors="replace") if best is not None and best.encoding else ""


def _slug(kind: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", kind.lower()).strip("-")


def _html(items: list) -> str | BadInput | None:
    from storyloom.models import RawDoc

    for i in items:
        if isinstance(i, RawDoc):
            return i.html
        if isinstance(i, BadInput):
            return i
    return BadInput("?", "no item")


if __name__ == "__main__":
    main()
