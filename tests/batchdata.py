"""Batch inputs shared by the local-engine tests (test_batch_local.py) and the Spark tests (test_spark.py): the
sample plus a small wire service as one JSONL file, a folder of damaged inputs of every kind, and the settings
both engines run with.  No Spark here, so the local tests run on a machine without Java."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

from conftest import SAMPLE
from storyloom.batch.local import read_table
from storyloom.ingest.files import split_headline
from storyloom.settings import Settings

FIXED_TIME = "2026-01-01T00:00:00+00:00"  # the ingest time of undated articles, fixed so runs compare equal
WIRE_FOOTER = "Distributed by the Storyloom sample wire under licence to member newspapers"


def wire_records() -> list[dict[str, Any]]:
    """A small wire service: one footer line on every item (a template only corpus counts can see), copies
    wrapped and trimmed by other outlets, a corrected version and a re-fetch of one page."""
    events = [
        ("Floods hit the Danube valley", ["Heavy rain flooded villages along the Danube on Tuesday morning.",
          "Rescue teams evacuated hundreds of residents from Vukovar and Novi Sad as the river rose above its banks.",
          "Officials in Serbia and Croatia declared emergencies in eleven districts along the river.",
          "Forecasters expect the water to peak on Thursday before falling slowly through the weekend."]),
        ("Parliament approves pension reform", ["Lawmakers approved the pension reform on Wednesday after a long debate.",
          "The finance minister said the retirement age will rise gradually over the next twelve years.",
          "Unions announced strikes against the reform in Madrid and Barcelona for next month.",
          "The opposition said it would challenge the law before the constitutional court."]),
        ("Mars probe lands near crater", ["The robotic probe landed near Jezero crater on Thursday, the space agency said.",
          "Engineers in Pasadena cheered as the first images of the Martian surface arrived.",
          "The rover will spend two years collecting rock samples for a later return mission.",
          "Scientists hope the samples will show whether the lake bed once held microbial life."]),
    ]
    places = ["Vukovar", "Passau", "Linz", "Budapest", "Ruse", "Galati"]
    names = ["Lopez", "Garcia", "Moreau", "Novak", "Jensen", "Ricci"]
    recs: list[dict[str, Any]] = []
    for week in range(6):  # six weeks apart: separate story segments, each week its own facts
        for i, (title, sents) in enumerate(events):
            day = f"2024-{3 + week // 3:02d}-{1 + (week % 3) * 9 + i:02d}"
            lines = [" ".join(f"{w} {places[week]} and {names[(week + j) % 6]} {week * 7 + j + 3}" if k % 4 == 3 else w
                              for k, w in enumerate(sent.split())) for j, sent in enumerate(sents)]
            text = "\n\n".join(lines + [WIRE_FOOTER])
            url = f"https://wire.example/{week}/{i}"
            recs.append({"title": f"{title} in {places[week]}", "text": text, "url": url, "outlet": "Sample Wire",
                         "published": f"{day}T08:00:00Z"})
            if week % 2 == 0:  # a paper reprints the whole item under its own headline
                recs.append({"title": f"{title}, reports say", "text": "\n\n".join(lines),
                             "url": f"https://daily.example/{week}/{i}", "outlet": "Daily Example",
                             "published": f"{day}T11:00:00Z"})
            if i == 1:  # a trimmed reprint: the first two sentences
                recs.append({"title": title.upper(), "text": "\n\n".join(lines[:2]),
                             "url": f"https://brief.example/{week}", "outlet": "Brief", "published": f"{day}T15:00:00Z"})
    recs.append({**recs[0], "text": recs[0]["text"].replace("Tuesday", "Wednesday")})  # a new version
    recs.append({**recs[3], "author": "re-fetched"})  # same URL, same text, other bytes: unchanged
    return recs


def make_corpus(folder: Path, extra_html: int = 181) -> Path:
    """The bundled sample (two seeds + the AEB pages) plus a wire service, as one JSONL file."""
    folder.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    for p in sorted((SAMPLE / "seeds").glob("*.txt")):
        title, body = split_headline(p.read_text(encoding="utf-8"))
        lines.append(json.dumps({"title": title or None, "text": body}, ensure_ascii=False))
    pages = sorted((SAMPLE / "aeb").glob("*.html.gz"))[:extra_html]
    for i, p in enumerate(pages):
        html = gzip.decompress(p.read_bytes()).decode("utf-8")
        lines.append(json.dumps({"html": html}, ensure_ascii=False))
        if i % 30 == 0:  # a mirror of the page: other bytes, same article
            lines.append(json.dumps({"html": html + "\n<!-- mirrored -->"}, ensure_ascii=False))
    lines += [json.dumps(r, ensure_ascii=False) for r in wire_records()]
    lines.append(lines[-5])  # the same bytes twice: a duplicate
    lines.insert(7, '{"title": "broken", "text": ')  # a corrupt record
    lines.insert(9, "")
    path = folder / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def faulty_folder(folder: Path) -> Path:
    """A small corpus with damage: a corrupt line, a truncated JSONL.gz (its complete lines are good), an
    empty file and a file of an unknown type."""
    folder.mkdir(parents=True, exist_ok=True)
    make_corpus(folder / "a", extra_html=6)
    good = [json.dumps(r) for r in wire_records()[:6]]
    data = gzip.compress(("\n".join(good) + "\n").encode())
    (folder / "b.jsonl.gz").write_bytes(data[: len(data) - 40])  # cut before the end-of-stream marker
    (folder / "c.jsonl").write_bytes(b"")
    (folder / "notes.bin").write_bytes(b"\x00\x01")
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{k: r.get(k) for k in ("title", "text", "url", "outlet", "published")} for r in wire_records()[6:9]]
    rows.append({"title": "no body", "text": None, "url": "https://x.example/empty", "outlet": None, "published": None})
    pq.write_table(pa.Table.from_pylist(rows), str(folder / "d.parquet"))
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(folder / "e.warc.gz", "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for i, page in enumerate(sorted((SAMPLE / "aeb").glob("*.html.gz"))[20:21]):
            body = gzip.decompress(page.read_bytes())
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            rec = writer.create_warc_record(f"https://warc.example/{i}", "response", payload=io.BytesIO(body),
                                            http_headers=headers)
            writer.write_record(rec)
    return folder


def tables_of(out: Path) -> dict[str, list[tuple[Any, ...]]]:
    from storyloom.batch.tables import TABLES

    return {t: sorted(tuple(str(r[c]) for c in sorted(r)) for r in read_table(out, t)) for t in TABLES}


def settings_for(tmp: Path) -> Settings:
    """Both engines' settings.  The learned line classifier ships in the package and takes part: a missing or
    stale model fails here (LineClassifier.load raises) instead of quietly testing without it."""
    from storyloom.clean.classifier import LineClassifier

    LineClassifier.load()
    return Settings(db_path=str(tmp / "unused.db"), translations=False, story_embeddings=False, line_classifier=True)


# -- a small multilingual corpus: translations in English, German and Icelandic ----------------------------

ML_STORIES = [
    ("Riverton", "Helena Marsh", "Corvell", 4200, 37, 2019),
    ("Dunmore", "Piotr Alvarez", "Bexley", 1850, 61, 2031),
    ("Kestrel", "Ingrid Solberg", "Tamsin", 9700, 23, 2027),
    ("Halloway", "Tomas Brandt", "Fenwick", 3100, 44, 2025),
]
ML_SENTENCES = {
    "en": ("The council of {city} voted {votes} times on the {plan} plan in {year}.",
           "{person} said that {money} people came to {city}.", "It cost {money3} for {plan} under {person}.",
           "In {year1} {city} expects {votes10} more for {plan}."),
    "de": ("Der Rat von {city} stimmte {votes} mal über {plan} ab, {year}.",
           "{person} sagte, dass {money} Leute nach {city} kamen.", "Es kostete {money3} für {plan} unter {person}.",
           "Im {year1} erwartet {city} noch {votes10} weitere für {plan}."),
    "is": ("Bæjarráð {city} greiddi {votes} sinnum atkvæði um {plan} árið {year}.",
           "{person} sagði að {money} manns hefðu komið til {city}.",
           "Það kostaði {money3} fyrir {plan} undir stjórn {person}.",
           "Árið {year1} væntir {city} {votes10} fleiri fyrir {plan}."),
}


def ml_article(k: int, lang: str, day: int | None, short: bool = False) -> dict[str, Any]:
    """Story ``k`` told in ``lang``: the same names and numbers in the same order (a translation, for the
    stand-in embedders of standin_embedders.py); ``short``: a headline and one sentence."""
    city, person, plan, money, votes, year = ML_STORIES[k]
    sents = [t.format(city=city, person=person, plan=plan, money=money, money3=money * 3, votes=votes,
                      votes10=votes + 10, year=year, year1=year + 1) for t in ML_SENTENCES[lang]]
    rec: dict[str, Any] = {"url": f"https://{lang}.example/{k}/{int(short)}", "title": f"{city} {plan} {votes}",
                           "text": sents[0] if short else " ".join(sents), "language": lang,
                           "outlet": f"{lang}.example"}
    if day is not None:
        rec["published"] = f"2024-03-{day:02d}T10:00:00+00:00"
    return rec


def multilingual_corpus(folder: Path, with_copy: bool = True) -> Path:
    """Two JSONL files (input order matters: an article looks for its translations among earlier ones): each
    story in English, German and Icelandic, some short, one undated, one far outside the translation window,
    and (``with_copy``) an exact copy (its class's member looks for nothing; which member that is depends on
    the order articles arrive in, as the copies stage's links do)."""
    folder.mkdir(parents=True, exist_ok=True)
    first = [ml_article(k, "en", 1 + k) for k in range(4)] + [ml_article(k, "de", 2 + k) for k in range(2)]
    second = [ml_article(2, "de", None), ml_article(3, "de", 28), ml_article(0, "is", 2), ml_article(1, "is", 3, True),
              ml_article(1, "en", 3, True), ml_article(2, "is", 4)]
    if with_copy:
        second.append({**first[0], "url": "https://copy.example/0", "outlet": "copy.example"})
    for name, recs in (("a.jsonl", first), ("b.jsonl", second)):
        (folder / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    return folder
