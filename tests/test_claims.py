"""Claim units: a sentence that carries two facts becomes two claims, so each can align with the outlet that
reports it on its own (the seeds' "While the Russians claimed …, China reported …")."""

from __future__ import annotations

from storyloom.compare.claims import extract_claims


def texts(s: str) -> list[str]:
    return [c.text for c in extract_claims("a", s)]


def test_a_contrast_sentence_is_two_claims() -> None:
    s = ("While the Russians claimed several hot regional topics, including the war, had been discussed, China "
         "reported the two sides had exchanged views about the conflict alone.")
    assert texts(s) == ["The Russians claimed several hot regional topics, including the war, had been discussed.",
                        "China reported the two sides had exchanged views about the conflict alone."]


def test_short_or_plain_sentences_stay_whole() -> None:
    for s in ("While in Paris, he met the president.", "The river rose two metres overnight, officials said.",
              "While the talks went on, nothing was agreed."):
        assert texts(s) == [s]


def test_claims_keep_their_order_and_attribution() -> None:
    claims = extract_claims("a", "Prices rose, officials said. While shops closed early on Monday, Banks stayed open "
                                 "until late in the evening.")
    assert [c.index for c in claims] == [0, 1, 2] and claims[0].source == "officials"
