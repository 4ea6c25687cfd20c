"""Who an outlet is: its country, language and kind (wire, national, regional, public broadcaster, international,
aggregator, content farm), plus whatever attributes a user keeps about outlets (political lean, owner…).

Three sources, later ones winning: the bundled table (``data/outlets.csv``: the outlets of the default feed list
and the main wire services), what the data itself shows (an outlet that reposts others' articles under "Source:"
lines is an aggregator; one whose articles are translations of others' is a content farm), and the user's own
file (setting ``outlets_file``: CSV with a ``name`` column, or TOML with one table per outlet).  An article is
matched to a row by its outlet name (or an alias) and, failing that, by its URL's host.
"""

from __future__ import annotations

import csv
import io
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from storyloom.errors import StoryloomError

CORE = ("country", "language", "kind")
KINDS = frozenset({"wire", "national", "regional", "international", "public broadcaster", "aggregator",
                   "content farm", "local", "magazine", "blog"})
MAX_FILE_BYTES = 5 * 1024 * 1024


@dataclass
class OutletInfo:
    name: str
    country: str | None = None
    language: str | None = None
    kind: str | None = None
    kind_source: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)


def _key(name: str) -> str:
    k = " ".join(name.casefold().replace("’", "'").split())
    return k[4:] if k.startswith("the ") else k


def _host(url_or_host: str | None) -> str | None:
    if not url_or_host:
        return None
    text = url_or_host.strip()
    try:
        host = urlsplit(text if "://" in text else "http://" + text).hostname
    except ValueError:
        return None
    if not host or "." not in host:
        return None
    return host[4:] if host.startswith("www.") else host


class OutletTable:
    """Rows by name, alias and domain; :meth:`lookup` finds an article's row."""

    def __init__(self) -> None:
        self.rows: list[OutletInfo] = []
        self.by_name: dict[str, OutletInfo] = {}
        self.by_domain: dict[str, OutletInfo] = {}
        self.warnings: list[str] = []

    def add(self, info: OutletInfo, aliases: Iterable[str] = (), domains: Iterable[str] = ()) -> None:
        existing = self.by_name.get(_key(info.name))
        if existing is not None:  # a later source refines an earlier row
            for k in CORE:
                if getattr(info, k):
                    setattr(existing, k, getattr(info, k))
            if info.kind:
                existing.kind_source = info.kind_source
            existing.attributes.update(info.attributes)
            info = existing
        else:
            self.rows.append(info)
        for n in (info.name, *aliases):
            if n.strip():
                self.by_name[_key(n)] = info
        for d in domains:
            host = _host(d)
            if host:
                self.by_domain[host] = info

    def lookup(self, outlet: str | None, url: str | None = None) -> OutletInfo | None:
        if outlet:
            hit = self.by_name.get(_key(outlet))
            if hit is not None:
                return hit
            host = _host(outlet) if "." in outlet and " " not in outlet.strip() else None
            if host:
                hit = self._by_host(host)
                if hit is not None:
                    return hit
        host = _host(url)
        return self._by_host(host) if host else None

    def name_for(self, outlet: str | None, url: str | None) -> str | None:
        """The name an article's outlet is stored under: the table's own spelling when the name (or an alias)
        is in it ("AP News" → "Associated Press"), else the name as given; with no name, the table's row for
        the URL's host ("hosted.ap.org" → "Associated Press"), else None.  One spelling per outlet is what
        lets a reader, a follow and the coverage lenses count an outlet once."""
        hit = self.lookup(outlet) if outlet else self.lookup(None, url)
        return hit.name if hit is not None else outlet

    def _by_host(self, host: str) -> OutletInfo | None:
        parts = host.split(".")
        for i in range(len(parts) - 1):  # news.bbc.co.uk → bbc.co.uk → co.uk (never a bare TLD)
            hit = self.by_domain.get(".".join(parts[i:]))
            if hit is not None:
                return hit
        return None


def _rows_from_csv(text: str, source: str, warnings: list[str]) -> list[dict[str, str]]:
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    if not reader.fieldnames or "name" not in [f.strip() for f in reader.fieldnames]:
        raise StoryloomError(f"{source}: an outlets CSV needs a 'name' column (found: "
                             f"{', '.join(reader.fieldnames or []) or 'no header'})")
    out = []
    for n, row in enumerate(reader, 2):
        if None in row:  # more cells than columns
            warnings.append(f"{source}:{n}: more cells than columns; row skipped")
            continue
        clean = {str(k).strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if not clean.get("name"):
            warnings.append(f"{source}:{n}: no name; row skipped")
            continue
        out.append(clean)
    return out


def _rows_from_toml(text: str, source: str, warnings: list[str]) -> list[dict[str, str]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StoryloomError(f"{source}: not valid TOML: {exc}") from exc
    out = []
    for name, attrs in data.items():
        if not isinstance(attrs, dict):
            warnings.append(f"{source}: [{name}] is not a table of attributes; skipped")
            continue
        row = {"name": str(name)}
        for k, v in attrs.items():
            if isinstance(v, (str, int, float, bool)):
                row[str(k)] = str(v)
            elif isinstance(v, list) and all(isinstance(x, str) for x in v):
                row[str(k)] = ";".join(v)
            else:
                warnings.append(f"{source}: [{name}] {k}: not a plain value; ignored")
        out.append(row)
    return out


def _add_rows(table: OutletTable, rows: list[dict[str, str]], source: str, kind_source: str) -> None:
    for row in rows:
        kind = row.get("kind", "").strip().lower() or None
        if kind and kind not in KINDS:
            table.warnings.append(f"{source}: {row['name']}: unknown kind {kind!r} kept as an attribute")
            row = {**row, "kind_given": kind}
            kind = None
        attrs = {k: v for k, v in row.items() if k not in ("name", "aliases", "domains", *CORE) and v}
        info = OutletInfo(row["name"], row.get("country") or None, row.get("language") or None, kind,
                          kind_source if kind else None, attrs)
        table.add(info, (a.strip() for a in row.get("aliases", "").split(";")),
                  (d.strip() for d in row.get("domains", "").split(";")))


@lru_cache(maxsize=1)
def _bundled_rows() -> tuple[dict[str, str], ...]:
    text = resources.files("storyloom").joinpath("data", "outlets.csv").read_text(encoding="utf-8")
    return tuple(_rows_from_csv(text, "data/outlets.csv", []))


def load_table(user_file: str | None = None) -> OutletTable:
    """The bundled table, refined by the user's file when given.  A file that cannot be read at all is an error
    (one line); bad rows in it are warnings (``table.warnings``), one line each, and the rest is loaded."""
    table = OutletTable()
    _add_rows(table, [dict(r) for r in _bundled_rows()], "data/outlets.csv", "bundled table")
    if user_file:
        p = Path(user_file)
        try:
            if p.stat().st_size > MAX_FILE_BYTES:
                raise StoryloomError(f"{p}: outlets file larger than {MAX_FILE_BYTES:,} bytes")
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise StoryloomError(f"{p}: cannot read the outlets file: {exc}") from exc
        reader = _rows_from_toml if p.suffix.lower() == ".toml" else _rows_from_csv
        rows = reader(text, str(p), table.warnings)
        _add_rows(table, rows, str(p), "your file")
    return table


@lru_cache(maxsize=8)
def cached_table(user_file: str | None, mtime: float) -> OutletTable:
    return load_table(user_file)


def table_for(user_file: str | None) -> OutletTable:
    """:func:`load_table`, kept per process until the file changes."""
    mtime = Path(user_file).stat().st_mtime if user_file and Path(user_file).exists() else 0.0
    return cached_table(user_file, mtime)


def lens_of(info: OutletInfo | None, lens: str) -> str | None:
    """An outlet's group under a lens (kind, country, language, or an attribute of the user's file)."""
    if info is None:
        return None
    if lens in CORE:
        return getattr(info, lens) or None
    return info.attributes.get(lens) or None


def blind_spot(outlets: Iterable[str], table: OutletTable, lens: str) -> str | None:
    """The one group that covers a story alone under ``lens`` (a blind spot of every other group), or None: a
    story needs two outlets or more, every one of them known under the lens, all in the same group."""
    names = list(outlets)
    if len(names) < 2:
        return None
    groups = {lens_of(table.lookup(name), lens) for name in names}
    if len(groups) != 1 or None in groups:
        return None
    return next(iter(groups))


def learnt_kind(meta: dict[str, Any], copied_from_other: bool, translated_from_other: bool) -> str | None:
    """What an article shows of its outlet: a translation of another outlet's article → content farm; a copy of
    another outlet's article, or a "Source: …" line naming another publisher → aggregator."""
    if translated_from_other:
        return "content farm"
    if copied_from_other or meta.get("cited_sources"):
        return "aggregator"
    return None
