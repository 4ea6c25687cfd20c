"""Delivery of alerts: webhooks (signed JSON POST, retried with backoff, then dead-lettered) and e-mail files.

Every alert's deliveries are queued in the log with the alert (:mod:`.alerts`); this works through the due
ones.  An e-mail is a file named after the alert, written to ``tmp/`` and renamed into ``new/``: written once
whatever crashes or re-runs.  A webhook cannot be made exactly-once by the sender (the receiver may have acted
on a POST whose answer was lost), so each carries the alert id (``X-Storyloom-Delivery``) for the receiver to
drop a repeat; the log makes sure a delivered alert is never sent again by us.  Webhook targets go through
URL ingest's guards: loopback, private and link-local addresses are refused unless ``allow_private``, before
connecting and at the connected peer; redirects are not followed (a POST is not replayed elsewhere), and the
answer is read no further than its status.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import os
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from storyloom.errors import FetchError
from storyloom.follow.alerts import links
from storyloom.readmodels import Alert
from storyloom.settings import Settings
from storyloom.store import Store
from storyloom.store import follow as sql
from storyloom.timeparse import parse_time

log = logging.getLogger("storyloom.follow")
SIGNATURE_HEADER = "X-Storyloom-Signature"
MAX_BACKOFF = 3600.0


def payload(alert: Alert, sub: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The JSON of an alert as webhooks receive it (and as the API shows it)."""
    return {
        "id": alert.id, "created_at": alert.created_at, "why": alert.why, "since": alert.since,
        "subscription": {k: sub[k] for k in ("id", "kind", "target", "owner")},
        "stories": [{**s.model_dump(), **(links(settings, s.story_id, alert.since) if s.story_id else {})}
                    for s in alert.stories],
    }


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(url: str, body: bytes, secret: str | None, alert_id: str, settings: Settings) -> None:
    """One signed POST through URL ingest's guarded client; FetchError on any refusal, failure or non-2xx."""
    import httpx

    from storyloom.ingest.web import Fetcher

    s = settings.with_overrides(fetch_timeout=settings.webhook_timeout)
    headers = {"Content-Type": "application/json", "X-Storyloom-Delivery": alert_id}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    with Fetcher(s) as fetcher:
        fetcher.check_url(url)
        try:
            with fetcher.client.stream("POST", url, content=body, headers=headers) as r:
                if not 200 <= r.status_code < 300:
                    raise FetchError(url, f"HTTP {r.status_code}" + (" (redirects are not followed)"
                                                                     if r.is_redirect else ""))
        except httpx.TimeoutException as exc:
            raise FetchError(url, f"timed out after {settings.webhook_timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise FetchError(url, f"request failed: {type(exc).__name__}: {str(exc)[:160]}") from exc
        except Exception as exc:  # the guarded backend's refusal of a private peer
            if isinstance(exc, FetchError):
                raise
            raise FetchError(url, f"refused: {str(exc)[:160]}") from exc


def maildir_path(settings: Settings) -> Path:
    return Path(settings.follow_maildir or f"{settings.db_path}.maildir")


def write_mail(alert: Alert, sub: dict[str, Any], settings: Settings, facts: list[str]) -> Path:
    """The alert as an RFC 5322 message (plain text and HTML) in the maildir; written once (named by its id)."""
    root = maildir_path(settings)
    for d in ("tmp", "new", "cur"):
        (root / d).mkdir(parents=True, exist_ok=True)
    name = f"{alert.id}.storyloom"
    for d in ("new", "cur"):
        done = [p for p in (root / d).glob(name + "*")]
        if done:
            return done[0]
    msg = EmailMessage()
    msg["From"] = "storyloom <storyloom@localhost>"
    msg["To"] = sub["email"]
    msg["Subject"] = f"[storyloom] {sub['kind']} {sub['target'][:60]}: {alert.why[:120]}"
    msg["Date"] = format_datetime(parse_time(alert.created_at).astimezone(UTC))
    msg["Message-ID"] = make_msgid(idstring=alert.id, domain="storyloom.localhost")
    msg["X-Storyloom-Alert"] = alert.id
    text, body = [alert.why, ""], [f"<p>{html.escape(alert.why)}</p>"]
    for s in alert.stories:
        text.append(f"* {s.label}")
        text += [f"  - {line}" for line in s.lines]
        items = "".join(f"<li>{html.escape(line)}</li>" for line in s.lines)
        body.append(f"<h2>{html.escape(s.label)}</h2><ul>{items}</ul>")
        if s.story_id:
            ln = links(settings, s.story_id, alert.since)
            text.append(f"  story: {ln['page']}\n  what changed: {ln['digest']}")
            body.append(f'<p><a href="{html.escape(ln["page"])}">The story</a> · '
                        f'<a href="{html.escape(ln["digest"])}">what changed</a></p>')
    if facts:
        text += ["", "Key facts:"] + [f"- {f}" for f in facts]
        body.append("<h3>Key facts</h3><ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in facts) + "</ul>")
    msg.set_content("\n".join(text) + "\n")
    msg.add_alternative("<!doctype html><html><body>" + "".join(body) + "</body></html>", subtype="html")
    tmp = root / "tmp" / name
    tmp.write_bytes(msg.as_bytes())
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    final = root / "new" / name
    os.replace(tmp, final)
    return final


def key_facts(store: Store, settings: Settings, alert: Alert, limit: int = 5) -> list[str]:
    """The digest's key facts of the alert's first story, from its kept comparison (never computed here)."""
    from storyloom.compare import kept_any
    from storyloom.compare.digest import build_digest
    from storyloom.outlets import table_for

    for s in alert.stories:
        if not s.story_id:
            continue
        result = kept_any(store, s.story_id)
        if result is None:
            continue
        try:
            return [f.text for f in build_digest(result, table_for(settings.outlets_file)).key_facts[:limit]]
        except Exception as exc:  # facts are a garnish of the mail, not a reason to lose it
            log.warning("alert %s: no key facts (%s)", alert.id, exc)
    return []


def deliver_due(store: Store, settings: Settings, now: float | None = None,
                budget: float | None = None) -> dict[str, int]:
    """Attempt the due deliveries once each, starting none after ``budget`` seconds (an ingest must not wait on
    a row of hanging receivers: what is left waits for the next run); counts by outcome (sent, retry, dead)."""
    counts = {"sent": 0, "retry": 0, "dead": 0}
    started = time.monotonic()
    for d in sql.due(store, time.time() if now is None else now):
        if budget is not None and time.monotonic() - started > budget:
            break
        if not sql.claim(store, d.alert_id, d.channel, d.next_try, time.time() + 3 * settings.webhook_timeout + 5):
            continue  # another process is delivering it
        alert = sql.alert(store, d.alert_id)
        sub = sql.sub_raw(store, alert.sub_id) if alert else None
        if alert is None or sub is None:
            sql.record_delivery(store, d.alert_id, d.channel, "dead", d.attempts, 0, "subscription removed")
            counts["dead"] += 1
            continue
        try:
            if d.channel == "webhook" and sub.get("webhook"):
                body = json.dumps(payload(alert, sub, settings), ensure_ascii=False, sort_keys=True).encode()
                post_webhook(sub["webhook"], body, sub.get("secret"), alert.id, settings)
            elif d.channel == "email" and sub.get("email"):
                write_mail(alert, sub, settings, key_facts(store, settings, alert))
            else:
                raise FetchError(d.channel, "the subscription no longer has this channel")
        except (FetchError, OSError) as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            attempts = d.attempts + 1
            age = datetime.now(UTC).timestamp() - parse_time(alert.created_at).timestamp()
            if age >= settings.webhook_retry_hours * 3600 or d.channel != "webhook" and attempts >= 5:
                sql.record_delivery(store, d.alert_id, d.channel, "dead", attempts, 0, reason[:300])
                counts["dead"] += 1
            else:
                wait = min(MAX_BACKOFF, settings.webhook_backoff_base * 2 ** (attempts - 1))
                sql.record_delivery(store, d.alert_id, d.channel, "pending", attempts, time.time() + wait, reason[:300])
                counts["retry"] += 1
            log.warning("alert %s: %s delivery failed (attempt %d): %s", d.alert_id, d.channel, attempts, reason)
            continue
        sql.record_delivery(store, d.alert_id, d.channel, "sent", d.attempts + 1, 0, None)
        counts["sent"] += 1
    return counts
