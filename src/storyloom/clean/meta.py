"""Metadata normalisation: dates to UTC ISO 8601 (with a flag when not trusted), outlet.  (Language: the
shared :mod:`storyloom.enrich.language`.)

Dates from the wild are in every format and time zone, and sometimes wrong (an epoch of 0, a CMS default
of 2099).  A date we do not trust is kept out of ``published`` (which orders stories) and the reason goes in
``date_flag``; the raw string stays in the raw input.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from urllib.parse import urlsplit

from dateutil import parser as dateparser

EARLIEST_YEAR = 1990
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def normalize_date(value: str | None, *, now: datetime | None = None) -> tuple[str | None, str | None]:
    """(ISO date or UTC datetime, flag).  Naive datetimes are taken as UTC; a date stays a date."""
    if not value or not value.strip():
        return None, "no date"
    s = value.strip()
    now = now or datetime.now(timezone.utc)
    try:
        if re.fullmatch(r"\d{9,11}(\.\d+)?", s):  # Unix seconds
            dt = datetime.fromtimestamp(float(s), tz=timezone.utc)
        else:
            try:  # ISO 8601, by far the commonest, parsed in C; dateutil for everything else
                dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
            except ValueError:
                dt = dateparser.parse(s, fuzzy=False)
    except (ValueError, OverflowError, TypeError):
        return None, f"unparseable date {s[:40]!r}"
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    dt = dt.astimezone(timezone.utc)
    if dt.year < EARLIEST_YEAR:
        return None, f"date before {EARLIEST_YEAR} ({s[:40]})"
    if dt > now.replace(microsecond=0) + _ONE_DAY:
        return None, f"date in the future ({s[:40]})"
    if _DATE_ONLY.match(s):
        return dt.date().isoformat(), None
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ"), None


from datetime import timedelta  # noqa: E402

_ONE_DAY = timedelta(days=1)  # feeds in time zones ahead of UTC legitimately date items "tomorrow"


def outlet_from_url(url: str | None) -> str | None:
    """The site's host name without ``www.``: a stable outlet key when the source names none."""
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host
