"""Exports of a story's comparison and digest: JSON, CSV (the claim matrix) and Markdown (the digest first, then
the matrix), for readers who take a story elsewhere."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from typing import Any

from storyloom.readmodels import Digest


def to_json(result: dict[str, Any]) -> str:
    return json.dumps(result, ensure_ascii=False, indent=2, default=str)


def to_csv(result: dict[str, Any]) -> str:
    """One row per aligned claim, one column per outlet (the outlet's own sentence), plus status."""
    cols = [c["column"] for c in result["columns"]]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["status", "conflict", "first", *cols])
    for r in result["rows"]:
        by_col: dict[str, list[str]] = defaultdict(list)
        for cell in r["cells"]:
            by_col[cell["column"]].append(cell["text"])
        conflict = "; ".join(f"{c['unit']}: " + " vs ".join(c["values"]) for c in r["conflicts"])
        w.writerow([r["status"], conflict, (r["first"] or {}).get("column", ""), *[" / ".join(by_col.get(c, [])) for c in cols]])
    return buf.getvalue()


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def digest_markdown(d: Digest) -> list[str]:
    """The digest as Markdown lines: key facts, conflicts, what each outlet adds, speakers, numbers, coverage."""
    out = ["## Key facts", ""]
    for f in d.key_facts:
        first = f" First: {_md(f.first.outlet)} ({(f.first.time or '')[:16]})." if f.first else ""
        by = f" According to {_md(', '.join(f.attributed_to))}." if f.attributed_to else ""
        out.append(f"- **{_md(f.text)}** — {f.n_outlets} outlets: {_md(', '.join(f.outlets))}.{first}{by}")
    if not d.key_facts:
        out.append("- (none shared)")
    if d.more_key_facts:
        out.append(f"- … and {d.more_key_facts} more in the claim matrix below")
    out.append("")
    if d.conflicts:
        out += ["## Conflicts", ""]
        for c in d.conflicts:
            vals = "; ".join(f"{_md(v)} ({_md(', '.join(o))})" for v, o in c.values.items())
            out.append(f"- {_md(c.what)}: {vals}")
            out += [f"  - {_md(w.outlet)}: {_md(w.text)}" for w in c.wordings]
        out.append("")
    out += ["## What each outlet adds", ""]
    for o in d.outlets:
        lens = ", ".join(x for x in (o.kind, o.country, o.language) if x and x != "unknown")
        out.append(f"### {_md(o.outlet)}" + (f" ({_md(lens)})" if lens else ""))
        out.append(f"Headline: *{_md(o.title)}*" + (f" — {o.n_exclusive} facts only here" if o.n_exclusive else ""))
        out += [f"- {_md(x)}" for x in o.exclusive_facts] + [f"- “{_md(q)}”" for q in o.exclusive_quotes] + [""]
    if d.speakers:
        out += ["## Who is quoted", ""]
        for sp in d.speakers:
            out.append(f"- **{_md(sp.name)}** ({_md(', '.join(sp.outlets))}): "
                       + " / ".join(f"“{_md(q.text)}”" for q in sp.quotes))
        out.append("")
    if d.numbers:
        out += ["## Numbers", ""] + [f"- {_md(n.text)} ({_md(n.unit)}): {_md(', '.join(n.outlets))}" for n in d.numbers]
        out.append("")
    if d.coverage:
        out += ["## Coverage", ""]
        out += [f"- by {_md(g.lens)}: " + ", ".join(f"{_md(k)} {v}" for k, v in g.counts.items()) for g in d.coverage]
        out.append("")
    out += [f"*{_md(n)}*" for n in d.notes]
    return out


def to_markdown(result: dict[str, Any], digest: Digest | None = None) -> str:
    """The story as Markdown: the digest first (when given), then the claim matrix and the provenance."""
    s, summ = result["story"], result["summary"]
    out = [f"# {_md(s['label'])}", "",
           f"Story `{s['id']}`: {s['n_articles']} articles, {s['first_seen'][:16]} → {s['last_seen'][:16]}.", ""]
    if digest is not None:
        out += digest_markdown(digest) + ["", "# The claim matrix", ""]
    fr = result["first_reporter"]
    out.append(f"**First reporter:** {_md(fr['column'])} at {fr['time']}." if fr else
               "**First reporter:** unknown (no trusted publication dates).")
    if result["untrusted_dates"]:
        out.append(f"Untrusted or missing dates (not used for ordering): {', '.join(map(_md, result['untrusted_dates']))}.")
    out += ["", f"{summ['rows']} claims after alignment: {summ['shared_by_all']} shared by all, {summ['partial']} by "
            f"some, {summ['conflicting']} conflicting.", ""]
    cols = [c["column"] for c in result["columns"]]
    for title, pick in (("Shared by all", "shared"), ("Reported by some", "partial")):
        rows = [r for r in result["rows"] if r["status"] == pick]
        if rows:
            out += [f"## {title}", ""]
            for r in rows:
                out.append("- " + " ≈ ".join(f"**{_md(c['column'])}:** {_md(c['text'])}" for c in r["cells"]))
            out.append("")
    for col in cols:
        rows = [r for r in result["rows"] if r["status"] == "only" and r["columns"] == [col]]
        if rows:
            out += [f"## Only in {_md(col)}", ""] + [f"- {_md(r['cells'][0]['text'])}" for r in rows] + [""]
    conflicts = [r for r in result["rows"] if r["conflicts"]]
    if conflicts:
        out += ["## Conflicting numbers", ""]
        for r in conflicts:
            for c in r["conflicts"]:
                out.append(f"- {c['unit']}: " + "; ".join(f"{v} ({', '.join(map(_md, cs))})" for v, cs in c["values"].items()))
        out.append("")
    g = result["provenance"]
    out += ["## Provenance", ""]
    labels = {n["id"]: n["label"] for n in g["nodes"]}
    for e in g["edges"]:
        if e["kind"] != "published-by":
            out.append(f"- {_md(labels.get(e['source'], e['source'])[:80])} —{e['kind']}→ {_md(labels.get(e['target'], e['target'])[:80])}")
    return "\n".join(out) + "\n"
