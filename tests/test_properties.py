"""Property tests (hypothesis) of the hand-made algorithms against plain references: the word edit distance,
the vectorised claim scoring against the scalar one it claims to equal, the anchor LCS, and the ISO time
helpers of the stories and the story page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storyloom.compare.features import ClaimAligner, SentencePrint, levenshtein, pair_features
from storyloom.compare.scoring import scored_pairs
from storyloom.copies.translation import _lcs

# no per-example deadline: on a loaded machine (CI shares its cores) a slow example is not a failure
NO_DEADLINE = settings(deadline=None)
SMALL = st.lists(st.sampled_from(["a", "b", "c", "d", "the", "Lavrov", "5"]), max_size=25)


def dp_levenshtein(a: list[str], b: list[str]) -> int:
    """The textbook dynamic programme: insert, delete, substitute, each costing 1."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def dp_lcs(a: list[str], b: list[str]) -> int:
    """The textbook longest common subsequence."""
    t = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a)):
        for j in range(len(b)):
            t[i + 1][j + 1] = t[i][j] + 1 if a[i] == b[j] else max(t[i][j + 1], t[i + 1][j])
    return t[-1][-1]


# -- word edit distance ------------------------------------------------------------------------------------


@NO_DEADLINE
@given(SMALL, SMALL)
def test_levenshtein_is_the_dp_distance(a: list[str], b: list[str]) -> None:
    d = levenshtein(a, b)
    assert d == dp_levenshtein(a, b)
    assert d == levenshtein(b, a) == levenshtein(tuple(a), tuple(b))
    assert (d == 0) == (a == b)
    assert abs(len(a) - len(b)) <= d <= max(len(a), len(b))


UNICODE = st.sampled_from(["", "é", "e\u0301", "Лавров", "日本", "🙂", "a b", "x", "y", "the", "\x00"])


@NO_DEADLINE
@given(st.lists(UNICODE, max_size=90), st.lists(UNICODE, max_size=90))
def test_levenshtein_on_long_and_unicode_tokens(a: list[str], b: list[str]) -> None:
    # past 64 tokens a bit-parallel distance needs more than one machine word: the block boundary is covered
    assert levenshtein(a, b) == dp_levenshtein(a, b)


# -- the vectorised claim scoring against pair_features + ClaimAligner.proba ----------------------------------

VOCAB = ["the", "minister", "said", "on", "Tuesday", "Lavrov", "Wang", "Yi", "met", "in", "Beijing", "Moscow",
         "talks", "peace", "plan", "Ukraine", "war", "5", "12", "km", "$3 million", "40 percent", "1,200 people",
         "troops", "left", "of", "and", "Лавров", "was", "not"]
SENTENCE = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=14).map(" ".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(SENTENCE, st.integers(0, 3), st.integers(-1, 1)), min_size=2, max_size=14),
       st.booleans(), st.booleans(), st.integers(0, 2**32 - 1))
def test_scored_pairs_agree_with_the_scalar_features(rows: list[tuple[str, int, int]], with_vectors: bool,
                                                     with_lang: bool, seed: int) -> None:
    """Every pair of different groups whose scalar probability reaches its model's threshold is returned, with
    that probability (and that threshold); a pair left out is below its threshold -- the docstring's promise."""
    model = ClaimAligner.load()
    prints = [SentencePrint.of(s) for s, _, _ in rows]
    gid = np.array([g for _, g, _ in rows])
    lang = np.array([lg for _, _, lg in rows]) if with_lang else None
    vectors = None
    if with_vectors:
        dim = len(model.head.w) if model.head is not None else 8  # the head's size: its vectorised path is checked too
        v = np.random.default_rng(seed).normal(size=(len(rows), dim)).astype(np.float32)
        vectors = v / np.linalg.norm(v, axis=1, keepdims=True)
    ii, jj, p, thr = scored_pairs(prints, gid, vectors, model, lang)
    got = {(int(i), int(j)): (float(q), float(t)) for i, j, q, t in zip(ii, jj, p, thr)}
    cross_used = lang is not None and model.cross is not None and len(set(lang.tolist()) - {-1}) > 1
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            if gid[i] == gid[j]:
                assert (i, j) not in got
                continue
            cross = cross_used and lang is not None and lang[i] != lang[j] and lang[i] >= 0 and lang[j] >= 0
            m = model.cross if cross and model.cross is not None else model
            cos = float(vectors[i] @ vectors[j]) if vectors is not None else None
            head = model.head_of(vectors[i], vectors[j]) if vectors is not None else None
            want = m.proba([pair_features(prints[i], prints[j], cos, head)])[0]
            if (i, j) in got:
                q, t = got[(i, j)]
                assert abs(q - want) < 1e-6, (rows[i][0], rows[j][0], q, want)
                assert t == m.threshold
            else:
                assert want < m.threshold + 1e-9, (rows[i][0], rows[j][0], want, m.threshold)


# -- the anchor LCS of translation checks ---------------------------------------------------------------------


@NO_DEADLINE
@given(SMALL, SMALL)
def test_lcs_is_the_dp_lcs(a: list[str], b: list[str]) -> None:
    n = _lcs(a, b)
    assert n == dp_lcs(a, b) == _lcs(b, a)
    assert n <= min(len(a), len(b)) and _lcs(a, a) == len(a)


@settings(max_examples=10, deadline=None)
@given(st.lists(st.sampled_from("xyz"), min_size=301, max_size=340), st.lists(st.sampled_from("xyz"), max_size=340))
def test_lcs_reads_only_the_first_300_anchors(a: list[str], b: list[str]) -> None:
    assert _lcs(a, b) == dp_lcs(a[:300], b[:300])


# -- ISO time helpers ----------------------------------------------------------------------------------------
# One module parses the stored ISO times for every stage (storyloom.timeparse): a naive time is UTC, a bare date
# is noon UTC as an instant and its whole day as a range bound.

MOMENTS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1),
                       timezones=st.one_of(st.none(), st.just(UTC),
                                           st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))))


def _as_utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)  # a naive time is read as UTC


@NO_DEADLINE
@given(MOMENTS, st.booleans())
def test_full_times_parse_alike(dt: datetime, zulu: bool) -> None:
    from storyloom.timeparse import hours_between, maybe_time, shift, timestamp

    iso = dt.isoformat()
    if zulu and dt.tzinfo is UTC:
        iso = iso.replace("+00:00", "Z")
    want = _as_utc(dt).timestamp()
    assert abs(timestamp(iso) - want) < 1e-6
    assert maybe_time(iso) is not None and abs(maybe_time(iso).timestamp() - want) < 1e-6  # type: ignore[union-attr]
    assert hours_between(iso, iso) == 0
    shifted = shift(iso, 0)  # normalised to UTC, to the second
    assert shifted.endswith("Z") and abs(timestamp(shifted) - int(want // 1)) < 1.0 + 1e-6


@NO_DEADLINE
@given(MOMENTS, st.floats(-400, 400, allow_nan=False))
def test_shift_moves_by_the_days(dt: datetime, days: float) -> None:
    from storyloom.timeparse import shift

    iso = dt.isoformat()
    want = _as_utc(dt) + timedelta(days=days)
    got = datetime.fromisoformat(shift(iso, days).replace("Z", "+00:00"))
    assert abs((got - want).total_seconds()) < 1.0  # shift drops the fraction of a second


@NO_DEADLINE
@given(st.dates(min_value=datetime(1990, 1, 1).date(), max_value=datetime(2060, 1, 1).date()))
def test_a_bare_date(day: object) -> None:
    from storyloom.timeparse import end_of_day, shift, start_of_day, timestamp

    iso = str(day)
    noon = datetime.fromisoformat(iso).replace(tzinfo=UTC) + timedelta(hours=12)
    assert timestamp(iso) == noon.timestamp()  # one rule everywhere: the middle of the day printed
    assert shift(iso, 1) == (noon + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # as range bounds a date covers its whole day, and sorts around every stored time of that day
    assert start_of_day(iso) <= f"{iso}T00:00:00Z" and f"{iso}T23:59:59Z" <= end_of_day(iso)
    assert end_of_day(iso) < shift(iso, 1)


@given(st.text(max_size=40))
def test_untrusted_times_never_raise_through_maybe_time(text: str) -> None:
    from storyloom.timeparse import maybe_time

    maybe_time(text)  # None or a time; never an exception
