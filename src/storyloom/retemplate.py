"""Template lines kept as a from-scratch ``storyloom clean`` would find them, batch by batch, without re-cleaning
the world.

A line is a template line of an article when the group's *other* articles hold it often enough:
``others(line) >= max(template_min_count, template_min_share × others)`` (and the group has at least
``template_min_count`` others), where only first versions count.  So an article's cleaning depends on the
other articles only through which of its lines pass that test.  After a batch is written:

1. the batch's own articles are judged against the counts with the whole batch in, each without itself, from
   the halves the workers prepared (:func:`settle_batch`: nothing is cleaned twice);
2. a stored article can change only if one of its lines changed side: a line whose count the batch changed,
   or, when the group's size moved the bar, a line counted between the old and the new bar.  Those lines are
   few; the articles holding one are found by hashing the lines of the group's stored bodies (nothing is
   cleaned) and only they are re-cleaned from their raw bytes (:func:`refresh_stored`).

So the store after every batch equals a ``storyloom clean`` of it, whatever the order and the batch size.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from storyloom.clean import Prepared, clean, complete, text_options
from storyloom.clean.text import TextOptions, keyed_lines, template_picks
from storyloom.errors import BadInput
from storyloom.models import Article, RawDoc, TemplateSkip
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store import templates as sql
from storyloom.store.packing import pack_skip, unpack_skip

NEVER = 2**62


class WithoutSelf:
    """Template counts of the store as one stored article is judged: without its own contribution."""

    def __init__(self, store: Store, group: str | None, own: set[str], counted: bool) -> None:
        self.store, self.group, self.own, self.counted = store, group, own, counted

    def group_size(self, group: str) -> int:
        return self.store.group_size(group) - (1 if self.counted and group == self.group else 0)

    def line_counts(self, group: str, keys: Sequence[str]) -> dict[str, int]:
        got = self.store.line_counts(group, keys)
        if self.counted and group == self.group:
            got = {k: n - (1 if k in self.own else 0) for k, n in got.items()}
        return got


@dataclass
class _BatchCounts:
    """The store's counts plus a batch's first versions not yet written.  The store's side is read once per
    group for the whole batch (:meth:`read_store`), not once per article: it does not change while a batch is
    settled."""

    store: Store
    sizes: Counter[str] = field(default_factory=Counter)
    lines: dict[str, Counter[str]] = field(default_factory=dict)
    stored_sizes: dict[str, int] = field(default_factory=dict)
    stored_lines: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, group: str, keys: Sequence[str]) -> None:
        self.sizes[group] += 1
        self.lines.setdefault(group, Counter()).update(set(keys))

    def read_store(self, keys: dict[str, set[str]]) -> None:
        """The stored sizes of these groups and the stored counts of these lines, one read per group."""
        self.stored_sizes = sql.group_sizes(self.store, sorted(keys))
        self.stored_lines = {}
        for g, ks in keys.items():
            got = self.store.line_counts(g, sorted(ks))
            self.stored_lines[g] = {k: got.get(k, 0) for k in ks}  # a line the store has not seen: 0, known

    def stored_size(self, group: str) -> int:
        if group not in self.stored_sizes:
            self.stored_sizes[group] = self.store.group_size(group)
        return self.stored_sizes[group]

    def stored_counts(self, group: str, keys: Sequence[str]) -> dict[str, int]:
        known = self.stored_lines.setdefault(group, {})
        missing = [k for k in keys if k not in known]
        if missing:
            got = self.store.line_counts(group, missing)
            known.update({k: got.get(k, 0) for k in missing})
        return {k: known[k] for k in keys if known.get(k)}


class _BatchView:
    """:class:`_BatchCounts` as one article of the batch is judged: without itself when it counts."""

    def __init__(self, counts: _BatchCounts, group: str, own: set[str], counted: bool) -> None:
        self.counts, self.group, self.own, self.counted = counts, group, own, counted

    def group_size(self, group: str) -> int:
        self_in = 1 if self.counted and group == self.group else 0
        return self.counts.stored_size(group) + self.counts.sizes[group] - self_in

    def line_counts(self, group: str, keys: Sequence[str]) -> dict[str, int]:
        got = self.counts.stored_counts(group, keys)
        pending = self.counts.lines.get(group, Counter())
        self_in = self.counted and group == self.group
        out = {}
        for k in keys:
            n = got.get(k, 0) + pending[k] - (1 if self_in and k in self.own else 0)
            if n:
                out[k] = n
        return out


def settle_batch(store: Store, entries: Sequence[tuple[RawDoc, Prepared]]) -> list[Article | BadInput]:
    """The batch's articles, each judged against the store plus the whole batch (itself left out), as a
    ``storyloom clean`` after the write would judge them.  An article that comes out empty is refused, and
    the others are judged again without it (its lines will not be counted)."""
    out: list[Article | BadInput | None] = [None] * len(entries)
    live = list(range(len(entries)))
    stored_url: dict[tuple[str, str], bool] = {}
    while True:
        counts, counted = _BatchCounts(store), {}
        seen: set[tuple[str, str]] = set()
        for i in live:
            art = entries[i][1].article
            key = (art.url or "", art.kind)
            if art.url and key not in stored_url:
                stored_url[key] = sql.url_stored(store, art.url, art.kind)
            counted[i] = not art.url or (key not in seen and not stored_url[key])  # else a version: not counted
            seen.add(key)
            if counted[i]:
                counts.add(entries[i][1].group, entries[i][1].text.keys)
        wanted: dict[str, set[str]] = {}
        for i in live:
            if entries[i][1].group:
                wanted.setdefault(entries[i][1].group, set()).update(entries[i][1].text.keys)
        counts.read_store(wanted)
        refused = []
        for i in live:
            prep = entries[i][1]
            try:
                out[i] = complete(prep, _BatchView(counts, prep.group, set(prep.text.keys), counted[i]))
            except Exception as exc:  # noqa: BLE001 - one item's failure, whatever it is, is one line
                out[i] = BadInput.unexpected(entries[i][0].location, exc)
                refused.append(i)
        if not refused:
            return [x for x in out if x is not None]
        live = [i for i in live if i not in refused]


def _bar(size_others: int, settings: Settings) -> int:
    """The fewest other articles a line must be in to be a template line (NEVER below the group minimum)."""
    if size_others < settings.template_min_count:
        return NEVER
    return max(settings.template_min_count, math.ceil(settings.template_min_share * size_others))


@dataclass
class Before:
    """A group's counts before a batch is written: its size and the counts of the lines the batch brings (0 for a
    line the store had not seen and the batch may make a template line); a line not in ``lines`` has the same
    count after, or one below every bar before and after."""

    size: int
    lines: dict[str, int]


def before_batch(store: Store, settings: Settings, arts: Sequence[Article]) -> dict[str, Before]:
    """What :func:`refresh_stored` compares with, read just before the batch is written."""
    if "template" in settings.disabled_rules:
        return {}
    held: dict[str, Counter[str]] = {}  # how many of the batch's articles hold each line, by group
    for art in arts:
        if art.template_group and art.text:
            held.setdefault(art.template_group, Counter()).update(set(art.line_keys))
    sizes = sql.group_sizes(store, sorted(held))
    out = {}
    for g, ks in held.items():
        got = store.line_counts(g, sorted(ks))
        # a line the store has not seen: 0, known, when the batch can take it to a template line's bar (a later
        # version holding it then flips); one in fewer of them than the least bar stays below every bar: left out
        out[g] = Before(sizes.get(g, 0), {k: got.get(k, 0) for k, n in ks.items()
                                          if k in got or n >= settings.template_min_count})
    return out


@dataclass
class RefreshReport:
    groups: int = 0  # groups whose template lines changed
    read: int = 0  # stored articles whose lines were hashed
    checked: int = 0  # re-cleaned
    changed: int = 0
    judged: int = 0  # held a flipped line, but their template lines were judged unchanged without re-cleaning
    failed: list[tuple[str, str]] = field(default_factory=list)


def flipped(store: Store, settings: Settings, group: str, before: Before,
            after_size: int | None = None) -> tuple[set[str], set[str]]:
    """The group's lines that changed side, for its first versions (judged without themselves) and for its
    later versions (which do not count); ``after_size``: the group's size now, when the caller has read it."""
    if after_size is None:
        after_size = store.group_size(group)
    now = store.line_counts(group, sorted(before.lines))
    flip_first: set[str] = set()
    flip_later: set[str] = set()
    for k in set(before.lines) | set(now):
        old, new = before.lines.get(k, 0), now.get(k, 0)
        if (old - 1 >= _bar(before.size - 1, settings)) != (new - 1 >= _bar(after_size - 1, settings)):
            flip_first.add(k)
        if (old >= _bar(before.size, settings)) != (new >= _bar(after_size, settings)):
            flip_later.add(k)
    # lines the batch did not bring change side only if the bar moved past their count
    for target, lo, hi in (
        (flip_first, _bar(before.size - 1, settings) + 1, _bar(after_size - 1, settings) + 1),  # counts hold self
        (flip_later, _bar(before.size, settings), _bar(after_size, settings)),
    ):
        if lo != hi:
            found = sql.keys_counted_between(store, group, min(lo, hi), max(lo, hi) - 1)
            target.update(k for k in found if k not in before.lines)
    return flip_first, flip_later


@dataclass
class _Holder:
    """A stored article holding a flipped line: its non-empty lines as (start in the body, key)."""

    aid: str
    counted: bool
    lines: list[tuple[int, str]]
    skip: str | None  # articles.template_skip as stored


def refresh_stored(store: Store, settings: Settings, before: dict[str, Before], new_ids: set[str],
                   on_event: Callable[[str, object], None] | None = None) -> RefreshReport:
    """Re-clean the stored articles (other than the batch's ``new_ids``) whose template lines the batch changed.

    An article holding a flipped line is re-cleaned from its raw bytes only when its template lines change: they
    are judged from its body and kept ``template_skip`` under the counts before the batch and after it
    (:func:`_unchanged`), and most come out the same (a flipped line is not one of its candidates, or its hits
    stay refused as more than half of its lines)."""
    rep = RefreshReport()
    affected: list[str] = []
    opts = text_options(settings)
    for group in sorted(before):
        after_size = store.group_size(group)
        flip_first, flip_later = flipped(store, settings, group, before[group], after_size)
        if not flip_first and not flip_later:
            continue
        rep.groups += 1
        holders: list[_Holder] = []
        for aid, counted, body, skip in sql.group_bodies(store, group):
            if aid in new_ids:
                continue
            rep.read += 1
            flips = flip_first if counted else flip_later
            if not flips:
                continue
            lines = keyed_lines(body)  # each line hashed once: a body with no flipped line is read to its end anyway
            if any(k in flips for _, k in lines):
                holders.append(_Holder(aid, counted, lines, skip))
        if not holders:
            continue
        keys = sorted({k for h in holders if h.skip is not None for _, k in h.lines})
        now = store.line_counts(group, keys) if keys else {}
        spans = sql.template_span_starts(store, [h.aid for h in holders if h.skip is not None])
        for h in holders:
            if _unchanged(h, before[group], after_size, now, spans.get(h.aid, set()), opts):
                rep.judged += 1
            else:
                affected.append(h.aid)
    changed: list[Article] = []
    skips: list[tuple[str, str | None]] = []
    for row in sql.rows_for_reclean(store, affected):
        rep.checked += 1
        try:
            art = reclean_row(store, settings, row, skips)
        except BadInput as exc:
            rep.failed.append((row["id"], exc.reason))
            if on_event:
                on_event("error", exc)
            continue
        if art is not None:
            changed.append(art)
    if changed:
        rep.changed += store.update_cleaned(changed)
    if skips:
        sql.set_template_skip(store, skips)
    return rep


def _unchanged(h: _Holder, before: Before, after_size: int, now: dict[str, int], template_starts: set[int],
               opts: TextOptions) -> bool:
    """Are this stored article's template lines the same under the counts after the batch as before it, and
    those its stored spans show?  Then cleaning it again gives what is stored (its other layers read only
    itself), and it is not re-cleaned.  False whenever that cannot be told: no ``template_skip`` kept (an older
    store), one that does not fit the body, or stored template spans that are not the verdict before the batch
    (a template line put back as the article's only prose, or a store not kept as a from-scratch clean)."""
    skip = unpack_skip(h.skip)
    if skip is None:
        return False
    keys = [k for _, k in h.lines]
    if any(i >= len(keys) for part in skip for i in part):
        return False
    self_in = 1 if h.counted else 0  # the article judged without itself (WithoutSelf)
    old_seen = {k: before.lines.get(k, now.get(k, 0)) - self_in for k in keys}
    new_seen = {k: now.get(k, 0) - self_in for k in keys}
    old = stored_hits(keys, skip, before.size - self_in, old_seen, opts)
    new = stored_hits(keys, skip, after_size - self_in, new_seen, opts)
    return old == new and {h.lines[i][0] for i in old} == template_starts


def stored_hits(keys: Sequence[str], skip: TemplateSkip, size: int,
                seen: Mapping[str, int], opts: TextOptions) -> tuple[int, ...]:
    """The template lines of a stored article, by index among its body's non-empty lines (``keys``: theirs),
    from its kept ``template_skip`` and its group's size and counts without itself: what
    :func:`storyloom.clean.text.template_hits` finds when the article is cleaned from its raw bytes."""
    inactive, ruled = skip
    out = set(inactive) | set(ruled)
    candidates = [(i, k) for i, k in enumerate(keys) if i not in out]
    return template_picks(candidates, len(keys) - len(inactive), size, seen, opts)


def reclean_row(store: Store, settings: Settings, r: sqlite3.Row,
                skips: list[tuple[str, str | None]] | None = None) -> Article | None:
    """One stored article cleaned again from its raw bytes against every other article of its group: the new
    article when anything of it changed, else None.  BadInput when there is no article in it any more.
    ``skips`` collects (id, packed template_skip) of an unchanged article whose kept template_skip is not the
    one cleaning finds (NULL in a store from before migration 21): the caller records it."""
    from storyloom.ingest.rebuild import rebuild_raw
    from storyloom.store.packing import decode_blob
    from storyloom.store.queries import removed_spans

    raw = rebuild_raw(r["kind"], r["location"], decode_blob(r["codec"], r["data"], store.blobs),
                      json.loads(r["declared"]), json.loads(r["extra"]))
    own = {key for _, key in keyed_lines(r["body"] or "")}
    templates = WithoutSelf(store, r["template_group"], own, r["previous_id"] is None)
    art = clean(raw, settings, templates=templates)
    old_spans = [(sp.start, sp.end, sp.rule) for sp in removed_spans(store, r["id"])]
    same = (
        art.text == r["text"] and art.title == r["title"] and art.body == r["body"]
        and json.loads(r["meta"]) == json.loads(json.dumps(art.meta, default=str))
        and old_spans == [(s.start, s.end, s.rule) for s in art.removed]
        and (art.author, art.published, art.date_flag) == (r["author"], r["published"], r["date_flag"])
    )
    if same and skips is not None and (packed := pack_skip(art.template_skip)) != r["template_skip"]:
        skips.append((r["id"], packed))
    return None if same else art
