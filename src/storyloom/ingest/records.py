"""JSON article records → RawDoc, whatever the field names of the tool that produced them.

Scrapers and datasets disagree on names (newspaper: ``publish_date``, news-please: ``date_publish`` and
``maintext``, NewsAPI: ``source.name`` and ``publishedAt``, schema.org: ``articleBody``); we accept the common
ones and keep every field we do not know in ``extra``, so nothing a user had is lost.
"""

from __future__ import annotations

import json
from typing import Any

from storyloom.errors import BadInput
from storyloom.models import RawDoc

FIELDS: dict[str, tuple[str, ...]] = {
    "url": ("url", "link", "source_url", "canonical_url", "uri"),
    "title": ("title", "headline", "name"),
    "text": ("text", "body", "content", "maintext", "articleBody", "article", "description_full"),
    "html": ("html", "raw_html", "page", "content_html"),
    "published": (
        "published", "date", "published_at", "publishedAt", "pubDate", "date_publish", "datePublished",
        "publish_date", "published_date", "pub_date", "created_at", "timestamp",
    ),
    "outlet": ("outlet", "source", "site", "sitename", "site_name", "publisher", "source_domain", "domain"),
    "author": ("author", "authors", "byline", "creator"),
    "language": ("language", "lang", "locale"),
}


def _as_text(value: Any) -> str | None:
    """Flatten the shapes fields come in: strings, lists of names, {"name": …} objects, numbers."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict):
        for key in ("name", "title", "value", "url"):
            if isinstance(value.get(key), str):
                return value[key].strip() or None
        return None
    if isinstance(value, list):
        parts = [t for t in (_as_text(v) for v in value) if t]
        return ", ".join(parts) or None
    return None


def record_to_raw(obj: Any, raw: bytes, kind: str, location: str) -> RawDoc:
    """Map one decoded JSON object to a RawDoc; ``raw`` is the exact bytes it was decoded from."""
    if not isinstance(obj, dict):
        raise BadInput(location, f"expected a JSON object, got {type(obj).__name__}")
    found: dict[str, str | None] = {}
    used: set[str] = set()
    for field, names in FIELDS.items():
        found[field] = None
        for name in names:
            if name in obj and name not in used:
                text = _as_text(obj[name])
                if text:
                    found[field] = text
                    used.add(name)
                    break
    if not found["text"] and not found["html"]:
        raise BadInput(location, "no article body (none of text/body/content/maintext/html)")
    extra = {k: v for k, v in obj.items() if k not in used}
    lang = found["language"]
    return RawDoc(
        raw=raw,
        kind=kind,
        location=location,
        url=found["url"],
        title=found["title"],
        text=found["text"],
        html=found["html"],
        published=found["published"],
        outlet=found["outlet"],
        author=found["author"],
        language=lang.split("-")[0].split("_")[0].lower() if lang else None,
        extra=extra,
    )


def parse_json_bytes(data: bytes, location: str) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(location, f"malformed JSON: {exc}") from exc
