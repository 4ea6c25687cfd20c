"""Hostile-input benchmark for the ingest readers: ``.venv/bin/python bench/fuzz.py [--n 2000] [--seed 0]``.

A benchmark, not a test (tests/test_fuzz.py is the test): for each reader it feeds ``--n`` hostile inputs and
prints how many it tried, how many exceptions escaped the reader (*crashes*, must be 0), how many single
items took longer than ``--limit`` seconds (*hangs*, must be 0; SIGALRM interrupts them), what came out
(articles / bad-input lines) and the time per 1,000 hostile inputs.  The exit status is 1 when any crash or
hang was seen, so the command can gate a release.

Inputs are deterministic (``random.Random(seed)``): each is a good input of the reader's format mutated
1-8 times (bytes flipped, cut out, duplicated; hostile fragments inserted -- NULs, a BOM mid-file, invalid
UTF-8, lone-surrogate escapes, bracket towers, ``WARC/1.0`` lines, gzip magic; truncation), or pure random
bytes, or (JSON) a bracket tower up to 100,000 deep.  The ``ingest: file→clean→store`` row pushes mutated
.txt/.html/.jsonl/.warc files through :func:`storyloom.pipeline.ingest_items` into a store (copies and
stories off): cleaning must survive whatever the readers let through, and its cost shows beside theirs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from storyloom.errors import BadInput
from storyloom.ingest.feeds import iter_opml_feeds
from storyloom.ingest.files import iter_file
from storyloom.ingest.records import parse_record_line, record_to_raw
from storyloom.models import RawDoc
from storyloom.settings import Settings

SETTINGS = Settings(max_file_bytes=2_000_000, max_item_bytes=500_000, run_copies=False, run_stories=False)
BODY = "A dam burst in the night and the valley below it flooded; the mayor ordered an evacuation. " * 6
HOSTILE = [b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\xc3", b"\xed\xa0\x80", b"\x1b[2J", b"\r", b"\n" * 3, b"<", b">",
           b"</", b"<div>" * 200, b"<![CDATA[", b"<!--", b"&#0;", b"&#55296;", b"&unknown;", b"{", b"[" * 5000, b"]",
           b'"', b"\\", b"\\ud800", b"null", b"\x1f\x8b\x08", b"WARC/1.0\r\n", b"HTTP/1.1 200 OK\r\n",
           b"Content-Length: 99999999\r\n", b"<!DOCTYPE x [<!ENTITY a 'b'>]>", "Überschwemmung 洪水 ".encode()]


def warc_record(uri: str, html: str) -> bytes:
    block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html.encode()
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: {uri}\r\nWARC-Record-ID: <urn:uuid:{uri[-1]}>\r\n"
            f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(block)}\r\n\r\n")
    return head.encode() + block + b"\r\n\r\n"


PAGE = f"<html><head><title>Dam bursts</title></head><body><article><p>{BODY}</p></article></body></html>"
RECORD = {"title": "Dam bursts", "text": BODY, "url": "https://example.org/dam", "published": "2024-05-01",
          "authors": ["A. Writer"], "source": {"name": "Ledger"}}
RSS = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Ledger</title>' + "".join(
    f"<item><title>Entry {i}</title><link>https://example.org/{i}</link><description>{BODY}</description>"
    f"<pubDate>Wed, 01 May 2024 10:00:00 GMT</pubDate></item>" for i in range(3)) + "</channel></rss>").encode()
OPML = (b'<?xml version="1.0"?><opml version="2.0"><body><outline text="news">'
        b'<outline xmlUrl="https://a.example/rss" text="a"/><outline xmlUrl="https://b.example/rss" text="b"/>'
        b"</outline></body></opml>")
SEEDS: dict[str, bytes] = {
    "txt": ("Dam bursts\n\n" + BODY).encode(),
    "html": PAGE.encode(),
    "json": json.dumps([RECORD, RECORD]).encode(),
    "jsonl": b"\n".join(json.dumps({**RECORD, "title": f"Dam {i}"}).encode() for i in range(4)) + b"\n",
    "warc": b"".join(warc_record(f"https://example.org/{i}", PAGE) for i in range(3)),
    "rss": RSS,
    "opml": OPML,
}


def mutate(rnd: random.Random, data: bytes) -> bytes:
    """One hostile variant of a good input."""
    roll = rnd.random()
    if roll < 0.05:
        return rnd.randbytes(rnd.randint(1, 4000))
    if roll < 0.08:
        n = rnd.choice([150, 5_000, 100_000])
        return rnd.choice([b"[" * n, b'{"a":' * n, b'{"title": "t", "text": ' + b"[" * n + b"]" * n + b"}"])
    buf = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        at = rnd.randrange(len(buf) + 1)
        op = rnd.random()
        if op < 0.3:
            buf[at : at + 1] = bytes([rnd.randrange(256)])
        elif op < 0.5:
            del buf[at : at + rnd.randint(1, 200)]
        elif op < 0.6:
            src = rnd.randrange(len(buf) + 1)
            buf[at:at] = buf[src : src + rnd.randint(1, 300)]
        else:
            buf[at:at] = rnd.choice(HOSTILE)
    if rnd.random() < 0.1:
        del buf[rnd.randrange(len(buf) + 1) :]
    return bytes(buf)


def json_value(rnd: random.Random, depth: int = 0) -> Any:
    """A random JSON-like value (what POST /api/ingest hands the record mapping after its own json.loads)."""
    kinds = ["str", "int", "none", "bool", "float"] + (["list", "dict"] * 2 if depth < 6 else [])
    kind = rnd.choice(kinds)
    if kind == "list":
        return [json_value(rnd, depth + 1) for _ in range(rnd.randint(0, 3))]
    if kind == "dict":
        keys = ["title", "text", "body", "html", "url", "author", "source", "published", "lang", "x"]
        return {rnd.choice(keys): json_value(rnd, depth + 1) for _ in range(rnd.randint(0, 5))}
    return {"str": lambda: rnd.choice(["", "t", BODY[:80], "\ud800", "\x00", "ü"]), "int": lambda: rnd.randint(-9, 9**9),
            "none": lambda: None, "bool": lambda: rnd.random() < 0.5, "float": lambda: rnd.random() * 1e308}[kind]()


def json_record(rnd: random.Random) -> Any:
    """A good record with 1-3 fields replaced by random values (or, one time in ten, any random value)."""
    if rnd.random() < 0.1:
        return json_value(rnd)
    rec = dict(RECORD)
    for _ in range(rnd.randint(1, 3)):
        rec[rnd.choice(["title", "text", "html", "url", "authors", "source", "published", "lang", "x"])] = json_value(rnd)
    return rec


class Hung(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise Hung


@dataclass
class Row:
    reader: str
    tried: int = 0
    docs: int = 0
    bad: int = 0
    crashes: int = 0
    hangs: int = 0
    seconds: float = 0.0
    first_crash: str = ""


def drain(row: Row, items: Iterable[RawDoc | BadInput], limit: float) -> None:
    """Draw every item under a per-item alarm; count what came out and what escaped."""
    it: Iterator[RawDoc | BadInput] = iter(items)
    while True:
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            item = next(it)
        except StopIteration:
            return
        except Hung:
            row.hangs += 1
            return
        except Exception as exc:
            row.crashes += 1
            row.first_crash = row.first_crash or f"{type(exc).__name__}: {exc}"[:120]
            return
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if isinstance(item, RawDoc):
            row.docs += 1
        elif isinstance(item, BadInput):
            row.bad += 1
        else:
            row.crashes += 1
            row.first_crash = row.first_crash or f"yielded {type(item).__name__}"


class HostileFetcher:
    """Answers every feed URL of an OPML list with a mutated feed (a poisoned network)."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd

    def fetch(self, url: str) -> Any:
        return type("Res", (), {"content": mutate(self.rnd, RSS), "final_url": url, "content_type": "application/rss+xml",
                                "redirects": []})()


def file_case(name: str, seed: str, pack: Callable[[bytes], bytes] = lambda b: b) -> Callable[..., Iterable[Any]]:
    def run(rnd: random.Random, tmp: Path) -> Iterable[Any]:
        path = tmp / name
        path.write_bytes(pack(mutate(rnd, SEEDS[seed])))
        return iter_file(path, SETTINGS)
    return run


def gz_cut(rnd_holder: list[random.Random]) -> Callable[[bytes], bytes]:
    def pack(data: bytes) -> bytes:
        z = gzip.compress(data)
        return z if rnd_holder[0].random() < 0.5 else z[: rnd_holder[0].randrange(len(z) + 1)]
    return pack


def cases(rnd: random.Random) -> dict[str, Callable[[random.Random, Path], Iterable[Any]]]:
    holder = [rnd]
    per_record_gz = lambda b: b"".join(gzip.compress(r) for r in b.split(b"\r\n\r\nWARC/"))
    return {
        "txt": file_case("x.txt", "txt"),
        "html": file_case("x.html", "html"),
        "json": file_case("x.json", "json"),
        "jsonl": file_case("x.jsonl", "jsonl"),
        "txt/jsonl .gz, some cut": lambda r, t: file_case(r.choice(["x.txt.gz", "x.jsonl.gz"]),
                                                           r.choice(["txt", "jsonl"]), gz_cut(holder))(r, t),
        "warc": file_case("x.warc", "warc"),
        "warc.gz": file_case("x.warc.gz", "warc", per_record_gz),
        "rss feed": file_case("x.rss", "rss"),
        "opml + hostile feeds": lambda r, t: iter_opml_feeds(mutate(r, OPML) if r.random() < 0.3 else OPML, "list.opml",
                                                             SETTINGS, HostileFetcher(r)),
        "api: NDJSON line": lambda r, t: [parse_record_line(mutate(r, SEEDS["jsonl"].split(b"\n")[0]), "jsonl", "api:1")],
        "api: JSON value": lambda r, t: _record_value(json_record(r)),
    }


def _record_value(value: Any) -> Iterable[Any]:
    """record_to_raw is the API's per-record call: BadInput raised is the expected outcome, anything else a crash."""
    try:
        return [record_to_raw(value, b"{}", "json", "api:0")]
    except BadInput as exc:
        return [exc]


def end_to_end(n: int, seed: int, tmp: Path, limit: float) -> Row:
    """Mutated .txt, .html, .jsonl and .warc files through the whole ingest (readers, cleaning, store)."""
    from storyloom.pipeline import ingest_items
    from storyloom.store import Store

    rnd = random.Random(seed + 1)
    row = Row("ingest: file→clean→store")
    settings = Settings(db_path=str(tmp / "e2e.db"), run_copies=False, run_stories=False)
    with Store(settings.db_path) as store:
        start = time.perf_counter()
        for _ in range(n):
            fmt = rnd.choice(["txt", "html", "jsonl", "warc"])
            path = tmp / f"e2e.{fmt}"
            path.write_bytes(mutate(rnd, SEEDS[fmt]))
            row.tried += 1
            signal.setitimer(signal.ITIMER_REAL, limit * 4)  # a file of several items, cleaned and stored
            try:
                rep = ingest_items(iter_file(path, settings), store, settings)
                row.docs += rep.stored + rep.counts["duplicate"] + rep.counts["unchanged"]
                row.bad += rep.failed
            except Hung:
                row.hangs += 1
            except Exception as exc:
                row.crashes += 1
                row.first_crash = row.first_crash or f"{type(exc).__name__}: {exc}"[:120]
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        row.seconds = time.perf_counter() - start
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="hostile inputs per reader (default 2000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=float, default=5.0, help="seconds one item may take before it counts as a hang")
    ap.add_argument("--e2e", type=int, default=None, help="inputs for the end-to-end row (default n/10; 0: skip)")
    args = ap.parse_args()
    signal.signal(signal.SIGALRM, _alarm)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="storyloom-fuzz-") as d:
        tmp = Path(d)
        for name, case in cases(random.Random(args.seed)).items():
            rnd = random.Random(f"{args.seed}:{name}")
            row = Row(name)
            start = time.perf_counter()
            for _ in range(args.n):
                row.tried += 1
                try:
                    items = case(rnd, tmp)
                except Exception as exc:
                    row.crashes += 1
                    row.first_crash = row.first_crash or f"{type(exc).__name__}: {exc}"[:120]
                    continue
                drain(row, items, args.limit)
            row.seconds = time.perf_counter() - start
            rows.append(row)
        n_e2e = args.n // 10 if args.e2e is None else args.e2e
        if n_e2e:
            rows.append(end_to_end(n_e2e, args.seed, tmp, args.limit))
    t = Table(title=f"Hostile input, {args.n:,} per reader (seed {args.seed}, hang = one item > {args.limit:g} s)",
              box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("reader", "inputs", "articles out", "bad-input lines", "crashes", "hangs", "s / 1,000 inputs"):
        t.add_column(col, justify="left" if col == "reader" else "right")
    for r in rows:
        t.add_row(r.reader, f"{r.tried:,}", f"{r.docs:,}", f"{r.bad:,}", str(r.crashes), str(r.hangs),
                  f"{1000 * r.seconds / max(r.tried, 1):.2f}")
    console = Console(width=120)
    console.print(t)
    for r in rows:
        if r.first_crash:
            console.print(f"[red]{r.reader}[/]: first crash: {r.first_crash}")
    return 1 if any(r.crashes or r.hangs for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
