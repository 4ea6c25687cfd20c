"""The store: SQLite in WAL mode, the only package that speaks SQL."""

from storyloom.store.sqlite import Store, WriteOutcome

__all__ = ["Store", "WriteOutcome"]
