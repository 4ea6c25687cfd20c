"""Stories: online clustering, copy groups as units, stable ids, rebuild, flags for untrusted dates."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import SAMPLE
from storyloom.ingest.records import record_to_raw
from storyloom.pipeline import ingest, ingest_items
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store import stories as sql
from storyloom.stories import agreement, build_stories, rebuild_stories
from storyloom.stories.online import Story, StoryParams, decide, story_id_for
from storyloom.stories.represent import ArticleRep

EVENTS = {
    "flood": ("Floods hit the Danube valley", "Heavy rain flooded villages along the Danube on Tuesday. Rescue teams "
              "evacuated hundreds of residents from Vukovar and Novi Sad as the river rose above its banks. "
              "Officials in Serbia and Croatia declared emergencies."),
    "vote": ("Parliament approves pension reform", "Lawmakers approved the pension reform on Wednesday after a long "
             "debate. The finance minister said the retirement age will rise gradually. Unions announced strikes "
             "against the reform in Madrid and Barcelona."),
    "probe": ("Mars probe lands near crater", "The robotic probe landed near Jezero crater on Thursday, the space "
              "agency said. Engineers in Pasadena cheered as the first images of the Martian surface arrived."),
}


def rec(key: str, title: str, text: str, **kw: str) -> object:
    r = {"title": title, "text": text, "url": f"https://{key}.example/x", "outlet": key.split("-")[0], **kw}
    return record_to_raw(r, json.dumps(r, sort_keys=True).encode(), "jsonl", f"t:{key}")


def coverage() -> list[object]:
    """Each event told by three outlets in their own words (the same facts, other sentences)."""
    items = []
    for i, (event, (title, text)) in enumerate(EVENTS.items()):
        day = f"2024-05-0{i + 1}"
        sents = text.split(". ")
        items.append(rec(f"alpha-{event}", title, text, published=f"{day}T08:00:00Z"))
        items.append(rec(f"beta-{event}", f"{title}, officials say", ". ".join(reversed(sents)), published=f"{day}T11:00:00Z"))
        items.append(rec(f"gamma-{event}", title.upper(), sents[0] + ". " + sents[-1], published=f"{day}T15:00:00Z"))
    return items


def lexical(db: str, **kw: object) -> Settings:
    return Settings(db_path=db, line_classifier=False, translations=False, story_embeddings=False, **kw)  # type: ignore[arg-type]


def groups_of(store: Store) -> list[frozenset[str]]:
    by: dict[str, set[str]] = {}
    for aid, sid in sql.assignments(store).items():
        by.setdefault(sid, set()).add(aid)
    return sorted((frozenset(v) for v in by.values()), key=lambda s: sorted(s))


def test_same_event_one_story_each(store: Store) -> None:
    items = coverage()
    ingest_items(items, store, lexical(store.path))
    stories = groups_of(store)
    want = [frozenset(i.id for i in items[k : k + 3]) for k in (0, 3, 6)]  # type: ignore[attr-defined]
    assert sorted(stories, key=lambda s: sorted(s)) == sorted(want, key=lambda s: sorted(s))
    feed = sql.feed(store)
    assert [r.n_articles for r in feed] == [3, 3, 3]
    assert feed[0].label.lower().startswith("mars probe")  # newest first
    assert set(feed[0].outlets) == {"alpha", "beta", "gamma"}


def test_ids_stable_across_runs_and_rebuild(tmp_path: Path) -> None:
    runs = []
    for n in range(2):
        with Store(tmp_path / f"{n}.db") as st:
            ingest_items(coverage(), st, lexical(st.path, batch_size=2))
            runs.append(sql.assignments(st))
            if n == 1:
                online = sql.assignments(st)
                rebuild_stories(st, lexical(st.path))
                assert agreement(online, sql.assignments(st))["f1"] == 1.0
                assert sql.assignments(st) == online  # same ids too: derived from the opening article
    assert runs[0] == runs[1]


def test_copy_group_enters_as_one_unit(store: Store) -> None:
    title, text = EVENTS["flood"]
    items = [rec("alpha-a", title, text, published="2024-05-01T08:00:00Z"),
             rec("mirror-a", "Totally different headline about weather", text, published="2024-05-09T08:00:00Z")]
    ingest_items(items, store, lexical(store.path))
    members = store.conn.execute("SELECT story_id, reason FROM story_members ORDER BY time").fetchall()
    assert members[0]["story_id"] == members[1]["story_id"] and members[1]["reason"] == "copy"


def test_untrusted_dates_are_flagged_and_still_clustered(store: Store) -> None:
    title, text = EVENTS["vote"]
    items = [rec("alpha-v", title, text), rec("beta-v", title, text + " More later.", published="2999-01-01"),
             rec("is-v", "Þingið samþykkti lífeyrisumbætur", "Þingmenn samþykktu umbæturnar á miðvikudag eftir langa umræðu.",
                 language="is")]
    ingest_items(items, store, lexical(store.path))
    rows = store.conn.execute("SELECT article_id, story_id, time_flag FROM story_members").fetchall()
    assert len(rows) == 3 and all(r["story_id"] for r in rows)
    assert all(r["time_flag"] for r in rows)  # no date, a future date, no date


def test_decide_opens_joins_and_merges() -> None:
    p = StoryParams(threshold=0.4)
    v = np.array([1.0, 0.0], dtype=np.float32)
    rep = ArticleRep("a1", "t", "2024-01-02T00:00:00Z", None, "o", "en", Counter({"flood": 3.0}), ["danu"], v)
    weights = {"flood": 1.0}
    assert decide(rep, weights, [], p).reason == "opened"
    s1 = Story("s1", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "x", "x")
    s1.add(ArticleRep("b", "t", "2024-01-01T00:00:00Z", None, "o", "en", Counter(), ["danu"], v), weights)
    s2 = Story("s2", "2024-01-01T06:00:00Z", "2024-01-02T00:00:00Z", "y", "y")
    s2.add(ArticleRep("c", "t", "2024-01-01T06:00:00Z", None, "o", "en", Counter(), ["danu"], v), weights)
    d = decide(rep, weights, [s1, s2], p)
    assert d.reason == "joined" and d.story_id == "s1" and d.merged == ["s2"]
    far = Story("s3", "2023-01-01T00:00:00Z", "2023-01-02T00:00:00Z", "z", "z")
    far.add(ArticleRep("d", "t", "2023-01-01T00:00:00Z", None, "o", "en", Counter(), ["danu"], v), weights)
    assert decide(rep, weights, [far], p).reason == "opened"  # a year apart: the time gap outweighs the rest
    assert story_id_for("a1") == story_id_for("a1") != story_id_for("a2")


def test_merge_is_logged_and_members_move(store: Store) -> None:
    s = lexical(store.path, story_threshold=0.2, story_merge_margin=0.25)
    # two halves of one event arrive first in different words and open two stories; an article telling both
    # halves then fits both about equally, bridges them, and the two stories merge (the older id survives)
    a = rec("alpha-p", "Probe lands near Jezero crater", "The robotic probe landed near Jezero crater on Thursday.",
            published="2024-05-03T08:00:00Z")
    b = rec("beta-p", "Engineers cheer Martian images", "Engineers in Pasadena cheered the first Martian images.",
            published="2024-05-03T09:00:00Z")
    ingest_items([a, b], store, s)
    assert len(groups_of(store)) == 2
    bridge = rec("gamma-p", "Jezero crater landing: Pasadena engineers cheer",
                 "A robotic lander touched down by Jezero crater, and Pasadena engineers celebrated Martian pictures.",
                 published="2024-05-03T10:00:00Z")
    ingest_items([bridge], store, s)
    assert len(groups_of(store)) == 1
    event = store.conn.execute("SELECT story_id, other_id FROM story_events WHERE kind = 'merge'").fetchone()
    assert event is not None and event["story_id"] == story_id_for(a.id)  # type: ignore[attr-defined]
    assert store.conn.execute("SELECT count(*) FROM stories").fetchone()[0] == 1
    # the merged-away id keeps working: it leads to the surviving story, in the API and on the web
    gone, kept = event["other_id"], event["story_id"]
    assert sql.merged_into(store, gone) == kept and sql.merged_into(store, kept) is None
    from fastapi.testclient import TestClient

    from storyloom.serve import create_app

    client = TestClient(create_app(Settings(db_path=store.path)))
    r = client.get(f"/api/stories/{gone}", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == f"/api/stories/{kept}"
    assert client.get(f"/api/stories/{gone}").json()["id"] == kept
    r = client.get(f"/stories/{gone}", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == f"/stories/{kept}"
    assert client.get("/api/stories/s000000000000").status_code == 404


def test_seeds_in_one_story_alone(store: Store) -> None:
    settings = Settings(db_path=store.path, line_classifier=False)
    pages = sorted((SAMPLE / "aeb").glob("*.html.gz"))[:25]
    ingest([str(SAMPLE / "seeds"), *map(str, pages)], store, settings)
    seeds = [r[0] for r in store.conn.execute("SELECT id FROM articles WHERE kind = 'txt'")]
    a = sql.assignments(store)
    assert a[seeds[0]] == a[seeds[1]]
    assert sum(1 for sid in a.values() if sid == a[seeds[0]]) == 2
    detail = sql.story_detail(store, a[seeds[0]])
    assert detail is not None and detail.n_articles == 2 and len(detail.members) == 2
    assert build_stories(store, settings).processed == 0  # nothing left in the queue


def test_cached_story_vectors_follow_every_change() -> None:
    """The story's normalised term vector and top entities are cached for scoring: adding or absorbing
    articles must refresh them, or later articles would be scored against a stale story."""
    v = np.array([1.0, 0.0], dtype=np.float32)
    s = Story("s1", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "x", "x")
    s.add(ArticleRep("a", "t", "2024-01-01T00:00:00Z", None, "o", "en", Counter(), ["danu"], v), {"flood": 1.0})
    assert s.term_vector() == {"flood": 1.0} and s.top_entities() == {"danu"}
    s.add(ArticleRep("b", "t", "2024-01-01T01:00:00Z", None, "o", "en", Counter(), ["serb", "danu"], v), {"rain": 1.0})
    assert s.term_vector() == {"flood": 1 / 2 ** 0.5, "rain": 1 / 2 ** 0.5} and s.top_entities() == {"danu", "serb"}
    other = Story("s2", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "y", "y")
    other.add(ArticleRep("c", "t", "2024-01-01T02:00:00Z", None, "o", "en", Counter(), ["novi"], v), {"rain": 2.0})
    s.absorb(other)
    assert s.term_vector()["rain"] > s.term_vector()["flood"] and "novi" in s.top_entities()


def test_active_index_drop_forgets_a_story_everywhere() -> None:
    from storyloom.stories import ActiveIndex

    idx = ActiveIndex(0)
    stories = []
    for k, ents in enumerate((["danu", "serb"], ["danu"], ["mars"])):
        s = Story(f"s{k}", f"2024-01-0{k + 1}T00:00:00Z", f"2024-01-0{k + 1}T00:00:00Z", "x", "x")
        s.add(ArticleRep(f"a{k}", "t", s.first_seen, None, "o", "en", Counter(), ents, None), {"w": 1.0})
        idx.put(s)
        stories.append(s)
    idx.drop("s0")
    assert idx.entity_index == {"danu": {"s1"}, "mars": {"s2"}}
    idx.evict_before("2024-01-03T00:00:00Z")  # s1 ended before: evicted; the emptied entity key goes too
    assert set(idx.stories) == {"s2"} and idx.entity_index == {"mars": {"s2"}}


def test_representation_splits_only_the_lead_but_counts_the_whole_body() -> None:
    """term_counts splits only the first sentences; its body counts must still equal those of a full split."""
    from storyloom.enrich.sentences import split_sentences
    from storyloom.stories.represent import LEAD_WEIGHT, MAX_BODY_WORDS, TITLE_WEIGHT, entities, term_counts, tokens

    title, body = EVENTS["flood"]
    text = "\n\n".join([body, "Dr. Petrović said: “The U.S. team arrived.” Water fell… Then it rose again!",
                        "Власти Сербии объявили режим ЧС. Спасатели эвакуировали жителей Нови-Сада."] * 40)
    sents = split_sentences(text)
    expected: Counter[str] = Counter()
    for t in tokens(title):
        expected[t] += TITLE_WEIGHT
    for t in tokens(" ".join(sents[:3])):
        expected[t] += LEAD_WEIGHT
    for t in tokens(" ".join(sents[3:]))[:MAX_BODY_WORDS]:
        expected[t] += 1.0
    assert term_counts(title, text) == expected
    assert sum(term_counts(title, text).values()) > MAX_BODY_WORDS  # the cap was reached: the test covers it
    ents = entities(title, text)
    assert "danu" in ents and "vuko" in ents and "serb" in ents and "madr" not in ents


def test_queue_is_sorted_once_per_pass_not_once_per_chunk(store: Store) -> None:
    """The queue's time order costs a sort of the whole queue; asking for it chunk by chunk made the stories and
    copies stages quadratic (19 s a chunk with 1M articles queued)."""
    from storyloom.copies import find_copies

    settings = lexical(store.path, run_copies=False, run_stories=False)
    ingest_items(coverage(), store, settings)
    queue_reads: list[str] = []
    store.conn.set_trace_callback(lambda q: queue_reads.append(q) if "FROM stage_queue q" in q else None)
    find_copies(store, settings, chunk=2)
    build_stories(store, settings, chunk=2)
    store.conn.set_trace_callback(None)
    assert len(coverage()) >= 6 and len(queue_reads) == 4  # per stage: one pass, then one read finding it empty
    assert len(set(sql.assignments(store))) == len(coverage())


@pytest.mark.parametrize("fault", ["dies", "fails"])
def test_chunks_prepared_by_a_worker_process_give_the_same_stories(tmp_path: Path, monkeypatch, fault: str) -> None:  # type: ignore[no-untyped-def]
    """Representations built ahead in a worker process are the ones the stage builds itself: same stories,
    same ids, same log; and a worker that dies or fails only means the stage prepares the chunks itself."""
    import workerfaults
    from storyloom.stories import prefetch as prep

    def run(name: str, workers: int) -> tuple[object, ...]:
        with Store(tmp_path / f"{name}.db") as st:
            ingest_items(coverage(), st, lexical(st.path, run_stories=False))
            report = build_stories(st, lexical(st.path, story_workers=workers), chunk=2)
            assert report.processed == len(coverage())
            stories = [dict(r) for r in st.conn.execute(
                "SELECT id, label, first_seen, last_seen, n_articles, terms, entities FROM stories ORDER BY id")]
            log = st.conn.execute("SELECT kind, story_id, other_id, article_id FROM story_events ORDER BY rowid").fetchall()
            return sql.assignments(st), stories, [tuple(r) for r in log]

    alone = run("alone", 0)
    assert run("worker", 1) == alone
    calls: list[int] = []
    real = prep.prepare
    monkeypatch.setattr(prep, "_prepare_in_worker", getattr(workerfaults, fault))
    monkeypatch.setattr(prep, "prepare", lambda *a: calls.append(1) or real(*a))
    assert run("broken", 1) == alone
    assert len(calls) == 5  # 9 articles, 2 a chunk: all 5 chunks prepared in this process


def test_sparse_cos_is_exact_and_symmetric() -> None:
    from storyloom.stories.represent import sparse_cos

    a = {"flood": 0.6, "danube": 0.7, "rain": 0.1 ** 0.5, "vukovar": 1e-17}
    b = {"rain": 0.5, "vukovar": 1.0, "danube": 0.1, "storm": 0.9}
    assert sparse_cos(a, b) == sparse_cos(b, a) == sparse_cos(dict(reversed(list(a.items()))), b)
    assert abs(sparse_cos(a, b) - (0.7 * 0.1 + 0.1 ** 0.5 * 0.5 + 1e-17)) < 1e-15
    assert sparse_cos(a, {}) == 0.0


# -- reach in time, round-ups, the merge check ---------------------------------------------------------------

# every new behaviour on, whatever the shipped defaults (chosen on the dev sets) are
REACH = {"story_reach_growth": 1.0, "story_reach_max_days": 14.0, "story_continuation": True, "story_entity_check": True,
         "story_roundups": "weak"}
FIXED = {"story_reach_growth": 0.0, "story_continuation": False, "story_entity_check": False, "story_roundups": "off"}
WAVE = [  # one developing story: the same company, device and test site, days apart
    ("2024-03-01T09:00:00Z", "Mocean Energy ships Blue X wave machine to Orkney",
     "Mocean Energy shipped its Blue X wave machine to Orkney on Friday. The prototype will be tested at EMEC, the "
     "marine energy centre, with money from Wave Energy Scotland."),
    ("2024-03-03T09:00:00Z", "Blue X wave machine arrives at EMEC in Orkney",
     "The Blue X wave machine built by Mocean Energy arrived at EMEC in Orkney. Engineers of Wave Energy Scotland "
     "prepared the mooring for the prototype."),
    ("2024-03-06T09:00:00Z", "Mocean Energy moors Blue X prototype off Orkney",
     "Mocean Energy moored the Blue X prototype at the EMEC test site off Orkney. Wave Energy Scotland said the wave "
     "machine will soon export power."),
    ("2024-03-12T09:00:00Z", "Blue X wave machine starts sea trials at EMEC",
     "The Blue X wave machine of Mocean Energy started its sea trials at EMEC off Orkney. Wave Energy Scotland funds "
     "the prototype, the first of its kind."),
]


def wave_items() -> list[object]:
    return [rec(f"o{k}-wave", title, text, published=t) for k, (t, title, text) in enumerate(WAVE)]


def test_reach_grows_with_a_developing_story(tmp_path: Path) -> None:
    """Six days after its last article, a story that has developed for five days still takes its next
    development; the fixed 3-day window cuts it off."""
    for name, extra, want in (("reach", {**REACH, "story_continuation": False}, 1), ("fixed", FIXED, 2)):
        with Store(tmp_path / f"{name}.db") as st:
            ingest_items(wave_items(), st, lexical(st.path, **extra))
            assert len(groups_of(st)) == want, name


def test_one_day_event_does_not_absorb_next_weeks_look_alike(store: Store) -> None:
    """A look-alike a week later (the same words, other places and actors) is past a one-day event's reach and
    continues nothing: it opens its own story.  The same words two hours later join."""
    title, text = EVENTS["flood"]
    later = rec("beta-flood", "Floods hit the Rhine valley", text.replace("Danube", "Rhine").replace(
        "Vukovar and Novi Sad", "Cologne and Bonn").replace("Serbia and Croatia", "Germany"), published="2024-05-09T08:00:00Z")
    same_day = rec("gamma-flood", title, text, published="2024-05-01T10:00:00Z")
    ingest_items([rec("alpha-flood", title, text, published="2024-05-01T08:00:00Z"), same_day, later], store,
                 lexical(store.path, **REACH))
    a = sql.assignments(store)
    assert a[later.id] != a[same_day.id]  # type: ignore[attr-defined]
    assert len(groups_of(store)) == 2


def test_continuation_weeks_later_joins_by_its_actors(tmp_path: Path) -> None:
    """Twelve days after a one-article story (far past its 3-day reach, within story_reach_max_days), an
    article naming its distinctive actors continues it; with the fixed window (or without continuation) it
    opens a new story, and past story_reach_max_days too."""
    first, last = WAVE[0], WAVE[-1]
    items = [rec("a-wave", first[1], first[2], published=first[0]),
             rec("b-wave", last[1], last[2], published="2024-03-13T09:00:00Z")]
    for name, extra, want in (("reach", REACH, 1), ("fixed", FIXED, 2), ("no-continuation", {**REACH, "story_continuation": False}, 2),
                              ("too-far", {**REACH, "story_reach_max_days": 10.0}, 2)):
        with Store(tmp_path / f"{name}.db") as st:
            ingest_items(items, st, lexical(st.path, **extra))
            assert len(groups_of(st)) == want, name


def test_roundup_reason_recognises_roundups_not_reports() -> None:
    from storyloom.stories.represent import roundup_reason

    assert roundup_reason("Opening Bell 11.18.19", "Taylor Swift might not perform.") == "round-up title"
    assert roundup_reason("9to5Mac Gift Guide: what to buy", "Some text.") == "round-up title"
    assert roundup_reason("MacBook sale at Amazon from $700, AirPods, more - 9to5Mac", "Deals.") == "round-up title"
    assert roundup_reason("The Hydrogen Stream: fuel cells in Israel", "Text.") == "round-up title"
    bullets = "Deals of the day.\n" + "\n".join(f"- Gadget {k} for ${k}9" for k in range(8))
    assert roundup_reason("Deals we like", bullets) == "list structure"
    items = "\n".join(f"Item number {k} on sale\nA long sentence about item {k} and its price today." for k in range(6))
    assert roundup_reason("Shopping", items) == "many short items"
    for title, text in EVENTS.values():  # ordinary reports, one or many paragraphs
        assert roundup_reason(title, text) is None
        assert roundup_reason(title, "\n".join(text.split(". "))) is None


def roundup_item(published: str) -> object:
    return rec("digest-r", "Morning briefing: floods and pensions",
               "Heavy rain flooded villages along the Danube, and rescue teams evacuated residents from Vukovar and Novi "
               "Sad.\nLawmakers approved the pension reform in Madrid after a long debate, and unions announced "
               "strikes.\nThe finance minister said the retirement age will rise.", published=published)


def test_roundup_joins_weakly_and_glues_nothing(tmp_path: Path) -> None:
    """A morning briefing touching two stories attaches weakly to one (reason 'roundup', a 'mention' event for
    the story page), never merges them and leaves the story's words and names as they were; kept 'apart' it
    opens its own story and is mentioned on the one it fits; 'off' it is an ordinary member."""
    flood, vote = coverage()[0:2], coverage()[3:5]
    base = [*flood, *vote]
    for mode in ("weak", "apart", "off"):
        with Store(tmp_path / f"{mode}.db") as st:
            s = lexical(st.path, **{**REACH, "story_roundups": mode}, story_threshold=0.2, story_merge_margin=0.5)
            ingest_items(base, st, s)
            before = dict(st.conn.execute("SELECT id, terms FROM stories"))
            digest = roundup_item("2024-05-02T12:00:00Z")
            ingest_items([digest], st, s)
            a = sql.assignments(st)
            reason = st.conn.execute("SELECT reason FROM story_members WHERE article_id = ?", (digest.id,)).fetchone()[0]  # type: ignore[attr-defined]
            mentions = st.conn.execute("SELECT story_id, other_id, detail FROM story_events WHERE kind = 'mention'").fetchall()
            if mode == "off":
                assert not mentions and reason in ("joined", "opened")
                continue
            assert a[flood[0].id] != a[vote[0].id]  # type: ignore[attr-defined]  # the two stories stay apart
            assert len(mentions) == 1 and "round-up" in mentions[0]["detail"]
            assert mentions[0]["story_id"] in (a[flood[0].id], a[vote[0].id])  # type: ignore[attr-defined]
            fits = mentions[0]["story_id"]
            if mode == "weak":
                assert reason == "roundup" and a[digest.id] == fits  # type: ignore[attr-defined]
                assert dict(st.conn.execute("SELECT id, terms FROM stories")) == before  # its words changed nothing
                assert sql.mentions(st, fits) == []  # a member: listed with the members, not as a mention
            else:
                assert reason == "opened" and a[digest.id] not in (a[flood[0].id], a[vote[0].id])  # type: ignore[attr-defined]
                assert mentions[0]["other_id"] == a[digest.id]  # type: ignore[attr-defined]
                listed = sql.mentions(st, fits)  # the story page's "also mentioned in"
                assert [(m.article_id, m.story_id, m.why) for m in listed] == [(digest.id, a[digest.id], "round-up title")]  # type: ignore[attr-defined]
                other = next(sid for sid in (a[flood[0].id], a[vote[0].id]) if sid != fits)  # type: ignore[attr-defined]
                assert sql.mentions(st, other) == [] and sql.mentions(st, a[digest.id]) == []  # type: ignore[attr-defined]
                _shows_mention(st.path, fits, other)


def _shows_mention(db: str, story: str, other: str) -> None:
    """The story page (HTML and JSON) lists the round-up under "Also mentioned in"; the other story does not."""
    from fastapi.testclient import TestClient

    from storyloom.serve import create_app

    client = TestClient(create_app(Settings(db_path=db)))
    page = client.get(f"/stories/{story}").text
    assert "Also mentioned in" in page and "Morning briefing: floods and pensions" in page
    assert "Also mentioned in" not in client.get(f"/stories/{other}").text
    got = client.get(f"/api/stories/{story}").json()["mentioned_in"]
    assert [m["title"] for m in got] == ["Morning briefing: floods and pensions"]


def test_merge_check_refuses_a_join_without_a_shared_actor_and_logs_it(tmp_path: Path) -> None:
    """Two articles on one theme (tariffs, markets) naming different actors: with the merge check the second is
    refused the first's story and a 'refuse' event says why; without it, it joins."""
    a = rec("alpha-t", "Tariff fears weigh on Asian markets",
            "Tariff fears weighed on Asian markets on Tuesday as traders in Tokyo and Seoul sold shares. Nikkei and "
            "Kospi indexes fell as tariff talks stalled.", published="2024-05-01T08:00:00Z")
    b = rec("beta-t", "Tariff fears weigh on European markets",
            "Tariff fears weighed on European markets on Tuesday as traders in Frankfurt and Paris sold shares. Dax "
            "and Cac indexes fell as tariff talks stalled.", published="2024-05-01T10:00:00Z")
    for check, want in ((True, 2), (False, 1)):
        with Store(tmp_path / f"{check}.db") as st:
            ingest_items([a, b], st, lexical(st.path, **{**REACH, "story_entity_check": check}, story_threshold=0.3))
            assert len(groups_of(st)) == want
            refused = st.conn.execute("SELECT story_id, article_id, detail FROM story_events WHERE kind = 'refuse'").fetchall()
            if check:
                assert len(refused) == 1 and refused[0]["article_id"] == b.id  # type: ignore[attr-defined]
                assert refused[0]["story_id"] == story_id_for(a.id) and "no shared named actor" in refused[0]["detail"]  # type: ignore[attr-defined]
            else:
                assert not refused


def test_fact_check_refuses_a_suspect_join_or_merge_that_shares_no_fact() -> None:
    """A join below `fact_strong` sharing fewer than fact_actors distinctive actors asks the fact check: refused when the
    article states none of the story's facts (logged with why), kept when it states one or when the check cannot
    tell (None); a join sharing enough actors, a strong one, or one without the switch never asks.  A merge the
    article bridges is refused the same way."""
    v = np.array([1.0, 0.0], dtype=np.float32)
    weights = {"plume": 1.0}

    def story(sid: str, ents: list[str], vec: np.ndarray = v) -> Story:
        s = Story(sid, "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", sid, sid)
        s.add(ArticleRep(sid + "-a", "t", "2024-01-01T00:00:00Z", None, "o", "en", Counter(), ents, vec), weights)
        return s

    rep = ArticleRep("a1", "t", "2024-01-01T06:00:00Z", None, "o", "en", Counter({"plume": 1.0}), ["nasa", "tita"],
                     np.array([0.3, 0.954], dtype=np.float32))  # score 0.54 against a story naming one of its actors
    p = StoryParams(threshold=0.4, fact_strong=0.75, merge_margin=0.1, entity_check=True, fact_check=True, fact_actors=2)
    asked: list[str] = []

    def says(answer: bool | None):  # type: ignore[no-untyped-def]
        def confirm(s: Story) -> bool | None:
            asked.append(s.id)
            return answer
        return confirm

    europa = story("s1", ["nasa", "euro"])
    d = decide(rep, weights, [europa], p, confirm=says(False))
    assert d.reason == "opened" and asked == ["s1"]
    assert d.refused == [("s1", None, "join refused: no shared fact and 1 shared named actor(s) (score 0.540)")]
    for answer in (True, None):
        assert decide(rep, weights, [europa], p, confirm=says(answer)).story_id == "s1"
    asked.clear()
    assert decide(rep, weights, [story("s2", ["nasa", "tita"])], p, confirm=says(False)).reason == "joined"  # 2 actors
    assert decide(rep, weights, [europa], StoryParams(threshold=0.4, fact_check=False), confirm=says(False)).reason == "joined"
    assert decide(rep, weights, [europa], StoryParams(threshold=0.4, fact_strong=0.5, fact_check=True, fact_actors=2),
                  confirm=says(False)).reason == "joined"  # a strong fit is not suspect
    assert asked == []
    # a merge: the article fits two stories alike; the second shares a fact with it or not
    first, second = story("s1", ["nasa", "tita"]), story("s2", ["nasa", "euro"])
    merged = decide(rep, weights, [first, second], p, confirm=lambda s: True)
    assert merged.merged == ["s2"]
    kept = decide(rep, weights, [first, second], p, confirm=lambda s: s.id != "s2")
    assert kept.story_id == "s1" and kept.merged == []
    assert kept.refused == [("s1", "s2", "merge refused: the bridging article has no shared fact and 1 shared named "
                                         "actor(s) with it")]


MOONS = [  # two space stories naming NASA, and a second report of the first stating its figure in other words
    ("2024-05-01T08:00:00Z", "Water plumes spotted above Europa",
     "Astronomers using the Keck telescope in Hawaii detected water vapour above the surface of Europa, NASA said on "
     "Monday. The plumes release about 2,360 kilograms of water per second, enough to fill an Olympic pool within "
     "minutes. Lucas Paganini of the Goddard centre led the study."),
    ("2024-05-01T12:00:00Z", "First global map of Titan shows lakes and dunes",
     "Scientists have published the first global geologic map of Titan, using radar data from NASA. The map shows "
     "plains, dunes and lakes of liquid methane covering the surface. Rosaly Lopes of the Pasadena laboratory led the "
     "work, which appeared in the journal Icarus."),
    ("2024-05-01T15:00:00Z", "Icy moon vents water into space",
     "Roughly 2,360 kilograms of water per second escape from the plumes of Europa, researchers found. The vapour "
     "was measured from a mountain-top observatory over several nights in 2016 and 2017."),
]


def test_fact_check_keeps_a_look_alike_apart_end_to_end(tmp_path: Path) -> None:
    """Real text, real sentence vectors: a map of Titan naming NASA is refused the Europa story (a middling fit, no
    shared fact: logged as 'refuse'); a second Europa report joins it; without the fact check the Titan map joins
    too.  Online (one article per batch) equals the rebuild."""
    items = [rec(f"o{k}-moon", title, text, published=t) for k, (t, title, text) in enumerate(MOONS)]
    europa, titan, second = (i.id for i in items)  # type: ignore[attr-defined]
    for check in (True, False):
        with Store(tmp_path / f"{check}.db") as st:
            settings = Settings(db_path=st.path, line_classifier=False, translations=False, batch_size=1,
                                story_threshold=0.2, story_fact_check=check)
            ingest_items(items, st, settings)
            got = sql.assignments(st)
            assert got[second] == got[europa]
            assert (got[titan] != got[europa]) is check
            refused = st.conn.execute("SELECT story_id, article_id, detail FROM story_events WHERE kind = 'refuse'").fetchall()
            if check:
                assert [(r["story_id"], r["article_id"]) for r in refused] == [(story_id_for(europa), titan)]  # type: ignore[call-overload]
                assert "no shared fact" in refused[0]["detail"]  # type: ignore[call-overload]
                rebuild_stories(st, settings)
                assert sql.assignments(st) == got
            else:
                assert not refused


def test_fact_check_judges_by_claims_and_abstains_where_it_cannot(tmp_path: Path) -> None:
    """FactCheck: two reports of one event share a fact, a look-alike shares none; it abstains (None) without
    members, for a language the sentence model lacks (nothing embedded), or for an article without text; the
    claim vectors it computed are kept in the store, where the story page reads them."""
    from storyloom.compare.align import sentence_vectors
    from storyloom.stories.facts import FactCheck

    items = [rec(f"o{k}-moon", title, text, published=t) for k, (t, title, text) in enumerate(MOONS)]
    europa, titan, second = (i.id for i in items)  # type: ignore[attr-defined]
    calls: list[int] = []

    def embed(texts):  # type: ignore[no-untyped-def]
        calls.append(len(texts))
        return sentence_vectors(texts)

    with Store(tmp_path / "f.db") as st:
        ingest_items(items, st, lexical(st.path))
        facts = FactCheck(st, embed)
        assert facts.shares_fact(second, [europa], "en") is True
        assert facts.shares_fact(titan, [europa], "en") is False
        assert facts.shares_fact(titan, [europa, second], "en") is False
        assert facts.stats.checks == 3 and facts.stats.no_fact == 2
        before = len(calls)
        assert facts.shares_fact(titan, [], "en") is None
        assert facts.shares_fact(titan, [europa], "is") is None and facts.shares_fact(titan, [europa], None) is None
        assert len(calls) == before
        kept = FactCheck(st, lambda texts: None)  # a fresh check reads every vector from the store
        assert kept.shares_fact(second, [europa], "en") is True


def test_online_equals_rebuild_with_reach_roundups_and_checks(tmp_path: Path) -> None:
    """Online in tiny batches (stories reloaded from the store between them) gives what one rebuild gives, with
    growing reaches, continuations, weak round-up members and refused joins all in play."""
    items = [*coverage(), *wave_items(), roundup_item("2024-05-02T12:00:00Z"),
             rec("late-wave", WAVE[-1][1], WAVE[-1][2], published="2024-03-22T09:00:00Z")]
    with Store(tmp_path / "o.db") as st:
        ingest_items(items, st, lexical(st.path, batch_size=2, **REACH))
        online = sql.assignments(st)
        reasons = Counter(r[0] for r in st.conn.execute("SELECT reason FROM story_members"))
        rebuild_stories(st, lexical(st.path, **REACH))
        assert sql.assignments(st) == online
    assert reasons["roundup"] == 1 and len(set(online.values())) == 4


def test_batch_document_keys_are_the_stage_s() -> None:
    """The batch engines count document frequencies with represent.doc_keys; the stage with rep_keys of its
    representation: the same keys (terms, and entities as "@name"), or batch IDF would differ from local."""
    from storyloom.stories import rep_keys
    from storyloom.stories.online import new_rep
    from storyloom.stories.represent import doc_keys

    title, text = EVENTS["flood"]
    row = {"id": "a", "title": title, "text": text, "published": "2024-05-01T08:00:00Z", "ingested_at": "x"}
    keys = doc_keys(title, text)
    assert sorted(keys) == sorted(rep_keys(new_rep(row, None))) and "@danu" in keys and "flooded" in keys


def test_top_order_ranks_as_the_full_stable_sort() -> None:
    """The dense candidates' top-k equals the full stable argsort's first k, ties (many, at the cut) included."""
    from storyloom.stories import top_order

    rng = np.random.default_rng(23)
    for n, k in ((0, 5), (3, 5), (60, 60), (61, 60), (500, 60), (2000, 7)):
        for values in (rng.standard_normal(n).astype(np.float32),
                       rng.integers(0, 4, n).astype(np.float32),  # heavy ties, also at the k-th value
                       np.zeros(n, dtype=np.float32)):
            assert top_order(values, k).tolist() == np.argsort(-values, kind="stable")[:k].tolist()
    with_nan = rng.standard_normal(100).astype(np.float32)
    with_nan[[3, 50]] = np.nan
    assert top_order(with_nan, 99).tolist() == np.argsort(-with_nan, kind="stable")[:99].tolist()


def test_document_frequencies_kept_for_the_pass_give_what_reading_them_every_chunk_gives(
        tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A pass reads each term's document frequency once and counts the chunks' articles in memory; with nothing
    kept (the store read again for every chunk) the stories, their terms and term_df are the same."""
    import storyloom.stories as stories_mod

    def run(name: str) -> tuple[object, ...]:
        with Store(tmp_path / f"{name}.db") as st:
            ingest_items(coverage(), st, lexical(st.path, run_stories=False))
            reads: list[int] = []  # terms asked for, statement by statement
            st.conn.set_trace_callback(lambda q: reads.append(q.count(",") + 1) if "FROM term_df" in q else None)
            build_stories(st, lexical(st.path, story_workers=0), chunk=2)
            st.conn.set_trace_callback(None)
            tables = [st.conn.execute(f"SELECT {cols} FROM {t} ORDER BY 1, 2").fetchall() for t, cols in (
                ("stories", "id, label, first_seen, last_seen, n_articles, terms, entities"), ("story_members", "*"),
                ("term_df", "*"), ("counters", "*"))]
            return [[tuple(r) for r in rows] for rows in tables], sum(reads)

    kept, kept_reads = run("kept")
    monkeypatch.setattr(stories_mod, "DF_IN_MEMORY", 0)  # memory dropped before every chunk: the old way
    fresh, fresh_reads = run("fresh")
    assert kept == fresh
    assert kept[2] and kept_reads < fresh_reads  # later chunks read only the terms no earlier chunk asked for
