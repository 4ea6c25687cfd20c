"""A small news stream for the distributed story stage's tests: stories of named actors and their own words,
interleaved over six weeks, some developing over a week or more (so they cross block boundaries), with
distractor singletons naming nobody in common.  Deterministic (a seeded generator); plain English-like words,
so the local stage's lexical and entity scoring applies as on news."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

SYLLABLES = "ba ko ri ten mal dor vik sun pel tar gon lis mer qua zel fin rob hul nax"
COMMON = ("report officials statement week country government people market local city region plans "
          "announced says according added meeting public").split()


def _word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES.split()) for _ in range(parts))


def stream(stories: int = 14, singletons: int = 12, seed: int = 3) -> list[dict[str, Any]]:
    """Rows (id, title, text, published, date_flag, outlet, language, group_id, gold) in time order."""
    rng = random.Random(seed)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    for k in range(stories + singletons):
        single = k >= stories
        actors = [_word(rng, 3).capitalize() for _ in range(2)]
        words = [_word(rng, 3) for _ in range(14)]
        t0 = start + timedelta(days=rng.uniform(0, 36))
        size = 1 if single else rng.choice((2, 3, 4, 5, 6))
        spread = 0.4 if single else rng.choice((0.5, 2.0, 9.0))
        for j in range(size):
            t = t0 + timedelta(days=spread * j / max(1, size - 1), hours=rng.uniform(0, 5))
            pick = rng.sample(words, 9)
            title = f"{actors[0]} {' '.join(pick[:4])} {actors[1] if j % 2 == 0 else pick[4]}"
            sents = [f"{actors[0]} and {actors[1]} {' '.join(rng.sample(words, 6))} {rng.choice(COMMON)}."]
            sents += [f"The {' '.join(rng.sample(words, 5))} {' '.join(rng.sample(COMMON, 3))} {actors[j % 2]}."
                      for _ in range(4)]
            rows.append({"id": f"k{k:02d}-{j}", "title": title, "text": " ".join(sents),
                         "published": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "date_flag": None,
                         "outlet": f"outlet-{(k + j) % 5}", "language": "en", "gold": f"story-{k}"})
    rows.sort(key=lambda r: (r["published"], r["id"]))
    for r in rows:
        r["group_id"] = "g" + r["id"]
    return rows
