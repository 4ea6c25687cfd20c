"""The last line of defence between untrusted input and a run: no reader's exception escapes.

Every reader catches what it expects item by item (so good items beside a bad one still come out).  This
wrapper catches the rest: a parser bug on a hostile byte sequence (warcio's AttributeError, feedparser's
UnicodeEncodeError on ``&#55296;``), an OSError mid-read.  It also vets what readers yield: a string field
holding a lone surrogate cannot be encoded to UTF-8, so it would fail later in the store, mid-batch, far
from the item that caused it; here it is one BadInput naming that item.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from storyloom.errors import BadInput
from storyloom.models import RawDoc

_SURROGATE = re.compile("[\ud800-\udfff]")
TEXT_FIELDS = ("url", "title", "text", "html", "published", "outlet", "author", "language")


def describe(exc: BaseException) -> str:
    """``Type: message`` on one line and at most ~200 characters (warcio's messages span paragraphs)."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


def unreadable(location: str, exc: BaseException) -> BadInput:
    """The one line for an exception no reader expected: its type and message, never a traceback."""
    return BadInput(location, f"unreadable ({describe(exc)})")


def vet(item: RawDoc | BadInput) -> RawDoc | BadInput:
    """The item, or why it cannot be stored (a field that is not encodable text)."""
    if isinstance(item, RawDoc):
        for name in TEXT_FIELDS:
            value = getattr(item, name)
            if value is not None and (not isinstance(value, str) or _SURROGATE.search(value)):
                return BadInput(item.location, f"field {name!r} is not valid text (a lone surrogate or not a string)")
    return item


def guarded(items: Iterator[RawDoc | BadInput], location: str) -> Iterator[RawDoc | BadInput]:
    """``items`` vetted one by one; an exception ends the stream with one BadInput for ``location``."""
    try:
        for item in items:
            yield vet(item)
    except BadInput as exc:
        yield exc
    except OSError as exc:
        yield BadInput(location, f"cannot read: {exc.strerror or exc}")
    except Exception as exc:
        yield unreadable(location, exc)
