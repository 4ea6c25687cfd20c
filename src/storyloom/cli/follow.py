"""Following from the command line: ``follow story|search|outlet|entity``, ``follow list``, ``alerts``, ``unfollow``."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from storyloom.cli.common import Ctx, dump, out, read_store
from storyloom.errors import StoryloomError
from storyloom.readmodels import Subscription


def _channels(f: Any) -> Any:
    for opt in reversed([
        click.option("--owner", default="", help="A label for whose subscription this is."),
        click.option("--webhook", help="POST each alert (JSON, HMAC-SHA256 signed) to this URL."),
        click.option("--secret", help="The webhook's signing secret (default: a random one, shown once)."),
        click.option("--email", help="Write each alert as an e-mail to this address into the maildir."),
        click.option("--json", "as_json", is_flag=True),
    ]):
        f = opt(f)
    return f


def _make(obj: Ctx, kind: str, target: str, owner: str, webhook: str | None, secret: str | None,
          email: str | None, as_json: bool, filters: dict[str, Any] | None = None) -> None:
    from storyloom.follow import subscribe
    from storyloom.store import follow as sql

    try:
        with obj.store() as store:
            sub = subscribe(store, obj.settings, kind, target, owner=owner, filters=filters, webhook=webhook,
                            secret=secret, email=email)
            shown_secret = (sql.sub_raw(store, sub.id) or {}).get("secret") if webhook and not secret else None
    except StoryloomError as exc:
        raise click.ClickException(str(exc)) from exc
    feed = f"{obj.settings.follow_base_url.rstrip('/')}/feeds/{sub.token}.atom"
    if as_json:
        dump({**sub.model_dump(mode="json"), "feed": feed, **({"secret": shown_secret} if shown_secret else {})})
        return
    out.print(f"following {kind} [bold]{escape(sub.target)}[/] as [cyan]{sub.id}[/]")
    out.print(f"  feed: {escape(feed)}")
    if shown_secret:
        out.print(f"  webhook secret (keep it; not shown again): {shown_secret}")


@click.group()
def follow() -> None:
    """Follow a story, a saved search, an outlet or a named entity; alerts come by feed, webhook and e-mail."""


@follow.command("story")
@click.argument("story_id")
@_channels
@click.pass_obj
def follow_story(obj: Ctx, story_id: str, **kw: Any) -> None:
    """Follow a story (by id or a unique prefix): outlets joining, new facts, conflicts, copies, languages."""
    _make(obj, "story", story_id, **kw)


@follow.command("search")
@click.argument("query")
@click.option("--language", help="Only articles in this language (ISO 639-1).")
@click.option("--outlet", help="Only articles of this outlet.")
@click.option("--since", help="Only articles published since this ISO date.")
@click.option("--min-outlets", type=click.IntRange(1, 1000), help="Only stories covered by this many outlets.")
@_channels
@click.pass_obj
def follow_search(obj: Ctx, query: str, language: str | None, outlet: str | None, since: str | None,
                  min_outlets: int | None, **kw: Any) -> None:
    """Follow a saved search (FTS5 syntax, as `storyloom search`): new stories matching it."""
    _make(obj, "search", query, filters={"language": language, "outlet": outlet, "since": since,
                                          "min_outlets": min_outlets}, **kw)


@follow.command("outlet")
@click.argument("name")
@_channels
@click.pass_obj
def follow_outlet(obj: Ctx, name: str, **kw: Any) -> None:
    """Follow an outlet: each story it reports."""
    _make(obj, "outlet", name, **kw)


@follow.command("entity")
@click.argument("name")
@_channels
@click.pass_obj
def follow_entity(obj: Ctx, name: str, **kw: Any) -> None:
    """Follow a person, organisation or place: each story naming it (as the stories stage finds names)."""
    _make(obj, "entity", name, **kw)


def _print_subs(subs: list[Subscription]) -> None:
    t = Table("id", "kind", "target", "owner", "channels", "alerts", "story")
    for s in subs:
        channels = ", ".join(c for c, on in (("feed", True), ("webhook", s.webhook), ("email", s.email)) if on)
        t.add_row(s.id, s.kind, escape(s.target), escape(s.owner), channels, str(s.n_alerts), s.story_status or "")
    out.print(t)


@follow.command("list")
@click.option("--owner", help="Only this owner's subscriptions.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def follow_list(obj: Ctx, owner: str | None, as_json: bool) -> None:
    """The subscriptions, with their feed tokens."""
    from storyloom.store import follow as sql

    with read_store(obj) as store:
        subs = sql.list_subs(store, owner)
    if as_json:
        dump(subs)
    else:
        _print_subs(subs)


@click.command()
@click.argument("sub_id")
@click.pass_obj
def unfollow(obj: Ctx, sub_id: str) -> None:
    """Stop following (by subscription id or a unique prefix): its alerts, feed and log go too."""
    from storyloom.follow import unfollow as drop

    with obj.store() as store:
        if not drop(store, sub_id):
            raise click.ClickException(f"no subscription with an id starting {sub_id!r}")
    out.print(f"unfollowed {escape(sub_id)}")


@click.command()
@click.option("--sub", "sub_id", help="Only this subscription's alerts.")
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--deliver", is_flag=True, help="First match what the stages finished, coalesce and deliver what is due.")
@click.option("--dead", is_flag=True, help="List the dead-lettered deliveries instead.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def alerts(obj: Ctx, sub_id: str | None, limit: int, deliver: bool, dead: bool, as_json: bool) -> None:
    """Recent alerts, newest first, each saying why in one line."""
    from storyloom.store import follow as sql

    if deliver:
        from storyloom.follow import after_stages

        with obj.store() as store:
            rep = after_stages(store, obj.settings)
        if not as_json:
            out.print(f"matched {rep.articles:,} articles: {rep.news:,} news, {len(rep.alerts)} alerts, "
                      f"deliveries {rep.delivered or 'none due'}")
    with read_store(obj) as store:
        if sub_id:
            full = sql.resolve_sub(store, sub_id)
            if full is None:
                raise click.ClickException(f"no subscription with an id starting {sub_id!r}")
            sub_id = full
        if dead:
            got = sql.deliveries(store, "dead", limit)
            if as_json:
                dump(got)
            else:
                for d in got:
                    out.print(f"{d.alert_id} {d.channel}: {escape(d.last_error or '')} ({d.attempts} attempts)")
            return
        got_alerts = sql.alerts(store, sub_id, limit)
    if as_json:
        dump(got_alerts)
        return
    if not got_alerts:
        out.print("no alerts yet")
    for a in got_alerts:
        sent = ", ".join(f"{k} {v}" for k, v in a.deliveries.items())
        out.print(f"[dim]{a.created_at}[/] [cyan]{a.sub_id}[/] {escape(a.why)}" + (f" [dim]({sent})[/]" if sent else ""))


COMMANDS = (follow, unfollow, alerts)
