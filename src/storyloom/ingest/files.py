"""Files and folders → RawDocs: .txt, .html/.htm, .json, .jsonl, WARC, RSS/Atom, OPML, and .gz of each.

Everything is streamed: a JSONL file of a million lines is read line by line, a folder is walked lazily in
sorted order (so a re-run meets items in the same order, which keeps ids and versions deterministic).
Errors are yielded as values, not raised, so one bad item never ends the walk.
"""

from __future__ import annotations

import gzip
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from storyloom.errors import BadInput
from storyloom.ingest.decode import Truncated, decode_html, decode_text, iter_lines, looks_binary, read_capped
from storyloom.ingest.guard import guarded, unreadable
from storyloom.ingest.records import jsonl_item, parse_json_bytes, record_to_raw
from storyloom.models import RawDoc
from storyloom.settings import Settings

Item = RawDoc | BadInput

TEXT_EXT = {".txt", ".text"}
HTML_EXT = {".html", ".htm", ".xhtml"}
JSON_EXT = {".json"}
JSONL_EXT = {".jsonl", ".ndjson"}
WARC_EXT = {".warc", ".arc"}
FEED_EXT = {".rss", ".atom", ".xml", ".rdf"}
OPML_EXT = {".opml"}
KNOWN_EXT = TEXT_EXT | HTML_EXT | JSON_EXT | JSONL_EXT | WARC_EXT | FEED_EXT | OPML_EXT


def file_format(path: str) -> str | None:
    """The format of a file from its name, looking through a trailing .gz."""
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    ext = os.path.splitext(name)[1]
    for fmt, exts in (
        ("txt", TEXT_EXT), ("html", HTML_EXT), ("json", JSON_EXT), ("jsonl", JSONL_EXT),
        ("warc", WARC_EXT), ("feed", FEED_EXT), ("opml", OPML_EXT),
    ):
        if ext in exts:
            return fmt
    return None


def walk_items(path: Path, follow_symlinks: bool = False) -> Iterator[Path | BadInput]:
    """Files under ``path`` (or ``path`` itself), sorted, hidden files and folders skipped.

    A folder is untrusted too: a symlink in it may lead anywhere (``story.txt -> /etc/passwd``, a symlinked
    home directory).  Unless ``follow_symlinks`` is set, a symlink whose target lies outside ``path`` is
    reported (one BadInput) and not followed; symlinked folders inside ``path`` are not descended (their
    files are met anyway).  With ``follow_symlinks``, each real folder is walked once, so a link cycle ends.
    A file named explicitly is the user's own choice and is read whatever it links to.
    """
    if not path.is_dir():
        yield path
        return
    root = path.resolve()
    seen = {root}
    for dirpath, dirs, files in os.walk(path, followlinks=follow_symlinks):
        here = Path(dirpath)
        keep = []
        for d in sorted(d for d in dirs if not d.startswith(".")):
            sub = here / d
            if follow_symlinks:
                real = sub.resolve()
                if real not in seen:
                    seen.add(real)
                    keep.append(d)
            elif sub.is_symlink():
                outside = _outside(sub, root)
                if outside is not None:
                    yield BadInput(str(sub), outside)
            else:
                keep.append(d)
        dirs[:] = keep
        for name in sorted(files):
            if name.startswith("."):
                continue
            f = here / name
            if not follow_symlinks and f.is_symlink():
                outside = _outside(f, root)
                if outside is not None:
                    yield BadInput(str(f), outside)
                    continue
            yield f


def _outside(link: Path, root: Path) -> str | None:
    """Why ``link`` is not followed (its target is outside ``root``), or None when it stays inside."""
    try:
        target = link.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        return f"symlink that cannot be resolved ({exc}): not followed"
    if target == root or root in target.parents:
        return None
    return f"symlink to {target}, outside the folder: not followed (set follow_symlinks = true to allow)"


def walk(path: Path, follow_symlinks: bool = False) -> Iterator[Path]:
    """The files :func:`walk_items` finds, without its refusals (for counting and for the batch runner)."""
    for item in walk_items(path, follow_symlinks):
        if isinstance(item, Path):
            yield item


def count_files(path: Path) -> int:
    return sum(1 for p in walk(path) if file_format(str(p)))


def looks_like_headline(line: str) -> bool:
    """Headlines do not end in a full stop and are short; a long sentence is the article's first paragraph."""
    line = line.strip()
    return not (line.endswith((".", "。", "!", "?", "…", ".”", ".\"")) and len(line.split()) >= 12) and len(line) <= 300


def split_headline(text: str) -> tuple[str, str]:
    """Scraped .txt convention: the first non-empty line is the headline, the rest is the body.

    Some scrapers write no headline (the first line is the lead paragraph): then the headline is empty and
    the body keeps that line, so no sentence of the article is lost.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for i, line in enumerate(lines):
        if line.strip():
            if not looks_like_headline(line):
                return "", "\n".join(lines[i:]).strip("\n")
            return line.strip(), "\n".join(lines[i + 1 :]).strip("\n")
    return "", ""


def read_file(path: Path, settings: Settings) -> bytes:
    """The whole (decompressed) content of a file, within the size cap."""
    loc = str(path)
    size = path.stat().st_size
    if size == 0:
        raise BadInput(loc, "empty file")
    if size > settings.max_file_bytes:
        raise BadInput(loc, f"larger than the size cap of {settings.max_file_bytes:,} bytes ({size:,})")
    with open(path, "rb") as fh:
        head = fh.read(2)
        fh.seek(0)
        if head == b"\x1f\x8b":
            data = read_capped(gzip.GzipFile(fileobj=fh), settings.max_file_bytes, loc)  # type: ignore[arg-type]
        else:
            data = fh.read()
    if not data.strip():
        raise BadInput(loc, "empty file" + (" (after decompression)" if head == b"\x1f\x8b" else ""))
    return data


def iter_file(path: Path, settings: Settings, fetcher: object | None = None) -> Iterator[Item]:
    """RawDocs from one file; formats that hold many items (JSONL, WARC, feeds) yield many.

    Never raises: whatever goes wrong (a parser bug on a hostile byte sequence included) becomes one
    BadInput for the file, after every item read before it.
    """
    yield from guarded(_iter_file(path, settings, fetcher), str(path))


def _iter_file(path: Path, settings: Settings, fetcher: object | None) -> Iterator[Item]:
    loc = str(path)
    fmt = file_format(loc)
    if fmt is None:
        yield BadInput(loc, "unsupported file type (expected .txt .html .json .jsonl .warc .rss .atom .xml .opml, or .gz of one)")
        return
    if not stat.S_ISREG(path.stat().st_mode):  # a FIFO would block the run forever, a device never ends
        yield BadInput(loc, "not a regular file (a FIFO, device or socket)")
        return
    if fmt == "jsonl":
        yield from iter_jsonl(path, settings)
        return
    if fmt == "warc":
        from storyloom.ingest.warc import iter_warc

        yield from iter_warc(path, settings)
        return
    data = read_file(path, settings)
    if fmt == "txt":
        text = decode_text(data, loc)
        title, body = split_headline(text)
        if not body.strip() and not title:
            raise BadInput(loc, "no text")
        yield RawDoc(raw=data, kind="txt", location=loc, title=title or None, text=body or title)
    elif fmt == "html":
        if looks_binary(data):
            raise BadInput(loc, "binary content, not HTML")
        html = decode_html(data, loc)
        if not html.strip():
            raise BadInput(loc, "empty file (nothing but a byte-order mark)")
        yield RawDoc(raw=data, kind="html", location=loc, html=html)
    elif fmt == "json":
        yield from iter_json(data, loc)
    elif fmt == "feed":
        from storyloom.ingest.feeds import iter_feed

        yield from iter_feed(data, loc, settings, fetcher=None)
    elif fmt == "opml":
        from storyloom.ingest.feeds import iter_opml_feeds

        yield from iter_opml_feeds(data, loc, settings, fetcher)


def iter_json(data: bytes, loc: str) -> Iterator[Item]:
    """A .json file holds one record or a list of them; a bad record in a list is one line, the rest go on.

    Parsed as JSON requires (UTF-8, or UTF-16/32), not through encoding detection: see records.py."""
    if looks_binary(data) and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise BadInput(loc, "binary content, not JSON")
    obj = parse_json_bytes(data, loc)
    objs = obj if isinstance(obj, list) else [obj]
    if not objs:
        raise BadInput(loc, "an empty JSON list: no records")
    for i, o in enumerate(objs):
        sub_loc = loc if len(objs) == 1 else f"{loc}#{i}"
        try:
            raw = data if len(objs) == 1 else json.dumps(o, ensure_ascii=False, sort_keys=True).encode()
            yield record_to_raw(o, raw, "json", sub_loc)
        except BadInput as exc:
            yield exc
        except Exception as exc:
            yield unreadable(sub_loc, exc)


def iter_jsonl(path: Path, settings: Settings) -> Iterator[Item]:
    """One article per line, streamed; a malformed line is reported with its number and skipped.

    Lines must be UTF-8 (as JSON Lines requires): a line that is not is one BadInput, never a guess.

    No whole-file size cap here (unlike a .txt/.html/.json file, read whole): the file is never held in memory,
    each line has the item cap, and multi-gigabyte JSONL dumps are what users bring."""
    loc = str(path)
    if path.stat().st_size == 0:
        yield BadInput(loc, "empty file")
        return
    with open(path, "rb") as fh:
        lineno = 0
        seen_any = False
        try:
            for line in iter_lines(fh, settings.max_item_bytes + 2):  # + room for a CRLF
                lineno += 1
                item = jsonl_item(line, f"{loc}:{lineno}", settings.max_item_bytes)
                if item is None:
                    continue
                seen_any = True
                yield item
        except (Truncated, OSError) as exc:
            yield BadInput(loc, f"truncated or corrupt after line {lineno}: {exc}")
            return
        if not seen_any:
            yield BadInput(loc, "empty file")
