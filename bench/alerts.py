"""What following costs an ingest: alert latency and CPU per ingested article with 0, 1,000 and 10,000
subscriptions.

Synthetic articles (a 5,000-word vocabulary drawn Zipf-like, 10 outlets) are ingested in batches through the
real pipeline (copies and stories on; translations, story embeddings and the learned line classifier off, so
the stages measured are the cheap ones and following's share shows).  Subscriptions: 90% saved searches of two
words ("a OR b"), 5% outlets, 5% entities; ``--hit-share`` of the searches are on the corpus's words (each then
alerts on most batches), the rest on words it never uses, so the cost of *matching* (which must not grow with
the subscriptions) shows apart from the cost of *alerting* (which grows with the alerts, as it must).  Per batch, measured around the pipeline's
hook (:func:`storyloom.follow.after_stages`): its CPU time (``time.process_time``) and the latency from the
batch's commit to the end of the hook (the alert written; it includes the copies and stories stages, which
run between the two).  One process, one core.

    .venv/bin/python bench/alerts.py [--articles 2000] [--batch 100] [--subs 0 1000 10000] [--hit-share 0.02 1.0]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from storyloom import pipeline
from storyloom.follow import subscribe
from storyloom.ingest.records import record_to_raw
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store import follow as fsql

OUTLETS = [f"Outlet {c}" for c in "ABCDEFGHIJ"]


def vocabulary(rng: random.Random, n: int = 5000) -> list[str]:
    letters = "bcdfghjklmnprstvwz"
    vowels = "aeiou"
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(letters) + rng.choice(vowels) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def articles(n: int, vocab: list[str], rng: random.Random) -> list[object]:
    weights = [1 / (k + 1) for k in range(len(vocab))]
    names = [w.capitalize() for w in vocab[:200]]
    out = []
    for i in range(n):
        title = " ".join(rng.choices(vocab, weights, k=8)).capitalize()
        sents = []
        for _ in range(12):
            words = rng.choices(vocab, weights, k=15)
            words[rng.randint(1, 14)] = rng.choice(names)
            sents.append(" ".join(words).capitalize() + ".")
        rec = {"title": f"{title} {i}", "text": " ".join(sents), "outlet": OUTLETS[i % len(OUTLETS)], "language": "en",
               "published": f"2024-05-{1 + i * 20 // n:02d}T{i % 24:02d}:00:00Z", "url": f"https://x{i % 10}.example/{i}"}
        out.append(record_to_raw(rec, json.dumps(rec).encode(), "jsonl", f"bench:{i}"))
    return out


def make_subs(store: Store, settings: Settings, n: int, vocab: list[str], rng: random.Random, hit_share: float) -> float:
    """``n`` subscriptions; a ``hit_share`` of the searches on the articles' words, the rest on other words (topics
    this corpus never mentions: most subscriptions hear nothing in a given batch)."""
    started = time.perf_counter()
    others = [w + "q" for w in vocab]
    for k in range(n):
        r = k % 20
        if r == 0:
            subscribe(store, settings, "outlet", rng.choice(OUTLETS))
        elif r == 1:
            subscribe(store, settings, "entity", rng.choice(vocab[:200]).capitalize())
        else:
            words = vocab[2000:] if rng.random() < hit_share else others
            subscribe(store, settings, "search", f"{rng.choice(words)} OR {rng.choice(words)}")
    return time.perf_counter() - started


def run(n_articles: int, batch: int, n_subs: int, hit_share: float = 1.0) -> dict[str, float]:
    rng = random.Random(7)
    vocab = vocabulary(rng)
    items = articles(n_articles, vocab, rng)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db_path=f"{tmp}/b.db", batch_size=batch, translations=False, story_embeddings=False,
                            line_classifier=False, follow_interval_seconds=0, follow_digest=False)
        hook_cpu: list[float] = []
        latency: list[float] = []
        matched: list[int] = []
        committed = [0.0]
        real_hook = pipeline.follow_after_stages

        def timed_hook(store: Store, s: Settings) -> object:
            cpu = time.process_time()
            rep = real_hook(store, s)
            hook_cpu.append(time.process_time() - cpu)
            latency.append(time.perf_counter() - committed[0])
            matched.append(rep.articles)
            return rep

        with Store(settings.db_path) as store:
            setup = make_subs(store, settings, n_subs, vocab, rng, hit_share)
            real_write = store.write_batch

            def timed_write(b):  # type: ignore[no-untyped-def]
                got = real_write(b)
                committed[0] = time.perf_counter()
                return got

            store.write_batch = timed_write  # type: ignore[method-assign]
            pipeline.follow_after_stages = timed_hook  # type: ignore[assignment]
            try:
                cpu0, t0 = time.process_time(), time.perf_counter()
                pipeline.ingest_items(items, store, settings)
                total_cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
            finally:
                pipeline.follow_after_stages = real_hook
            n_alerts = len(fsql.alerts(store, limit=10**9))
    lat = sorted(latency)
    return {"subs": n_subs, "hit_share": hit_share, "setup_s": round(setup, 1), "articles": sum(matched), "alerts": n_alerts,
            "hook_cpu_ms_per_article": round(1000 * sum(hook_cpu) / max(1, sum(matched)), 3),
            "ingest_cpu_ms_per_article": round(1000 * total_cpu / n_articles, 2),
            "latency_p50_s": round(statistics.median(lat), 3), "latency_p95_s": round(lat[int(0.95 * (len(lat) - 1))], 3),
            "hook_p95_s": round(sorted(hook_cpu)[int(0.95 * (len(hook_cpu) - 1))], 3), "wall_s": round(wall, 1),
            "hook_runs": len(lat)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--subs", type=int, nargs="+", default=[0, 1000, 10000])
    ap.add_argument("--hit-share", type=float, nargs="+", default=[0.02, 1.0],
                    help="shares of saved searches on the corpus's words (1.0: every subscription alerts)")
    args = ap.parse_args()
    for share in args.hit_share:
        for n in args.subs:
            print(json.dumps(run(args.articles, args.batch, n, share)), flush=True)


if __name__ == "__main__":
    main()
