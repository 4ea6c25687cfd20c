"""The command line: a thin shell that parses arguments, calls the library and prints with rich.

Human output goes to a terminal (tables, a progress bar); ``--json`` gives scripts one JSON document on
stdout.  Bad items are reported one line each on stderr, whatever the mode.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from storyloom import __version__
from storyloom.errors import BadInput, StoryloomError
from storyloom.settings import Settings, load_settings
from storyloom.store import Store

# In a pipe rich falls back to 80 columns, which folds tables into ribbons: use a page-like width there.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Ctx:
    def __init__(self, db: str | None, config: str | None) -> None:
        self.settings: Settings = load_settings(config, db_path=db)

    def store(self, readonly: bool = False) -> Store:
        return Store(self.settings.db_path, readonly=readonly)


def _dump(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="storyloom")
@click.option("--db", envvar="STORYLOOM_DB", help="The store file (default ./storyloom.db).")
@click.option("--config", envvar="STORYLOOM_CONFIG", help="A storyloom.toml settings file.")
@click.pass_context
def cli(ctx: click.Context, db: str | None, config: str | None) -> None:
    """storyloom: turn a heap of news articles into stories."""
    try:
        ctx.obj = Ctx(db, config)
    except StoryloomError as exc:
        raise click.ClickException(str(exc)) from exc


# -- ingest -----------------------------------------------------------------------------------------


@contextmanager
def _progress(enabled: bool, total: int | None) -> Iterator[Any]:
    """A progress bar on a terminal; a no-op callback in a pipe (so logs stay clean)."""
    if not enabled:
        def quiet(kind: str, payload: object) -> None:
            if kind == "error":
                err.print(f"[red]✗[/] {escape(str(payload))}")
        yield quiet
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("[green]{task.fields[stored]} stored[/] [red]{task.fields[failed]} failed[/]"),
                  TimeElapsedColumn(), console=err, transient=False) as progress:
        task = progress.add_task("ingesting", total=total, stored=0, failed=0)
        counts = {"stored": 0, "failed": 0}

        def update(kind: str, payload: object) -> None:
            if kind == "error":
                counts["failed"] += 1
                progress.console.print(f"[red]✗[/] {escape(str(payload))}")
            elif kind == "item" and payload in ("added", "version"):
                counts["stored"] += 1
            progress.update(task, advance=1, **counts)

        yield update


def _count_items(inputs: tuple[str, ...]) -> int | None:
    """Files to visit, for the progress bar (a folder of JSONL files still counts files, not lines)."""
    from storyloom.ingest import is_url
    from storyloom.ingest.files import count_files, file_format

    total = 0
    for inp in inputs:
        p = Path(inp)
        if is_url(inp) or not p.exists():
            return None
        if p.is_file() and file_format(str(p)) in ("jsonl", "warc", "feed", "opml", "json"):
            return None
        if p.is_dir() and any(file_format(str(f)) in ("jsonl", "warc", "feed", "opml") for f in p.rglob("*.*l*")):
            return None
        total += count_files(p)
    return total


def _summary_table(report: Any, title: str) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("outcome")
    t.add_column("items", justify="right")
    labels = {"added": "new articles", "version": "new versions of a page", "unchanged": "re-fetched, text unchanged",
              "duplicate": "already stored", "failed": "failed", "skipped": "skipped (unknown type)"}
    for key, label in labels.items():
        if report.counts.get(key):
            t.add_row(label, f"{report.counts[key]:,}")
    t.add_row("seconds", f"{report.seconds:.1f}")
    return t


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--strict", is_flag=True, help="Exit non-zero if any item failed.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--allow-private", is_flag=True, default=None, help="Allow URLs on loopback/private networks.")
@click.option("--fetch-links/--no-fetch-links", default=None, help="Fetch the page of feed entries without full text.")
@click.pass_obj
def ingest(obj: Ctx, inputs: tuple[str, ...], strict: bool, as_json: bool, allow_private: bool | None,
           fetch_links: bool | None) -> None:
    """Ingest files, folders (recursive), WARCs, feeds, OPML lists and URLs into the store.

    Re-running is safe: what is stored already is recognised by its bytes and skipped.
    """
    from storyloom.pipeline import ingest as run_ingest

    settings = obj.settings.with_overrides(allow_private=allow_private, fetch_links=fetch_links)
    show_progress = err.is_terminal and not as_json
    with obj.store() as store, _progress(show_progress, _count_items(inputs) if show_progress else None) as cb:
        report = run_ingest(inputs, store, settings, on_event=cb)
    if as_json:
        _dump(report.as_dict())
    else:
        out.print(_summary_table(report, f"Ingested into {settings.db_path}"))
    ok = sum(report.counts[k] for k in ("added", "version", "unchanged", "duplicate"))
    if (strict and report.failed) or (ok == 0 and report.failed):
        sys.exit(1)


# -- reading ----------------------------------------------------------------------------------------


@cli.command()
@click.option("--outlet", help="Only this outlet (case-insensitive).")
@click.option("--language", "--lang", help="Only this language (ISO 639-1, e.g. en).")
@click.option("--since", help="Published on or after (YYYY-MM-DD).")
@click.option("--until", help="Published on or before (YYYY-MM-DD).")
@click.option("--limit", default=30, show_default=True)
@click.option("--offset", default=0)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def articles(obj: Ctx, outlet: str | None, language: str | None, since: str | None, until: str | None,
             limit: int, offset: int, as_json: bool) -> None:
    """List articles, newest first."""
    from storyloom.store.queries import ArticleFilter, list_articles

    with _read_store(obj) as store:
        rows = list_articles(store, ArticleFilter(outlet, language, since, until, limit, offset))
    if as_json:
        _dump(rows)
        return
    t = Table(show_lines=False)
    for col in ("id", "published", "outlet", "lang", "headline"):
        t.add_column(col, overflow="fold" if col == "headline" else "ellipsis", no_wrap=col != "headline")
    for r in rows:
        t.add_row(r["id"][:10], (r["published"] or "—")[:16], escape(r["outlet"] or "—")[:28], r["language"] or "?",
                  escape(r["title"]))
    out.print(t)


@contextmanager
def _read_store(obj: Ctx) -> Iterator[Store]:
    try:
        store = obj.store(readonly=True)
    except StoryloomError as exc:
        raise click.ClickException(str(exc)) from exc
    with store:
        yield store


@cli.command()
@click.argument("article_id")
@click.option("--raw", is_flag=True, help="Print the raw input bytes as stored.")
@click.option("--removed", is_flag=True, help="Show the text with removed furniture marked, each with its reason.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show(obj: Ctx, article_id: str, raw: bool, removed: bool, as_json: bool) -> None:
    """Show one article (an id or a unique prefix of at least 4 characters)."""
    from storyloom.store.queries import get_article

    with _read_store(obj) as store:
        art = get_article(store, article_id)
        if art is None:
            raise click.ClickException(f"no article with a unique id starting {article_id!r}")
        if raw:
            sys.stdout.buffer.write(store.raw_bytes(art["blob"]) or b"")
            return
    if as_json:
        _dump(art)
        return
    out.print(f"[bold]{escape(art['title'])}[/]")
    meta = [("id", art["id"]), ("outlet", art["outlet"]), ("published", art["published"] or f"— ({art['date_flag']})"),
            ("author", art["author"]), ("language", art["language"]), ("url", art["url"]),
            ("canonical", art["canonical_url"]), ("kind", art["kind"]),
            ("previous version", art["previous_id"]), ("next version", art["next_id"])]
    for k, v in meta:
        if v:
            out.print(f"[dim]{k:>16}[/] {escape(str(v))}")
    for s in art["sightings"]:
        out.print(f"[dim]{'seen at':>16}[/] {escape(s['location'])}")
    for w in art["warnings"]:
        out.print(f"[yellow]{'warning':>16}[/] {escape(w)}")
    meta = art["meta"]
    if meta.get("cited_sources"):
        out.print(f"[dim]{'cites':>16}[/] {escape(', '.join(meta['cited_sources']))}")
    for a in meta.get("attributions", [])[:12]:
        out.print(f"[dim]{'attributes to':>16}[/] {escape(a['source'])} [dim]({escape(a['verb'])})[/]")
    if meta.get("text_dates"):
        out.print(f"[dim]{'dates in text':>16}[/] {escape(', '.join(d['text'] for d in meta['text_dates'][:8]))}")
    if art["removed"]:
        out.print(f"[dim]{'removed':>16}[/] {len(art['removed'])} line(s)" + ("" if removed else " (--removed to see them)"))
    out.print()
    if not removed:
        out.print(escape(art["text"]))
        return
    from storyloom.clean.text import render_removed
    from storyloom.models import Span

    spans = [Span(s["start"], s["end"], s["reason"], s["rule"]) for s in art["removed"]]
    for piece, span in render_removed(art["body"] or art["text"], spans):
        if span is None:
            out.print(escape(piece), end="")
        else:
            out.print(f"[red strike]{escape(piece)}[/] [yellow]⟵ {escape(span.reason)} [dim]({span.rule})[/][/]", end="")
    out.print()


@cli.command()
@click.argument("query")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def search(obj: Ctx, query: str, limit: int, as_json: bool) -> None:
    """Full-text search (FTS5 syntax accepted: "exact phrase", OR, NOT, prefix*)."""
    from storyloom.store.queries import MARK_END, MARK_START
    from storyloom.store.queries import search as run_search

    with _read_store(obj) as store:
        rows = run_search(store, query, limit=limit)
    if as_json:
        _dump(rows)
        return
    if not rows:
        out.print("no matches")
        return
    for r in rows:
        out.print(f"[bold]{escape(r['title'])}[/]  [dim]{r['id'][:10]} · {escape(r['outlet'] or '—')} · "
                  f"{(r['published'] or '—')[:10]}[/]")
        snippet = escape(r["snippet"].replace("\n", " ")).replace(MARK_START, "[bold yellow]").replace(MARK_END, "[/]")
        out.print(f"  {snippet}")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def stats(obj: Ctx, as_json: bool) -> None:
    """What the store holds."""
    from storyloom.store.queries import stats as run_stats

    with _read_store(obj) as store:
        s = run_stats(store)
    if as_json:
        _dump(s)
        return
    t = Table(title=f"{obj.settings.db_path}", title_justify="left", show_header=False)
    t.add_column("what")
    t.add_column("value", justify="right")
    for k in ("articles", "versions", "raw_inputs", "sightings", "outlets", "undated", "first_published",
              "last_published", "watched_feeds", "schema_version"):
        v = s[k]
        t.add_row(k.replace("_", " "), f"{v:,}" if isinstance(v, int) else str(v or "—"))
    t.add_row("raw bytes (stored)", f"{s['raw_bytes']:,} ({s['stored_bytes']:,})")
    t.add_row("by language", ", ".join(f"{k} {v}" for k, v in s["by_language"].items()))
    t.add_row("by kind", ", ".join(f"{k} {v}" for k, v in s["by_kind"].items()))
    t.add_row("top outlets", escape(", ".join(f"{k} {v}" for k, v in list(s["top_outlets"].items())[:8])))
    out.print(t)


@cli.command("clean")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def clean_cmd(obj: Ctx, as_json: bool) -> None:
    """Re-clean every stored article from its raw input (after changing rules or settings). Idempotent."""
    from storyloom.clean import text_options
    from storyloom.pipeline import reclean

    try:
        text_options(obj.settings)
    except StoryloomError as exc:
        raise click.ClickException(str(exc)) from exc
    with obj.store() as store:
        total = store.conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        with _progress(err.is_terminal and not as_json, total) as cb:
            rep = reclean(store, obj.settings, on_event=cb)
    if as_json:
        _dump({"checked": rep.checked, "changed": rep.changed, "seconds": round(rep.seconds, 3),
               "failed": [{"id": i, "reason": r} for i, r in rep.failed]})
    else:
        out.print(f"checked {rep.checked:,} articles, changed {rep.changed:,}, failed {len(rep.failed):,} "
                  f"in {rep.seconds:.1f} s")


@cli.command()
@click.option("--group", "group_id", help="Show one copy group: its members and the evidence of each link.")
@click.option("--article", "article_id", help="Show the copy group of this article.")
@click.option("--rebuild", is_flag=True, help="Recompute every fingerprint, link and group from scratch.")
@click.option("--limit", default=30, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def copies(obj: Ctx, group_id: str | None, article_id: str | None, rebuild: bool, limit: int, as_json: bool) -> None:
    """Copy groups: exact, near-duplicate, containment and translated copies, with evidence.

    Without options: finds copies for articles still waiting, then lists the largest groups.
    """
    from storyloom.copies import find_copies, rebuild_copies
    from storyloom.store import copies as sql
    from storyloom.store.queries import resolve_id

    with obj.store() as store:
        total = store.conn.execute("SELECT count(*) FROM stage_queue WHERE stage = 'copies'").fetchone()[0]
        if rebuild:
            total = store.conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        with _progress(err.is_terminal and not as_json and total > 0, total) as cb:
            rep = (rebuild_copies if rebuild else find_copies)(store, obj.settings, on_event=cb)
        if rep.processed and not as_json:
            err.print(f"fingerprinted {rep.processed:,} articles, verified {rep.candidates:,} candidate pairs, "
                      f"links: {rep.links or 'none'}" + (f", {rep.capped_buckets} oversized buckets skipped" if rep.capped_buckets else ""))
        if article_id:
            full = resolve_id(store, article_id)
            if full is None:
                raise click.ClickException(f"no article with a unique id starting {article_id!r}")
            group_id = sql.group_of(store, [full]).get(full)
        if group_id:
            detail = sql.group_detail(store, group_id)
            if detail is None:
                raise click.ClickException(f"no copy group {group_id!r}")
            if as_json:
                _dump(detail)
                return
            _print_group(detail)
            return
        groups = sql.list_groups(store, limit=limit)
    if as_json:
        _dump(groups)
        return
    if not groups:
        out.print("no copy groups (every article is its own original)")
        return
    t = Table()
    for col in ("group", "size", "links", "canonical headline", "outlet"):
        t.add_column(col, overflow="fold" if col == "canonical headline" else "ellipsis")
    for g in groups:
        t.add_row(g["group_id"][:11], str(g["size"]), ", ".join(f"{k} {v}" for k, v in g["link_kinds"].items()),
                  escape(g["canonical"]["title"]), escape(g["canonical"]["outlet"] or "—"))
    out.print(t)


def _print_group(detail: dict[str, Any]) -> None:
    out.print(f"[bold]copy group {detail['group_id']}[/] — {len(detail['members'])} members, canonical first")
    for m in detail["members"]:
        out.print(f"  {m['id'][:10]}  {(m['published'] or '—')[:10]}  {escape(m['outlet'] or '—')[:24]:24}  "
                  f"{m['language'] or '?'}  {escape(m['title'])}")
    for link in detail["links"]:
        out.print(f"\n[bold]{link['a'][:10]} ↔ {link['b'][:10]}[/]  {link['kind']} {link['score']:.2f} ({link['direction']})  "
                  f"[dim]{escape(json.dumps(link['details']))}[/]")
        for ev in link["evidence"][:3]:
            out.print(f"   [dim]a[{ev['a']}][/] {escape(ev['a_text'][:110])}")
            out.print(f"   [dim]b[{ev['b']}][/] {escape(ev['b_text'][:110])}  [dim]({ev['score']})[/]")


@cli.command()
@click.option("--q", "query", help="Only stories with an article matching these words (FTS5).")
@click.option("--language", "--lang", help="Only stories with an article in this language.")
@click.option("--outlet", help="Only stories covered by this outlet.")
@click.option("--since", help="Last seen on or after (YYYY-MM-DD).")
@click.option("--until", help="First seen on or before (YYYY-MM-DD).")
@click.option("--min-articles", default=1, show_default=True)
@click.option("--sort", type=click.Choice(["recent", "size"]), default="recent", show_default=True)
@click.option("--limit", default=20, show_default=True)
@click.option("--rebuild", is_flag=True, help="Re-cluster every article from scratch and say how far the online result was.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def stories(obj: Ctx, query: str | None, language: str | None, outlet: str | None, since: str | None,
            until: str | None, min_articles: int, sort: str, limit: int, rebuild: bool, as_json: bool) -> None:
    """The story feed, newest first: each real-world event once, with every outlet's coverage.

    Articles still waiting are clustered first (online); --rebuild recomputes everything from scratch.
    """
    from storyloom.copies import find_copies
    from storyloom.stories import agreement, build_stories, rebuild_stories
    from storyloom.store import stories as sql

    with obj.store() as store:
        find_copies(store, obj.settings)  # a copy group enters a story as one unit
        before = sql.assignments(store) if rebuild else {}
        waiting = store.conn.execute("SELECT count(*) FROM stage_queue WHERE stage = 'stories'").fetchone()[0]
        total = store.conn.execute("SELECT count(*) FROM articles").fetchone()[0] if rebuild else waiting
        with _progress(err.is_terminal and not as_json and total > 0, total) as cb:
            rep = (rebuild_stories if rebuild else build_stories)(store, obj.settings, on_event=cb)
        if rep.processed and not as_json:
            err.print(f"clustered {rep.processed:,} articles: {rep.opened:,} new stories, {rep.joined:,} joined, "
                      f"{rep.via_copy:,} via a copy, {rep.merges:,} merges in {rep.seconds:.1f} s "
                      f"(embedding {rep.embed_seconds:.1f} s)")
        if rebuild and before:
            agree = agreement(before, sql.assignments(store))
            err.print(f"online vs rebuilt: B-cubed precision {agree['precision']:.3f}, recall {agree['recall']:.3f}, "
                      f"F1 {agree['f1']:.3f} over {agree['articles']:,} articles")
        rows = sql.feed(store, q=query, language=language, outlet=outlet, since=since, until=until,
                        min_articles=min_articles, sort=sort, limit=limit)
    if as_json:
        _dump(rows)
        return
    if not rows:
        out.print("no stories")
        return
    t = Table()
    for col in ("story", "span", "n", "outlets", "lang", "headline"):
        t.add_column(col, overflow="fold" if col in ("headline", "outlets") else "ellipsis",
                     no_wrap=col in ("story", "span"))
    for r in rows:
        span = r["first_seen"][:10] + ("" if r["first_seen"][:10] == r["last_seen"][:10] else f"…{r['last_seen'][5:10]}")
        outlets = ", ".join(f"{k}" + (f" ×{v}" if v > 1 else "") for k, v in list(r["outlets"].items())[:4])
        if len(r["outlets"]) > 4:
            outlets += f" +{len(r['outlets']) - 4}"
        t.add_row(r["id"], span, str(r["n_articles"]), escape(outlets), ",".join(r["languages"]), escape(r["label"]))
    out.print(t)


@cli.command()
@click.argument("story_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def story(obj: Ctx, story_id: str, as_json: bool) -> None:
    """One story: every member article by time, with its outlet, copy group and how it joined."""
    from storyloom.store import stories as sql

    with _read_store(obj) as store:
        full = sql.resolve_story(store, story_id)
        detail = sql.story_detail(store, full) if full else None
    if detail is None:
        raise click.ClickException(f"no story with a unique id starting {story_id!r}")
    if as_json:
        _dump(detail)
        return
    out.print(f"[bold]{escape(detail['label'])}[/]")
    out.print(f"[dim]{detail['id']} · {detail['n_articles']} articles · {detail['first_seen'][:16]} → "
              f"{detail['last_seen'][:16]} · outlets: {escape(', '.join(detail['outlets']))} · "
              f"languages: {', '.join(detail['languages'])}[/]")
    t = Table()
    for col in ("time", "outlet", "lang", "article", "joined", "copy group", "headline"):
        t.add_column(col, overflow="fold" if col == "headline" else "ellipsis")
    for m in detail["members"]:
        t.add_row(m["time"][:16] + (" *" if m["time_flag"] else ""), escape(m["outlet"] or "—"), m["language"] or "?",
                  m["id"][:10], f"{m['reason']} {m['score']:.2f}", (m["group_id"] or "")[:11], escape(m["title"]))
    out.print(t)
    if any(m["time_flag"] for m in detail["members"]):
        out.print("[dim]* no trusted publication date: ingest time used[/]")
    for e in detail["events"]:
        if e["kind"] == "merge":
            out.print(f"[yellow]merged[/] {e['other_id']} into {e['story_id']} at {e['at']}: {escape(e['detail'] or '')}")


@cli.command()
@click.argument("story_id", required=False)
@click.option("--all", "all_", is_flag=True, help="Compare every multi-article story not yet compared (kept for the UI).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "md"]), default="table", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write the export to this file.")
@click.option("--view", type=click.Choice(["all", "shared", "only", "conflicting"]), default="all", show_default=True)
@click.pass_obj
def compare(obj: Ctx, story_id: str | None, all_: bool, fmt: str, output: str | None, view: str) -> None:
    """Compare coverage inside a story: the claim matrix, conflicts, first reporter, provenance."""
    from storyloom.compare import compare_story, precompute, to_csv, to_json, to_markdown
    from storyloom.store import stories as sql

    if all_:
        with obj.store() as store:
            started = time.time()
            n = precompute(store)
        err.print(f"compared {n:,} stories in {time.time() - started:.1f} s")
        return
    if not story_id:
        raise click.UsageError("give a STORY_ID, or --all")
    with _read_store(obj) as store:
        full = sql.resolve_story(store, story_id)
        result = compare_story(store, full) if full else None
    if result is None:
        raise click.ClickException(f"no story with a unique id starting {story_id!r}")
    if fmt != "table":
        text = {"json": to_json, "csv": to_csv, "md": to_markdown}[fmt](result)
        if output:
            Path(output).write_text(text, encoding="utf-8")
            err.print(f"wrote {output}")
        else:
            click.echo(text, nl=False)
        return
    s = result["story"]
    out.print(f"[bold]{escape(s['label'])}[/]  [dim]{s['id']} · {s['n_articles']} articles[/]")
    fr = result["first_reporter"]
    out.print(f"first reporter: [bold]{escape(fr['column'])}[/] at {fr['time']}" if fr else
              "first reporter: unknown (no trusted publication dates)")
    cols = [c["column"] for c in result["columns"]]
    t = Table(show_lines=True)
    t.add_column("", no_wrap=True)
    for c in cols:
        t.add_column(escape(c), overflow="fold", ratio=1)
    picked = [r for r in result["rows"] if view == "all" or (view == "conflicting" and r["conflicts"])
              or (view == "shared" and r["status"] == "shared") or (view == "only" and r["status"] == "only")]
    marks = {"shared": "[green]all[/]", "partial": "[cyan]some[/]", "only": "[dim]only[/]"}
    for r in picked:
        by_col: dict[str, list[str]] = {}
        for cell in r["cells"]:
            by_col.setdefault(cell["column"], []).append(cell["text"])
        mark = marks[r["status"]] + (" [red]conflict[/]" if r["conflicts"] else "")
        t.add_row(mark, *[escape(" / ".join(by_col.get(c, []))) or "[dim]—[/]" for c in cols])
    out.print(t)
    summ = result["summary"]
    out.print(f"{summ['rows']} aligned claims: {summ['shared_by_all']} shared by all, {summ['partial']} by some, "
              + ", ".join(f"{n} only in {escape(c)}" for c, n in summ["only_in"].items()) + f", {summ['conflicting']} conflicting")
    g = result["provenance"]
    labels = {n["id"]: n["label"] for n in g["nodes"]}
    out.print("[bold]provenance[/]")
    for e in g["edges"]:
        if e["kind"] != "published-by":
            out.print(f"  {escape(labels[e['source']][:60])} [dim]—{e['kind']}→[/] {escape(labels[e['target']][:60])}")


@cli.command()
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port (default 8000).")
@click.option("--token", envvar="STORYLOOM_TOKEN", help="API token: allows POST /api/ingest (env STORYLOOM_TOKEN).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes: reads scale with cores (each request opens its own read-only connection).")
@click.pass_obj
def serve(obj: Ctx, host: str | None, port: int | None, token: str | None, workers: int) -> None:
    """Serve the web UI and the JSON API (OpenAPI at /docs)."""
    import uvicorn

    from storyloom.serve import create_app
    from storyloom.serve.app import SETTINGS_ENV, settings_env

    settings = obj.settings.with_overrides(host=host, port=port, api_token=token)
    if not Path(settings.db_path).exists():
        with obj.store():
            pass  # an empty store, so the UI opens (and says there is nothing yet)
    err.print(f"storyloom UI at [bold]http://{settings.host}:{settings.port}/[/]  (API docs: /docs; Ctrl-C to stop)"
              + (f", {workers} worker processes" if workers > 1 else ""))
    if workers == 1:
        uvicorn.run(create_app(settings, warm=True), host=settings.host, port=settings.port, log_level="warning")
        return
    os.environ[SETTINGS_ENV] = settings_env(settings)  # the workers are new processes: they rebuild the app from it
    uvicorn.run("storyloom.serve.app:app_from_env", factory=True, workers=workers, host=settings.host,
                port=settings.port, log_level="warning")


@cli.command()
def rules() -> None:
    """The cleaning rules, by the names `disabled_rules` in storyloom.toml takes."""
    from storyloom.clean.rules import RULES, UNRELATED_HEADLINE

    t = Table(show_header=True)
    t.add_column("name")
    t.add_column("removes")
    for r in (*RULES, UNRELATED_HEADLINE):
        t.add_row(r.name, r.reason)
    t.add_row("template", "a line recurring in many articles of the same outlet, site, feed or folder")
    t.add_row("classifier", "what the learned line classifier is very sure is page furniture")
    out.print(t)
    out.print('Switch rules off in storyloom.toml, e.g. disabled_rules = ["author_bio"], then run `storyloom clean`.')


# -- watch ------------------------------------------------------------------------------------------


def default_feeds_path() -> str:
    return str(resources.files("storyloom") / "data" / "feeds.opml")


@cli.command()
@click.argument("opml", required=False)
@click.option("--every", default="10m", show_default=True, help="How often each feed is polled (30s, 10m, 2h).")
@click.option("--once", is_flag=True, help="Poll every due feed once and exit.")
@click.option("--rounds", type=int, help="Stop after this many rounds.")
@click.option("--allow-private", is_flag=True, default=None, help="Allow feeds on loopback/private networks.")
@click.option("--fetch-links/--no-fetch-links", default=None, help="Fetch the page of entries without full text.")
@click.pass_obj
def watch(obj: Ctx, opml: str | None, every: str, once: bool, rounds: int | None, allow_private: bool | None,
          fetch_links: bool | None) -> None:
    """Poll the feeds of an OPML list (default: the bundled list of ~50 outlets) and ingest what is new."""
    from storyloom.ingest.feeds import parse_opml
    from storyloom.ingest.watch import HostThrottle, parse_duration, poll_round
    from storyloom.ingest.web import Fetcher

    settings = obj.settings.with_overrides(allow_private=allow_private, fetch_links=fetch_links)
    try:
        period = parse_duration(every)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--every") from exc
    path = opml or default_feeds_path()
    try:
        feeds = parse_opml(Path(path).read_bytes(), path)
    except (OSError, BadInput) as exc:
        raise click.ClickException(str(exc)) from exc
    rounds = 1 if once else rounds
    err.print(f"watching {len(feeds)} feeds from {escape(path)}, every {every}; Ctrl-C to stop")
    n = 0
    with obj.store() as store, Fetcher(settings) as fetcher:
        throttle = HostThrottle(settings.per_host_delay)
        try:
            while rounds is None or n < rounds:
                n += 1
                started = time.time()
                rep = poll_round(feeds, store, settings, fetcher, throttle, period,
                                 on_event=lambda k, p: err.print(f"[red]✗[/] {escape(str(p))}") if k == "error" else None)
                err.print(f"round {n}: polled {rep.polled}, not modified {rep.not_modified}, failed {rep.failed}, "
                          f"new articles {rep.ingest.stored}, already had {rep.ingest.counts['duplicate'] + rep.ingest.counts['unchanged']}")
                if rounds is not None and n >= rounds:
                    break
                time.sleep(max(1.0, min(period, 60.0) - (time.time() - started)))
        except KeyboardInterrupt:
            err.print("stopped")


from storyloom.batch.cli import batch, load  # noqa: E402  (pyspark/pyarrow imported only when these run)

cli.add_command(batch)
cli.add_command(load)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except StoryloomError as exc:  # pragma: no cover - the commands convert these already
        err.print(f"[red]error:[/] {escape(str(exc))}")
        sys.exit(2)


if __name__ == "__main__":
    main()
