"""Clean: a RawDoc → an Article (the article's own text, every removal explained, and metadata).

HTML first goes through :mod:`storyloom.clean.html` (main text out of the page); then every body, from a
page or from a scraper, goes through :mod:`storyloom.clean.text` (rules, templates, learned classifier), and
:mod:`storyloom.clean.meta` and :mod:`storyloom.enrich.attribution` read dates, language, outlet, cited
sources and attributions.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from pathlib import PurePath
from typing import Any

from storyloom.clean.html import extract_html
from storyloom.clean.meta import normalize_date, outlet_from_url, site_names, title_without_site
from storyloom.clean.rules import RULE_NAMES, PageHints
from storyloom.clean.text import (
    Cleaned,
    PreparedText,
    TemplateCounts,
    TextOptions,
    finish_scraped,
    normalize_text,
    prepare_scraped,
    template_hits,
)
from storyloom.enrich.attribution import attributions, text_dates
from storyloom.enrich.language import detect_language
from storyloom.errors import BadInput, StoryloomError
from storyloom.models import Article, RawDoc
from storyloom.outlets import table_for
from storyloom.settings import Settings

MAX_TITLE = 500
TITLE_SITE = ("title_site", "the site's own name before or after the headline (\"… | Al Bawaba\"), kept in the meta")
ALL_RULES = RULE_NAMES + ("template", "classifier", TITLE_SITE[0])


def text_options(settings: Settings) -> TextOptions:
    unknown = sorted(set(settings.disabled_rules) - set(ALL_RULES))
    if unknown:
        raise StoryloomError(f"unknown rule(s) in disabled_rules: {', '.join(unknown)} (known: {', '.join(ALL_RULES)})")
    return TextOptions(
        disabled_rules=frozenset(settings.disabled_rules),
        template_min_count=settings.template_min_count,
        template_min_share=settings.template_min_share,
        classifier=settings.line_classifier,
        classifier_margin=settings.classifier_margin,
    )


def template_group(outlet: str | None, url: str | None, location: str, extra: dict[str, Any]) -> str:
    """Which articles share furniture: the same outlet, else the same site, feed, or folder of files."""
    if outlet:
        return f"outlet:{outlet.casefold()}"
    host = outlet_from_url(url)
    if host:
        return f"site:{host}"
    if extra.get("feed"):
        return f"feed:{extra['feed']}"
    file = re.sub(r":\d+$", "", location.split("#", 1)[0])  # "dir/a.jsonl:12" and "x.warc#<id>" → the file
    return f"folder:{PurePath(file).parent}"


def _first_sentence(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= 240 else line[:240].rsplit(" ", 1)[0] + "…"


def text_meta(cleaned: Cleaned) -> dict[str, Any]:
    """What the text says about itself, kept with the article (and shown by ``storyloom show``)."""
    meta: dict[str, Any] = {}
    if cleaned.cited_sources:
        meta["cited_sources"] = list(cleaned.cited_sources)
    attrs = attributions(cleaned.text)
    if attrs:
        meta["attributions"] = [asdict(a) for a in attrs]
    dates = text_dates(cleaned.text)
    if dates:
        meta["text_dates"] = [asdict(d) for d in dates]
    if cleaned.bio_author:
        meta["bio_author"] = cleaned.bio_author
    if cleaned.bio_outlet:
        meta["bio_outlet"] = cleaned.bio_outlet
    return meta


def _text_outlet(cleaned: Cleaned, meta: dict[str, Any]) -> str | None:
    """The outlet the text names about itself, noted in ``meta["outlet_from"]`` with what named it: used only
    when the source, the page and the URL give none."""
    if cleaned.outlet_evidence is None:
        return None
    name, evidence, line = cleaned.outlet_evidence
    meta["outlet_from"] = {"outlet": name, "evidence": evidence, "line": line[:200]}
    return name


def clean(raw: RawDoc, settings: Settings, templates: TemplateCounts | None = None) -> Article:
    """Turn one raw input into an article; BadInput when there is no article in it."""
    return complete(prepare(raw, settings), templates)


@dataclass(frozen=True)
class Prepared:
    """The half of :func:`clean` that reads only the item itself (decoding, extraction, rules, the line
    classifier), with the article as it is when the template layer removes nothing, which it is for most
    articles: :func:`complete` then only asks the counts.  Picklable: an ingest makes these in worker
    processes and completes them in input order, so the result does not depend on how many workers ran."""

    ident: dict[str, Any]  # id, blob, kind, location, extra: the item's own (not its bytes, not sent back twice)
    text: PreparedText
    fields: dict[str, Any]  # url, title, author, outlet, published, language, canonical, warnings
    group: str
    article: Article  # the article without template lines removed
    ahead: Any = None  # what later stages compute from this article alone, done in a worker (storyloom.lookahead)
    # its raw input compressed as the store keeps it, (dictionary id, codec, bytes), done in a worker once the
    # store has a dictionary (storyloom.clean.pool.CleanPool.share_blob_dict); None: the store compresses it
    packed: tuple[int, str, bytes] | None = None


def prepare(raw: RawDoc, settings: Settings) -> Prepared:
    """Everything of :func:`clean` that depends on this item alone; BadInput when there is no article in it."""
    warnings: list[str] = list(raw.extra.get("warnings", [])) if isinstance(raw.extra.get("warnings"), list) else []
    if isinstance(raw.extra.get("warning"), str):
        warnings.append(raw.extra["warning"])
    url, title, author, outlet, published, language = raw.url, raw.title, raw.author, raw.outlet, raw.published, raw.language
    canonical = None
    page_site: str | None = None
    page: PageHints | None = None
    if raw.text:
        body = raw.text
    elif raw.html:
        if len(raw.html) > settings.max_item_bytes:
            raise BadInput(raw.location, f"page larger than the item cap of {settings.max_item_bytes:,} bytes")
        ex = extract_html(raw.html, raw.location, url)
        warnings.extend(getattr(ex, "warnings", ()))
        body, page = ex.body or ex.text, ex.hints
        title = title or ex.title
        author = author or ex.author
        outlet, page_site = outlet or ex.sitename, ex.sitename
        published = published or ex.published
        language = language or ex.language
        canonical = ex.url if ex.url and ex.url != url else None
        url = url or ex.url
    else:
        raise BadInput(raw.location, "no text")
    title = normalize_text(title or "").replace("\n", " ")[:MAX_TITLE] or None
    host = outlet_from_url(canonical or url)
    outlet = table_for(settings.outlets_file).name_for(outlet, canonical or url) or host
    title_cut = None
    if title and TITLE_SITE[0] not in settings.disabled_rules:
        title, title_cut = title_without_site(title, site_names(outlet, page_site, host, raw.outlet))
    group = template_group(outlet, canonical or url, raw.location, raw.extra)
    opts = text_options(settings)
    if page is not None:
        # The learned line classifier is for text a scraper dumped; the HTML extractor has already judged the
        # page's layout, and on its output the classifier only costs real sentences (1.6% of a clean
        # article's tokens in bench/boilerplate.py).  Rules and templates still apply.
        opts = replace(opts, classifier=False)
    text = prepare_scraped(body, title, opts, page)
    fields = {"url": url, "title": title, "author": author, "outlet": outlet, "published": published,
              "language": language, "canonical": canonical, "warnings": tuple(warnings), "title_cut": title_cut}
    ident = {"id": raw.id, "blob": raw.blob, "kind": raw.kind, "location": raw.location, "extra": raw.extra}
    return Prepared(ident, text, fields, group, _article(ident, finish_scraped(text), fields, group))


def complete(prep: Prepared, templates: TemplateCounts | None = None) -> Article:
    """The article once the template counts of the articles before it are known (see :func:`prepare`)."""
    hits = template_hits(prep.text, templates, prep.group)
    art = _article(prep.ident, finish_scraped(prep.text, hits), prep.fields, prep.group) if hits else prep.article
    if not art.text:
        raise BadInput(art.location, "no text left: every line is furniture" if art.body else "no text")
    return art


def _article(ident: dict[str, Any], cleaned: Cleaned, fields: dict[str, Any], group: str) -> Article:
    """The article from its cleaned text and the item's fields.  An article with no text left is returned
    empty (``text == ""``) rather than raised at once: templates may still change it, and :func:`complete`
    refuses it when they do not."""
    warnings = list(fields["warnings"])
    url, title, author, outlet = fields["url"], fields["title"], fields["author"], fields["outlet"]
    published, language, canonical = fields["published"], fields["language"], fields["canonical"]
    if not cleaned.text:
        return Article(**ident, title=title or "", text="", body=cleaned.body, template_group=group,
                       line_keys=cleaned.line_keys, template_skip=cleaned.template_skip)
    meta = text_meta(cleaned)
    if fields.get("title_cut"):
        meta["title_removed"] = {"text": fields["title_cut"], "rule": TITLE_SITE[0]}
    date, flag = normalize_date(published)
    if flag and published:
        warnings.append(flag)
    if date is None:
        full = [d["iso"] for d in meta.get("text_dates", []) if not d["iso"].startswith("--")]
        if full:
            text_date, text_flag = normalize_date(full[0])
            if text_date:
                date, flag = text_date, "date taken from the text"
        elif meta.get("text_dates"):
            flag = f"no date; the text names {meta['text_dates'][0]['text']} without a year"
    title = title or _first_sentence(cleaned.text)
    return Article(
        **ident,
        title=title,
        text=cleaned.text,
        url=url,
        canonical_url=canonical,
        published=date,
        date_flag=flag,
        outlet=outlet or _text_outlet(cleaned, meta),
        author=author or cleaned.bio_author,
        language=(language or detect_language(f"{title}\n{cleaned.text}")),
        body=cleaned.body,
        removed=cleaned.removed,
        meta=meta,
        template_group=group,
        line_keys=cleaned.line_keys,
        template_skip=cleaned.template_skip,
        warnings=tuple(warnings),
    )


__all__ = ["clean", "prepare", "complete", "Prepared", "text_options", "ALL_RULES"]
