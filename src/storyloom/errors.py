"""Typed errors: each one renders as one clear line about one item, never a bare ValueError.

A batch never stops for a bad item: the ingest loop catches :class:`BadInput` (and its kin), reports
``location: reason`` and goes on.  Only programming errors escape.
"""

from __future__ import annotations


class StoryloomError(Exception):
    """Base of every error storyloom raises on purpose."""


class BadInput(StoryloomError):
    """An input item cannot be turned into an article (empty, binary, malformed, too large…)."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}")
        self.location = location
        self.reason = reason

    @classmethod
    def unexpected(cls, location: str, exc: BaseException, doing: str = "cleaned") -> BadInput:
        """The one line for an unforeseen failure on one item (a parser's crash, a bug): ``could not be <doing>
        (TypeName: message)``, the message cut so a huge one does not flood the report."""
        if isinstance(exc, BadInput):
            return exc
        return cls(location, f"could not be {doing} ({type(exc).__name__}: {str(exc)[:160]})")

    def __reduce__(self) -> tuple[type[BadInput], tuple[str, str]]:
        """Picklable as it was made (a worker process hands a refused item back this way)."""
        return type(self), (self.location, self.reason)


class Skipped(BadInput):
    """An item passed over on purpose (a file of an unknown type inside a walked folder): counted, not an error."""


class FetchError(BadInput):
    """A URL could not be fetched (timeout, HTTP error, too large, too many redirects)."""

    def __init__(self, location: str, reason: str, retry_after: str | None = None) -> None:
        super().__init__(location, reason)
        self.retry_after = retry_after  # the server's Retry-After, for polite backoff


class FetchRefused(FetchError):
    """A URL was refused before any byte was sent: private/loopback target, bad scheme…"""


class StoreError(StoryloomError):
    """The store is unusable (newer schema than this code, corrupt file)."""
