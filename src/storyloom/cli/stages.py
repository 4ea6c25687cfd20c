"""The stages run by hand: re-clean, copies, stories, one story, compare."""

from __future__ import annotations

import json
import time
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from storyloom.cli.common import Ctx, dump, emit, err, out, progress, read_store
from storyloom.errors import StoryloomError
from storyloom.pipeline import stages_turn
from storyloom.readmodels import CopyGroup
from storyloom.store import queries
from storyloom.timeparse import maybe_time


@click.command("clean")
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
        total = queries.count(store, "articles")
        with progress(err.is_terminal and not as_json, total) as cb:
            rep = reclean(store, obj.settings, on_event=cb)
    if as_json:
        dump({"checked": rep.checked, "changed": rep.changed, "seconds": round(rep.seconds, 3),
               "failed": [{"id": i, "reason": r} for i, r in rep.failed]})
    else:
        out.print(f"checked {rep.checked:,} articles, changed {rep.changed:,}, failed {len(rep.failed):,} "
                  f"in {rep.seconds:.1f} s")


@click.command()
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
        total = queries.count(store, "articles") if rebuild else queries.queued(store, "copies")
        with progress(err.is_terminal and not as_json and total > 0, total) as cb, stages_turn(store, wait=True):
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
                dump(detail)
                return
            _print_group(detail)
            return
        groups = sql.list_groups(store, limit=limit)
    if as_json:
        dump(groups)
        return
    if not groups:
        out.print("no copy groups (every article is its own original)")
        return
    t = Table()
    for col in ("group", "size", "links", "canonical headline", "outlet"):
        t.add_column(col, overflow="fold" if col == "canonical headline" else "ellipsis")
    for g in groups:
        t.add_row(g.group_id[:11], str(g.size), ", ".join(f"{k} {v}" for k, v in g.link_kinds.items()),
                  escape(g.canonical.title), escape(g.canonical.outlet or "—"))
    out.print(t)


def _print_group(detail: CopyGroup) -> None:
    out.print(f"[bold]copy group {detail.group_id}[/] — {len(detail.members)} members, canonical first")
    for m in detail.members:
        out.print(f"  {m.id[:10]}  {(m.published or '—')[:10]}  {escape(m.outlet or '—')[:24]:24}  "
                  f"{m.language or '?'}  {escape(m.title)}")
    for link in detail.links:
        out.print(f"\n[bold]{link.a[:10]} ↔ {link.b[:10]}[/]  {link.kind} {link.score:.2f} ({link.direction})  "
                  f"[dim]{escape(json.dumps(link.details))}[/]")
        for ev in link.evidence[:3]:
            out.print(f"   [dim]a[{ev['a']}][/] {escape(ev['a_text'][:110])}")
            out.print(f"   [dim]b[{ev['b']}][/] {escape(ev['b_text'][:110])}  [dim]({ev['score']})[/]")


@click.command()
@click.option("--q", "query", help="Only stories with an article matching these words (FTS5).")
@click.option("--language", "--lang", help="Only stories with an article in this language.")
@click.option("--outlet", help="Only stories covered by this outlet.")
@click.option("--since", help="Last seen on or after (YYYY-MM-DD).")
@click.option("--until", help="First seen on or before (YYYY-MM-DD).")
@click.option("--min-articles", default=1, show_default=True)
@click.option("--sort", type=click.Choice(["recent", "size"]), default="recent", show_default=True)
@click.option("--limit", default=20, show_default=True)
@click.option("--blind-spot", metavar="LENS", help="Only stories covered by one group of LENS (kind, country, language, "
              "or a column of your outlets file): the blind spots of the other groups.")
@click.option("--rebuild", is_flag=True, help="Re-cluster every article from scratch and say how far the online result was.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def stories(obj: Ctx, query: str | None, language: str | None, outlet: str | None, since: str | None,
            until: str | None, min_articles: int, sort: str, limit: int, blind_spot: str | None, rebuild: bool,
            as_json: bool) -> None:
    """The story feed, newest first: each real-world event once, with every outlet's coverage.

    Articles still waiting are clustered first (online); --rebuild recomputes everything from scratch.
    """
    from storyloom.copies import find_copies
    from storyloom.store import stories as sql
    from storyloom.stories import agreement, build_stories, rebuild_stories

    with obj.store() as store:
        with stages_turn(store, wait=True):  # one process at a time runs the stages (an ingest may be running)
            find_copies(store, obj.settings)  # a copy group enters a story as one unit
            before = sql.assignments(store) if rebuild else {}
            total = queries.count(store, "articles") if rebuild else queries.queued(store, "stories")
            with progress(err.is_terminal and not as_json and total > 0, total) as cb:
                rep = (rebuild_stories if rebuild else build_stories)(store, obj.settings, on_event=cb)
        if rep.processed and not as_json:
            err.print(f"clustered {rep.processed:,} articles: {rep.opened:,} new stories, {rep.joined:,} joined, "
                      f"{rep.via_copy:,} via a copy, {rep.merges:,} merges in {rep.seconds:.1f} s "
                      f"(embedding {rep.embed_seconds:.1f} s)")
        if rebuild and before:
            agree = agreement(before, sql.assignments(store))
            err.print(f"online vs rebuilt: B-cubed precision {agree['precision']:.3f}, recall {agree['recall']:.3f}, "
                      f"F1 {agree['f1']:.3f} over {agree['articles']:,} articles")
        from storyloom.serve.views import feed

        rows = feed(store, limit=limit, cursor=None, q=query, language=language, outlet=outlet, since=since,
                    until=until, min_articles=min_articles, sort=sort, blind_spot=blind_spot,
                    outlets_file=obj.settings.outlets_file).items
    if as_json:
        dump(rows)
        return
    if not rows:
        out.print("no stories")
        return
    t = Table()
    for col in ("story", "span", "n", "outlets", "lang", "headline"):
        t.add_column(col, overflow="fold" if col in ("headline", "outlets") else "ellipsis",
                     no_wrap=col in ("story", "span"))
    for r in rows:
        span = r.first_seen[:10] + ("" if r.first_seen[:10] == r.last_seen[:10] else f"…{r.last_seen[5:10]}")
        outlets = ", ".join(f"{k}" + (f" ×{v}" if v > 1 else "") for k, v in list(r.outlets.items())[:4])
        if len(r.outlets) > 4:
            outlets += f" +{len(r.outlets) - 4}"
        t.add_row(r.id, span, str(r.n_articles), escape(outlets), ",".join(r.languages), escape(r.label))
    out.print(t)


@click.command()
@click.argument("story_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def story(obj: Ctx, story_id: str, as_json: bool) -> None:
    """One story: every member article by time, with its outlet, copy group and how it joined."""
    from storyloom.store import stories as sql

    with read_store(obj) as store:
        full = sql.resolve_story(store, story_id)
        detail = sql.story_detail(store, full) if full else None
    if detail is None:
        raise click.ClickException(f"no story with a unique id starting {story_id!r}")
    if as_json:
        dump(detail)
        return
    out.print(f"[bold]{escape(detail.label)}[/]")
    out.print(f"[dim]{detail.id} · {detail.n_articles} articles · {detail.first_seen[:16]} → "
              f"{detail.last_seen[:16]} · outlets: {escape(', '.join(detail.outlets))} · "
              f"languages: {', '.join(detail.languages)}[/]")
    t = Table()
    for col in ("time", "outlet", "lang", "article", "joined", "copy group", "headline"):
        t.add_column(col, overflow="fold" if col == "headline" else "ellipsis")
    for m in detail.members:
        t.add_row(m.time[:16] + (" *" if m.time_flag else ""), escape(m.outlet or "—"), m.language or "?",
                  m.id[:10], f"{m.reason} {m.score:.2f}", (m.group_id or "")[:11], escape(m.title))
    out.print(t)
    if any(m.time_flag for m in detail.members):
        out.print("[dim]* no trusted publication date: ingest time used[/]")
    for e in detail.events:
        if e.kind == "merge":
            out.print(f"[yellow]merged[/] {e.other_id} into {e.story_id} at {e.at}: {escape(e.detail or '')}")


@click.command()
@click.argument("story_id", required=False)
@click.option("--all", "all_", is_flag=True, help="Compare every multi-article story not yet compared (kept for the UI).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "md"]), default="table", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write the export to this file.")
@click.option("--view", type=click.Choice(["all", "shared", "only", "conflicting"]), default="all", show_default=True)
@click.pass_obj
def compare(obj: Ctx, story_id: str | None, all_: bool, fmt: str, output: str | None, view: str) -> None:
    """Compare coverage inside a story: the claim matrix, conflicts, first reporter, provenance."""
    from storyloom.compare import (
        compare_story,
        precompute,
        to_csv,
        to_json,
        to_markdown,
    )
    from storyloom.store import stories as sql

    if all_:
        with obj.store() as store:
            started = time.time()
            n = precompute(store)
        err.print(f"compared {n:,} stories in {time.time() - started:.1f} s")
        return
    if not story_id:
        raise click.UsageError("give a STORY_ID, or --all")
    with read_store(obj) as store:
        full = sql.resolve_story(store, story_id)
        result = compare_story(store, full) if full else None
    if result is None:
        raise click.ClickException(f"no story with a unique id starting {story_id!r}")
    if fmt != "table":
        if fmt == "md":  # the Markdown export leads with the digest
            from storyloom.compare.digest import build_digest
            from storyloom.outlets import table_for

            text = to_markdown(result, build_digest(result, table_for(obj.settings.outlets_file)))
        else:
            text = {"json": to_json, "csv": to_csv}[fmt](result)
        emit(text, output)
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


@click.command()
@click.argument("story_id")
@click.option("--since", help="Also list the facts first reported after this time (YYYY-MM-DD or ISO time).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "md"]), default="table", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="The same as --format json.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write to this file.")
@click.pass_obj
def digest(obj: Ctx, story_id: str, since: str | None, fmt: str, as_json: bool, output: str | None) -> None:
    """A story in thirty seconds: the facts the outlets agree on, conflicts, what each outlet adds, who is quoted,
    the numbers and who covers it."""
    from storyloom.compare.exports import digest_markdown
    from storyloom.serve import views
    from storyloom.store import stories as sql

    if since is not None and maybe_time(since) is None:
        raise click.BadParameter("expected YYYY-MM-DD or an ISO 8601 time", param_hint="--since")
    with read_store(obj) as store:
        full = sql.resolve_story(store, story_id) or sql.merged_into(store, story_id)
        try:
            d = views.digest(store, full, outlets_file=obj.settings.outlets_file, since=since) if full else None
        except StoryloomError as exc:
            raise click.ClickException(str(exc)) from exc
    if d is None:
        raise click.ClickException(f"no story with a unique id starting {story_id!r}")
    fmt = "json" if as_json else fmt
    if fmt != "table":
        text = (json.dumps(d.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n" if fmt == "json"
                else "\n".join([f"# {d.label}", "", *digest_markdown(d)]) + "\n")
        emit(text, output)
        return
    _print_digest(d)


def _print_digest(d: Any) -> None:
    out.print(f"[bold]{escape(d.label)}[/]")
    out.print(f"[dim]{d.story_id} · {d.n_articles} articles · {d.n_outlets} outlets · {', '.join(d.languages)} · "
              f"{d.first_seen[:16]} → {d.last_seen[:16]}[/]")
    if d.first_reporter:
        out.print(f"first reported by [bold]{escape(d.first_reporter.outlet)}[/] at {d.first_reporter.time}")
    t = Table(title="Key facts", title_justify="left", show_lines=True)
    for col in ("outlets", "fact", "first", "according to"):
        t.add_column(col, overflow="fold", ratio=3 if col == "fact" else 1)
    for f in d.key_facts:
        t.add_row(f"{f.n_outlets}: " + escape(", ".join(f.outlets)), escape(f.text),
                  escape(f.first.outlet) if f.first else "—", escape(", ".join(f.attributed_to)) or "—")
    if d.key_facts:
        out.print(t)
    if d.more_key_facts:
        out.print(f"[dim]… {d.more_key_facts} more shared facts: `storyloom compare {d.story_id}`[/]")
    for c in d.conflicts:
        vals = "; ".join(f"{escape(v)} ({escape(', '.join(o))})" for v, o in c.values.items())
        out.print(f"[red]conflict[/] {escape(c.what)}: {vals}")
        for w in c.wordings:
            out.print(f"   [dim]{escape(w.outlet)}:[/] {escape(w.text)}")
    for o in d.outlets:
        lens = ", ".join(x for x in (o.kind, o.country, o.language) if x and x != "unknown")
        out.print(f"\n[bold]{escape(o.outlet)}[/] [dim]{escape(lens)}[/] — “{escape(o.title)}”"
                  + (f" [dim]({o.n_exclusive} facts only here)[/]" if o.n_exclusive else ""))
        for x in o.exclusive_facts:
            out.print(f"   • {escape(x)}")
    if d.more_outlets:
        out.print(f"[dim]… and {d.more_outlets} more outlets[/]")
    for sp in d.speakers:
        out.print(f"[bold]{escape(sp.name)}[/] [dim]({escape(', '.join(sp.outlets))})[/]: "
                  + " / ".join(f"“{escape(q.text)}”" for q in sp.quotes))
    if d.numbers:
        out.print("numbers: " + "; ".join(f"{escape(n.text)} ({escape(', '.join(n.outlets))})" for n in d.numbers))
    for g in d.coverage:
        out.print(f"[dim]by {escape(g.lens)}:[/] " + ", ".join(f"{escape(k)} {v}" for k, v in g.counts.items()))
    for f in d.new_facts:
        out.print(f"[green]new since {escape(d.new_since or '')}:[/] {escape(f.text)} [dim]({escape(', '.join(f.outlets))})[/]")
    for n in d.notes:
        out.print(f"[yellow]{escape(n)}[/]")
