"""The data types that flow between stages.

Ids are content hashes, so re-ingesting the same bytes is a no-op and the local and Spark runs agree.
Everything here is a frozen dataclass: stages return new values instead of mutating shared ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

ID_HEX = 16  # 64 bits: collision odds ~1e-7 at 1M articles, short enough to type on a command line


def content_id(data: bytes) -> str:
    """The article id of a raw input: a prefix of its SHA-256."""
    return hashlib.sha256(data).hexdigest()[:ID_HEX]


def blob_key(data: bytes) -> str:
    """The full SHA-256 under which the raw bytes are kept."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class RawDoc:
    """One input item as a source gave it, before any cleaning.

    ``raw`` holds the exact bytes the item came from (a file, a JSONL line, a WARC payload, a feed entry
    serialised as JSON), so every later stage can be re-run without fetching again.  The other fields are
    what the source itself declared; ``html`` or ``text`` carries the body.
    """

    raw: bytes
    kind: str  # txt | html | json | jsonl | warc | feed | url
    location: str  # where it was found: path, path:line, URL, WARC record id
    url: str | None = None
    title: str | None = None
    text: str | None = None
    html: str | None = None
    published: str | None = None  # as the source wrote it; normalised by clean.meta
    outlet: str | None = None
    author: str | None = None
    language: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # unknown fields, kept verbatim

    @property
    def id(self) -> str:
        return content_id(self.raw)

    @property
    def blob(self) -> str:
        return blob_key(self.raw)


@dataclass(frozen=True)
class Span:
    """A removed piece of text: ``[start, end)`` in the text before removal, and why it went."""

    start: int
    end: int
    reason: str
    rule: str


# the indices of a body's non-empty lines the template layer does not judge: (taken by page rules, taken by a
# line rule); see storyloom.clean.text.template_skip
TemplateSkip = tuple[tuple[int, ...], tuple[int, ...]]


@dataclass(frozen=True)
class Article:
    """An article as storyloom keeps it: the clean text plus metadata, linked to its raw input."""

    id: str
    blob: str
    kind: str
    location: str
    title: str
    text: str
    url: str | None = None
    canonical_url: str | None = None
    published: str | None = None  # ISO 8601 as the outlet gave it (its offset kept; a date stays a date), or None
    date_flag: str | None = None  # why ``published`` is missing or not trusted, e.g. "no date", "future"
    outlet: str | None = None
    author: str | None = None
    language: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    body: str | None = None  # the text before furniture was removed; ``removed`` spans index into it
    removed: tuple[Span, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)  # what the text says: cited sources, attributions, dates
    template_group: str | None = None  # outlet/feed/folder whose recurring lines count as templates
    line_keys: tuple[str, ...] = field(default=(), repr=False)  # of the body's lines, for template counts
    # the body's non-empty lines the template layer does not judge (page rules', line rules'), by index; None: not
    # known (storyloom.clean.text.template_skip; kept so a stored article's template lines can be judged again)
    template_skip: TemplateSkip | None = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()
