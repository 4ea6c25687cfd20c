"""`storyloom watch`: poll feeds and ingest what is new, round after round."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import click
from rich.markup import escape

from storyloom.cli.common import Ctx, err
from storyloom.errors import BadInput


def default_feeds_path() -> str:
    return str(resources.files("storyloom") / "data" / "feeds.opml")


@click.command()
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
    from storyloom.ingest.web import Fetcher
    from storyloom.watch import HostThrottle, parse_duration, poll_round

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
