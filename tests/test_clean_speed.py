"""The cleaning's shortcuts give the answers of the work they skip (issue 23: cheaper cleaning, same output)."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from storyloom.clean import rules
from storyloom.clean.classifier import LineClassifier, content_words, context_features, line_features
from storyloom.clean.rules import WORD, Keyed
from storyloom.clean.text import _word_counts

# Lines that each keyed pattern matches, near misses, and the characters re.IGNORECASE folds that str.lower
# does not ("ſ" for s, "İ"/"ı" for i, the Kelvin sign for k), in and out of ASCII lines.
LINES = [
    "We use cookies to improve your experience.", "WE USE YOUR SIGN-UP to send you emails",
    "By clicking Accept, you agree", "by ſubſcribing you agree", "Prİvacy Policy and terms", "prıvacy notice for you",
    "Sign up to our daily newsletter", "Enter your \u212amail", "Enter your email", "Invalid email address",
    "Something went wrong, please try again later.", "Get the latest headlines delivered to your inbox",
    "This site is protected by reCAPTCHA and the Google", "You’ve consented to the use of cookies",
    "Thank you for subscribing!", "adverts from us and 3rd parties",
    "© 2024 The Daily Ledger", "(C) Copyright 2019 Foo Ltd", "Copyright 2020. All Rights Reserved.",
    "CΟPYRIGHT with a Greek omicron", "All rights reserved", "Photo: Getty Images", "(AP Photo/John Doe)",
    "Reuters", "EPA-EFE via Getty", "A report by AFP", "Shutterstock", "© Xinhua", "TASS",
    "Economy slumps to a new low [ECONOMY]", "[VIDEO] Watch the rescue as it happened", "a [tag] lower case",
    ".css-1x2y { width: 100%; }", "@media (max-width: 600px)", "googletag.cmd.push(function() {",
    "window.dataLayer = window.dataLayer || [];", "document.write('x')", "var x = 3;", "<script src=x>",
    "function (a, b) { return a; }", "The council met on Tuesday to discuss the budget, which rose 4%.",
    "Он сказал, что «всё будет хорошо».", "日本の首相は火曜日に記者会見を開いた。", "",
]
KEYED = [(name, value) for name, value in vars(rules).items() if isinstance(value, Keyed)]


def _variants(rng: random.Random, line: str) -> str:
    chars = list(line)
    for _ in range(rng.randrange(3)):
        if chars:
            i = rng.randrange(len(chars))
            chars[i] = rng.choice([chars[i].upper(), chars[i].lower(), "ſ", "ı", "İ", "\u212a", "’", " "])
    return "".join(chars)


def test_keyed_patterns_answer_as_their_regex() -> None:
    assert {name for name, _ in KEYED} >= {"_CSS_JS", "_SECTION_TAG", "_AGENCY", "_COPYRIGHT_LINE"}
    consent = rules._CONSENT  # a rule built by _rx with keys: its Keyed sits in the closure
    rng = random.Random(23)
    lines = LINES + [_variants(rng, ln) for ln in LINES for _ in range(30)]
    for name, keyed in KEYED:
        for line in lines:
            assert keyed(line) == bool(keyed.pattern.search(line)), (name, line)
    plain = re.compile(consent.__closure__[0].cell_contents.pattern.pattern, re.I)  # type: ignore[index]
    for line in lines:
        ctx = rules.LineContext((line,), 0, None, Counter())
        assert consent(ctx) == bool(plain.search(line)), line
    # the folds re.IGNORECASE makes and str.lower does not are what the keys are looked up in
    assert consent(rules.LineContext(("by ſubſcribing you agree",), 0, None, Counter()))
    assert consent(rules.LineContext(("Prİvacy Policy and terms",), 0, None, Counter()))


def test_keyed_refuses_keys_a_case_folded_line_cannot_hold() -> None:
    with pytest.raises(ValueError):
        Keyed("Cookie", re.I, ("Cookie",))
    assert Keyed("©", re.I, ("©",))("© 2020")


def test_word_counts_are_the_long_words_lower_cased() -> None:
    lines = ("Straße and STRASSE, İstanbul's ſtreet: the Café", "abc abcd ABCDE 1234 x_yz", "日本の首相 Πόλη ΟΔΟΣ")
    expect = Counter(w.lower() for line in lines for w in WORD.findall(line) if len(w) > 3)
    assert _word_counts(lines) == expect


def test_classifier_shares_content_words_across_passes() -> None:
    lines = ["Share this article", "The minister said the budget would rise next year.",
             "Ministers met on Tuesday; the budget talks went on late.", "Read more: other news", "Subscribe"]
    words = content_words(lines)
    x = line_features(lines)
    assert x == line_features(lines, words)
    p = [0.2, 0.1, 0.1, 0.9, 0.8]
    assert context_features(p, x, lines) == context_features(p, x, lines, words)
    assert context_features(p, x) == context_features(p, x, None, [set() for _ in lines])
    assert len(LineClassifier.load().boilerplate_proba(lines)) == len(lines)


def test_logistic_gives_the_bits_of_the_plain_dot_product() -> None:
    """operator.mul in the classifier's dot products: the same floats, summed in the same order."""
    from storyloom.clean.classifier import _Logistic, _sigmoid

    rng = random.Random(5)
    n = 7
    spec = {"coef": [rng.uniform(-3, 3) for _ in range(n)], "mean": [rng.uniform(-1, 1) for _ in range(n)],
            "scale": [rng.uniform(0.1, 2) for _ in range(n)], "intercept": rng.uniform(-1, 1)}
    model = _Logistic(spec, n)
    rows = [[rng.uniform(-5, 5) for _ in range(n)] for _ in range(200)] + [[0, 1, 0, 1, 0, 1, 0]]
    expect = [_sigmoid(model.b + sum(map(float.__mul__, model.w, [float(v) for v in r]))) for r in rows]
    assert model.proba(rows) == expect  # type: ignore[arg-type]
