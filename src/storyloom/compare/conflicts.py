"""The same fact with a different figure: a conflict, shown as such — never a match, never "only in one".

The aligner scores a sentence pair whose numbers disagree *down* (two sentences that differ in a figure are
usually two facts), so "12 killed" and "15 killed" in two outlets would land in two rows, each "only in one
outlet": exactly the misleading picture a reader must not get.  This pass looks again at the pairs of claims
from different articles that carry a value in the same unit and disagree on it, and calls them a conflict when
the rest of the two sentences says the same thing: a high sentence-embedding cosine *and* shared content
(a name, or enough shared words once the numbers are set aside).  Candidates are only claims with a unit-bearing
figure, so the pass is small even for a large story.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

COSINE = 0.70  # USE cosine of the two sentences: close paraphrase (related sentences of one story reach 0.6)
MIN_SHARED_WORDS = 0.30  # Jaccard of content words, numbers left out, with a shared name…
MIN_SHARED_WORDS_NO_NAME = 0.45  # …or without one
SAME_VALUE = 0.015  # values this close (relative) are one figure written two ways: $129 and $129.99, 10 and 9.99
MAX_CANDIDATES = 2_000  # unit-bearing claims considered (the earliest), so a huge story stays bounded
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_STOP = frozenset("""the and for that with from this have has had were was are not but its their they said says
will would could about after before into over than then there which who whom what when where while also more
less most least been being some many much very just only""".split())


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(unicodedata.normalize("NFKC", text).casefold()) if w not in _STOP)


def same_value(x: float, y: float, unit: str = "") -> bool:
    """One figure written two ways (rounded, or to the cent)?  Dates only when equal."""
    if unit == "date":
        return x == y
    return x == y or abs(x - y) <= SAME_VALUE * max(abs(x), abs(y))


def units_of(claim: dict[str, Any]) -> dict[str, dict[float, str]]:
    """unit → value → the text that gave it ("$160 billion"); the day of the year of a date the sentence gives
    is the unit "date" (month and day: a year alone is too coarse to call two dates different)."""
    out: dict[str, dict[float, str]] = {}
    for q in claim.get("quantities", ()):
        unit = q.get("unit") or ""
        if unit and unit != "year":
            out.setdefault(unit, {}).setdefault(float(q["value"]), str(q.get("text") or q["value"]))
    for iso in claim.get("dates", ()):
        day = month_day(str(iso))
        if day is not None:
            out.setdefault("date", {}).setdefault(float(day), str(iso).lstrip("-"))
    return out


def month_day(iso: str) -> int | None:
    """``--08-07`` or ``2023-08-07`` → 807 (dates compared by month and day); None when the day is unknown."""
    parts = iso.lstrip("-").split("-")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[-2:]):
        return None
    month, day = int(parts[-2]), int(parts[-1])
    return month * 100 + day if 1 <= month <= 12 and 1 <= day <= 31 else None


def _disagree(a: dict[str, dict[float, str]], b: dict[str, dict[float, str]]) -> dict[str, tuple[list[str], list[str]]]:
    """Units both give, where no value of one is the same figure as a value of the other (a sentence giving 12
    and 15 against one giving 15 agrees on 15: not a conflict)."""
    out = {}
    for u in sorted(a.keys() & b.keys()):
        if not any(same_value(x, y, u) for x in a[u] for y in b[u]):
            out[u] = ([a[u][v] for v in sorted(a[u])], [b[u][v] for v in sorted(b[u])])
    return out


def find_conflicts(claims: Sequence[dict[str, Any]], vectors: np.ndarray | None,
                   row_of: Sequence[int]) -> list[dict[str, Any]]:
    """Conflicting pairs among ``claims`` (claim dicts with ``article_id``, ``text``, ``quantities``,
    ``entities``), ``vectors`` their unit-norm sentence embeddings (None: the pass is skipped, it needs them),
    ``row_of[i]`` the claim-matrix row of claim i.  Returns ``{"a": i, "b": j, "unit", "values": {"a": [texts],
    "b": [texts]}, "cosine"}`` for each conflicting pair, at most one per pair of rows."""
    if vectors is None or len(claims) < 2:
        return []
    idx = [i for i, c in enumerate(claims) if units_of(c)][:MAX_CANDIDATES]
    if len(idx) < 2:
        return []
    units = {i: units_of(claims[i]) for i in idx}
    words = {i: _words(claims[i]["text"]) for i in idx}
    names = {i: {e.casefold() for e in claims[i].get("entities", ())} for i in idx}
    sub = vectors[idx]
    cos = sub @ sub.T
    out: list[dict[str, Any]] = []
    seen_rows: set[tuple[int, int]] = set()
    ii, jj = np.nonzero(np.triu(cos >= COSINE, 1))
    for a_pos, b_pos in sorted(zip(ii.tolist(), jj.tolist()), key=lambda p: (-float(cos[p[0], p[1]]), p)):
        i, j = idx[a_pos], idx[b_pos]
        if claims[i]["article_id"] == claims[j]["article_id"] or row_of[i] == row_of[j]:
            continue
        rows = (min(row_of[i], row_of[j]), max(row_of[i], row_of[j]))
        if rows in seen_rows:
            continue
        differ = _disagree(units[i], units[j])
        if not differ:
            continue
        union = words[i] | words[j]
        shared = len(words[i] & words[j]) / len(union) if union else 0.0
        if shared < (MIN_SHARED_WORDS if names[i] & names[j] else MIN_SHARED_WORDS_NO_NAME):
            continue
        unit = sorted(differ)[0]
        va, vb = differ[unit]
        seen_rows.add(rows)
        out.append({"a": i, "b": j, "unit": unit, "values": {"a": va, "b": vb},
                    "cosine": round(float(cos[a_pos, b_pos]), 3)})
    return out
