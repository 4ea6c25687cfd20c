"""Reading the store: articles, one article, search, stats, the cleaning rules."""

from __future__ import annotations

import sys

import click
from rich.markup import escape
from rich.table import Table

from storyloom.cli.common import Ctx, dump, out, read_store


@click.command()
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

    with read_store(obj) as store:
        rows = list_articles(store, ArticleFilter(outlet, language, since, until, limit, offset))
    if as_json:
        dump(rows)
        return
    t = Table(show_lines=False)
    for col in ("id", "published", "outlet", "lang", "headline"):
        t.add_column(col, overflow="fold" if col == "headline" else "ellipsis", no_wrap=col != "headline")
    for r in rows:
        t.add_row(r.id[:10], (r.published or "—")[:16], escape(r.outlet or "—")[:28], r.language or "?",
                  escape(r.title))
    out.print(t)


@click.command()
@click.argument("article_id")
@click.option("--raw", is_flag=True, help="Print the raw input bytes as stored.")
@click.option("--removed", is_flag=True, help="Show the text with removed furniture marked, each with its reason.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show(obj: Ctx, article_id: str, raw: bool, removed: bool, as_json: bool) -> None:
    """Show one article (an id or a unique prefix of at least 4 characters)."""
    from storyloom.store.queries import get_article

    with read_store(obj) as store:
        art = get_article(store, article_id)
        if art is None:
            raise click.ClickException(f"no article with a unique id starting {article_id!r}")
        if raw:
            sys.stdout.buffer.write(store.raw_bytes(art.blob) or b"")
            return
    if as_json:
        dump(art)
        return
    out.print(f"[bold]{escape(art.title)}[/]")
    meta = [("id", art.id), ("outlet", art.outlet), ("published", art.published or f"— ({art.date_flag})"),
            ("author", art.author), ("language", art.language), ("url", art.url),
            ("canonical", art.canonical_url), ("kind", art.kind),
            ("previous version", art.previous_id), ("next version", art.next_id)]
    for k, v in meta:
        if v:
            out.print(f"[dim]{k:>16}[/] {escape(str(v))}")
    for s in art.sightings:
        out.print(f"[dim]{'seen at':>16}[/] {escape(s.location)}")
    for w in art.warnings:
        out.print(f"[yellow]{'warning':>16}[/] {escape(w)}")
    said = art.meta
    outlet_from = said.get("outlet_from")
    if isinstance(outlet_from, dict):  # the outlet was read from the text: say what named it
        out.print(f"[dim]{'outlet from':>16}[/] {escape(str(outlet_from.get('evidence')))}: "
                  f"{escape(str(outlet_from.get('line')))}")
    if said.get("cited_sources"):
        out.print(f"[dim]{'cites':>16}[/] {escape(', '.join(said['cited_sources']))}")
    for a in said.get("attributions", [])[:12]:
        out.print(f"[dim]{'attributes to':>16}[/] {escape(a['source'])} [dim]({escape(a['verb'])})[/]")
    if said.get("text_dates"):
        out.print(f"[dim]{'dates in text':>16}[/] {escape(', '.join(d['text'] for d in said['text_dates'][:8]))}")
    if art.removed:
        out.print(f"[dim]{'removed':>16}[/] {len(art.removed)} line(s)" + ("" if removed else " (--removed to see them)"))
    out.print()
    if not removed:
        out.print(escape(art.text))
        return
    from storyloom.clean.text import render_removed
    from storyloom.models import Span

    spans = [Span(s.start, s.end, s.reason, s.rule) for s in art.removed]
    for piece, span in render_removed(art.body or art.text, spans):
        if span is None:
            out.print(escape(piece), end="")
        else:
            out.print(f"[red strike]{escape(piece)}[/] [yellow]⟵ {escape(span.reason)} [dim]({span.rule})[/][/]", end="")
    out.print()


@click.command()
@click.argument("query")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def search(obj: Ctx, query: str, limit: int, as_json: bool) -> None:
    """Full-text search (FTS5 syntax accepted: "exact phrase", OR, NOT, prefix*)."""
    from storyloom.store.queries import MARK_END, MARK_START
    from storyloom.store.queries import search as run_search

    with read_store(obj) as store:
        rows = run_search(store, query, limit=limit)
    if as_json:
        dump(rows)
        return
    if not rows:
        out.print("no matches")
        return
    for r in rows:
        out.print(f"[bold]{escape(r.title)}[/]  [dim]{r.id[:10]} · {escape(r.outlet or '—')} · "
                  f"{(r.published or '—')[:10]}[/]")
        snippet = escape(r.snippet.replace("\n", " ")).replace(MARK_START, "[bold yellow]").replace(MARK_END, "[/]")
        out.print(f"  {snippet}")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def stats(obj: Ctx, as_json: bool) -> None:
    """What the store holds."""
    from storyloom.store.queries import stats as run_stats

    with read_store(obj) as store:
        s = run_stats(store)
    if as_json:
        dump(s)
        return
    t = Table(title=f"{obj.settings.db_path}", title_justify="left", show_header=False)
    t.add_column("what")
    t.add_column("value", justify="right")
    for k in ("articles", "versions", "raw_inputs", "sightings", "outlets", "undated", "first_published",
              "last_published", "stories", "watched_feeds", "schema_version"):
        v = getattr(s, k)
        t.add_row(k.replace("_", " "), f"{v:,}" if isinstance(v, int) else str(v or "—"))
    t.add_row("raw bytes (stored)", f"{s.raw_bytes:,} ({s.stored_bytes:,})")
    t.add_row("by language", ", ".join(f"{k} {v}" for k, v in s.by_language.items()))
    t.add_row("by kind", ", ".join(f"{k} {v}" for k, v in s.by_kind.items()))
    t.add_row("top outlets", escape(", ".join(f"{k} {v}" for k, v in list(s.top_outlets.items())[:8])))
    out.print(t)


@click.command()
def rules() -> None:
    """The cleaning rules, by the names `disabled_rules` in storyloom.toml takes."""
    from storyloom.clean import TITLE_SITE
    from storyloom.clean.rules import RULE_TABLE

    t = Table(show_header=True)
    t.add_column("name")
    t.add_column("removes")
    for name, reason in RULE_TABLE:  # line rules, then the page rules of HTML bodies
        t.add_row(name, reason)
    t.add_row("template", "a line recurring in many articles of the same outlet, site, feed or folder")
    t.add_row("classifier", "what the learned line classifier is very sure is page furniture")
    t.add_row(*TITLE_SITE)
    out.print(t)
    out.print('Switch rules off in storyloom.toml, e.g. disabled_rules = ["author_bio"], then run `storyloom clean`.')
