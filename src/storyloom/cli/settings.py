"""`storyloom settings`: every setting with its value, where the value came from, and what it does."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from storyloom.cli.common import Ctx, dump, out


@click.command("settings")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def settings_cmd(ctx: click.Context, as_json: bool) -> None:
    """The settings in force: value, source (default, storyloom.toml, command line) and help."""
    from storyloom.settings import describe

    parent = ctx.parent.params if ctx.parent else {}
    rows = describe(parent.get("config"), db_path=parent.get("db"))
    obj: Ctx = ctx.obj
    if as_json:
        dump([{**r, "value": "***" if r["name"] == "api_token" and r["value"] else r["value"]} for r in rows])
        return
    t = Table(title=f"settings for {escape(obj.settings.db_path)}", title_justify="left")
    for col in ("setting", "value", "source", "what it does"):
        t.add_column(col, overflow="fold")
    for r in rows:
        value = "***" if r["name"] == "api_token" and r["value"] else repr(r["value"])
        style = "" if r["source"] == "default" else "[bold]"
        t.add_row(r["name"], f"{style}{escape(value)}", escape(r["source"]), escape(r["help"]))
    out.print(t)
    out.print("Set any of them in storyloom.toml (or the file STORYLOOM_CONFIG names), e.g. story_threshold = 0.45")
