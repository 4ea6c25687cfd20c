"""The one JSON encoding of stored values (metadata, details, evidence): sorted keys, UTF-8 kept, anything
else as its string.  The store and the batch engines (whose Parquet tables a store later loads) both write
with it, so the same article gives the same bytes whichever path wrote it."""

from __future__ import annotations

import json


def canonical_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
