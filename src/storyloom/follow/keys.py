"""Match keys: what a new article must carry for a subscription to be worth checking.

Matching never loops over subscriptions: each subscription is indexed under keys (``story:ID``, ``outlet:name``,
``entity:key``, ``term:word``, ``prefix:ab``) and each new article's keys are looked up.  For a saved search the
keys are every word of its FTS5 query: any row an FTS5 query matches contains at least one of its words that
is not negated, so the articles carrying none of them can be skipped, and the few that carry one are confirmed
by the real FTS5 query on the new rows only.  Extra keys (a negated word, a column name) only add candidates;
the words are cut the way the store's ``unicode61 remove_diacritics 2`` tokenizer cuts them, so none is missed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

PREFIX_LEN = 3  # a prefix query ("flood*") is indexed by its first letters, the articles by theirs
_TOKEN = re.compile(r"[^\W_]+")
_OPERATORS = {"AND", "OR", "NOT", "NEAR"}


def fold(text: str) -> str:
    """Case-folded, without diacritics: FTS5's unicode61 with remove_diacritics 2."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def words(text: str) -> set[str]:
    return set(_TOKEN.findall(fold(text)))


def article_term_keys(text: str) -> set[str]:
    """The keys a new article offers to saved searches: its words and their short prefixes."""
    out: set[str] = set()
    for w in words(text):
        out.add("term:" + w)
        for n in range(1, min(PREFIX_LEN, len(w)) + 1):
            out.add("prefix:" + w[:n])
    return out


def search_keys(query: str) -> set[str]:
    """The keys of a saved search (see the module docstring); empty when the query has no word at all."""
    keys: set[str] = set()
    # a bare word or a quoted phrase, with the '*' that makes its last word a prefix
    for m in re.finditer(r'"((?:[^"]|"")*)"(\s*\*)?|([^\s"()*:^+{}\-]+)(\s*\*)?', query):
        phrase, star = (m.group(1), m.group(2)) if m.group(1) is not None else (m.group(3), m.group(4))
        if m.group(3) is not None and phrase in _OPERATORS:
            continue
        toks = _TOKEN.findall(fold(phrase.replace('""', '"')))
        for i, t in enumerate(toks):
            if star and i == len(toks) - 1:
                keys.add("prefix:" + t[:PREFIX_LEN])
            else:
                keys.add("term:" + t)
    return keys


def entity_keys(name: str) -> list[str]:
    """The name anchors the stages extract for an entity (see :func:`storyloom.enrich.anchors.anchors_in`):
    a person, organisation or place is found in an article when all of its anchors are."""
    from storyloom.enrich.anchors import anchors_in

    titled = " ".join(w[:1].upper() + w[1:] for w in name.split())
    return list(dict.fromkeys(anchors_in(["The " + titled])))


def outlet_key(name: str) -> str:
    return "outlet:" + fold(name.strip())


def all_keys(kind: str, target: str) -> set[str]:
    """Every key a subscription is indexed under."""
    if kind == "story":
        return {"story:" + target}
    if kind == "outlet":
        return {outlet_key(target)}
    if kind == "entity":
        return {"entity:" + k for k in entity_keys(target)[:1]}
    return search_keys(target)


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
