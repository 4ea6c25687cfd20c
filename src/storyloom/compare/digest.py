"""The story digest: what a reader needs of a story in thirty seconds, built from its kept comparison.

In order: the **key facts** (aligned claims carried by more than one outlet, ranked by how many outlets carry
them, each in its clearest wording, with who carried it first and whom it is attributed to), the **conflicts**
(the same fact with different figures), **what each outlet alone adds** (its top exclusive facts and quotes, its
headline beside the others'), the **speakers** quoted across outlets, the story's **numbers** and the
**coverage** by kind, country, language and the user's own outlet attributes; and, for a reader coming back,
the facts **new since** a given time.

Built on read from the comparison kept per story version (:func:`storyloom.compare.compare_kept`): a pure pass
over its rows, milliseconds even for a large story, so the user's outlet file and the "new since" time never
force a new comparison.  Every list is capped (a 500-article story gives a digest that fits a screen) and says
how much it left out.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any, Literal

from storyloom.compare.provenance import _GENERIC, source_key
from storyloom.coverage import coverage_notes
from storyloom.outlets import OutletTable, learnt_kind
from storyloom.readmodels import (
    Carrier,
    Conflict,
    CoverageGroup,
    Digest,
    KeyFact,
    NumberReport,
    OutletLens,
    Quote,
    Speaker,
)

MAX_KEY_FACTS = 10
MAX_OUTLETS = 25
MAX_EXCLUSIVE = 3
MAX_SPEAKERS = 8
MAX_QUOTES = 3
MAX_NUMBERS = 10
MAX_CONFLICTS = 8
LEAD_FACTS_ONE_OUTLET = 5
MIN_QUOTE_WORDS = 4  # "best performance" is a phrase, not a quote worth a reader's time
GOOD_WORDS = (8, 40)  # a wording this long reads as one complete fact


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold()))


def _words(text: str) -> int:
    return len(text.split())


class _Story:
    """The comparison's columns and rows, indexed the ways the digest needs them."""

    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result
        self.columns: list[dict[str, Any]] = result["columns"]
        self.col: dict[str, dict[str, Any]] = {c["column"]: c for c in self.columns}
        self.outlet_of = {c["column"]: (c.get("outlet") or c["column"]) for c in self.columns}
        self.outlets = list(dict.fromkeys(self.outlet_of[c["column"]] for c in self.columns))
        langs = Counter(c.get("language") for c in self.columns if c.get("language"))
        self.main_language = langs.most_common(1)[0][0] if langs else None
        self.rows: list[dict[str, Any]] = result["rows"]

    def trusted_time(self, column: str) -> str | None:
        c = self.col.get(column, {})
        return c.get("published") if c.get("published") and not c.get("date_flag") else None

    def carrier(self, cell: dict[str, Any]) -> Carrier:
        c = self.col.get(cell["column"], {})
        return Carrier(outlet=self.outlet_of.get(cell["column"], cell["column"]), article_id=cell["article_id"],
                       text=cell["text"], time=self.trusted_time(cell["column"]), language=c.get("language"))

    def row_outlets(self, row: dict[str, Any]) -> list[str]:
        return list(dict.fromkeys(self.outlet_of.get(cell["column"], cell["column"]) for cell in row["cells"]))


def _clearest(story: _Story, cells: list[dict[str, Any]]) -> dict[str, Any]:
    """The wording a reader should see: in the story's main language when one has it, a complete sentence
    (8–40 words), the one nearest the median length (neither the terse nor the padded one), the earliest on
    ties."""
    pool = [c for c in cells if story.col.get(c["column"], {}).get("language") == story.main_language] or cells
    good = [c for c in pool if GOOD_WORDS[0] <= _words(c["text"]) <= GOOD_WORDS[1]] or pool
    mid = statistics.median(_words(c["text"]) for c in good)
    return min(good, key=lambda c: (abs(_words(c["text"]) - mid), c.get("index", 0), c["column"]))


def _attributed(cells: Iterable[dict[str, Any]]) -> list[str]:
    aliases: dict[str, str] = {}
    out: list[str] = []
    for c in cells:
        if c.get("source"):
            key = source_key(c["source"], aliases)
            if key.casefold() not in _GENERIC and key not in out:
                out.append(key)
    return out


def _numbers_of(cell: dict[str, Any]) -> list[str]:
    return [q["text"] for q in cell.get("quantities", ()) if q.get("unit") and q["unit"] != "year"]


def _fact(story: _Story, row: dict[str, Any]) -> KeyFact:
    best = _clearest(story, row["cells"])
    per_outlet: dict[str, dict[str, Any]] = {}
    for cell in row["cells"]:
        per_outlet.setdefault(story.outlet_of.get(cell["column"], cell["column"]), cell)
    first = None
    if row.get("first"):
        firsts = [c for c in row["cells"] if c["column"] == row["first"]["column"]]
        first = story.carrier(firsts[0]) if firsts else None
    outlets = story.row_outlets(row)
    return KeyFact(text=best["text"], outlets=outlets, n_outlets=len(outlets), first=first,
                   attributed_to=_attributed(row["cells"]),
                   wordings=[story.carrier(c) for c in per_outlet.values()], numbers=_numbers_of(best))


def _row_time(story: _Story, row: dict[str, Any]) -> str | None:
    times = [t for t in (story.trusted_time(c["column"]) for c in row["cells"]) if t]
    return min(times) if times else None


def _informative(cell: dict[str, Any]) -> int:
    """How much a reader learns from a claim at a glance: figures, names, a quote, an attribution."""
    return (2 * bool(_numbers_of(cell)) + bool(cell.get("entities")) + bool(cell.get("quotes"))
            + bool(cell.get("source")) + (GOOD_WORDS[0] <= _words(cell["text"]) <= 60))


def _conflicts(story: _Story) -> list[Conflict]:
    out: list[Conflict] = []
    for row in story.rows:  # within a row: aligned sentences whose figures differ
        for c in row.get("conflicts", ()):
            given = {v: sorted({story.outlet_of.get(col, col) for col in cols}) for v, cols in c["values"].items()}
            wordings: dict[str, Carrier] = {}
            for cell in row["cells"]:
                wordings.setdefault(story.outlet_of.get(cell["column"], cell["column"]), story.carrier(cell))
            out.append(Conflict(what=c["unit"], values=given, wordings=list(wordings.values())))
    cells = {cell["key"]: cell for row in story.rows for cell in row["cells"]}
    for pair in story.result.get("fact_conflicts", ()):  # across rows: the same fact, another figure
        a, b = cells.get(pair["a"]), cells.get(pair["b"])
        if a is None or b is None:
            continue
        oa, ob = story.outlet_of.get(a["column"], a["column"]), story.outlet_of.get(b["column"], b["column"])
        values: dict[str, list[str]] = defaultdict(list)
        for v, o in [*((v, oa) for v in pair["values"]["a"]), *((v, ob) for v in pair["values"]["b"])]:
            if o not in values[str(v)]:
                values[str(v)].append(o)
        out.append(Conflict(what=pair["unit"], values=dict(values), wordings=[story.carrier(a), story.carrier(b)]))
    return out[:MAX_CONFLICTS]


def _learnt(story: _Story) -> dict[str, str]:
    """Outlet → kind, from what the story's provenance shows (see :func:`storyloom.outlets.learnt_kind`)."""
    graph = story.result.get("provenance") or {"nodes": [], "edges": []}
    outlet_of_article = {c["article_id"]: story.outlet_of[c["column"]] for c in story.columns}
    flags: dict[str, dict[str, bool]] = defaultdict(lambda: {"copy": False, "translation": False, "cites": False})
    for e in graph.get("edges", ()):
        src = e["source"].removeprefix("article:")
        if src not in outlet_of_article:
            continue
        outlet = outlet_of_article[src]
        if e["kind"] == "cites":
            flags[outlet]["cites"] = True
        elif e["kind"] in ("copy-of", "translated-from") and e.get("directed"):
            target = outlet_of_article.get(e["target"].removeprefix("article:"))
            if target and target != outlet:
                flags[outlet]["translation" if e["kind"] == "translated-from" else "copy"] = True
    out = {}
    for outlet, f in flags.items():
        kind = learnt_kind({"cited_sources": f["cites"]}, f["copy"], f["translation"])
        if kind:
            out[outlet] = kind
    return out


def _lenses(story: _Story, table: OutletTable, exclusive: dict[str, list[dict[str, Any]]]) -> list[OutletLens]:
    learnt = _learnt(story)
    quote_outlets: dict[str, set[str]] = defaultdict(set)  # a quote (normalised) → the outlets using it
    said_by: dict[str, dict[str, str]] = defaultdict(dict)  # an outlet → its quotes worth showing, in order
    for row in story.rows:
        for cell in row["cells"]:
            who = story.outlet_of.get(cell["column"], cell["column"])
            for q in cell.get("quotes", ()):
                quote_outlets[_norm(q)].add(who)
                if _words(q) >= MIN_QUOTE_WORDS:
                    said_by[who].setdefault(_norm(q), q.strip(" ,;:"))
    first_column: dict[str, dict[str, Any]] = {}
    for c in story.columns:
        first_column.setdefault(story.outlet_of[c["column"]], c)
    out = []
    for outlet in story.outlets:
        col = first_column[outlet]
        info = table.lookup(col.get("outlet"), col.get("url"))
        kind, kind_source = (info.kind, info.kind_source) if info and info.kind else (None, None)
        if info is None or info.kind_source != "your file":  # the data overrides the bundled table, not the user
            if outlet in learnt:
                kind, kind_source = learnt[outlet], "learnt from the data"
        mine = sorted(exclusive.get(outlet, []), key=lambda c: (-_informative(c), c.get("index", 0)))
        quotes = [text for key, text in said_by[outlet].items() if quote_outlets[key] == {outlet}]
        out.append(OutletLens(
            outlet=outlet, title=col["title"], article_id=col["article_id"], published=col.get("published"),
            language=col.get("language") or (info.language if info else None),
            country=info.country if info else None, kind=kind or "unknown", kind_source=kind_source,
            attributes=dict(info.attributes) if info else {}, exclusive_facts=[c["text"] for c in mine[:MAX_EXCLUSIVE]],
            n_exclusive=len(mine), exclusive_quotes=quotes[:MAX_QUOTES]))
    return out


def _speakers(story: _Story) -> list[Speaker]:
    aliases: dict[str, str] = {}
    by: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    texts: dict[str, dict[str, str]] = defaultdict(dict)
    for row in story.rows:
        for cell in row["cells"]:
            if not cell.get("source") or not cell.get("quotes"):
                continue
            who = source_key(cell["source"], aliases).strip(" .,;:")
            if not who or who.casefold() in _GENERIC:
                continue
            for q in cell["quotes"]:
                by[who][_norm(q)].add(story.outlet_of.get(cell["column"], cell["column"]))
                texts[who].setdefault(_norm(q), q)
    out = []
    for who, quotes in by.items():
        ranked = sorted(quotes.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        outlets = sorted({o for os in quotes.values() for o in os})
        out.append(Speaker(name=who, outlets=outlets,
                           quotes=[Quote(text=texts[who][k], outlets=sorted(v)) for k, v in ranked[:MAX_QUOTES]]))
    out.sort(key=lambda s: (-len(s.outlets), -len(s.quotes), s.name))
    return out[:MAX_SPEAKERS]


def _numbers(story: _Story) -> list[NumberReport]:
    by: dict[tuple[str, float], dict[str, Any]] = {}
    for row in story.rows:
        for cell in row["cells"]:
            for q in cell.get("quantities", ()):
                if not q.get("unit") or q["unit"] == "year":
                    continue
                got = by.setdefault((q["unit"], float(q["value"])), {"text": q["text"], "outlets": []})
                o = story.outlet_of.get(cell["column"], cell["column"])
                if o not in got["outlets"]:
                    got["outlets"].append(o)
    ranked = sorted(by.items(), key=lambda kv: (-len(kv[1]["outlets"]), kv[0][0], kv[0][1]))
    return [NumberReport(value=v, unit=u, text=d["text"], outlets=d["outlets"]) for (u, v), d in ranked[:MAX_NUMBERS]]


def _coverage(lenses: list[OutletLens]) -> list[CoverageGroup]:
    groups: list[CoverageGroup] = []
    for lens, get in (("kind", lambda o: o.kind), ("country", lambda o: o.country), ("language", lambda o: o.language)):
        counts = Counter(get(o) or "unknown" for o in lenses)
        groups.append(CoverageGroup(lens=lens, counts=dict(counts.most_common())))
    attrs = sorted({k for o in lenses for k in o.attributes})
    for a in attrs:
        counts = Counter(o.attributes.get(a) or "unknown" for o in lenses)
        groups.append(CoverageGroup(lens=a, counts=dict(counts.most_common())))
    return groups


def _status(status: str) -> Literal["fresh", "stale", "pending"]:
    return "stale" if status == "stale" else "pending" if status == "pending" else "fresh"


def build_digest(result: dict[str, Any], table: OutletTable, *, since: str | None = None,
                 status: str = "fresh") -> Digest:
    """The digest of a story from its comparison (:func:`storyloom.compare.compare_story`'s result)."""
    story = _Story(result)
    notes: list[str] = []
    multi = len(story.outlets) > 1
    # a row whose outlets disagree on a figure is not something they agree on: it is listed as a conflict
    shared_rows = [(k, r) for k, r in enumerate(story.rows) if len(story.row_outlets(r)) > 1 and not r.get("conflicts")]
    shared_rows.sort(key=lambda kr: (-len(story.row_outlets(kr[1])), _row_time(story, kr[1]) or "~", kr[0]))
    if multi:
        key_facts = [_fact(story, r) for _, r in shared_rows[:MAX_KEY_FACTS]]
        more = max(0, len(shared_rows) - MAX_KEY_FACTS)
        if not shared_rows:
            notes.append("no fact is carried by two outlets: the articles may tell different parts of the story "
                         "(see what each outlet adds)")
    else:
        lead = [r for r in story.rows if r["cells"]][:LEAD_FACTS_ONE_OUTLET]
        key_facts = [_fact(story, r) for r in lead]
        more = max(0, len(story.rows) - len(lead))
        notes.append("one outlet: nothing to compare yet; these are its lead facts")
    exclusive: dict[str, list[dict[str, Any]]] = defaultdict(list)
    in_conflict = {k for pair in result.get("fact_conflicts", ()) for k in (pair["a"], pair["b"])}
    if multi:  # a claim that conflicts with another outlet's is not "only here": it is shown as a conflict
        for row in story.rows:
            outs = story.row_outlets(row)
            if len(outs) == 1 and row["cells"][0].get("key") not in in_conflict:
                exclusive[outs[0]].append(row["cells"][0])
    lenses = _lenses(story, table, exclusive)
    s = result["story"]
    summary = result.get("summary", {})
    if summary.get("members_left_out"):
        notes.append(f"{summary['members_left_out']} articles left out of the comparison (beyond "
                     f"{len(story.columns)}: one per copy group, earliest first)")
    if not story.rows:
        notes.append("no sentence to compare in these articles")
    fr = result.get("first_reporter")
    first = None
    if fr:
        col = story.col.get(fr["column"], {})
        first = Carrier(outlet=story.outlet_of.get(fr["column"], fr["column"]), article_id=fr["article_id"],
                        text=col.get("title", ""), time=fr["time"], language=col.get("language"))
    new_facts: list[KeyFact] = []
    if since:
        fresh = [(k, r) for k, r in enumerate(story.rows) if (_row_time(story, r) or "") > since]
        fresh.sort(key=lambda kr: (_row_time(story, kr[1]) or "", kr[0]))
        new_facts = [_fact(story, r) for _, r in fresh[:MAX_KEY_FACTS]]
    languages = sorted({str(c["language"]) for c in story.columns if c.get("language")})
    return Digest(
        story_id=s["id"], label=s["label"], n_articles=s["n_articles"], n_outlets=len(story.outlets),
        languages=languages, first_seen=s["first_seen"], last_seen=s["last_seen"], first_reporter=first,
        key_facts=key_facts, more_key_facts=more, conflicts=_conflicts(story),
        outlets=lenses[:MAX_OUTLETS], more_outlets=max(0, len(lenses) - MAX_OUTLETS), speakers=_speakers(story),
        numbers=_numbers(story), coverage=_coverage(lenses), new_since=since, new_facts=new_facts,
        notes=notes + coverage_notes(c.get("language") for c in story.columns) + [w for w in table.warnings[:5]],
        status=_status(status),
    )
