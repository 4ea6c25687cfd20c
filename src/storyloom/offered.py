"""Results computed elsewhere and *offered* to the code that would compute them: one bounded type for all of them.

The ingest's cleaning workers compute, for each article they prepare, what the copies and stories stages would
compute from it alone (:mod:`storyloom.lookahead`): the copy fingerprint, the translation print, the fast model's
title + lead vector.  The ingesting process offers each to the cache of the stage that asks for it, keyed by the
very text the stage would read, and the stage takes it instead of computing it.  An offer never asked for (an
article whose text changed after the worker read it, an item refused later) must not stay in memory for the rest
of a long ingest, so every cache here holds at most ``max_entries`` (the oldest go first: a dropped offer only costs
the computation it would have saved, the result is the same) and all are emptied after each pass of the stages
(:func:`forget_all`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_REGISTRY: dict[str, Offered[object, object]] = {}


class Offered(Generic[K, V]):
    """A bounded map from what a result was computed from to the result, in the order offered.

    ``take`` hands a result over once (a fingerprint, a print: the caller keeps it from then on); ``get`` leaves
    it for another caller (a vector both the translation search and the stories stage ask for in one pass)."""

    def __init__(self, name: str, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("an offered cache holds at least one entry")
        self.name, self.max_entries = name, max_entries
        self._items: OrderedDict[K, V] = OrderedDict()
        _REGISTRY[name] = self  # type: ignore[assignment]

    def offer(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def take(self, key: K) -> V | None:
        return self._items.pop(key, None)

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items


def registry() -> dict[str, Offered[object, object]]:
    """Every offered cache of this process, by name (for :func:`forget_all` and the memory benchmark)."""
    return dict(_REGISTRY)


def forget_all() -> None:
    """Drop every offer not asked for (after a pass of the stages)."""
    for cache in _REGISTRY.values():
        cache.clear()
