"""Views of a claim (compare/views.py): the fact clauses inside a sentence, so a fact is found whatever frames it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from storyloom.compare.views import MAX_VIEWS, MIN_VIEW_WORDS, views


def test_reporting_frames_give_their_complement() -> None:
    got = views("The results of the talks between the two ministers indicate that Beijing is increasingly at odds "
                "with Moscow on the war.")
    assert got[1] == "Beijing is increasingly at odds with Moscow on the war."
    got = views("The Russian ministry said the ministers discussed a number of regional topics, including the war.")
    assert "The ministers discussed a number of regional topics, including the war." in got


def test_a_sentence_with_two_facts_gives_both() -> None:
    s = ("The ISW noted that the Chinese and Russian ministries had “portrayed the conversation between Lavrov and "
         "Wang differently,” suggesting that Beijing “is increasingly diverging with Russia on the war.”")
    got = views(s)
    assert got[0] == s
    assert "Beijing is increasingly diverging with Russia on the war." in got  # quotes dropped
    assert "The Chinese and Russian ministries had portrayed the conversation between Lavrov and Wang differently." in got


def test_trailing_attribution_and_relative_tail() -> None:
    assert views("The conversation was presented in different ways in the two reports, ISW notes.")[1] == \
        "The conversation was presented in different ways in the two reports."
    got = views("The call took place on Monday after the summit in Saudi Arabia, where Russia was not invited.")
    assert got[1] == "The call took place on Monday after the summit in Saudi Arabia."


def test_plain_and_short_sentences_are_their_one_view() -> None:
    assert views("The cat sat on the mat.") == ["The cat sat on the mat."]
    assert views("He said that it rained.") == ["He said that it rained."]  # the clause is too short to stand alone
    assert views("Лавров заявил, что переговоры прошли успешно.") == ["Лавров заявил, что переговоры прошли успешно."]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_views_of_any_text(s: str) -> None:
    got = views(s)
    assert got[0] == s and 1 <= len(got) <= MAX_VIEWS
    assert all(len(v.split()) >= MIN_VIEW_WORDS for v in got[1:])
    assert len(set(got)) == len(got)
