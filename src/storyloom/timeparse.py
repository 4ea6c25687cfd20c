"""Times as the store keeps them (ISO 8601 strings) and what each stage needs of them: one module, one rule.

Four parsers used to disagree on what time a bare date means (midnight in two places, noon in two others), so
the same article could fall inside a story's window for one stage and outside it for another.  The rule now:

* a full timestamp without an offset is UTC (the store writes UTC, and a source that gives no offset gave no
  better guess);
* a **bare date is noon UTC** when a single instant is needed (:func:`parse_time`, :func:`timestamp`): the
  middle of the day the outlet printed, so the error is at most half a day either way, whatever the outlet's
  zone — midnight put every date-only article up to a whole day early;
* a bare date used as a range bound covers its whole day (:func:`start_of_day`, :func:`end_of_day`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_Z = "%Y-%m-%dT%H:%M:%SZ"


def is_date_only(iso: str) -> bool:
    return bool(_DATE_ONLY.match(iso.strip()))


@lru_cache(maxsize=1 << 16)
def parse_time(iso: str) -> datetime:
    """An aware datetime (UTC when no offset is given; noon UTC for a bare date).  ValueError when not ISO 8601.

    Cached: stories compare the same first/last times of a story against every article scored against it."""
    s = iso.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if is_date_only(s):
        s += "T12:00:00+00:00"
    dt = datetime.fromisoformat(s)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def maybe_time(iso: str | None) -> datetime | None:
    """:func:`parse_time`, or None for a missing or unparseable value (untrusted input: never an exception)."""
    if not iso:
        return None
    try:
        return parse_time(iso)
    except (ValueError, TypeError, OverflowError):
        return None


def timestamp(iso: str) -> float:
    """Seconds since the epoch (see :func:`parse_time`)."""
    return parse_time(iso).timestamp()


def hours_between(a: str, b: str) -> float:
    return abs(timestamp(a) - timestamp(b)) / 3600.0


def shift(iso: str, days: float) -> str:
    """``iso`` moved by ``days``, as the store's UTC form (``…Z``)."""
    return (parse_time(iso) + timedelta(days=days)).astimezone(UTC).strftime(ISO_Z)


def start_of_day(iso: str) -> str:
    """A range's lower bound: a bare date means from the start of its day (the value itself otherwise)."""
    return iso + "T00:00:00" if is_date_only(iso) else iso


def end_of_day(iso: str) -> str:
    """A range's upper bound, inclusive: a bare date means up to the end of its day.  The suffix sorts after
    every time of that day as stored text ("~" is after every digit, "Z" and "+")."""
    return iso + "T23:59:59~" if is_date_only(iso) else iso


def utc_now() -> str:
    """Now, as the store writes ingest and event times (UTC, whole seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def utc_key(iso: str | None) -> tuple[int, float]:
    """A sort key that orders stored times by their instant whatever offset each was written with (the store
    keeps the outlet's own offset: "…T00:30+01:00" is before "…T00:00Z"); missing or unreadable times last."""
    dt = maybe_time(iso)
    return (0, dt.timestamp()) if dt is not None else (1, 0.0)
