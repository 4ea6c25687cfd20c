"""Following: subscriptions to a story, a saved search, an outlet or a named entity, and their alerts.

The flow, each step its own module:

* :func:`subscribe` checks the target (an FTS5 query must parse, a story must exist, an entity must have a
  name the stages can find) and indexes the subscription under its match keys (:mod:`.keys`);
* :func:`after_stages` runs when an ingest's copies and stories stages finish: :mod:`.match` writes the news
  the new articles bring (never polling the store: only the articles past a cursor), :mod:`.alerts` coalesces
  each subscription's news into at most one alert per interval, and :mod:`.deliver` sends the due webhooks and
  writes the e-mail files.  The Atom feed (:mod:`.atom`) is read from the alerts on request.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from storyloom.errors import StoryloomError
from storyloom.follow import alerts as coalescing
from storyloom.follow import deliver, keys, match
from storyloom.readmodels import Subscription
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store import follow as sql
from storyloom.timeparse import maybe_time, utc_now

KINDS = ("story", "search", "outlet", "entity")
MAX_TARGET = 500
log = logging.getLogger("storyloom.follow")


class FollowError(StoryloomError):
    """A subscription that cannot be made (a bad query, no such story…): one clear line for the user."""


@dataclass
class FollowReport:
    articles: int = 0
    news: int = 0
    alerts: list[str] = field(default_factory=list)
    delivered: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _check_filters(filters: dict[str, Any]) -> dict[str, Any]:
    allowed = {"language", "outlet", "since", "min_outlets"}
    unknown = sorted(set(filters) - allowed)
    if unknown:
        raise FollowError(f"unknown filter(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})")
    out = {k: v for k, v in filters.items() if v not in (None, "")}
    if "min_outlets" in out:
        try:
            out["min_outlets"] = int(out["min_outlets"])
        except (TypeError, ValueError) as exc:
            raise FollowError(f"min_outlets must be a whole number, not {out['min_outlets']!r}") from exc
        if not 1 <= out["min_outlets"] <= 1000:
            raise FollowError("min_outlets must be between 1 and 1000")
    if "since" in out and maybe_time(str(out["since"])) is None:
        raise FollowError(f"since must be an ISO date or time, not {str(out['since'])[:40]!r}")
    for k in ("language", "outlet", "since"):
        if k in out:
            out[k] = str(out[k])[:100]
    return out


def _check_webhook(url: str, settings: Settings) -> None:
    from storyloom.ingest.web import Fetcher

    with Fetcher(settings) as fetcher:
        try:
            fetcher.check_url(url)
        except StoryloomError as exc:
            raise FollowError(f"webhook {url[:100]}: {getattr(exc, 'reason', exc)}") from exc


def subscribe(store: Store, settings: Settings, kind: str, target: str, *, owner: str = "",
              filters: dict[str, Any] | None = None, webhook: str | None = None, secret: str | None = None,
              email: str | None = None) -> Subscription:
    """Make a subscription; FollowError (one line) when the target cannot be followed."""
    target = " ".join((target or "").split())
    if kind not in KINDS:
        raise FollowError(f"cannot follow a {kind!r} (one of: {', '.join(KINDS)})")
    if not target or len(target) > MAX_TARGET:
        raise FollowError(f"the {kind} to follow must be 1 to {MAX_TARGET} characters")
    filters = _check_filters(filters or {}) if kind == "search" else {}
    baseline: list[tuple[str, str]] = []
    if kind == "search":
        problem = sql.fts_error(store, target)
        if problem:
            raise FollowError(f"not a valid search query ({problem}); quote words with punctuation, "
                              f'e.g. "storm-surge"')
        if not keys.search_keys(target):
            raise FollowError("the search query has no word to look for")
    elif kind == "entity" and not keys.entity_keys(target):
        raise FollowError(f"{target!r}: no name the stages can find in it (names of at least "
                          "4 letters, as the stories stage extracts them)")
    elif kind == "story":
        from storyloom.store.stories import merged_into, resolve_story

        full = resolve_story(store, target) or merged_into(store, target)
        if full is None:
            raise FollowError(f"no story with an id starting {target!r}")
        target = full
    if webhook:
        _check_webhook(webhook, settings)
    if email and ("@" not in email or any(c in email for c in "\r\n<>,;") or len(email) > 254):
        raise FollowError(f"{email[:60]!r} is not an e-mail address")
    sub = {"id": secrets.token_hex(6), "kind": kind, "target": target, "filters": filters, "owner": owner[:100],
           "token": secrets.token_urlsafe(24), "webhook": webhook or None,
           "secret": (secret or secrets.token_hex(16)) if webhook else None, "email": email or None,
           "created_at": utc_now()}
    if kind == "story" and settings.follow_digest:  # what the story already says is not news
        baseline = [(f"{sub['id']}|{target}|{k}", n["line"]) for n in match.digest_news(store, settings, target)
                    for k in (n["key"], *n.get("also", ()))]
    sql.add_sub(store, sub, keys.all_keys(kind, target), baseline)
    return sql.list_subs(store, sub_id=str(sub["id"]))[0]


def unfollow(store: Store, sub_id: str) -> bool:
    full = sql.resolve_sub(store, sub_id)
    return sql.delete_sub(store, full) if full else False


def after_stages(store: Store, settings: Settings, deliver_now: bool = True) -> FollowReport:
    """Match the articles the stages are done with, coalesce alerts, deliver what is due.  Never raises for a
    delivery: a failing webhook is retried later; matching errors are the store's own (StoreError)."""
    started = time.perf_counter()
    rep = FollowReport()
    m = match.match_new(store, settings)
    rep.articles, rep.news = m.articles, m.news
    if sql.has_subs(store):
        rep.alerts = coalescing.coalesce(store, settings)
        if deliver_now:
            try:
                rep.delivered = deliver.deliver_due(store, settings, budget=settings.webhook_timeout)
            except Exception as exc:  # the log keeps them due: a later run delivers them
                log.warning("alerts not delivered this time: %s: %s", type(exc).__name__, exc)
    rep.seconds = time.perf_counter() - started
    return rep


__all__ = ["FollowError", "FollowReport", "KINDS", "after_stages", "subscribe", "unfollow"]
