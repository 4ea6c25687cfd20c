"""Metadata normalisation: dates to ISO 8601 *as the outlet gave them* (with a flag when not trusted), outlet.
(Language: the shared :mod:`storyloom.enrich.language`.)

Dates from the wild are in every format and time zone, and sometimes wrong (an epoch of 0, a CMS default
of 2099).  A date we do not trust is kept out of ``published`` and the reason goes in ``date_flag``; the raw
string stays in the raw input.

``published`` keeps the offset the page or feed gave: converting to UTC moved 2022-01-28T00:00:00+01:00 to
2022-01-27 (9 of 728 annotated dates changed calendar day), and a reader must see the outlet's own day.
Orders and windows use the UTC instant: the store derives ``published_utc`` from ``published`` (a generated
column, see store.migrations) and Python code reads instants through :mod:`storyloom.timeparse`, which honours offsets.
"""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from dateutil import parser as dateparser
from dateutil.parser import UnknownTimezoneWarning

from storyloom.timeparse import parse_time

EARLIEST_YEAR = 1990
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HAS_CLOCK = re.compile(r"\d{1,2}:\d{2}|T\d{4,6}\b|\d\s*[ap]\.?m\b", re.I)  # "10:30", ISO basic "T103000", "9 pm"
# Zone abbreviations feeds and pages print (dateutil knows none but UTC/GMT and warns): fixed offsets.
_TZ_ABBREVIATIONS = {
    name: hours * 3600
    for name, hours in {
        "UTC": 0, "GMT": 0, "UT": 0, "WET": 0, "BST": 1, "CET": 1, "MEZ": 1, "WEST": 1, "CEST": 2, "MESZ": 2,
        "EET": 2, "EEST": 3, "MSK": 3, "IST": 5.5, "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11,
        "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    }.items()
}
_ONE_DAY = timedelta(days=1)  # feeds in time zones ahead of UTC legitimately date items "tomorrow"


def _iso(dt: datetime) -> str:
    """Seconds precision, ``Z`` for UTC (the form every stored UTC time has), ``±HH:MM`` otherwise."""
    dt = dt.replace(microsecond=0)
    offset = dt.utcoffset()
    if offset is None or offset == timedelta(0):
        return dt.replace(tzinfo=None).isoformat() + "Z"
    if offset.seconds % 60:  # sub-minute offsets (LMT of old zones) have no ISO form: give the instant
        return dt.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    return dt.isoformat()


def normalize_date(value: str | None, *, now: datetime | None = None) -> tuple[str | None, str | None]:
    """(ISO date or datetime with the source's own offset, flag).

    Naive datetimes are taken as UTC (``Z``); a value without a time of day stays a date ("2022-01-28",
    "28 January 2022" → ``2022-01-28``); Unix seconds are UTC."""
    if not value or not value.strip():
        return None, "no date"
    s = value.strip()
    now = now or datetime.now(UTC)
    date_only = False
    try:
        if re.fullmatch(r"\d{9,11}(\.\d+)?", s):  # Unix seconds
            dt = datetime.fromtimestamp(float(s), tz=UTC)
        elif _DATE_ONLY.match(s):
            dt, date_only = parse_time(s), True
        else:
            try:  # ISO 8601, by far the commonest, parsed in C; dateutil for everything else
                dt = parse_time(s)
            except ValueError:
                with warnings.catch_warnings():  # an unknown zone name: the time is taken as UTC, as naive ones are
                    warnings.simplefilter("ignore", UnknownTimezoneWarning)
                    dt = dateparser.parse(s, fuzzy=False, tzinfos=_TZ_ABBREVIATIONS)
                date_only = not _HAS_CLOCK.search(s)
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            dt.utcoffset()  # a tzinfo that cannot say its offset (a broken tz database entry) raises here
    except (ValueError, OverflowError, TypeError):
        return None, f"unparseable date {s[:40]!r}"
    if dt.year < EARLIEST_YEAR:
        return None, f"date before {EARLIEST_YEAR} ({s[:40]})"
    if dt > now.replace(microsecond=0) + _ONE_DAY:
        return None, f"date in the future ({s[:40]})"
    if date_only:
        return dt.date().isoformat(), None
    return _iso(dt), None


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


# -- a title's own site name ---------------------------------------------------------------------------------
#
# Pages and feeds often end a headline with the site's name ("… | Al Bawaba", "… - VG247", "… - Reuters"): it
# says nothing about the event, repeats the outlet column, and puts the same words into every headline of an
# outlet (story terms, search).  Only a suffix or prefix that *is* one of the article's own names is cut, and
# only when at least two words of headline remain; the cut part is kept in the article's meta.
_TITLE_SEPARATORS = re.compile(r"\s+[|–—:·•»-]{1,2}\s+|\s*\|\s*")


def _name_key(name: str) -> str:
    key = "".join(ch for ch in name.casefold() if ch.isalnum())
    return key[3:] if key.startswith("the") and len(key) > 6 else key


def site_names(*names: str | None) -> set[str]:
    """Keys of the names an article's site goes by: its outlet, the page's site name, its host with and
    without the public suffix ("vg247.com", "vg247")."""
    keys: set[str] = set()
    for name in names:
        if not name:
            continue
        keys.add(_name_key(name))
        if "." in name and " " not in name.strip():
            first = name.strip().split(".")[0]
            keys.add(_name_key(first))
    keys.discard("")
    return keys


def title_without_site(title: str, names: set[str]) -> tuple[str, str | None]:
    """The title without a leading or trailing site name, and the part cut (None when nothing was)."""
    seps = list(_TITLE_SEPARATORS.finditer(title))
    if not seps or not names:
        return title, None
    last, first = seps[-1], seps[0]
    if _name_key(title[last.end():]) in names:
        kept = title[:last.start()].strip()
        if len(kept.split()) >= 2:
            return kept, title[last.start():]
    if _name_key(title[:first.start()]) in names:
        kept = title[first.end():].strip()
        if len(kept.split()) >= 2:
            return kept, title[:first.end()]
    return title, None
