"""Exact classes: the articles whose normalised texts are identical, kept as a star around one representative.

Comparing every pair of identical texts is quadratic (10,000 copies of a wire story made 50 million exact
links and never finished), and it buys nothing: two texts with the same exact key have the same words, so
the same shingles, the same sketch and the same verdict against any third text.  So a class keeps

* one **representative**, its smallest article id (order-independent: the same articles give the same
  representative and links whatever the order they arrived in, and the batch engines can compute it too);
* one ``exact`` link from the representative to each other member (linear; the evidence a user sees);
* bucket entries (bands, sentence keys, anchors) for the representative only, so a heap of copies fills
  each bucket with one entry, and a new near-copy is verified once against the class, not once per member.

When a smaller id arrives the class is *rebased*: the star is redrawn from the new representative, the old
one leaves the buckets and its near-copy links are verified again against the new one (same shingles, so
same verdict).  With hash ids this happens O(log n) times over the life of a class of n members.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from storyloom.store import Store
from storyloom.store import copies as sql

MOVED_KINDS = ("near_duplicate", "containment")  # re-verified on a rebase (translation links stay put)


@dataclass
class ClassPlan:
    """What one chunk does to the exact classes it touches."""

    searchers: list[str] = field(default_factory=list)  # representatives that look for candidates
    extra: dict[str, set[str]] = field(default_factory=dict)  # searcher -> old partners to verify again
    exact_pairs: list[tuple[str, str]] = field(default_factory=list)  # (representative, member) links
    promoted: list[str] = field(default_factory=list)  # representatives from outside the chunk
    keys: dict[str, tuple[list[int], list[int]]] = field(default_factory=dict)  # searcher -> bands, sentence keys
    rebased: int = 0


def settle(store: Store, ids: list[str], keyed: dict[str, str], before: dict[str, str],
           keys_of: dict[str, tuple[list[int], list[int]]]) -> ClassPlan:
    """Bring the classes of ``keyed`` (chunk article -> exact key; articles with words only) and of the keys
    in ``before`` (exact key -> smallest member before the chunk's prints were saved) up to date.

    Call after the chunk's prints are saved and before any candidate look-up: it removes the bucket entries
    of displaced representatives and plans those of the new ones (``keys_of``: bands and sentence keys of
    each chunk article).  Links are only planned (the caller saves them with the chunk's other links)."""
    plan = ClassPlan()
    chunk = set(ids)
    by_key: dict[str, list[str]] = {}
    for aid, key in keyed.items():
        by_key.setdefault(key, []).append(aid)
    keys = sorted(set(by_key) | set(before))
    now = sql.class_reps(store, keys)
    for key in keys:
        rep = now.get(key)
        if rep is None:  # the class's only member changed its text
            continue
        old = before.get(key)
        if old is not None and old == rep and old not in chunk:  # the usual case: new copies join the star
            plan.exact_pairs += [(rep, m) for m in by_key.get(key, []) if m != rep]
            continue
        plan.rebased += old is not None
        outside = sql.class_rep_outside(store, key, sorted(chunk))  # the holder of the buckets, if any
        if outside is not None and outside != rep:
            plan.extra[rep] = set(sql.take_links(store, outside, MOVED_KINDS))
            sql.drop_exact_links(store, outside)
        members = sql.class_members(store, key) if old is not None else sorted(by_key.get(key, []))
        sql.drop_keys(store, [m for m in members if m != rep])
        plan.exact_pairs += [(rep, m) for m in members if m != rep]
        if rep in keys_of:  # entered in the buckets when it searches (see storyloom.copies.search)
            plan.keys[rep] = keys_of[rep]
        else:  # promoted from outside the chunk: its keys from the stored sketch and its text
            plan.keys[rep] = stored_keys(store, rep)
            plan.promoted.append(rep)
        plan.searchers.append(rep)
    return plan


def restore_keys(store: Store, ids: list[str]) -> None:
    """Put representatives among ``ids`` back in every bucket of their text: they took themselves out of
    buckets a member of their group held (:mod:`storyloom.copies.search`), and that member is being
    fingerprinted again.  Costs a sentence split per member: rare (a changed text), linear in the group."""
    prints = sql.stored_prints(store, ids)
    reps = sql.class_reps(store, {exact for exact, _, _ in prints.values()})
    for aid in ids:
        if aid in prints and reps.get(prints[aid][0]) == aid:
            sql.set_keys(store, aid, *stored_keys(store, aid))


def stored_keys(store: Store, aid: str) -> tuple[list[int], list[int]]:
    """The band and sentence keys of a stored article's text, as fingerprinting it gives them: the store keeps
    no sketch (Settings.copy_sketches), and a sketch is a function of the text alone."""
    from storyloom.copies import fingerprint

    text = sql.texts(store, [aid]).get(aid, {}).get("text") or ""
    fp = fingerprint(aid, text)[1]
    return fp.bands, fp.skeys
