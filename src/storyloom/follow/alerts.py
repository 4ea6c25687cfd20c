"""Coalescing: a subscription's waiting news becomes one alert, at most one per ``follow_interval_seconds``.

A burst of articles (a wire story copied by forty outlets in ten minutes) gives one alert listing what
changed, not forty.  The alert, its news marked as told and its deliveries queued are written in one
transaction, so an alert exists with its whole delivery log or not at all; its id is derived from the news it
tells, so it is the same id whichever process or run writes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store import follow as sql

MAX_WHY = 400  # characters of the one-line summary


def links(settings: Settings, story_id: str, since: str | None = None) -> dict[str, str]:
    """The story page and its digest ("new since" the previous alert when there was one)."""
    from urllib.parse import quote

    from storyloom.timeparse import ISO_Z, maybe_time

    base = settings.follow_base_url.rstrip("/")
    when = maybe_time(since)
    digest = f"{base}/api/stories/{story_id}/digest"
    if when is not None:  # the "Z" form: no "+" for a query string to turn into a space
        digest += "?since=" + quote(when.astimezone(UTC).strftime(ISO_Z))
    return {"page": f"{base}/stories/{story_id}", "digest": digest}


def why_line(stories: Sequence[dict[str, Any]]) -> str:
    """The whole alert in one line: each story's lines, prefixed by its label when there are several."""
    if len(stories) == 1:
        text = "; ".join(stories[0]["lines"])
    else:
        text = " | ".join(f"{s['label'][:60]}: {', '.join(s['lines'])}" for s in stories)
    return text if len(text) <= MAX_WHY else text[: MAX_WHY - 1] + "…"


def coalesce(store: Store, settings: Settings, now: datetime | None = None) -> list[str]:
    """Turn waiting news into alerts for every subscription whose interval has passed; their ids."""
    now = now or datetime.now(UTC)
    cutoff = (now - timedelta(seconds=settings.follow_interval_seconds)).isoformat(timespec="microseconds")
    sub_ids = sql.pending_subs(store, cutoff)
    if not sub_ids:
        return []
    waiting = sql.pending_news(store, sub_ids)
    subs = sql.subs_by_id(store, sub_ids)
    labels = sql.labels(store, sorted({n["story_id"] for ns in waiting.values() for n in ns if n["story_id"]}))
    made = []
    for sub_id in sub_ids:
        sub, news = subs.get(sub_id), waiting.get(sub_id)
        if sub is None or not news:
            continue
        stories: dict[str, dict[str, Any]] = {}
        for n in news:
            key = n["story_id"] or f"article:{n['article_id']}"
            entry = stories.setdefault(key, {
                "story_id": n["story_id"], "article_id": None if n["story_id"] else n["article_id"],
                "label": labels.get(n["story_id"] or "", {}).get("label") or _label_from(n["line"]), "lines": []})
            if n["line"] not in entry["lines"]:
                entry["lines"].append(n["line"])
        ordered = list(stories.values())
        made.append({
            "id": hashlib.sha256(f"{sub_id}|{'|'.join(n['news_key'] for n in news)}".encode()).hexdigest()[:20],
            "sub_id": sub_id, "created_at": _stamp(), "why": why_line(ordered), "stories": ordered,
            "news": [n["rowid"] for n in news],
            "channels": [ch for ch, on in (("webhook", sub.get("webhook")), ("email", sub.get("email"))) if on]})
    return sql.write_alerts(store, made)


def _stamp() -> str:
    """Now to the microsecond: alerts of one subscription made within a second still sort in order."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _label_from(line: str) -> str:
    return line.split(": ", 1)[-1]
