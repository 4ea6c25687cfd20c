"""Matching: the news that the articles past the cursor bring to each subscription.

Run when an ingest's copies and stories stages finish.  It reads the articles past the cursor that no stage
is still waiting for (so each is in its story, with its copy links), looks their keys up in the subscription
index (:mod:`.keys`), confirms saved searches with their FTS5 query over the new rows only, and turns each
(subscription, article) match into lines of news keyed so that a re-run writes each line once.  What an
article brings is judged against its story's members stored *before* it (by rowid), so the news does not
depend on where the batches or a crash fell.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from storyloom.follow.keys import article_term_keys, entity_keys, fold, outlet_key
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store import follow as sql

CHUNK = 2000  # articles matched per transaction
log = logging.getLogger("storyloom.follow")


@dataclass
class MatchReport:
    articles: int = 0
    news: int = 0
    seconds: float = 0.0


def _h(text: str) -> str:
    return hashlib.sha256(fold(" ".join(text.split())).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def waits_for(settings: Settings) -> list[str]:
    """The stages an article must have passed before it is matched (those the ingest runs)."""
    if not settings.run_copies:
        return []
    return ["copies", "stories"] if settings.run_stories else ["copies"]


def match_new(store: Store, settings: Settings) -> MatchReport:
    """Match every article past the cursor that the stages are done with; advance the cursor."""
    rep = MatchReport()
    started = time.perf_counter()
    stages = waits_for(settings)
    if not sql.has_subs(store):  # nobody to tell: only move the cursor, without reading a single article
        last, now = sql.last_rowid(store, sql.barrier(store, stages)), sql.cursor(store)
        if last is not None and last > now:
            sql.write_news(store, [], last)
            rep.articles = last - now  # rowids are dense but for deleted articles: an upper bound
        rep.seconds = time.perf_counter() - started
        return rep
    while True:
        rows = sql.new_articles(store, sql.cursor(store), sql.barrier(store, stages), CHUNK)
        if not rows:
            break
        news = find_news(store, settings, rows)
        rep.news += sql.write_news(store, news, rows[-1]["rowid"])
        rep.articles += len(rows)
        if len(rows) < CHUNK:
            break
    rep.seconds = time.perf_counter() - started
    return rep


def _candidates(store: Store, rows: list[dict[str, Any]]) -> tuple[dict[str, set[int]], dict[int, set[str]]]:
    """sub → the new rowids offering one of its keys; rowid → the article's entities.  An article's words are
    cut only when there are saved searches, its names extracted only when there are entity subscriptions."""
    from storyloom.stories.represent import entities

    kinds = sql.kinds(store)
    keys_of: dict[int, set[str]] = {}
    ents_of: dict[int, set[str]] = {}
    merged: dict[str, list[str]] = {}
    for a in rows:
        ks = article_term_keys(f"{a['title']}\n{a['text']}") if "search" in kinds else set()
        if a["outlet"]:
            ks.add(outlet_key(a["outlet"]))
        ents_of[a["rowid"]] = set()
        if "entity" in kinds:
            try:
                ents_of[a["rowid"]] = set(entities(a["title"] or "", a["text"] or ""))
            except Exception as exc:  # one article's odd text costs it its entity matches, no more
                log.warning("article %s: entities not extracted for following (%s)", a["id"], exc)
        ks |= {"entity:" + e for e in ents_of[a["rowid"]]}
        sid = a["story_id"]
        if sid:
            if sid not in merged:
                merged[sid] = [sid, *sql.merged_from(store, sid)]
            ks |= {"story:" + s for s in merged[sid]}
        keys_of[a["rowid"]] = ks
    index = sql.subs_for_keys(store, set().union(*keys_of.values()))
    cand: dict[str, set[int]] = defaultdict(set)
    for rowid, ks in keys_of.items():
        for k in ks & index.keys():
            for sub in index[k]:
                cand[sub].add(rowid)
    return cand, ents_of


def _confirmed(store: Store, sub: dict[str, Any], rowids: set[int], by_rowid: dict[int, dict[str, Any]],
               ents_of: dict[int, set[str]], lo: int, hi: int, n_outlets: dict[str, int]) -> list[int]:
    kind, target = sub["kind"], sub["target"]
    if kind == "entity":
        need = set(entity_keys(target))
        return sorted(r for r in rowids if need and need <= ents_of.get(r, set()))
    if kind != "search":
        return sorted(rowids)  # a story or an outlet key is the match itself
    hits = sql.fts_hits(store, target, lo, hi) & rowids
    f = sub["filters"]
    out = []
    for r in sorted(hits):
        a = by_rowid[r]
        if f.get("language") and (a["language"] or "").lower() != str(f["language"]).lower():
            continue
        if f.get("outlet") and fold(a["outlet"] or "") != fold(str(f["outlet"])):
            continue
        if f.get("since") and (a["published"] or "") < str(f["since"]):
            continue
        if f.get("min_outlets") and n_outlets.get(a["story_id"] or "", 1) < int(f["min_outlets"]):
            continue
        out.append(r)
    return out


def find_news(store: Store, settings: Settings, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lines of news these new articles bring to the subscriptions they match."""
    from storyloom.outlets import table_for

    cand, ents_of = _candidates(store, rows)
    if not cand:
        return []
    subs = sql.subs_by_id(store, list(cand))
    by_rowid = {a["rowid"]: a for a in rows}
    story_ids = sorted({a["story_id"] for a in rows if a["story_id"]})
    info = sql.labels(store, story_ids)
    n_outlets = {sid: len(v["outlets"]) for sid, v in info.items()}
    lo, hi = rows[0]["rowid"] - 1, rows[-1]["rowid"]
    matches: list[tuple[int, str]] = []
    for sub_id, rowids in sorted(cand.items()):
        if sub_id in subs:
            matches += [(r, sub_id) for r in _confirmed(store, subs[sub_id], rowids, by_rowid, ents_of, lo, hi, n_outlets)]
    matches.sort()
    members = sql.members(store, sorted({by_rowid[r]["story_id"] for r, _ in matches if by_rowid[r]["story_id"]}))
    links = sql.copy_links(store, sorted({by_rowid[r]["id"] for r, _ in matches}))
    table = table_for(settings.outlets_file)
    news: list[dict[str, Any]] = []
    followed: dict[str, set[str]] = defaultdict(set)  # story → story subscriptions that saw it change
    for rowid, sub_id in matches:
        a, sub = by_rowid[rowid], subs[sub_id]
        sid = a["story_id"]
        base = {"sub_id": sub_id, "story_id": sid, "article_id": a["id"]}
        if sid is None:
            news.append({**base, "key": f"{sub_id}|article:{a['id']}", "what": "new_article",
                         "line": f"new article: {_short(a['title'])}"})
            continue
        prior = [m for m in members.get(sid, []) if m["rowid"] < rowid]
        if sub["kind"] != "story":
            news.append({**base, "key": f"{sub_id}|{sid}|story", "what": "new_story",
                         "line": _matched_line(sub, a, bool(prior), info.get(sid, {}).get("label") or a["title"])})
            continue
        followed[sid].add(sub_id)
        news += [{**base, **n} for n in _story_news(sub_id, sid, a, prior, members.get(sid, []), links, table)]
    if settings.follow_digest:
        for sid, sub_ids in sorted(followed.items()):
            for n in digest_news(store, settings, sid):
                news += [{"sub_id": s, "story_id": sid, "article_id": None, **n, "key": f"{s}|{sid}|{n['key']}",
                          "also": [f"{s}|{sid}|{k}" for k in n.get("also", ())]} for s in sorted(sub_ids)]
    return once_per_fact(store, news)


def once_per_fact(store: Store, news: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop a fact any of whose wordings was told (or was there when the story was followed); keep the other
    wordings of a new one as silent rows, so they are not told later either."""
    worded = [n for n in news if n.get("also")]
    if not worded:
        return news
    seen = sql.existing_keys(store, [k for n in worded for k in (n["key"], *n["also"])])
    out: list[dict[str, Any]] = []
    for n in news:
        also = n.pop("also", None) or []
        if any(k in seen for k in (n["key"], *also)):
            continue
        seen.update((n["key"], *also))
        out.append(n)
        out += [{**n, "key": k, "silent": True} for k in also if k != n["key"]]
    return out


def _short(text: str | None, n: int = 90) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _matched_line(sub: dict[str, Any], a: dict[str, Any], older: bool, label: str) -> str:
    """Why a search, outlet or entity subscription hears of a story, in one line."""
    target, outlet = _short(sub["target"], 40), a["outlet"] or sub["target"]
    if sub["kind"] == "search":
        head = f'now matches "{target}"' if older else f'new story matching "{target}"'
    elif sub["kind"] == "outlet":
        head = f"{outlet} reports on" if older else f"new story from {outlet}"
    else:
        head = f"{target} now in" if older else f"new story on {target}"
    return f"{head}: {_short(label)}"


def _story_news(sub_id: str, sid: str, a: dict[str, Any], prior: list[dict[str, Any]], all_members: list[dict[str, Any]],
                links: list[dict[str, Any]], table: Any) -> list[dict[str, Any]]:
    """What one new article changes in a followed story: an outlet, a language or a country reporting it for
    the first time, a copy or a translation of one of its articles."""
    out: list[dict[str, Any]] = []
    k = f"{sub_id}|{sid}"
    if a["outlet"] and fold(a["outlet"]) not in {fold(m["outlet"] or "") for m in prior}:
        out.append({"key": f"{k}|outlet:{fold(a['outlet'])}", "what": "outlet", "line": f"{a['outlet']} joined"})
    if prior and a["language"] and a["language"] not in {m["language"] for m in prior}:
        out.append({"key": f"{k}|language:{a['language']}", "what": "language",
                    "line": f"first report in language {a['language']}"})
    info = table.lookup(a["outlet"], a["url"])
    if prior and info is not None and info.country:
        before = {(i.country if i else None) for i in (table.lookup(m["outlet"], m["url"]) for m in prior)}
        if info.country not in before:
            out.append({"key": f"{k}|country:{info.country}", "what": "country",
                        "line": f"first report from {info.country}"})
    in_story = {m["id"]: m for m in all_members}
    for link in links:
        if a["id"] not in (link["a"], link["b"]):
            continue
        other = link["b"] if link["a"] == a["id"] else link["a"]
        if other not in in_story or in_story[other]["rowid"] > a["rowid"]:
            continue  # the other side is news of its own (or not in this story)
        src = in_story[other]["outlet"] or "another outlet"
        if link["kind"] == "translation":
            line = f"translation appeared: {a['outlet'] or 'an outlet'} ({a['language'] or '?'}) of {src}"
        else:
            line = f"copy appeared: {a['outlet'] or 'an outlet'} repeats {src}"
        out.append({"key": f"{k}|copy:{a['id']}", "what": "copy", "line": line})
        break
    return out


def digest_news(store: Store, settings: Settings, story_id: str) -> list[dict[str, Any]]:
    """The story's key facts and conflicts as news lines (keys without the subscription): from the digest of
    its comparison, kept for the story pages too.  Each key fact also yields silent keys for its other wordings,
    so the same fact worded by a newly joined outlet is not news again."""
    from storyloom.compare import compare_kept
    from storyloom.compare.digest import build_digest
    from storyloom.outlets import table_for

    try:
        result = compare_kept(store, story_id, write=store)
        if result is None:
            return []
        digest = build_digest(result, table_for(settings.outlets_file))
    except Exception as exc:  # a comparison that fails costs the fact alerts, never the ingest
        log.warning("story %s: no digest for its followers (%s: %s)", story_id, type(exc).__name__, exc)
        return []
    out: list[dict[str, Any]] = []
    if digest.n_outlets > 1:
        for fact in digest.key_facts:
            texts = [fact.text, *(w.text for w in fact.wordings)]
            out.append({"key": f"fact:{_h(fact.text)}", "what": "fact", "line": f"new fact: {_short(fact.text, 120)}",
                        "also": [f"fact:{_h(t)}" for t in texts[1:]]})
    for c in digest.conflicts:
        values = sorted(c.values)
        out.append({"key": f"conflict:{fold(c.what)}:{_h('|'.join(values))}", "what": "conflict",
                    "line": f"figures now conflict ({c.what}): {' vs '.join(_short(v, 30) for v in values)}"})
    return out
