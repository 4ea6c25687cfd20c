"""``storyloom languages``: which tools each language gets at each stage, and how well they work there."""

from __future__ import annotations

import click
from rich import box
from rich.table import Table

from storyloom.cli.common import dump, out
from storyloom.coverage import MODEL_TOKENIZER, PAIR_STAGES, SPLITTER, STAGES, TOKENIZER, Coverage, Figure, coverage


def _cell(fig: Figure | None, digits: int = 2) -> str:
    if fig is None:
        return "—"
    unsure = f" ∅{fig.abstained:.0%}" if fig.abstained and fig.abstained >= 0.05 else ""
    return f"{fig.value:.{digits}f}{unsure}"


def _model(name: str | None) -> str:
    return name or "[red]none[/]"


def render(cov: Coverage) -> None:
    """Four tables: the languages' tools, their figures, the scripts' splitter and tokenizer, the WMT21 pairs."""
    t = Table(title="Languages: the tools each stage uses", box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("lang", "name", "feeds", "detector", "copies model", "stories model", "compare model", "script"):
        t.add_column(col, no_wrap=True)
    m = Table(title="Languages: how well each stage works there", box=box.SIMPLE_HEAD, title_justify="left")
    m.add_column("lang", no_wrap=True)
    for col in STAGES.values():
        m.add_column(col, justify="right", no_wrap=True)
    for row in cov.languages:
        known = row.detector if row.detector_knows else f"[red]{row.detector} (unknown)[/]"
        t.add_row(row.code, row.name, str(row.feeds) + (" +wmt21" if row.wmt21 else ""), known,
                  _model(row.copies_model), _model(row.stories_model), _model(row.compare_model), row.script)
        m.add_row(row.code, *[_cell(row.figures.get(k), 1 if k == "chars_per_token" else 2) for k in STAGES])
    out.print(t)
    out.print(m)
    s = Table(title=f"Scripts: sentence splitter and copy tokenizer (the models use {MODEL_TOKENIZER})",
              box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("script", "sentence splitter", "copy tokenizer"):
        s.add_column(col)
    for script in SPLITTER:
        s.add_row(script, SPLITTER[script], TOKENIZER[script])
    out.print(s)
    p = Table(title="WMT21 pairs (dev split): sentence alignment, translated copies, stories", box=box.SIMPLE_HEAD,
              title_justify="left")
    p.add_column("pair", no_wrap=True)
    p.add_column("model", no_wrap=True)
    for col in PAIR_STAGES.values():
        p.add_column(col, justify="right")
    for pr in cov.pairs:
        p.add_row(pr.pair, pr.model, *[_cell(pr.figures.get(k)) for k in PAIR_STAGES])
    out.print(p)
    data = sorted({f"{f.data}" for r in cov.languages for f in r.figures.values()}
                  | {f"{f.data}" for r in cov.pairs for f in r.figures.values()})
    if data:
        out.print(f"Figures from: {'; '.join(data)}. Measured {cov.measured or '?'} at {cov.commit or '?'} by "
                  f"`{cov.command or 'bench/languages.py'}`; — = no labelled data for that language here; "
                  "∅ = sentences the detector left undecided (under 20 characters or unsure), counted as misses.")
    else:
        out.print("No measured figures shipped: run bench/languages.py.")


@click.command("languages")
@click.option("--json", "as_json", is_flag=True, help="The table as JSON (every figure with its data and split).")
def languages(as_json: bool) -> None:
    """The languages storyloom claims: detector, sentence models, splitter, tokenizer, and measured quality."""
    cov = coverage()
    if as_json:
        dump(cov)
        return
    render(cov)
