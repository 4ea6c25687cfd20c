"""The story page tells a translated copy from an outlet's own report in another language (issue 20)."""

from __future__ import annotations

from storyloom.readmodels import StoryMember
from storyloom.serve.views import language_relations


def member(aid: str, outlet: str, lang: str | None) -> StoryMember:
    return StoryMember(id=aid, title=f"title {aid}", outlet=outlet, language=lang, time="2026-01-01T12:00:00Z",
                       score=1.0, reason="joined")


def test_translations_and_own_reports_in_other_languages() -> None:
    members = [member("a", "Reuters", "en"), member("b", "AP", "en"), member("c", "Buna Times", "en"),
               member("d", "RIA", "ru"), member("e", "Le Monde", "fr"), member("f", "Mainichi", "ja")]
    edges = [
        {"source": "article:c", "target": "article:d", "kind": "translated-from", "directed": True},
        {"source": "article:f", "target": "article:a", "kind": "translated-from", "directed": False},
        {"source": "article:b", "target": "article:a", "kind": "copy-of", "directed": True},
        {"source": "article:x", "target": "article:a", "kind": "translated-from", "directed": True},  # not a member
    ]
    got = language_relations(members, edges)
    assert got["c"] == "translated from RIA (ru)"
    assert got["f"] == "translation of Reuters (en)" and got["a"] == "translation of Mainichi (ja)"
    assert got["d"] == "own report in ru"  # the original of a translation is still its outlet's own report
    assert got["e"] == "own report in fr"
    assert "b" not in got  # same language, a copy: nothing to say about languages


def test_one_language_and_no_language() -> None:
    assert language_relations([member("a", "X", "en"), member("b", "Y", "en")], []) == {}
    assert language_relations([member("a", "X", None), member("b", "Y", "de")], []) == {}
    assert language_relations([], []) == {}
