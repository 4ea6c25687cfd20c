"""Load on the web UI and API while an ingest runs: ``.venv/bin/python bench/serve.py [--n 100000]``.

A benchmark, not a test.  Loopback only, bounded in count and time.

1. Build a store of N articles (real text replicated with perturbation, ``make_jsonl``: stories of 1-5
   articles, 150 articles a day) with the ingest pipeline (copies and stories on; embeddings and the
   learned classifier off to keep the build quick), then sample the pages to request (1,000 multi-article
   stories, 300 one-article stories, 3,000 articles) and keep the sampled stories' comparisons
   (``storyloom compare --all`` does that for every story) so story pages are reads.
2. Start the real server (``storyloom serve``) on 127.0.0.1.
3. For ``--seconds`` (default 60) per run: ``--clients`` (default 50) threads request feed pages, story pages
   (the HTML page and the JSON), article pages and searches -- first in a closed loop (the saturation point),
   then paced at each of ``--rates`` requests/s offered (default 25: 50 readers opening a page every 2 s);
   the same runs again while ``storyloom ingest`` adds 5,000 new articles in another process (the single
   writer; readers keep going in WAL mode), ``--grow`` (500) of them follow-ups of sampled stories, so
   stories grow while they are read and their kept comparisons go stale.
4. Report requests/s, p50/p95/p99 latency per page kind, errors, and whether the ingest finished with every
   article stored (count before + 5,000 == count after, and ``PRAGMA integrity_check``).

Baseline in the same run: the same read loads without the concurrent ingest.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
from benchutil import cpu_tree


def make_jsonl(path: Path, n: int, seed: int, start_day: int = 0) -> None:
    """N articles from ``bench/stories_data.py``'s synthetic stream: real basil/aeb/wmt21 text, 1-5 perturbed
    articles a story within 8 hours, 150 articles a day, so stories and copy groups stay news-sized (the
    stream this benchmark used before, random runs of the sample's paragraphs, chained every article into a
    few giant copy groups).  ``start_day`` shifts the dates, so a later batch is later news."""
    import stories_data

    with open(path, "w", encoding="utf-8") as fh:
        for i, (rec, _) in enumerate(stories_data.iter_synthetic(n, seed=seed)):
            when = datetime.fromisoformat(rec["published"].replace("Z", "+00:00")) + timedelta(days=start_day)
            sents = rec["text"].split(". ")  # paragraphs of three sentences, as articles come
            rec = {**rec, "published": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "url": f"https://bench{seed}.example/{i}",
                   "text": "\n\n".join(". ".join(sents[k : k + 3]) for k in range(0, len(sents), 3))}
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def add_follow_ups(db: Path, path: Path, story_ids: list[str], n: int) -> int:
    """Spread ``n`` follow-up reports of the sampled multi-article stories through the ingest file: another
    outlet's version of a member (its first paragraph dropped, a sentence of its own added), an hour after the
    story's last article, so stories grow all through the ingest while readers look at them -- what makes a
    kept comparison stale."""
    from storyloom.store.packing import register

    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    register(c)  # texts are stored packed: the article_texts view decodes them
    rng = random.Random(7)
    follow: list[str] = []
    for k in range(n):
        sid = story_ids[k % len(story_ids)]
        r = c.execute("SELECT a.title, t.text, s.last_seen FROM stories s JOIN story_members m ON m.story_id = s.id "
                      "JOIN articles a ON a.id = m.article_id JOIN article_texts t ON t.rowid = a.rowid WHERE s.id = ? AND s.n_articles >= 2 ORDER BY a.id LIMIT 1",
                      (sid,)).fetchone()
        if r is None:
            continue
        title, text, last = r
        when = datetime.fromisoformat(last.replace("Z", "+00:00")) + timedelta(hours=1)
        body = "\n\n".join(text.split("\n\n")[1:] + [f"Follow-up {k}: officials gave no further details on {when:%A}."])
        follow.append(json.dumps({"title": title, "text": body, "outlet": f"Follow-up Wire {rng.randrange(20)}",
                                  "url": f"https://follow-up.example/{path.stem}/{k}",  # new URLs each run
                                  "published": when.strftime("%Y-%m-%dT%H:%M:%SZ")}, ensure_ascii=False) + "\n")
    c.close()
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    step = max(1, len(lines) // max(1, len(follow)))
    out: list[str] = []
    k = 0  # follow-ups placed so far
    for i, line in enumerate(lines):
        if i % step == 0 and k < len(follow):
            out.append(follow[k])
            k += 1
        out.append(line)
    out.extend(follow[k:])
    path.write_text("".join(out), encoding="utf-8")
    return len(follow)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load(base: str, seconds: float, clients: int, story_ids: list[str], article_ids: list[str],
         failures: list[str], interval: float | None = None) -> dict[str, list[float]]:
    """``clients`` threads for ``seconds``; latencies by page kind, and the first failures spelled out in
    ``failures`` (a count alone cannot be explained afterwards).

    ``interval=None``: closed loop, each client sends its next request as soon as the last one is answered --
    the server's saturation point, where latency is mostly queueing (50 clients at R requests/s wait about
    50/R s whatever the page costs).  ``interval=T``: each client sends one request every T s on a fixed
    schedule (readers who read what they opened), and a request's latency counts from when it was *due*, so
    a slow server cannot hide its backlog by sending less (no coordinated omission)."""
    import httpx

    lat: dict[str, list[float]] = {"feed": [], "story page": [], "story api": [], "article page": [], "search": [],
                                   "errors": []}
    stop = time.perf_counter() + seconds
    lock = threading.Lock()
    words = ["police", "government", "president", "market", "election", "storm", "court", "football"]

    def worker(k: int) -> None:
        rng = random.Random(k)
        due = time.perf_counter() + (rng.uniform(0, interval) if interval else 0.0)
        with httpx.Client(base_url=base, timeout=30, follow_redirects=True) as c:  # a merged story redirects
            while (due if interval else time.perf_counter()) < stop:
                kind = rng.choices(["feed", "story page", "story api", "article page", "search"], [3, 3, 2, 2, 1])[0]
                url = {"feed": f"/?sort={rng.choice(['recent', 'size'])}", "story page": f"/stories/{rng.choice(story_ids)}",
                       "story api": f"/api/stories/{rng.choice(story_ids)}", "article page": f"/articles/{rng.choice(article_ids)}",
                       "search": f"/api/search?q={rng.choice(words)}"}[kind]
                if interval:
                    wait = due - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                    t = due
                    due += interval
                else:
                    t = time.perf_counter()
                why = ""
                try:
                    r = c.get(url)
                    if r.status_code != 200:
                        why = f"HTTP {r.status_code}: {r.text[:200]}"
                except httpx.HTTPError as exc:
                    why = f"{type(exc).__name__}: {exc}"
                dt = time.perf_counter() - t
                with lock:
                    lat[kind].append(dt)
                    if why:
                        lat["errors"].append(dt)
                        if len(failures) < 10:
                            failures.append(f"{url} after {dt * 1000:.0f} ms: {why}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")


def table(title: str, lat: dict[str, list[float]], seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for col in ("page", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms"):
        t.add_column(col, justify="right" if col != "page" else "left")
    total = 0
    for kind, xs in lat.items():
        if kind == "errors":
            continue
        total += len(xs)
        t.add_row(kind, f"{len(xs):,}", f"{len(xs) / seconds:.1f}", f"{pct(xs, .5):.0f}", f"{pct(xs, .95):.0f}", f"{pct(xs, .99):.0f}")
    every = [x for k, xs in lat.items() if k != "errors" for x in xs]
    t.add_row("all", f"{total:,}", f"{total / seconds:.1f}", f"{pct(every, .5):.0f}", f"{pct(every, .95):.0f}", f"{pct(every, .99):.0f}")
    Console().print(t)
    print(f"errors: {len(lat['errors'])}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="articles in the store before the load")
    ap.add_argument("--ingest", type=int, default=5_000, help="articles ingested during the load")
    ap.add_argument("--grow", type=int, default=500, help="of which follow-ups of sampled stories (they grow while "
                    "being read, so their kept comparisons go stale)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each load run")
    ap.add_argument("--warmup", type=float, default=15.0, help="seconds of unmeasured load first")
    ap.add_argument("--rates", default="25", help="offered loads (requests/s, comma-separated) of the paced runs, "
                    "each after the closed-loop run; '' for closed loop only")
    ap.add_argument("--workers", type=int, default=2, help="`storyloom serve --workers` (one per core here)")
    ap.add_argument("--workdir", help="keep the store here (re-used when it exists)")
    ap.add_argument("--build-only", action="store_true", help="build the store in --workdir and stop (so the load "
                    "runs later on a quiet machine)")
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="storyloom-bench-serve-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / f"store-{args.n}.db"
    cfg = work / "storyloom.toml"
    cfg.write_text("line_classifier = false\ntranslations = false\nstory_embeddings = false\n")
    env = {**os.environ, "STORYLOOM_CONFIG": str(cfg)}
    cli = [sys.executable, "-m", "storyloom.cli", "--db", str(db)]
    if not db.exists():
        src = work / "base.jsonl"
        make_jsonl(src, args.n, 1)
        t = time.time()
        subprocess.run([*cli, "ingest", str(src), "--json"], env=env, check=True, stdout=subprocess.DEVNULL)
        print(f"built a {args.n:,}-article store in {time.time() - t:.0f} s")
    sample = work / f"sample-{args.n}.json"
    if not sample.exists():
        # The pages the clients will ask for (ids are content hashes: ordering by id is a fixed random order),
        # and their comparisons kept, as `storyloom compare --all` keeps every story's -- only for the sampled
        # stories here, which is what the load reads (comparing all ~25k multi-article stories takes hours).
        c = sqlite3.connect(db)
        picked = {
            "stories": [r[0] for r in c.execute("SELECT id FROM stories WHERE n_articles >= 2 ORDER BY id LIMIT 1000")]
                       + [r[0] for r in c.execute("SELECT id FROM stories WHERE n_articles = 1 ORDER BY id LIMIT 300")],
            "articles": [r[0] for r in c.execute("SELECT id FROM articles ORDER BY id LIMIT 3000")]}
        c.close()
        from storyloom.compare import compare_kept
        from storyloom.store import Store

        t = time.time()
        store = Store(db)
        for sid in picked["stories"]:
            compare_kept(store, sid, write=store)
        store.close()
        print(f"kept the comparisons of {len(picked['stories']):,} sampled stories in {time.time() - t:.0f} s")
        sample.write_text(json.dumps(picked))
    if args.build_only:
        return
    picked = json.loads(sample.read_text())
    story_ids, article_ids = picked["stories"], picked["articles"]
    c = sqlite3.connect(db)
    before = c.execute("SELECT count(*) FROM articles").fetchone()[0]
    c.close()
    extra = work / f"extra-{before}.jsonl"
    make_jsonl(extra, args.ingest - args.grow, 1000 + before, start_day=args.n // 150 + 1)
    items_total = args.ingest - args.grow
    if args.grow:
        grown = add_follow_ups(db, extra, story_ids, args.grow)
        items_total += grown
        print(f"the ingest holds {grown:,} follow-ups of sampled stories (their kept comparisons go stale)")

    port = free_port()
    server = subprocess.Popen([*cli, "serve", "--port", str(port), "--workers", str(args.workers)], env=env,
                              stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"))
    base = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(200):
        try:
            if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    try:
        print(f"store: {before:,} articles, {len(story_ids):,} stories sampled; {args.clients} clients, {args.seconds:.0f} s "
              f"each run; server: {args.workers} worker process(es), its stderr in {work / 'server.log'}")
        failures: list[str] = []
        phases = [(None, "closed loop")] + [(args.clients / r, f"paced, {r:g} req/s offered") for r in rates]
        summary: list[list[str]] = []

        def run(title: str, interval: float | None, label: str) -> None:
            cpu0 = cpu_tree(server.pid)
            lat = load(base, args.seconds, args.clients, story_ids, article_ids, failures, interval)
            cpu = cpu_tree(server.pid) - cpu0
            table(f"{title}: {args.clients} clients, {label}", lat, args.seconds)
            every = [x for k, xs in lat.items() if k != "errors" for x in xs]
            stories = lat["story page"] + lat["story api"]
            summary.append([title, label, f"{len(every) / args.seconds:.1f}", f"{pct(every, .5):.0f}",
                            f"{pct(every, .95):.0f}", f"{pct(stories, .95):.0f}", f"{pct(every, .99):.0f}",
                            str(len(lat["errors"])), f"{cpu * 1000 / max(1, len(every)):.1f}"])

        # unmeasured: each worker loads the comparison's models in the background at start (seconds of CPU)
        load(base, args.warmup, args.clients, story_ids, article_ids, [], None)
        for interval, label in phases:
            run("reads only", interval, label)
        t = time.time()
        ingest = subprocess.Popen([*cli, "ingest", str(extra), "--json"], env=env, stdout=subprocess.PIPE)
        for interval, label in phases:
            running = ingest.poll() is None
            run("reads during ingest" if running else "reads after ingest ended", interval, label)
        report = json.loads(ingest.communicate(timeout=3600)[0])
        took = time.time() - t
        from rich.console import Console
        from rich.table import Table

        st = Table(title=f"Summary (target: p95 < 200 ms on story pages, zero errors); server CPU includes its "
                   f"{args.workers} workers and comparisons refreshed in the background; the load generator shares "
                   f"the {os.cpu_count()} CPUs")
        for h in ("phase", "load", "req/s", "p50 ms", "p95 ms", "story pages p95 ms", "p99 ms", "errors",
                  "server CPU ms/request"):
            st.add_column(h, justify="left" if h in ("phase", "load") else "right")
        for row in summary:
            st.add_row(*row)
        Console(width=max(Console().width, 150)).print(st)
        for f in failures:
            print(f"  failed: {f}")
    finally:
        server.terminate()
        server.wait(timeout=20)
    c = sqlite3.connect(db)
    after = c.execute("SELECT count(*) FROM articles").fetchone()[0]
    ok = c.execute("PRAGMA integrity_check").fetchone()[0]
    c.close()
    # new rows: new articles, and new versions of known URLs (a changed text under a URL seen before)
    added = report["counts"].get("added", 0) + report["counts"].get("version", 0)
    refused = sum(report["counts"].values()) - added  # duplicates, unchanged, or refused with a reason
    whole = after - before == added and sum(report["counts"].values()) == items_total
    print(f"ingest: {report['counts']}, {refused} not new (duplicates, unchanged, refused), in {took:.0f} s (the load runs beside it: "
          f"{len(phases)} × {args.seconds:.0f} s); articles {before:,} → {after:,} (expected +{added:,}: "
          f"{'nothing lost' if whole else 'MISMATCH'}); integrity_check: {ok}")


if __name__ == "__main__":
    main()
