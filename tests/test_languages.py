"""Language coverage: the table lists every language storyloom claims with the tools each stage uses there (and
those claims are true of the code), the shipped figures name their data and split, ``storyloom languages``
prints it, and a story with an article in a language no cross-lingual model covers says so on its page."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import pytest
from click.testing import CliRunner

from storyloom import coverage as C
from storyloom.cli import cli
from storyloom.copies.fingerprint import words
from storyloom.embed import USE_LANGUAGES
from storyloom.enrich.scripts import LATIN_SCRIPT, script_of
from storyloom.enrich.sentences import split_sentences
from storyloom.ingest.feeds import parse_opml

WMT21 = {"de", "en", "fr", "is", "ja", "ru"}
WMT21_PAIRS = {"de-fr", "en-is", "ja-en", "ru-en"}


def feed_list_languages() -> set[str]:
    data = resources.files("storyloom").joinpath("data", "feeds.opml").read_bytes()
    return {r.language for r in parse_opml(data, "feeds.opml") if r.language}


def test_table_lists_every_claimed_language_with_its_tools() -> None:
    cov = C.coverage()
    codes = [r.code for r in cov.languages]
    assert len(codes) == len(set(codes))
    assert set(codes) == feed_list_languages() | WMT21
    assert len(codes) >= 17  # 16 of the feed list + Icelandic
    for row in cov.languages:
        assert row.detector == "py3langid" and row.detector_knows, row.code
        assert row.tokenizer and row.splitter and row.script in C.SPLITTER
        if row.code in USE_LANGUAGES:
            assert row.copies_model == row.stories_model == row.compare_model == "use-m3"
        else:  # the slow wide model finds its translated copies; stories and claims have no model for it
            assert row.copies_model == row.compare_model == "e5-small-q4" and row.stories_model is None
    by = {r.code: r for r in cov.languages}
    assert {c for c, r in by.items() if r.stories_model is None} == {"hi", "is", "uk"}
    assert by["en"].feeds > by["is"].feeds == 0 and by["is"].wmt21 and not by["uk"].wmt21


def test_shipped_figures_name_their_dev_data() -> None:
    cov = C.coverage()
    by = {r.code: r for r in cov.languages}
    for code in WMT21:  # every WMT21 language has its lang-id and splitter figures
        for key in ("langid_sentence", "langid_document", "splitter_f1", "chars_per_token"):
            fig = by[code].figures[key]
            assert "dev" in fig.data and fig.n > 0, (code, key, fig)
    assert 0.5 < by["ru"].figures["langid_sentence"].value <= 1.0
    assert by["ja"].figures["chars_per_token"].value > 2 * by["en"].figures["chars_per_token"].value
    for code in ("de", "es", "fr", "it", "ja", "nl", "pl", "pt", "ru", "zh"):
        assert by[code].figures["sts_vs_en"].model == "use-m3" and "stsb dev" in by[code].figures["sts_vs_en"].data
    for code in ("ar", "hi", "ko", "tr", "uk"):  # no labelled data here: no figure is invented for them
        assert not by[code].figures, code
    pairs = {p.pair: p for p in cov.pairs}
    assert set(pairs) == WMT21_PAIRS
    assert pairs["en-is"].model == "e5-small-q4" and pairs["ru-en"].model == "use-m3"
    for p in pairs.values():
        for key in ("align_p1_use", "align_p1_e5", "copy_recall", "story_recall"):
            assert "wmt21 dev" in p.figures[key].data and 0.0 <= p.figures[key].value <= 1.0
    every = [f.data for r in cov.languages for f in r.figures.values()] + [f.data for p in cov.pairs for f in p.figures.values()]
    assert every and not any("test" in d for d in every)  # nothing measured on a test split


def test_malformed_measurements_keep_every_row() -> None:
    doc: dict[str, Any] = {"languages": {"en": {"langid_sentence": {"value": "high"}, "x": 3}, "zz": []},
                           "pairs": {"en-is": {"copy_recall": {"value": 0.5, "n": 10, "metric": "m", "data": "d"},
                                               "bad": {"n": 1}}}, "command": 7}
    cov = C.coverage_from(doc)
    assert {r.code for r in cov.languages} == set(C.claimed_languages())
    assert all(not r.figures for r in cov.languages) and cov.command is None
    assert list(cov.pairs[0].figures) == ["copy_recall"]
    assert C.coverage_from({}).pairs == [] and len(C.coverage_from({"languages": None}).languages) >= 17


@pytest.mark.parametrize("script, text, n", [
    ("Latin", "Il pleut sur Paris. Le vent souffle fort.", 2),
    ("Latin", "To jest zdanie o Polsce. Łódź jest miastem.", 2),  # Ł is a capital, not only A-Z and À-Þ
    ("Latin", "Vláda oznámila opatření. Česká vláda souhlasí. Řekl to ministr.", 3),
    ("Latin", "Yağmur yağıyor. İstanbul'da rüzgar var. Şimdi durdu.", 3),
    ("Latin", "Es kostet ca. zehn Euro. Das ist viel.", 2),  # a lower-case word after "ca." starts nothing
    ("Cyrillic", "В Москве идёт дождь. Ветер дует сильно.", 2),
    ("Greek", "Η κυβέρνηση ανακοίνωσε μέτρα. Ο πρόεδρος συμφώνησε.", 2),
    ("CJK", "東京は雨です。風が強いです。", 2),
    ("Hangul", "서울에 비가 온다. 바람이 세게 분다.", 2),
    ("Arabic", "تمطر في القاهرة. الرياح قوية اليوم؟ نعم", 3),
    ("Devanagari", "दिल्ली में बारिश हो रही है। हवा तेज़ है।", 2),
    ("Devanagari", "ते घरी आहेत. त्यांनी काम केले.", 2),  # "त" after a vowel sign ends a word, it is no initial
    ("Latin", "Mieszka przy ul. Łąkowej w Łodzi. To jest dom.", 2),  # "ul." before a capital is no sentence end
    ("Thai", "ฝนตกที่กรุงเทพ ลมพัดแรงมาก", 1),
])
def test_splitter_rules_in_the_table_are_what_the_splitter_does(script: str, text: str, n: int) -> None:
    assert len(split_sentences(text)) == n, (script, split_sentences(text))
    assert ("paragraphs only" in C.SPLITTER[script]) == (n == 1 and script not in ("Latin",))


def test_a_run_of_stops_takes_linear_time() -> None:
    """Untrusted text: a match starts only at a run's first stop and takes the run whole (200,000 dots took
    minutes when each position of the run was retried)."""
    import time

    for text in (". " * 100_000 + "x", "." * 200_000 + "x", "!" * 100_000 + " " * 100_000 + "A"):
        start = time.process_time()
        split_sentences(text)
        assert time.process_time() - start < 2.0


def test_every_claimed_and_detectable_language_has_its_script_in_one_table() -> None:
    """The coverage table, the splitter and the copies stage's Latin-script bar read one table: every language
    the detector can return (but "no language") and every claimed one is in it, Greek and Hebrew are not filed
    as Latin (the coverage table's old default), and a code it lacks has no script rather than a guessed one."""
    detectable = set(C._detector_languages()) - {"zxx"}
    assert {c for c in detectable | set(C.NAMES) if script_of(c) is None} == set()
    assert script_of("el") == "Greek" and script_of("he") == "Hebrew" and script_of("ar") == "Arabic"
    assert script_of("xx") is None and script_of(None) is None
    assert {"en", "is", "fr", "de", "pl", "tr", "cs"} <= LATIN_SCRIPT and not {"ru", "uk", "el", "he", "ja"} & LATIN_SCRIPT
    assert C.tools("el").script == "Greek" and C.tools("pl").script == "Latin" and C.tools("he").splitter


def test_tokenizer_rules_in_the_table_are_what_the_tokenizer_does() -> None:
    assert words("東京は雨です") == ["東京は雨です"] and "one token" in C.TOKENIZER["CJK"]
    assert words("ฝนตกที่กรุงเทพ") == ["ฝนตกท", "กร", "งเทพ"] and "vowel mark" in C.TOKENIZER["Thai"]
    assert words("Il pleut sur Paris") == ["il", "pleut", "sur", "paris"]
    assert len(words("बारिश")) > 1 and "break inside" in C.TOKENIZER["Devanagari"]


def test_cli_prints_the_table_and_json() -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["languages"])
    assert res.exit_code == 0, res.output
    for row in C.coverage().languages:
        line = re.search(rf"^\s*{row.code}\s+{row.name}\s.*$", res.output, re.M)
        assert line and row.detector in line.group(0) and (row.copies_model or "none") in line.group(0), row.code
        assert re.search(rf"^\s*{row.code}\s+(—|\d)", res.output, re.M), row.code  # its row of figures
    assert "py3langid" in res.output and "e5-small-q4" in res.output and "en-is" in res.output
    res = runner.invoke(cli, ["languages", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert [r["code"] for r in doc["languages"]] == C.claimed_languages()
    assert {p["pair"] for p in doc["pairs"]} == WMT21_PAIRS


def test_notes_name_uncovered_languages_only() -> None:
    assert C.coverage_notes(["en", "de", "ja", "ru"]) == []
    notes = C.coverage_notes(["en", "is", "uk", "is"])
    assert len(notes) == 2 and notes[0].startswith("Icelandic (is)") and notes[1].startswith("Ukrainian (uk)")
    assert "en-is" in notes[0] and "e5" in notes[0]  # the measured recall of the pair, from the shipped figures
    assert "no cross-lingual model" in C.coverage_notes(["haw"])[0]  # not among XLM-R's languages
    assert "unknown" in C.coverage_notes(["en", None])[0]


def _story_digest(tmp_path: Any, languages: list[str]) -> Any:
    from storyloom.ingest.records import record_to_raw
    from storyloom.pipeline import ingest_items
    from storyloom.serve import views
    from storyloom.settings import Settings
    from storyloom.store import Store
    from storyloom.store import stories as sql

    shared = "Rescue teams evacuated 3,000 residents from Novi Sad after the Danube burst its banks on Monday."
    texts = [f"Floods in the Danube valley killed 12 people, officials said. {shared} The army sent helicopters.",
             f"{shared} Floods in the Danube valley killed 12 people, according to officials in Belgrade."]
    settings = Settings(db_path=str(tmp_path / "s.db"), line_classifier=False, translations=False)
    raws = []
    for i, (lang, text) in enumerate(zip(languages, texts)):
        r = {"title": "Danube floods kill 12 in Serbia", "text": text, "outlet": f"Outlet {i}", "language": lang,
             "published": f"2024-05-06T0{8 + i}:00:00Z", "url": f"https://outlet{i}.example/floods"}
        raws.append(record_to_raw(r, json.dumps(r).encode(), "jsonl", f"o{i}"))
    with Store(settings.db_path) as store:
        ingest_items(raws, store, settings)
        feed = sql.feed(store, min_articles=2)
        assert len(feed) == 1
        return views.digest(store, feed[0].id)


def test_story_page_digest_says_when_a_language_has_no_model(tmp_path: Any) -> None:
    uncovered = _story_digest(tmp_path / "a", ["en", "is"])
    assert uncovered is not None and "is" in uncovered.languages
    assert any(n.startswith("Icelandic (is)") for n in uncovered.notes), uncovered.notes
    covered = _story_digest(tmp_path / "b", ["en", "de"])
    assert covered is not None and covered.languages == ["de", "en"]
    assert not any("cross-lingual" in n or "language is unknown" in n for n in covered.notes), covered.notes


def test_readme_shows_the_shipped_pair_figures() -> None:
    """The README's table is written by hand from the JSON: a re-measurement that changes a figure must change it."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Languages", 1)[1].split("\n## ", 1)[0]
    for p in C.coverage().pairs:
        line = next(ln for ln in section.splitlines() if ln.startswith(f"| {p.pair} |"))
        for key in C.PAIR_STAGES:
            assert f"{p.figures[key].value:.2f}" in line, (p.pair, key, line)
