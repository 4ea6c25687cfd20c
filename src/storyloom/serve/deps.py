"""Per-request store handles."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request

from storyloom.errors import StoreError
from storyloom.store import Store


def read_store(request: Request) -> Iterator[Store]:
    from storyloom.serve.app import ApiError

    try:
        store = Store(request.app.state.settings.db_path, readonly=True)
    except StoreError as exc:
        raise ApiError(503, "store_unavailable", str(exc)) from exc
    try:
        yield store
    finally:
        store.close()
