"""What the API and the web pages show, computed once from the store: both shells call these, so the JSON
and the HTML always agree.  Also the drawings (timeline, provenance graph, sparklines) as plain geometry, so
the pages are readable without JavaScript."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any

from storyloom.serve.refresh import Refresher
from storyloom.store import Store
from storyloom.store import copies as copies_sql
from storyloom.store import stories as stories_sql
from storyloom.store.queries import get_article

# -- cursors ----------------------------------------------------------------------------------------


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        pad = "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(cursor + pad))["o"]
        if not isinstance(value, int) or value < 0:
            raise ValueError
        return value
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError("bad cursor") from exc


# -- compare results -----------------------------------------------------------------------------------


def compared(store: Store, story_id: str, n_articles: int, *, refresher: Refresher | None = None,
             inline_max: int = 4, wait: bool = False) -> tuple[dict[str, Any] | None, str]:
    """The claim matrix of a story and how current it is: ``fresh`` (kept for this version of the story),
    ``stale`` (kept for an earlier version: a new one is being computed) or ``pending`` (none yet: being
    computed).  Comparisons are kept in the store per story version, so a story page is a read.  A missing or
    out-of-date one is computed here only for small stories (``inline_max`` articles: a fraction of a second),
    when ``wait`` is asked, or when there is no refresher; otherwise the refresher computes it behind the page
    (see :mod:`storyloom.serve.refresh`)."""
    from storyloom.compare import compare_story, kept, kept_any
    from storyloom.store import compare as compare_sql

    version, hit = kept(store, story_id)
    if version is None:
        return None, "pending"
    if hit is not None:
        return hit, "fresh"
    if refresher is not None and not wait and n_articles > inline_max:
        refresher.request(story_id)
        old = kept_any(store, story_id)
        return old, ("stale" if old is not None else "pending")
    result = compare_story(store, story_id)
    if result is None:
        return None, "pending"
    # Keeping it is a favour to the next reader, never a reason to fail or hold this one: a read-only store,
    # or an ingest holding the write lock (its chunks take seconds), and the page is served uncached.
    try:
        writer = Store(store.path, busy_timeout_ms=KEEP_WAIT_MS)
    except Exception:
        return result, "fresh"
    try:
        compare_sql.save_cached(writer, story_id, version, result)
    except Exception:
        pass
    finally:
        writer.close()
    return result, "fresh"


KEEP_WAIT_MS = 250


def compare_options(state: Any) -> dict[str, Any]:
    """The app's refresher and inline limit, as :func:`story` takes them."""
    return {"refresher": state.refresher, "inline_max": state.settings.compare_inline_articles}


def survivor(store: Store, story_id: str) -> str | None:
    """The story a merged-away story now lives in (its id stays valid: links to it must keep working)."""
    return stories_sql.merged_into(store, story_id)


# -- drawings ---------------------------------------------------------------------------------------


def _ts(iso: str) -> float:
    s = iso.replace("Z", "+00:00")
    dt = datetime.fromisoformat(s if "T" in s else s + "T00:00:00+00:00")
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def timeline(members: list[dict[str, Any]], width: int = 760, row_h: int = 28) -> dict[str, Any]:
    """Articles as dots on a time axis, one row per outlet, in SVG coordinates."""
    outlets = list(dict.fromkeys(m["outlet"] or "unknown outlet" for m in members))
    times = [_ts(m["time"]) for m in members]
    lo, hi = (min(times), max(times)) if times else (0.0, 1.0)
    span = (hi - lo) or 3600.0
    left, right = 170, 20
    dots = []
    for m, t in zip(members, times):
        row = outlets.index(m["outlet"] or "unknown outlet")
        dots.append({"x": round(left + (t - lo) / span * (width - left - right), 1), "y": 20 + row * row_h + row_h / 2,
                     "id": m["id"], "title": m["title"], "time": m["time"], "flag": m.get("time_flag"),
                     "outlet": m["outlet"] or "unknown outlet"})
    ticks = []
    for k in range(5):
        t = lo + span * k / 4
        ticks.append({"x": round(left + k / 4 * (width - left - right), 1),
                      "label": datetime.fromtimestamp(t, tz=timezone.utc).strftime("%d %b %H:%M")})
    return {"width": width, "height": 40 + len(outlets) * row_h, "left": left,
            "rows": [{"label": o, "y": 20 + i * row_h + row_h / 2} for i, o in enumerate(outlets)],
            "dots": dots, "ticks": ticks}


def graph_layout(graph: dict[str, Any], width: int = 760) -> dict[str, Any]:
    """Sources on the left, articles in the middle (by time), outlets on the right: a layered drawing in
    which every edge reads left to right, "came from" pointing at the source."""
    cols = {"source": 110, "article": width // 2, "outlet": width - 110}
    by_kind: dict[str, list[dict[str, Any]]] = {"source": [], "article": [], "outlet": []}
    for n in graph["nodes"]:
        by_kind.setdefault(n["kind"], []).append(n)
    by_kind["article"].sort(key=lambda n: (n.get("published") or "9999", n["id"]))
    pos: dict[str, tuple[float, float]] = {}
    height = 60 + 46 * max((len(v) for v in by_kind.values()), default=1)
    for kind, nodes in by_kind.items():
        step = (height - 40) / max(1, len(nodes))
        for i, n in enumerate(nodes):
            pos[n["id"]] = (cols.get(kind, width // 2), 30 + step * (i + 0.5))
    nodes = [{**n, "x": pos[n["id"]][0], "y": round(pos[n["id"]][1], 1)} for n in graph["nodes"]]
    edges = []
    for e in graph["edges"]:
        if e["source"] in pos and e["target"] in pos:
            (x1, y1), (x2, y2) = pos[e["source"]], pos[e["target"]]
            edges.append({**e, "x1": x1, "y1": round(y1, 1), "x2": x2, "y2": round(y2, 1)})
    return {"width": width, "height": round(height), "nodes": nodes, "edges": edges}


def sparkline(counts: list[int], width: int = 90, height: int = 22) -> str:
    """SVG polyline points for a small coverage curve (articles per day)."""
    if len(counts) < 2:
        return ""  # one day: nothing to draw
    top = max(counts) or 1
    step = width / (len(counts) - 1)
    return " ".join(f"{i * step:.1f},{height - 2 - (c / top) * (height - 4):.1f}" for i, c in enumerate(counts))


# -- pages' data --------------------------------------------------------------------------------------


def feed(store: Store, *, limit: int, cursor: str | None, **filters: Any) -> dict[str, Any]:
    offset = decode_cursor(cursor)
    rows = stories_sql.feed(store, limit=limit + 1, offset=offset, **filters)
    more = len(rows) > limit
    rows = rows[:limit]
    days = stories_sql.daily_counts(store, [r["id"] for r in rows])
    for r in rows:
        r["daily"] = days.get(r["id"], [])
        r["sparkline"] = sparkline(r["daily"])
    return {"items": rows, "next_cursor": encode_cursor(offset + limit) if more else None}


def story(store: Store, story_id: str, *, refresher: Refresher | None = None, inline_max: int = 4,
          wait: bool = False) -> dict[str, Any] | None:
    """A story with its members, copy groups, timeline and comparison (claim matrix, provenance graph).
    ``comparison`` says how current the claim matrix is and for how many of the story's articles it was made;
    see :func:`compared`."""
    full = stories_sql.resolve_story(store, story_id)
    detail = stories_sql.story_detail(store, full) if full else None
    if detail is None:
        return None
    comp, status = compared(store, detail["id"], detail["n_articles"], refresher=refresher, inline_max=inline_max,
                            wait=wait)
    detail["comparison"] = {"status": status, "articles": comp["story"]["n_articles"] if comp else None}
    groups: dict[str, list[str]] = {}
    for m in detail["members"]:
        groups.setdefault(m["group_id"] or m["id"], []).append(m["id"])
    detail["copy_groups"] = [{"group_id": g, "members": ids} for g, ids in groups.items() if len(ids) > 1]
    detail["timeline"] = timeline(detail["members"])
    if comp is not None:
        detail["claim_matrix"] = {k: comp[k] for k in ("columns", "rows", "summary", "first_reporter", "untrusted_dates")}
        detail["provenance"] = comp["provenance"]
        detail["graph"] = graph_layout(comp["provenance"])
    return detail


def article(store: Store, article_id: str, raw: bool = False) -> dict[str, Any] | None:
    art = get_article(store, article_id)
    if art is None:
        return None
    group = copies_sql.group_of(store, [art["id"]]).get(art["id"])
    art["copy_group"] = copies_sql.group_detail(store, group) if group else None
    member = store.conn.execute("SELECT story_id FROM story_members WHERE article_id = ?", (art["id"],)).fetchone()
    art["story_id"] = member[0] if member else None
    if raw:
        data = store.raw_bytes(art["blob"]) or b""
        try:
            art["raw"] = {"encoding": "utf-8", "data": data.decode("utf-8")}
        except UnicodeDecodeError:
            art["raw"] = {"encoding": "base64", "data": base64.b64encode(data).decode()}
    return art
