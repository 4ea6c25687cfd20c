"""HTML page → main text and metadata, with trafilatura (the best open extractor on the benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass

from storyloom.errors import BadInput


@dataclass(frozen=True)
class Extracted:
    title: str | None
    text: str
    published: str | None
    author: str | None
    sitename: str | None
    url: str | None
    language: str | None


def extract_html(html: str, location: str, url: str | None = None) -> Extracted:
    """Main text and metadata of a page; BadInput when the page holds no article text."""
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(
            html, url=url, with_metadata=True, include_comments=False, include_tables=True, deduplicate=False
        )
    except Exception as exc:  # trafilatura/lxml raise many kinds on broken markup: report, don't crash
        raise BadInput(location, f"HTML extraction failed: {type(exc).__name__}: {exc}") from exc
    if doc is None:
        raise BadInput(location, "no article text found in the page")
    d = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    text = (d.get("text") or "").strip()
    if not text:
        raise BadInput(location, "no article text found in the page")
    return Extracted(
        title=d.get("title"),
        text=text,
        published=d.get("date"),
        author=d.get("author"),
        sitename=d.get("sitename"),
        url=d.get("url"),
        language=d.get("language"),
    )
