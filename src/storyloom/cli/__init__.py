"""The command line: a thin shell that parses arguments, calls the library and prints with rich.

One module per family of commands (ingest, reading, stages, serve, watch, batch, settings); each defines
plain click commands that this package registers on the ``storyloom`` group, so none imports another.
"""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from storyloom import __version__
from storyloom.cli import batch, follow, ingest, languages, read, serve, settings, stages, watch
from storyloom.cli.common import Ctx, err
from storyloom.errors import StoryloomError


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


for command in (ingest.ingest, read.articles, read.show, read.search, read.stats, read.rules, stages.clean_cmd,
                stages.copies, stages.stories, stages.story, stages.digest, stages.compare, serve.serve, watch.watch, batch.batch,
                batch.load, settings.settings_cmd, languages.languages,
                *follow.COMMANDS):
    cli.add_command(command)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except StoryloomError as exc:  # pragma: no cover - the commands convert these already
        err.print(f"[red]error:[/] {escape(str(exc))}")
        sys.exit(2)


__all__ = ["cli", "main"]
