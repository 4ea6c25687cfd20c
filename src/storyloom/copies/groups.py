"""Copy groups: connected components of the verified links, with ids derived from their members only.

Two ways to bring the groups up to date after a chunk:

* :func:`merge` when the chunk only *added* links (the usual case): the groups touched are merged, their ids
  computed from the old ids (a group's id is ``"g"`` + its smallest member, so the merged id is the smallest
  old id), and only the rows of groups whose id changes are rewritten — adding the 10,001st copy of a text to
  a group writes one row, not 10,001;
* :func:`regroup` when links were *removed* (an article fingerprinted again after its text changed): groups
  may split, so the closure over links and old membership is walked again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from storyloom.store import Store
from storyloom.store import copies as sql


def group_id_for(members: list[str]) -> str:
    """A group's id: derived from its smallest member id, so the same articles give the same id whatever
    the order in which they arrived."""
    return "g" + min(members)


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def merge(store: Store, new_ids: Sequence[str], added: Iterable[tuple[str, str]]) -> None:
    """Groups after ``new_ids`` arrived and the links ``added`` were saved (no link removed since the groups
    were last right).  Works on group ids, not members: a new article is the group ``"g" + id`` until merged."""
    pairs = list(added)
    nodes = sorted(set(new_ids) | {x for p in pairs for x in p})
    old = sql.group_of(store, nodes)
    label = {x: old.get(x) or group_id_for([x]) for x in nodes}
    uf = UnionFind()
    for x in nodes:
        uf.find(label[x])
    for a, b in pairs:
        uf.union(label[a], label[b])
    # the root is the smallest label of its component ("g" + the smallest member): the merged group's id
    sql.rename_groups(store, {g: uf.find(g) for g in set(old.values())})
    sql.save_groups(store, {x: uf.find(label[x]) for x in new_ids if x not in old or old[x] != uf.find(label[x])})


def regroup(store: Store, ids: list[str]) -> None:
    """Recompute the groups touched by ``ids``: their old groups' members plus everything linked to them.

    Reads each touched group whole (links and membership): right after removals, too slow to run per chunk
    on a group of many thousands (see :func:`merge`)."""
    frontier = set(ids)
    seen: set[str] = set()
    uf = UnionFind()
    while frontier:  # closure over links and old group membership
        batch = sorted(frontier - seen)
        if not batch:
            break
        seen |= set(batch)
        frontier = set()
        for a, b in sql.linked(store, batch):
            uf.union(a, b)
            frontier |= {a, b}
        old = sql.group_of(store, batch)
        frontier |= set(sql.members(store, sorted(set(old.values()))))
    components: dict[str, list[str]] = {}
    for x in sorted(seen):
        components.setdefault(uf.find(x), []).append(x)
    sql.save_groups(store, {m: group_id_for(mem) for mem in components.values() for m in mem})
