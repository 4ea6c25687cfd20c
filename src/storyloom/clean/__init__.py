"""Clean: a RawDoc → an Article (main text, headline, date, outlet, author, language).

HTML goes through :mod:`storyloom.clean.html`; text a scraper already produced through
:mod:`storyloom.clean.text`; both end in :mod:`storyloom.clean.meta` for dates, language and outlet.
"""

from __future__ import annotations

from storyloom.clean.html import extract_html
from storyloom.clean.meta import detect_language, normalize_date, outlet_from_url
from storyloom.clean.text import normalize_text
from storyloom.errors import BadInput
from storyloom.models import Article, RawDoc
from storyloom.settings import Settings

MAX_TITLE = 500


def _first_sentence(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= 200 else line[:200].rsplit(" ", 1)[0] + "…"


def clean(raw: RawDoc, settings: Settings) -> Article:
    """Turn one raw input into an article; BadInput when there is no article in it."""
    warnings: list[str] = list(raw.extra.get("warnings", [])) if isinstance(raw.extra.get("warnings"), list) else []
    url, title, author, outlet, published, language = raw.url, raw.title, raw.author, raw.outlet, raw.published, raw.language
    canonical = None
    if raw.text:
        text = normalize_text(raw.text)
    elif raw.html:
        if len(raw.html) > settings.max_item_bytes:
            raise BadInput(raw.location, f"page larger than the item cap of {settings.max_item_bytes:,} bytes")
        ex = extract_html(raw.html, raw.location, url)
        text = normalize_text(ex.text)
        title = title or ex.title
        author = author or ex.author
        outlet = outlet or ex.sitename
        published = published or ex.published
        language = language or ex.language
        canonical = ex.url if ex.url and ex.url != url else None
        url = url or ex.url
    else:
        raise BadInput(raw.location, "no text")
    if not text:
        raise BadInput(raw.location, "no text left after cleaning")
    title = normalize_text(title or "").replace("\n", " ")[:MAX_TITLE] or _first_sentence(text)
    date, flag = normalize_date(published)
    if flag and published:
        warnings.append(flag)
    return Article(
        id=raw.id,
        blob=raw.blob,
        kind=raw.kind,
        location=raw.location,
        title=title,
        text=text,
        url=url,
        canonical_url=canonical,
        published=date,
        date_flag=flag,
        outlet=outlet or outlet_from_url(canonical or url),
        author=author,
        language=(language or detect_language(f"{title}\n{text}")),
        extra=raw.extra,
        warnings=tuple(warnings),
    )


__all__ = ["clean"]
