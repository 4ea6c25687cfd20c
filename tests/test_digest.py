"""The story digest: key facts, conflicts, what each outlet adds, speakers, numbers, lenses, new since — through
the library, the API (with its schema) and the CLI; and the bad inputs a digest meets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from conftest import SAMPLE
from storydata import ARTICLES, SHARED  # noqa: F401
from storyloom.cli import cli
from storyloom.compare.digest import MAX_KEY_FACTS, MAX_OUTLETS, build_digest
from storyloom.errors import StoryloomError
from storyloom.ingest.records import record_to_raw
from storyloom.outlets import load_table
from storyloom.pipeline import ingest, ingest_items
from storyloom.serve import create_app, views
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store import stories as sql


def rec(outlet: str, published: str, title: str, text: str) -> Any:
    r = {"title": title, "text": text, "outlet": outlet, "published": published, "language": "en",
         "url": f"https://{outlet.lower().replace(' ', '')}.example/{abs(hash(title)) % 10_000}"}
    return record_to_raw(r, json.dumps(r).encode(), "jsonl", outlet)


@pytest.fixture(scope="module")
def flood(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    db = tmp_path_factory.mktemp("digest") / "d.db"
    settings = Settings(db_path=str(db), line_classifier=False, translations=False)
    with Store(db) as store:
        ingest_items([rec(*a) for a in ARTICLES], store, settings)
        feed = sql.feed(store, min_articles=3)
    assert len(feed) == 1, "the three flood reports must form one story"
    return settings, feed[0].id


def test_key_facts_conflicts_and_what_each_adds(flood: tuple[Settings, str]) -> None:
    settings, sid = flood
    with Store(settings.db_path, readonly=True) as store:
        d = views.digest(store, sid)
    assert d is not None and d.n_outlets == 3 and d.status == "fresh"
    top = d.key_facts[0]
    assert "3,000 residents" in top.text and top.n_outlets == 3
    assert top.first is not None and top.first.outlet == "Alpha Wire"  # the earliest trusted time
    # the death toll: 12 (Alpha, Reuters) against 15 (Beta) is a conflict, never "only in Beta News"
    killed = [c for c in d.conflicts if c.what == "people"]
    assert killed, d.conflicts
    outlets_by_value = {v: set(o) for v, o in killed[0].values.items()}
    assert {"Beta News"} in outlets_by_value.values() and any("Alpha Wire" in o for o in outlets_by_value.values())
    beta = next(o for o in d.outlets if o.outlet == "Beta News")
    assert not any("killed 15" in x for x in beta.exclusive_facts)
    assert any("helicopters" in x for x in beta.exclusive_facts)
    alpha = next(o for o in d.outlets if o.outlet == "Alpha Wire")
    assert any("$40 million" in x for x in alpha.exclusive_facts) and alpha.title.startswith("Danube floods")
    # lenses: Reuters is a wire service in the bundled table; the others are unknown to it
    reuters = next(o for o in d.outlets if o.outlet == "Reuters")
    assert reuters.kind == "wire" and reuters.kind_source == "bundled table"
    kinds = next(g for g in d.coverage if g.lens == "kind")
    assert kinds.counts.get("wire") == 1
    # the mayor is quoted by two outlets
    mayor = [s for s in d.speakers if "Djuric" in s.name]
    assert mayor and set(mayor[0].outlets) == {"Alpha Wire", "Reuters"}
    assert any(n.unit == "USD" and n.outlets == ["Alpha Wire"] for n in d.numbers)


def test_new_since_lists_what_came_later(flood: tuple[Settings, str]) -> None:
    settings, sid = flood
    with Store(settings.db_path, readonly=True) as store:
        d = views.digest(store, sid, since="2024-05-06T09:00:00Z")
    assert d is not None and d.new_since == "2024-05-06T09:00:00Z"
    texts = " ".join(f.text for f in d.new_facts)
    assert "helicopters" in texts and "$40 million" not in texts  # Beta (09:30) is new; Alpha (08:00) is not


def test_api_serves_the_digest_with_its_schema(flood: tuple[Settings, str]) -> None:
    settings, sid = flood
    client = TestClient(create_app(settings))
    r = client.get(f"/api/stories/{sid}/digest", params={"since": "2024-05-06"})
    assert r.status_code == 200 and r.json()["key_facts"][0]["n_outlets"] == 3
    assert client.get("/api/stories/s000000000000/digest").status_code == 404
    assert client.get(f"/api/stories/{sid}/digest", params={"since": "last week"}).status_code == 422
    schema = client.get("/openapi.json").json()
    ok = schema["paths"]["/api/stories/{story_id}/digest"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"]["$ref"].endswith("/Digest") and "KeyFact" in schema["components"]["schemas"]
    for path, ops in schema["paths"].items():  # every endpoint documents its response
        for op in ops.values():
            content = op["responses"].get("200", {}).get("content", {}).get("application/json", {})
            assert content.get("schema"), f"{path}: no response schema"


def test_cli_digest_table_json_and_markdown(flood: tuple[Settings, str], tmp_path: Path) -> None:
    settings, sid = flood
    base = ["--db", settings.db_path]
    r = CliRunner().invoke(cli, [*base, "digest", sid[:6]])
    assert r.exit_code == 0, r.output
    assert "Key facts" in r.stdout and "conflict" in r.stdout and "3,000 residents" in r.stdout
    r = CliRunner().invoke(cli, [*base, "digest", sid, "--json"])
    assert json.loads(r.stdout)["story_id"] == sid
    r = CliRunner().invoke(cli, [*base, "digest", sid, "--format", "md", "-o", str(tmp_path / "d.md")])
    md = (tmp_path / "d.md").read_text(encoding="utf-8")
    assert r.exit_code == 0 and md.index("## Key facts") < md.index("## What each outlet adds")
    r = CliRunner().invoke(cli, [*base, "compare", sid, "--format", "md"])
    assert r.stdout.index("## Key facts") < r.stdout.index("# The claim matrix")  # the export leads with it
    r = CliRunner().invoke(cli, [*base, "digest", "nope"])
    assert r.exit_code != 0 and "no story" in r.output


def test_the_seeds_digest_keeps_express_only_facts_away_from_buna_times(tmp_path: Path) -> None:
    """The motivating example: the facts only the Express reports ($200 million, HIMARS, 12 million rounds,
    $43 billion) are never shown beside a Buna Times sentence, as a shared fact or a conflict."""
    settings = Settings(db_path=str(tmp_path / "s.db"), line_classifier=False)
    with Store(settings.db_path) as store:
        ingest([str(SAMPLE / "seeds")], store, settings)
        sid = sql.feed(store, min_articles=2)[0].id
        d = views.digest(store, sid)
    assert d is not None and len(d.key_facts) >= 3
    express_only = ("200 million", "HIMARS", "12 million rounds", "43 billion")
    for f in d.key_facts:
        outlets = {w.outlet for w in f.wordings}
        if "Buna Times" in outlets:
            assert not any(x in w.text for w in f.wordings for x in express_only), f
    for c in d.conflicts:
        assert not any(x in w.text for w in c.wordings for x in express_only), c


# -- bad input ----------------------------------------------------------------------------------------


def _result(columns: list[dict[str, Any]], rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"story": {"id": "s1", "label": "L", "first_seen": "2024-01-01", "last_seen": "2024-01-02",
                      "n_articles": len(columns)},
            "columns": columns, "rows": rows, "summary": {"members_left_out": 0}, "first_reporter": None,
            "provenance": {"nodes": [], "edges": []}, "fact_conflicts": []}


def _col(k: int, outlet: str | None = None, lang: str = "en") -> dict[str, Any]:
    return {"column": outlet or f"o{k}", "article_id": f"a{k}", "outlet": outlet or f"o{k}", "title": f"t{k}",
            "published": f"2024-01-01T{k % 24:02d}:00:00Z", "date_flag": None, "language": lang, "url": None}


def _cell(col: str, art: str, text: str, index: int = 0) -> dict[str, Any]:
    return {"column": col, "article_id": art, "index": index, "text": text, "source": None, "verb": None,
            "quotes": [], "quantities": [], "dates": [], "entities": [], "cut": False, "key": f"{art}:{index}"}


def test_a_500_outlet_story_is_capped_and_says_so() -> None:
    cols = [_col(k) for k in range(500)]
    rows = [{"status": "partial", "columns": [c["column"] for c in cols[k: k + 3]], "conflicts": [], "first": None,
             "evidence": [], "cells": [_cell(c["column"], c["article_id"], f"Fact number {k} is told here by many.")
                                       for c in cols[k: k + 3]]} for k in range(0, 60)]
    rows += [{"status": "only", "columns": [c["column"]], "conflicts": [], "first": None, "evidence": [],
              "cells": [_cell(c["column"], c["article_id"], f"Only {c['column']} says this fact.")]} for c in cols]
    d = build_digest(_result(cols, rows), load_table())
    assert len(d.key_facts) == MAX_KEY_FACTS and d.more_key_facts == 60 - MAX_KEY_FACTS
    assert len(d.outlets) == MAX_OUTLETS and d.more_outlets == 500 - MAX_OUTLETS
    assert len(json.dumps(d.model_dump(mode="json"))) < 200_000


def test_one_article_no_sentence_identical_and_foreign_stories() -> None:
    one = build_digest(_result([_col(0)], [{"status": "only", "columns": ["o0"], "conflicts": [], "first": None,
                                             "evidence": [], "cells": [_cell("o0", "a0", "The only fact here.")]}]),
                       load_table())
    assert one.n_outlets == 1 and one.key_facts and "one outlet" in one.notes[0]
    empty = build_digest(_result([_col(0), _col(1)], []), load_table())
    assert empty.key_facts == [] and any("no sentence" in n for n in empty.notes)
    same = [_cell("o0", "a0", "Exactly the same sentence in both."), _cell("o1", "a1", "Exactly the same sentence in both.")]
    twins = build_digest(_result([_col(0), _col(1)], [{"status": "shared", "columns": ["o0", "o1"], "conflicts": [],
                                                       "first": None, "evidence": [], "cells": same}]), load_table())
    assert twins.key_facts[0].n_outlets == 2
    foreign = build_digest(_result([_col(0, lang="ja"), _col(1, lang="is")], [
        {"status": "only", "columns": ["o0"], "conflicts": [], "first": None, "evidence": [],
         "cells": [_cell("o0", "a0", "東京で大雨が降った。")]}]), load_table())
    assert foreign.languages == ["is", "ja"] and foreign.key_facts == []


def test_an_outlets_file_with_unknown_columns_and_bad_rows(tmp_path: Path) -> None:
    f = tmp_path / "outlets.csv"
    f.write_text("name,lean,owner,kind\nBeta News,left,Beta Group,regional\n,centre,x,\n"
                 "Alpha Wire,right,Alpha Inc,tabloid-ish\nToo,many,cells,here,extra\n", encoding="utf-8")
    table = load_table(str(f))
    assert len(table.warnings) == 3  # no name, an unknown kind (kept as an attribute), too many cells
    beta = table.lookup("Beta News")
    assert beta is not None and beta.kind == "regional" and beta.attributes == {"lean": "left", "owner": "Beta Group"}
    alpha = table.lookup("alpha wire")
    assert alpha is not None and alpha.kind is None and alpha.attributes["kind_given"] == "tabloid-ish"
    assert table.lookup(None, "https://www.reuters.com/world/x") is not None  # bundled, by domain
    toml = tmp_path / "outlets.toml"
    toml.write_text('["Beta News"]\nlean = "left"\n\n[broken]\nx = {a = 1}\n', encoding="utf-8")
    assert load_table(str(toml)).lookup("Beta News").attributes == {"lean": "left"}  # type: ignore[union-attr]
    (tmp_path / "bad.csv").write_text("outlet,lean\nX,left\n", encoding="utf-8")
    with pytest.raises(StoryloomError, match="name"):
        load_table(str(tmp_path / "bad.csv"))


def test_user_attributes_become_coverage_lenses(flood: tuple[Settings, str], tmp_path: Path) -> None:
    settings, sid = flood
    f = tmp_path / "lean.csv"
    f.write_text("name,lean\nAlpha Wire,left\nBeta News,right\n", encoding="utf-8")
    with Store(settings.db_path, readonly=True) as store:
        d = views.digest(store, sid, outlets_file=str(f))
    assert d is not None
    lean = next(g for g in d.coverage if g.lens == "lean")
    assert lean.counts == {"left": 1, "right": 1, "unknown": 1}


def test_blind_spots_feed_keeps_stories_one_group_covers(flood: tuple[Settings, str], tmp_path: Path) -> None:
    settings, sid = flood
    f = tmp_path / "lean.csv"
    f.write_text("name,lean\nAlpha Wire,left\nBeta News,left\nReuters,left\n", encoding="utf-8")
    with Store(settings.db_path, readonly=True) as store:
        left = views.feed(store, limit=10, cursor=None, blind_spot="lean", outlets_file=str(f))
        kind = views.feed(store, limit=10, cursor=None, blind_spot="kind", outlets_file=str(f))
    assert [s.id for s in left.items] == [sid]  # every outlet of it is "left": the others' blind spot
    assert kind.items == []  # Alpha and Beta have no kind: not a known single group
    f.write_text("name,lean\nAlpha Wire,left\nBeta News,right\nReuters,left\n", encoding="utf-8")
    import os
    os.utime(f, (1, 1))  # a new mtime: the table is read again
    with Store(settings.db_path, readonly=True) as store:
        assert views.feed(store, limit=10, cursor=None, blind_spot="lean", outlets_file=str(f)).items == []
    client = TestClient(create_app(settings))
    assert client.get("/api/stories", params={"blind_spot": "kind"}).json()["items"] == []
    assert client.get("/api/stories", params={"blind_spot": "<script>"}).status_code == 422
    r = CliRunner().invoke(cli, ["--db", settings.db_path, "stories", "--blind-spot", "kind", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout) == []


def test_dates_conflict_and_month_names_are_not_units() -> None:
    from storyloom.compare.claims import extract_claims
    from storyloom.compare.conflicts import units_of

    a = extract_claims("a", "The ministers met in Jeddah on 5 August 2023, the ministry said.")[0]
    b = extract_claims("b", "The ministers met in Jeddah on August 7, the ministry said.")[0]
    assert not any(q["unit"] == "august" for q in a.as_dict()["quantities"])  # "5 August" is a date, not a figure
    assert set(units_of(a.as_dict())["date"].values()) == {"2023-08-05"}
    from storyloom.compare import _conflicts

    cells = [{**a.as_dict(), "column": "A"}, {**b.as_dict(), "column": "B"}]
    got = _conflicts(cells)
    assert got and got[0]["unit"] == "date" and set(got[0]["values"]) == {"2023-08-05", "08-07"}
    same = [{**a.as_dict(), "column": "A"}, {**extract_claims("c", "They met in Jeddah on 5 August.")[0].as_dict(),
                                              "column": "C"}]
    assert _conflicts(same) == []


def test_a_story_in_a_language_the_fast_model_lacks_is_compared_behind_the_page(tmp_path: Path) -> None:
    """Such a story is aligned with the slow model (seconds even when small): never inside a request."""

    class Recorder:
        def __init__(self) -> None:
            self.asked: list[str] = []

        def request(self, story_id: str) -> bool:
            self.asked.append(story_id)
            return True

    settings = Settings(db_path=str(tmp_path / "l.db"), line_classifier=False, translations=False)
    with Store(settings.db_path) as store:
        ingest_items([rec(*a) for a in ARTICLES], store, settings)
        sid = sql.feed(store, min_articles=3)[0].id
    with Store(settings.db_path, readonly=True) as store:
        rec_ = Recorder()
        comp, status = views.compared(store, sid, 3, refresher=rec_, inline_max=4,  # type: ignore[arg-type]
                                      languages={"is": 1, "en": 2})
        assert (comp, status) == (None, "pending") and rec_.asked == [sid]  # behind the page
        comp, status = views.compared(store, sid, 3, refresher=rec_, inline_max=4,  # type: ignore[arg-type]
                                      languages={"en": 3})
        assert comp is not None and status == "fresh" and rec_.asked == [sid]  # English only: inline
