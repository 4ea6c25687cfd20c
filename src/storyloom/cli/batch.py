"""``storyloom batch`` and ``storyloom load``: thin click commands over :mod:`storyloom.batch`.

Nothing here imports Spark (or pyarrow) until ``--engine spark`` (or a Parquet read) runs.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from storyloom.cli.common import Ctx, err, out
from storyloom.errors import StoryloomError

MAX_ERROR_LINES = 50


def _parse_conf(pairs: tuple[str, ...]) -> dict[str, str]:
    conf = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {p!r}", param_hint="--conf")
        conf[key.strip()] = value.strip()
    return conf


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out_dir", required=True, help="Folder (or Hadoop URI) for the Parquet tables; replaced on re-run.")
@click.option("--engine", type=click.Choice(["spark", "local"]), default="spark", show_default=True,
              help="spark: PySpark (pip install 'storyloom[spark]'); local: the local pipeline, same tables.")
@click.option("--master", default="local[2]", show_default=True, help="Spark master URL.")
@click.option("--partitions", type=int, help="Partitions per stage (default: one per 16 MB of input, at least 2 × the cores Spark has).")
@click.option("--conf", "confs", multiple=True, metavar="KEY=VALUE", help="A Spark setting (repeatable).")
@click.option("--story-embeddings/--no-story-embeddings", default=None,
              help="Use the multilingual embedder in story scores (needs the model on every executor).  Default: "
                   "Settings.story_embeddings (on), so a batch makes the stories `storyloom ingest` makes; without "
                   "it the stage is faster and splits more (basil: B-cubed F1 0.92 against 0.98).")
@click.option("--translations/--no-translations", default=None,
              help="Look for translated copies (default: the `translations` setting, on; needs the embedding models "
                   "on every executor).")
@click.option("--story-block-days", type=float, default=None,
              help="Spark: also cut the story stage every so many days so it runs in parallel (approximate: a "
                   "story is not continued across a cut). Default: exact, as the local run.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--story-blocks/--no-story-blocks", default=False, show_default=True,
              help="Spark: the distributed story stage (blocks of the stream clustered in parallel after a warm-up, "
                   "then reconciled; B-cubed agreement with the exact stage in bench/spark_stories.py).")
@click.option("--story-block-articles", type=int, default=None,
              help="Spark, with --story-blocks: articles per block (default: from the input and the cores).")
@click.pass_obj
def batch(obj: Ctx, inputs: tuple[str, ...], out_dir: str, engine: str, master: str, partitions: int | None,
          confs: tuple[str, ...], story_embeddings: bool | None, story_block_days: float | None, story_blocks: bool,
          story_block_articles: int | None, as_json: bool, translations: bool | None) -> None:
    """Run the whole pipeline over INPUT files or folders (JSONL, Parquet, WARC, HTML…) as a batch.

    Writes Parquet tables (articles, removed_spans, blobs, sightings, copy_prints, copy_links, copy_groups,
    stories, story_members, story_events, term_df, errors) to --out; `storyloom load` brings them into the
    store.  Translated copies are found as `storyloom copies` finds them (copy_links of kind translation).
    """
    settings = obj.settings
    if translations is not None:
        settings = settings.with_overrides(translations=translations)
    if story_embeddings is None:
        story_embeddings = settings.story_embeddings
    try:
        with err.status(f"batch ({engine}): starting…") as status:
            started = time.monotonic()

            def on_stage(stage: str) -> None:  # the stage running now, and when in the run it began
                status.update(f"batch ({engine}) → {escape(out_dir)}: [bold]{escape(stage)}[/]… "
                              f"(began {time.monotonic() - started:,.0f} s into the run)")

            if engine == "local":
                from storyloom.batch.local import run_local

                report = run_local(inputs, out_dir, settings, story_embeddings=story_embeddings, on_stage=on_stage)
            else:
                from storyloom.batch.spark import run_spark, spark_session

                spark = spark_session(master, _parse_conf(confs))
                try:
                    report = run_spark(list(inputs), out_dir, settings, spark=spark, partitions=partitions,
                                       story_embeddings=story_embeddings, block_days=story_block_days,
                                       story_blocks=story_blocks, story_block_articles=story_block_articles,
                                       on_stage=on_stage)
                finally:
                    spark.stop()
    except StoryloomError as exc:
        raise click.ClickException(str(exc)) from exc
    _print_errors(out_dir)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        t = Table(title=f"batch ({report.engine}) → {out_dir}", title_justify="left")
        t.add_column("what")
        t.add_column("value", justify="right")
        for k, n in report.counts.items():
            t.add_row(k.replace("_", " "), f"{n:,}")
        for k, sec in report.seconds.items():
            t.add_row(f"seconds: {k}", f"{sec:.1f}")
        out.print(t)
        for note in report.notes:
            err.print(f"[dim]note: {escape(note)}[/]")
    if not report.counts.get("articles") and report.counts.get("failed"):
        sys.exit(1)


def _print_errors(out_dir: str) -> None:
    """One line per failed item (the first few), from the output's errors table."""
    from pathlib import Path

    if "://" in out_dir or not (Path(out_dir) / "errors").is_dir():
        return
    from storyloom.batch.local import iter_table

    shown = 0
    for row in iter_table(out_dir, "errors"):
        if row["status"] != "failed":
            continue
        if shown >= MAX_ERROR_LINES:
            err.print(f"[red]✗[/] … more in {escape(out_dir)}/errors")
            break
        err.print(f"[red]✗[/] {escape(row['location'])}: {escape(row['reason'])}")
        shown += 1


@click.command("load")
@click.argument("parquet_dir")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_obj
def load(obj: Ctx, parquet_dir: str, as_json: bool) -> None:
    """Load the Parquet tables of a batch run (PARQUET_DIR, as given to --out) into the store.

    Idempotent: loading the same output again changes nothing.  Rows are upserted by id, so load into a
    fresh store (or run `storyloom copies --rebuild` and `stories --rebuild` after mixing with other data).
    """
    from storyloom.batch.loader import load_batch

    try:
        with obj.store() as store:
            counts: dict[str, Any] = load_batch(parquet_dir, store)
    except StoryloomError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(counts, indent=2))
        return
    t = Table(title=f"loaded {parquet_dir} into {obj.settings.db_path}", title_justify="left")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for k, v in counts.items():
        t.add_row(k, f"{v:,}" if isinstance(v, int) else str(v))
    out.print(t)


__all__ = ["batch", "load"]
