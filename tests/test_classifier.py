"""The learned line classifier (storyloom.clean.classifier): the shipped model, its API and its manners."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest

from conftest import SAMPLE
from storyloom.clean.classifier import CONTEXT_FEATURES, LINE_FEATURES, LineClassifier, line_features

ARTICLE = [
    "Cracks have started to show in the partnership between China and Russia, and the war in Ukraine appears "
    "to be the leading point of contention.",
    "While Beijing has maintained what it claimed to be a neutral position since the start of the invasion, "
    "refusing to condemn Moscow, the People's Republic has also called for an end to the conflict.",
    "This week Chinese representatives attended an international summit in Saudi Arabia led by Kyiv to establish "
    "a framework for peace, and praised Ukraine for its effort.",
    "The officials spoke on condition of anonymity because the aid has not yet been publicly announced.",
    "Ukraine has already received more than $43 billion from the US since Russia invaded last year.",
]
FURNITURE = [
    "Share this article on Facebook",
    "Accept all cookies",
    "© 2023 Example Media. All rights reserved.",
]


@pytest.fixture(scope="module")
def model() -> LineClassifier:
    return LineClassifier.load()


def test_model_ships_in_the_package_and_loads_cheaply(model: LineClassifier) -> None:
    spec = json.loads(resources.files("storyloom").joinpath("data", "line_model.json").read_text(encoding="utf-8"))
    assert spec["line_features"] == list(LINE_FEATURES)
    assert spec["context_features"] == list(CONTEXT_FEATURES)
    assert 0.0 < model.threshold < 1.0 and model.threshold == spec["threshold"]
    assert LineClassifier.load() is model  # the default instance is cached
    t = time.perf_counter()
    for _ in range(100):
        LineClassifier.load()
    assert time.perf_counter() - t < 0.05
    assert len(resources.files("storyloom").joinpath("data", "line_model.json").read_bytes()) < 200_000


def test_load_from_a_path(tmp_path: Path, model: LineClassifier) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(model.spec), encoding="utf-8")
    other = LineClassifier.load(str(path))
    assert other is not model
    assert other.boilerplate_proba(ARTICLE + FURNITURE) == model.boilerplate_proba(ARTICLE + FURNITURE)


def test_a_model_for_other_features_is_refused(tmp_path: Path, model: LineClassifier) -> None:
    spec = dict(model.spec, line_features=list(LINE_FEATURES)[:-1])
    path = tmp_path / "m.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(ValueError, match="retrain"):
        LineClassifier.load(str(path))


def test_probabilities_in_range_one_per_line_and_deterministic(model: LineClassifier) -> None:
    lines = ARTICLE + FURNITURE + ["Menu", "Home", "|", "•", "2019-11-19 08:38", "x" * 5000, "ünïcödé ✓ 日本語のテキスト"]
    p = model.boilerplate_proba(lines)
    assert len(p) == len(lines)
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 and not math.isnan(v) for v in p)
    assert model.boilerplate_proba(lines) == p
    assert model.boilerplate_proba(tuple(lines)) == p
    assert model.is_boilerplate(lines) == [v >= model.threshold for v in p]


def test_obvious_furniture_is_flagged_and_article_sentences_kept(model: LineClassifier) -> None:
    doc = ARTICLE[:3] + FURNITURE + ARTICLE[3:]
    p = dict(zip(doc, model.boilerplate_proba(doc)))
    for line in FURNITURE:
        assert p[line] >= model.threshold, (line, p[line])
    for line in ARTICLE:
        assert p[line] < model.threshold, (line, p[line])


def test_furniture_alone_and_in_a_page_dump(model: LineClassifier) -> None:
    menu = ["Home", "News", "Sport", "Business", "Opinion", "Culture", "Search", "Sign in"]
    doc = menu + ARTICLE + FURNITURE + ["Related stories", "Newsletter sign up", "Terms of use", "Privacy policy"]
    p = model.boilerplate_proba(doc)
    for line, v in zip(doc, p):
        if line in ARTICLE:
            assert v < model.threshold, (line, v)
    assert sum(v >= model.threshold for v in p[: len(menu)]) >= len(menu) - 1
    assert all(v >= model.threshold for v in p[len(menu) + len(ARTICLE) :])


def test_a_clean_article_loses_nothing(model: LineClassifier) -> None:
    for n in range(1, len(ARTICLE) + 1):
        assert not any(model.is_boilerplate(ARTICLE[:n])), n


def test_edge_cases(model: LineClassifier) -> None:
    assert model.boilerplate_proba([]) == []
    assert len(model.boilerplate_proba([ARTICLE[0]])) == 1
    assert model.boilerplate_proba([ARTICLE[0]])[0] < model.threshold
    assert len(model.boilerplate_proba(["", "   "])) == 2  # callers pass non-empty lines, but no crash
    with pytest.raises(TypeError):
        model.boilerplate_proba("one string, not lines")  # type: ignore[arg-type]


def test_ten_thousand_lines_quickly(model: LineClassifier) -> None:
    rng = random.Random(7)
    pool = ARTICLE + FURNITURE + ["Home", "Read more", "Photo: Getty Images", "12 comments"]
    lines = [rng.choice(pool) + f" {i}" for i in range(10_000)]
    t = time.process_time()  # CPU, not wall: other jobs on the machine must not fail this
    p = model.boilerplate_proba(lines)
    elapsed = time.process_time() - t
    assert len(p) == 10_000
    assert elapsed < 10.0  # ~1 s on a laptop; generous for loaded CI machines


def test_inference_needs_neither_numpy_nor_sklearn() -> None:
    rows = line_features(ARTICLE)
    assert len(rows) == len(ARTICLE) and all(len(r) == len(LINE_FEATURES) for r in rows)
    code = (
        "import sys\n"
        "from storyloom.clean.classifier import LineClassifier\n"
        "LineClassifier.load().boilerplate_proba(['Home', 'A sentence of an article, long enough to count.'])\n"
        "bad = [m for m in ('sklearn', 'numpy', 'scipy') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_seed_articles_keep_every_sentence(model: LineClassifier) -> None:
    """The two scraped seed articles (bundled in sample/seeds): the classifier may remove furniture, never a
    sentence of the story."""
    article_lines = 0
    paths = sorted((SAMPLE / "seeds").glob("*.txt"))
    assert len(paths) == 2
    for path in paths:
        lines = [x.strip() for x in path.read_text(encoding="utf-8").split("\n") if x.strip()]
        for line, p in zip(lines, model.boilerplate_proba(lines)):
            if p >= model.threshold:
                assert _is_seed_furniture(line), (path.name, line, p)
            elif not _is_seed_furniture(line):
                article_lines += 1
    assert article_lines == 28  # the headline and all 27 sentences/paragraphs of the two stories


def _is_seed_furniture(line: str) -> bool:
    return line.startswith(("READ MORE", "Follow our", "Source:", "We use your sign-up", ".in_text", "I am David")) \
        or line.endswith(("[VIDEO]", "[ECONOMY]", "[ANALYSIS]")) or line == "Navy sailors arrested for selling military secrets to China"
