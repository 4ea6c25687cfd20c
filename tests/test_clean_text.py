"""Cleaning scraped text: the seeds' furniture goes with a reason, every sentence of the articles stays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SAMPLE
from storyloom.clean.rules import cited_source
from storyloom.clean.text import TextOptions, clean_scraped, render_removed
from storyloom.enrich.attribution import attributions, text_dates
from storyloom.errors import StoryloomError
from storyloom.ingest.files import split_headline
from storyloom.pipeline import ingest, reclean
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store.queries import get_article

EXPRESS = SAMPLE / "seeds" / "000_cceaec4a70c2c81f.txt"
BUNA = SAMPLE / "seeds" / "003_3a4803d74d271bfe.txt"

EXPRESS_FURNITURE = {
    "Navy sailors arrested for selling military secrets to China": "unrelated_headline",
    "READ MORE: China invasion of Taiwan imminent as Xi Jinping softens up Chinese people": "read_more",
    "Thick plumes of black smoke rise above Moscow as huge fire rages on[VIDEO]": "section_tag_teaser",
    "Russian ruble collapses to lowest value in huge blow to Putin[ECONOMY]": "section_tag_teaser",
    "Putin humiliation as major tank battle ends in ‘pandemonium’ for Russian troops[ANALYSIS]": "section_tag_teaser",
    "We use your sign-up to provide content in ways you’ve consented to": "consent_newsletter",
    "Follow our social media accounts here on and @expressusnews": "social",
    "Source: Read Full Article": "source_footer",
}
BUNA_FURNITURE = {
    ".in_text_content_22 { width: 300px;": "inline_css_js",
    "Source: Racurs": "source_footer",
    "I am David Wyatt, a professional writer and journalist for Buna Times.": "author_bio",
}


def seed(path: Path, options: TextOptions | None = None):  # type: ignore[no-untyped-def]
    title, body = split_headline(path.read_text(encoding="utf-8"))
    return title, body, clean_scraped(body, title or None, options or TextOptions(classifier=False))


@pytest.mark.parametrize("path,furniture", [(EXPRESS, EXPRESS_FURNITURE), (BUNA, BUNA_FURNITURE)])
@pytest.mark.parametrize("classifier", [False, True])
def test_seed_furniture_removed_and_every_sentence_kept(path: Path, furniture: dict[str, str], classifier: bool) -> None:
    if classifier:  # the model ships in the package: missing or stale, load() raises and the test fails
        from storyloom.clean.classifier import LineClassifier

        LineClassifier.load()
    _, body, c = seed(path, TextOptions(classifier=classifier))
    removed = {c.body[s.start : s.end]: s for s in c.removed}
    for start, rule in furniture.items():
        hits = [s for text, s in removed.items() if text.startswith(start)]
        assert hits, f"not removed: {start!r}"
        assert hits[0].rule == rule and hits[0].reason, (start, hits[0])
    assert len(removed) == len(furniture), sorted(removed)  # nothing else went
    article_lines = [l.strip() for l in body.split("\n") if l.strip() and not any(l.strip().startswith(f) for f in furniture)]
    for line in article_lines:
        assert line in c.text, f"article sentence lost: {line[:60]!r}"


def test_seed_metadata_from_text() -> None:
    _, _, express = seed(EXPRESS)
    _, _, buna = seed(BUNA)
    assert express.cited_sources == ()  # "Source: Read Full Article" is a scraper footer, not a source
    assert buna.cited_sources == ("Racurs",)
    assert buna.bio_author == "David Wyatt"
    sources = {a.source for a in attributions(express.text)}
    assert {"the Institute for the Study of War (ISW)", "a US official"} <= sources
    assert any("Chinese Foreign Ministry" in a.source for a in attributions(buna.text))
    assert [d.iso for d in text_dates(buna.text)] == ["--08-09"]


def test_cited_source_rules() -> None:
    assert cited_source("Source: Racurs") == "Racurs"
    assert cited_source("SOURCE: Al Jazeera News") == "Al Jazeera News"
    assert cited_source("Source: Read Full Article") is None
    assert cited_source("Sources say the talks will resume on Monday after a short break in Geneva.") is None


def test_sentences_mentioning_furniture_words_are_kept() -> None:
    text = (
        "The regulator said the company must ask users before it sets cookies on their devices.\n"
        "Read more than 300 pages of the report and you find the same conclusion.\n"
        "He said he would follow our lead on the bill, according to two officials.\n"
        "Source: the interior ministry said 12 people died."
    )
    c = clean_scraped(text, None, TextOptions(classifier=False))
    assert c.removed == (), [c.body[s.start : s.end] for s in c.removed]


def test_a_paragraph_of_two_sentences_is_not_a_teaser_headline() -> None:
    """A paragraph whose words the title does not share (a title in another script, a lone paragraph) is
    still prose: two sentences make it one (a Japanese article once lost its only paragraph this way)."""
    ja = "岡山神社で２５日、恒例の「茅輪祭 Hook Saudi 」があった。 参拝者は茅の輪をくぐり Despite Allu"
    en = "Budget Talks Stall Again In Capital. Senators Blame Treasury Delays"
    for text in (ja, en):
        c = clean_scraped(text, "An Unrelated Title About Weather", TextOptions(classifier=False))
        assert c.removed == () and c.text == text


def test_disabled_rule_keeps_line() -> None:
    _, _, c = seed(BUNA, TextOptions(classifier=False, disabled_rules=frozenset({"author_bio"})))
    assert "I am David Wyatt" in c.text and c.bio_author is None


def test_spans_index_the_body_and_render() -> None:
    _, _, c = seed(EXPRESS)
    pieces = render_removed(c.body, c.removed)
    assert "".join(p for p, _ in pieces) == c.body
    assert sum(1 for _, s in pieces if s) == len(c.removed)


class FakeTemplates:
    def __init__(self, size: int, counts: dict[str, int]) -> None:
        self.size, self.counts = size, counts

    def group_size(self, group: str) -> int:
        return self.size

    def line_counts(self, group: str, keys):  # type: ignore[no-untyped-def]
        return {k: self.counts.get(k, 0) for k in keys}


def test_template_lines_removed_but_not_a_whole_copy() -> None:
    from storyloom.clean.text import line_key

    text = ("A unique first paragraph about the storm.\nA second paragraph, also unique.\n"
            "Daily Bugle — your trusted source since 1897\nA closing paragraph on the clean-up.")
    furniture = line_key("Daily Bugle — your trusted source since 1897")
    c = clean_scraped(text, None, TextOptions(classifier=False), FakeTemplates(40, {furniture: 35}), "outlet:bugle")
    assert [s.rule for s in c.removed] == ["template"] and "in 35 of 40 articles" in c.removed[0].reason
    rare = clean_scraped(text, None, TextOptions(classifier=False), FakeTemplates(400, {furniture: 3}), "outlet:bugle")
    assert rare.removed == ()  # 3 of 400 is a repeated quote, not a template
    everything = {line_key(l): 30 for l in text.split("\n")}
    copy = clean_scraped(text, None, TextOptions(classifier=False), FakeTemplates(40, everything), "outlet:bugle")
    assert copy.removed == ()  # all lines recurring means copies of one article, not furniture


@pytest.mark.parametrize("batch_size", [1, 2, 500])
def test_template_detection_through_the_store(tmp_path: Path, settings: Settings, store: Store, batch_size: int) -> None:
    src = tmp_path / "bugle"
    src.mkdir()
    topics = ["storm", "election", "harbour", "festival", "bridge", "court"]
    for i, topic in enumerate(topics):
        (src / f"{i}.txt").write_text(
            f"News about the {topic}\n\nThe {topic} was the talk of the town on day {i}, residents said.\n"
            f"Officials expect more on the {topic} next week.\nDaily Bugle — your trusted source since 1897\n",
            encoding="utf-8",
        )
    settings = Settings(db_path=store.path, line_classifier=False, batch_size=batch_size)
    rep = ingest([str(src)], store, settings)
    rows = store.conn.execute("SELECT id, text FROM article_texts ORDER BY rowid").fetchall()
    # each article is judged against all the others, the ones ingested after it included: the first ones are
    # re-cleaned when the line becomes a template line (in a later batch, or in their own)
    assert ["Daily Bugle" in r["text"] for r in rows] == [False] * 6
    assert rep.recleaned == (3 if batch_size == 1 else 2 if batch_size == 2 else 0)
    first = reclean(store, settings)
    assert first.changed == 0 and not first.failed  # the store is what a from-scratch `storyloom clean` makes
    art = get_article(store, rows[0]["id"])
    assert art is not None and art.removed[0].rule == "template"


def test_reclean_after_disabling_a_rule(settings: Settings, store: Store) -> None:
    s1 = Settings(db_path=store.path, line_classifier=False)
    ingest([str(SAMPLE / "seeds")], store, s1)
    assert reclean(store, s1).changed == 0  # cleaning at ingest and re-cleaning agree
    s2 = Settings(db_path=store.path, line_classifier=False, disabled_rules=("author_bio",))
    rep = reclean(store, s2)
    assert rep.changed == 1
    row = store.conn.execute("SELECT t.text, a.author, storyloom_json(a.meta) AS meta FROM articles a JOIN article_texts t ON t.rowid = a.rowid WHERE t.text LIKE '%David Wyatt%'").fetchone()
    assert row is not None and row["author"] is None and "bio_author" not in json.loads(row["meta"])
    assert reclean(store, s1).changed == 1  # and back


def test_unknown_rule_name_is_an_error(store: Store) -> None:
    from storyloom.clean import text_options

    with pytest.raises(StoryloomError, match="unknown rule"):
        text_options(Settings(disabled_rules=("no_such_rule",)))


@pytest.mark.parametrize("text", ["", "   \n\t  \n", "word", "x" * 200_000, "One long line. " * 5000])
def test_degenerate_texts(text: str) -> None:
    c = clean_scraped(text, None, TextOptions(classifier=False))
    assert c.text == c.text.strip()
    assert len(c.text) <= len(text)


# -- guards: no rule takes an article's only content; subheadings stay -------------------------------------

ONE_LINE_COPYRIGHT = (
    "The city council approved the new budget on Tuesday after a long debate about school funding, road "
    "repairs and the cost of the new library, which opens next spring. Copyright © 2018 The Valley Ledger. "
    "All rights reserved."
)
SUBHEADING_TEXT = (
    "Wer seine Wohnung neu einrichten will, findet in diesem Frühjahr mehr Auswahl als je zuvor in den Läden.\n"
    "Photo: Anna Schmidt\n"
    "Vintage trifft Urban Jungle\n"
    "Alte Kommoden vom Flohmarkt stehen neben großen Pflanzen, und das passt besser zusammen, als man denkt.\n"
    "Wichtig ist, dass die Farben der Möbel und der Töpfe zueinander passen und der Raum hell bleibt.\n"
)


@pytest.mark.parametrize("text", [
    ONE_LINE_COPYRIGHT,
    "Copyright reform passed the European Parliament on Tuesday, with 348 votes for and 274 against it.",
])
def test_no_rule_removes_an_articles_only_content(text: str) -> None:
    c = clean_scraped(text, "Budget news", TextOptions(classifier=False))
    assert c.text == text and c.removed == ()


def test_a_one_line_article_ending_in_copyright_survives_ingest(tmp_path: Path, store: Store) -> None:
    (tmp_path / "a.txt").write_text(ONE_LINE_COPYRIGHT, encoding="utf-8")
    settings = Settings(db_path=store.path, line_classifier=False)
    rep = ingest([str(tmp_path / "a.txt")], store, settings)
    assert not rep.failed
    row = store.conn.execute("SELECT text FROM article_texts").fetchone()
    assert "city council approved the new budget" in row["text"]


def test_a_short_copyright_line_after_the_article_still_goes() -> None:
    text = ONE_LINE_COPYRIGHT.split(" Copyright")[0] + "\nCopyright © 2018 The Valley Ledger. All rights reserved."
    c = clean_scraped(text, None, TextOptions(classifier=False))
    assert [s.rule for s in c.removed] == ["copyright"]


def test_a_subheading_inside_the_article_is_kept() -> None:
    """Beside a removed photo credit, and second line of the text: both places the teaser rule looks."""
    title = "Wohntrends 2024: So richten Sie sich ein"
    c = clean_scraped(SUBHEADING_TEXT, title, TextOptions(classifier=False))
    assert "Vintage trifft Urban Jungle" in c.text.split("\n\n")
    assert [s.rule for s in c.removed] == ["photo_credit"]
    second = SUBHEADING_TEXT.replace("Photo: Anna Schmidt\n", "")
    c = clean_scraped(second, title, TextOptions(classifier=False))
    assert c.removed == ()


def test_a_teaser_block_inside_the_article_still_goes() -> None:
    lines = SUBHEADING_TEXT.strip().split("\n")
    teasers = ["READ MORE: Storm Closes Harbour Bridge Overnight", "Election Results Delayed Across Northern Counties"]
    text = "\n".join(lines[:1] + teasers + lines[3:])
    c = clean_scraped(text, "Wohntrends 2024", TextOptions(classifier=False))
    assert [c.body[s.start : s.end] for s in c.removed] == teasers


# -- the outlet a text names about itself ---------------------------------------------------------------------

PROSE = ("The harbour authority approved the new ferry timetable on Monday after months of talks with the "
         "operators and the unions about night crossings.")


def _clean_text(text: str, title: str = "Ferry timetable approved", **kw: object):  # type: ignore[no-untyped-def]
    from storyloom.clean import clean
    from storyloom.models import RawDoc

    return clean(RawDoc(raw=text.encode(), kind="txt", location="t.txt", title=title, text=text, **kw),
                 Settings(line_classifier=False))


def test_seed_outlets_from_their_own_text() -> None:
    express = _clean_text(*reversed(split_headline(EXPRESS.read_text(encoding="utf-8"))))
    assert express.outlet == "@expressusnews"
    assert express.meta["outlet_from"]["evidence"].startswith("social-media handle")
    assert express.meta["outlet_from"]["line"].startswith("Follow our social media accounts")
    buna = _clean_text(*reversed(split_headline(BUNA.read_text(encoding="utf-8"))))
    assert buna.outlet == "Buna Times" and buna.meta["outlet_from"]["evidence"] == "author bio"
    assert buna.meta["cited_sources"] == ["Racurs"]  # the repost's cited source, not its outlet


@pytest.mark.parametrize("tail,outlet,evidence", [
    ("Copyright 2024 The Daily Ledger. All rights reserved.", "The Daily Ledger", "copyright notice"),
    ("© 2019-2023 Harbour Media Ltd.", "Harbour Media", "copyright notice"),
    ("Follow @harbourpost on X for updates", "@harbourpost", "social-media handle"),
    ("Source: The Harbour Post", "The Harbour Post", "\"Source:\" footer"),
    ("Source: https://www.harbourpost.example/news/ferry", "harbourpost.example", "\"Source:\" footer"),
])
def test_outlet_from_the_texts_own_furniture(tail: str, outlet: str, evidence: str) -> None:
    art = _clean_text(f"{PROSE}\n{PROSE}\n{tail}")
    assert art.outlet == outlet
    assert art.meta["outlet_from"]["evidence"].startswith(evidence) and art.meta["outlet_from"]["line"] == tail


@pytest.mark.parametrize("text", [
    f"{PROSE}\nSource: Racurs\nFollow the story as it develops over the next weeks in our coverage.",  # not last
    f"{PROSE}\nThe minister wrote to @harbourboss about the ferries, officials said on Tuesday afternoon.",
    f"{PROSE}\nPhoto: © Getty Images",
    PROSE,
])
def test_no_outlet_where_the_text_names_none_of_its_own(text: str) -> None:
    art = _clean_text(text)
    assert art.outlet is None and "outlet_from" not in art.meta


def test_a_declared_outlet_or_url_wins_over_the_text() -> None:
    text = f"{PROSE}\nCopyright 2024 The Daily Ledger. All rights reserved."
    assert _clean_text(text, outlet="Wire Service").outlet == "Wire Service"
    by_url = _clean_text(text, url="https://www.ledger.example/a/1")
    assert by_url.outlet == "ledger.example" and "outlet_from" not in by_url.meta


# -- lists of teasers under recurring dates --------------------------------------------------------------------


def _teasers(n: int, summary_words: int) -> list[str]:
    out = []
    for k in range(n):
        out += [f"Headline number {k} about a different story entirely",
                f"Tuesday November {10 + k}, 2019",
                f"Story {k}: " + " ".join(["summary words of another story"] * (summary_words // 5)) + "."]
    return out


def test_a_dated_teaser_list_goes_with_its_rule() -> None:
    article = ["Monday November 18, 2019"] + [PROSE.replace("Monday", day) for day in ("Sunday", "Friday", "Tuesday")]
    lines = article + [PROSE] + _teasers(4, 25)
    c = clean_scraped("\n".join(lines), "Ferry timetable approved", TextOptions(classifier=False))
    removed = {c.body[s.start : s.end]: s.rule for s in c.removed}
    # from the first recurring date to the last: the headlines between, not the one above the first date
    assert [ln for ln in lines if ln in removed] == lines[6:-1]  # the last summary is past the last date
    assert set(removed.values()) == {"teaser_list"}
    assert PROSE in c.text and "Monday November 18, 2019" in c.text  # the article's own dateline stays
    off = clean_scraped("\n".join(lines), None, TextOptions(classifier=False, disabled_rules=frozenset({"teaser_list"})))
    assert off.removed == ()


def test_live_blog_entries_under_recurring_dates_are_kept() -> None:
    lines = _teasers(4, 80)  # 80 words an entry: a live blog, not teasers
    c = clean_scraped("\n".join(lines), None, TextOptions(classifier=False))
    assert not any(s.rule == "teaser_list" for s in c.removed)
