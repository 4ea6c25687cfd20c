"""Metadata normalisation: dates to UTC ISO 8601 (with a flag when not trusted), language, outlet.

Dates from the wild are in every format and time zone, and sometimes wrong (an epoch of 0, a CMS default
of 2099).  A date we do not trust is kept out of ``published`` (which orders stories) and the reason goes in
``date_flag``; the raw string stays in the raw input.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timezone
from functools import lru_cache
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


_IDENTIFIER_LOCK = threading.Lock()


def _identifier():  # type: ignore[no-untyped-def]
    """py3langid's model, loaded once per process (and per Spark worker) on first use; threads asking at once
    wait for the one load instead of each loading it."""
    with _IDENTIFIER_LOCK:
        return _load_identifier()


@lru_cache(maxsize=1)
def _load_identifier():  # type: ignore[no-untyped-def]
    import py3langid.langid as L

    return L.LanguageIdentifier.from_modelpath(L.MODEL_DIR / L.MODEL_FILE, norm_probs=True)


_LANG_ALIASES = {"wuu": "zh", "yue": "zh", "nb": "no", "nn": "no"}
MIN_LANG_CHARS = 20
MIN_LANG_CONFIDENCE = 0.5


LANG_SAMPLE_CHARS = 700  # py3langid's cost grows with length; a paragraph is plenty to tell languages apart


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text, or None when it is too short or the model is unsure."""
    sample = text[:LANG_SAMPLE_CHARS]
    if len(sample.strip()) < MIN_LANG_CHARS:
        return None
    lang, prob = _identifier().classify(sample)
    if prob < MIN_LANG_CONFIDENCE:
        return None
    return _LANG_ALIASES.get(lang, lang)


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
