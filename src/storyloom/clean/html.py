"""HTML page → main text and metadata: trafilatura, made stricter where it is loose, and made safe.

What runs, in order (one parse of the page, reused by every step):

1. **Input repair** (:func:`_repair_input`): bytes are decoded by the one decoder every path uses
   (:mod:`storyloom.decoding`: BOM, UTF-8, declared charsets, UTF-8 with stray bytes, detection), lone surrogates left by a
   ``surrogateescape`` decoding are turned back into the characters they stood for (lxml silently drops the
   rest of a text node after one), NULs and other C0 controls go.  Pages over :data:`SLIM_ABOVE` characters
   lose their ``<script>``/``<style>``/``<svg>``/comments and inline ``data:`` URIs first (JSON-LD kept),
   and whatever is still over :data:`MAX_PARSE_CHARS` is cut there, with a warning.
2. **Parse** with trafilatura's loader.  libxml2 stops nesting at 255 levels and drops what lies deeper; when
   that happens and no text came out, the page is parsed again with its layout tags flattened.
3. **Metadata** with trafilatura's own steps (og/meta, JSON-LD, title, author, URL, htmldate for the date, site
   name; see :func:`_metadata`: no deep copy, no categories/tags/licence), then improved: ``published`` takes
   the full timestamp from ``article:published_time`` / JSON-LD ``datePublished`` / ``<time datetime>`` when its
   day agrees with htmldate's (htmldate returns a day only); ``language`` from ``<html lang>`` /
   ``og:locale`` / ``content-language``; the canonical URL from ``<link rel=canonical>`` / ``og:url``.
4. **Body**, chosen per page (:func:`_body`): trafilatura in precision mode (``favor_precision``), comments off,
   tables kept, its deduplication cache off (process-global state).  Precision suits news pages but on other
   article pages it collapses to a stub, drops FAQ/recipe lists or keeps nothing; when its text is short or a
   small share of the page's ``<p>`` text, the balanced mode runs and wins when precision kept less than half
   of it, and when the text is still a small share of the ``<p>`` text the recall mode runs too.  Thresholds
   chosen on the dev pages of AEB and WCXB (``bench/extraction.py``); most pages need the one run, and that
   one without trafilatura's readability/jusText comparison (its ``fast`` option, 40% of a run's cost): the
   comparison runs only when that text looks weak (see :func:`_body`, ``fast_first``).
5. **Page rules** (:func:`storyloom.clean.rules.page_verdicts`): the headline (and the page URL, a lone date
   line) repeated at the top of the body, "Related:/Read more:/Also on …" link lines with the list that follows
   them, and a tail of share/follow/subscribe/copyright/tags lines.  General news-page conventions, not
   per-site rules.  ``Extracted.text`` is the body without them; ``Extracted.body`` keeps them, and
   :func:`storyloom.clean.clean` marks them as spans with their rule names (switchable like every rule).
6. **Not an article**: no text, an error page (404/"not found" title and little text), or a home/section page
   (``og:type=website`` or a root URL, and text that is a list of short lines, not prose) → :class:`BadInput`.

Bounded time: the whole extraction runs under a ``setitimer`` deadline (:data:`DEFAULT_TIMEOUT` seconds of the
process's CPU time, so that the machine's load cannot decide whether a page is kept) when called on the main thread
of its process (the local CLI, and PySpark's Python workers, which run tasks on
their main thread) and no other ``ITIMER_PROF`` timer is armed.  Off the main thread no signal can be
delivered, so there is no deadline: the input caps above (slimming, :data:`MAX_PARSE_CHARS`) are what bound
the work there.  Every failure inside comes out as :class:`BadInput` with a reason; nothing else escapes.

On the article-extraction benchmark (``bench/extraction.py``), steps 4-5 are where this beats plain
trafilatura; the benchmark prints the figures on a dev/test split.
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml.etree import XPath

from storyloom.clean.rules import PageHints, norm_words, page_verdicts
from storyloom.decoding import REPAIR, decode_page
from storyloom.errors import BadInput

DEFAULT_TIMEOUT = 20.0  # CPU seconds for one page, all steps; generous: a normal page takes ~50 ms, the slowest ~2 s
SLIM_ABOVE = 1_000_000  # characters: larger pages lose scripts, styles, comments and data: URIs before parsing
MAX_PARSE_CHARS = 2_000_000  # characters parsed at most (after slimming); the rest is cut, with a warning
SHORT_TEXT = 1_000  # precision-mode text shorter than this is checked against the balanced mode,
COLLAPSE_SHARE = 0.5  # ... and so is one under this share of the page's <p> text,
COLLAPSE_RATIO = 0.5  # ... and replaced by it when it kept less than this share of the balanced text
RECALL_SHARE = 0.6  # a text still under this share of the page's <p> text is checked against the recall mode
RECALL_RATIO = 0.5  # ... and replaced by it when it is under this share of the recall text
VISIBLE_SHARE = 0.25  # a fast precision text under this share of the page's visible text gets the full run too
MIN_TEXT_CHARS = 50  # less than this is not an article
ERROR_PAGE_MAX_CHARS = 1_500  # an error-looking title with more text than this is taken as an article about errors
LINK_SHARE = 0.5  # a list of short lines that are mostly link texts is a home/section page, wherever it is
FRONT_LINK_SHARE = 0.2  # ... and at the site's root, one with at least this share of link texts (not code, not a menu)
LIBXML_MAX_DEPTH = 255  # libxml2's HTML parser nesting limit (without XML_PARSE_HUGE)


@dataclass(frozen=True)
class Extracted:
    title: str | None
    text: str
    published: str | None
    author: str | None
    sitename: str | None
    url: str | None
    language: str | None
    warnings: tuple[str, ...] = ()  # e.g. the page was cut at MAX_PARSE_CHARS
    body: str = ""  # the body as extracted, before the page rules: what ``clean`` keeps and marks spans in
    hints: PageHints = PageHints()  # headline candidates and URLs, for the page rules


class _Deadline(BaseException):
    """Raised by the timer signal; a BaseException so library code's ``except Exception`` cannot swallow it."""


@contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Raise :class:`_Deadline` in this thread once the process has spent ``seconds`` of CPU time on the work,
    when that can be done safely.

    CPU time (``ITIMER_PROF``), not wall-clock time: on a machine shared with other work (two Spark tasks on
    two cores and a neighbour's job) a page that needs 2 s of CPU took over 20 s of wall clock, and was refused
    on one run and kept on the next -- whether a page is an article must not depend on the machine's load.
    The timer counts the whole process, so CPU spent by other threads counts too (it fires early, never late).
    Only on the main thread (signals are delivered there), only where ``setitimer`` exists, and only when no
    other profiling timer is armed (someone else's, e.g. a sampling profiler's, is left alone).  Otherwise a no-op.
    """
    usable = (
        seconds is not None
        and seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_PROF)[0] == 0
    )
    if not usable:
        yield
        return

    def _fire(signum: int, frame: Any) -> None:
        raise _Deadline()

    previous = signal.signal(signal.SIGPROF, _fire)
    # re-fires every 0.25 CPU s until disarmed: one raise swallowed (inside a __del__, a bare except) is not enough
    signal.setitimer(signal.ITIMER_PROF, float(seconds or 0), 0.25)
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_PROF, 0)
        except _Deadline:  # fired just as the work ended: the work is done, keep its result
            signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


# ---------------------------------------------------------------------------------------------- input repair

_CONTROL_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])  # C0 controls but \t \n \r
_SURROGATES = re.compile(r"[\udc80-\udcff]+")


def _unescape_surrogates(m: re.Match[str]) -> str:
    raw = m.group(0).encode("utf-8", errors="surrogateescape")
    return raw.decode("utf-8", errors=REPAIR)


_SLIM = [
    (re.compile(r"<!--.*?-->", re.S), " "),
    (re.compile(r"<script\b(?![^>]*application/ld\+json)[^>]*>.*?</script\s*>", re.S | re.I), " "),
    (re.compile(r"<(style|svg|template)\b[^>]*>.*?</\1\s*>", re.S | re.I), " "),
    (re.compile(r"""data:[a-z]+/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]{200,}""", re.I), ""),
]


def _repair_input(html: str | bytes) -> tuple[str, list[str]]:
    warnings: list[str] = []
    if isinstance(html, (bytes, bytearray)):
        html = decode_page(bytes(html))
    if not isinstance(html, str):
        raise TypeError(f"expected str or bytes, got {type(html).__name__}")
    try:
        data = html.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes smuggled in by surrogateescape, or garbage
        html = _SURROGATES.sub(_unescape_surrogates, html)
        data = html.encode("utf-8", errors="replace")
        html = data.decode("utf-8")
    clean = data.translate(None, _CONTROL_BYTES)  # C speed; a regex scan costs ~10 ms per MB
    if len(clean) != len(data):
        html = clean.decode("utf-8")
    if len(html) > SLIM_ABOVE:
        for rx, repl in _SLIM:
            html = rx.sub(repl, html)
    if len(html) > MAX_PARSE_CHARS:
        warnings.append(f"page cut at {MAX_PARSE_CHARS:,} characters of HTML (was {len(html):,})")
        html = html[:MAX_PARSE_CHARS]
    return html, warnings


_LAYOUT_TAGS = re.compile(
    r"</?(?:div|span|section|article|main|aside|header|footer|nav|font|center|b|i|u|em|strong|small|big|"
    r"table|tbody|thead|tr|td|th|blockquote|ul|ol|li|dl|dd|dt|form|fieldset|label|sup|sub)\b[^>]*>",
    re.I,
)


def _flatten(html: str) -> str:
    """Drop layout tags so that pathologically deep nesting parses (paragraph breaks come from <p>, <br>, ...)."""
    return _LAYOUT_TAGS.sub(" ", html)


def _depth(tree: Any) -> int:
    deepest = 0
    for el in tree.iter():
        if len(el) == 0:
            d = sum(1 for _ in el.iterancestors())
            if d > deepest:
                deepest = d
                if deepest >= LIBXML_MAX_DEPTH - 1:
                    break
    return deepest


# ------------------------------------------------------------------------------------------------- metadata

# compiled once (``tree.xpath(text)`` compiles its expression on every call)
_PUBLISHED_XPATHS = tuple(XPath(xp) for xp in (
    '//meta[@property="article:published_time" or @name="article:published_time" '
    'or @itemprop="datePublished" or @name="datePublished" or @property="og:published_time" '
    'or @name="pubdate" or @name="publish-date" or @name="parsely-pub-date" or @name="sailthru.date" '
    'or @name="dc.date.issued" or @name="DC.date.issued" or @name="citation_publication_date"]/@content',
    "//time[@itemprop='datePublished']/@datetime",
    "//*[@itemprop='datePublished']/@datetime",
    "//time[@datetime]/@datetime",
))
_HAS_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}")


_JSONLD_XPATH = XPath('//script[@type="application/ld+json"]/text()')


def _jsonld_nodes(tree: Any) -> list[dict[str, Any]]:
    """Every JSON object in the page's JSON-LD blocks (nested ones and @graph members included)."""
    out: list[dict[str, Any]] = []

    def walk(node: Any, depth: int) -> None:
        if depth > 20 or len(out) > 500:
            return
        children: Any
        if isinstance(node, dict):
            out.append(node)
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            return
        for child in children:
            if isinstance(child, (dict, list)):
                walk(child, depth + 1)

    for script in _JSONLD_XPATH(tree)[:20]:
        try:
            walk(json.loads(script), 0)
        except (ValueError, RecursionError):
            continue
    return out


_ARTICLE_TYPES = re.compile(r"Article|BlogPosting|Report|Posting", re.I)


def _is_article_node(node: dict[str, Any]) -> bool:
    t = node.get("@type")
    return any(isinstance(x, str) and _ARTICLE_TYPES.search(x) for x in (t if isinstance(t, list) else [t]))


def _jsonld_dates(nodes: list[dict[str, Any]]) -> list[str]:
    return [n["datePublished"] for n in nodes if isinstance(n.get("datePublished"), str)]


def _jsonld_url(nodes: list[dict[str, Any]]) -> str | None:
    for n in nodes:
        if not _is_article_node(n):
            continue
        for key in ("mainEntityOfPage", "url"):
            v = n.get(key)
            if isinstance(v, dict):
                v = v.get("@id") or v.get("url")
            if isinstance(v, str) and v.startswith(("http://", "https://")):
                return v
    return None


def _precise_date(tree: Any, nodes: list[dict[str, Any]], day: str | None) -> str | None:
    """A full timestamp for htmldate's day (same calendar day as written), or htmldate's day itself."""
    def candidates() -> Iterator[str]:  # in order of trust, each source read only when the ones before gave none
        yield from _jsonld_dates(nodes)
        for xp in _PUBLISHED_XPATHS:
            yield from (str(v) for v in xp(tree)[:10])

    for c in candidates():
        c = c.strip()
        if _HAS_TIME.match(c) and (day is None or c[:10] == day):
            return c
    return day


_LANG = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*$")


_LANGUAGE_XPATHS = tuple(XPath(xp) for xp in (
    "/html/@lang",
    "/html/@xml:lang",
    '//meta[@http-equiv="content-language" or @http-equiv="Content-Language"]/@content',
    '//meta[@property="og:locale"]/@content',
))


def _language(tree: Any) -> str | None:
    for xp in _LANGUAGE_XPATHS:
        for v in xp(tree)[:1]:
            m = _LANG.match(str(v).strip().split(",")[0].strip())
            if m and m.group(1).lower() not in ("und", "mul", "zxx", "xx"):
                return m.group(1).lower()
    return None


_CANONICAL_XPATHS = (XPath('//link[@rel="canonical"]/@href'), XPath('//meta[@property="og:url"]/@content'))


def _canonical(tree: Any, nodes: list[dict[str, Any]], meta_url: str | None, url: str | None) -> str | None:
    """``<link rel=canonical>``, ``og:url``, JSON-LD ``mainEntityOfPage``/``url``, then what we were given."""
    for xp in _CANONICAL_XPATHS:
        for v in xp(tree)[:1]:
            v = str(v).strip()
            if v.startswith("/") and not v.startswith("//") and url:
                v = urljoin(url, v)
            if v.startswith(("http://", "https://")):
                return v
    found = _jsonld_url(nodes)
    if found:
        return found
    if meta_url and meta_url.startswith(("http://", "https://")):
        return meta_url
    return url


_GENERIC_SITE_NAMES = frozenset({
    "blog", "default", "home", "home page", "homepage", "hosted", "index", "main", "news", "none", "null",
    "site", "undefined", "untitled", "web", "web site", "website",
})
_NOT_A_NAME = re.compile(r"(?i)copyright|\(c\)|©|all rights reserved|^[\W\d_]*$")


_NAME_SEPARATORS = re.compile(r"\s[|•·]\s|\s[-–—]\s")


def site_name(value: str) -> str | None:
    """The page's own name for its site, or None where it names nothing a reader would recognise.

    Pages fill ``og:site_name`` carelessly: a CMS placeholder ("Hosted" on AP's hosted pages), the host's
    first label in lower case ("nj", "cleveland"), a social handle ("@Wday_"), a URL, a copyright line, a
    list of the site's sections ("Autoracing | F1 | Indy | MotoGP | StockCar").
    None makes the caller fall back to the host name ("nj.com"), which is at least the outlet's own
    address; a real name ("The Detroit News", "Space.com", "CNN") is kept as the page wrote it."""
    name = " ".join(value.split())
    if not name or name.startswith("@"):  # a handle is an account, not the outlet's name
        return None
    if "://" in name or name.casefold().startswith("www."):
        return None  # a URL: the host fallback says the same thing, cleaner
    if name.casefold() in _GENERIC_SITE_NAMES or _NOT_A_NAME.search(name):
        return None
    if " " not in name and "." not in name and name == name.lower():
        return None  # "nj", "oregonlive": a host label, not how the outlet writes its name
    if len([p for p in _NAME_SEPARATORS.split(name) if p.strip()]) >= 3:
        return None  # three parts or more is a list of sections or keywords, not a name ("X | Y" may be one)
    return name


def _metadata(tree: Any, url: str | None) -> Any:
    """trafilatura's ``extract_metadata`` for the fields storyloom keeps, on the parsed tree itself.

    The same steps in the same order (meta tags, JSON-LD, title, author, URL, htmldate, site name), without
    the categories, tags and licence storyloom never reads (~5 ms a page), and without a deep copy of the
    tree: none of these steps changes it, and htmldate copies the tree itself before it prunes."""
    from htmldate import find_date
    from trafilatura.metadata import (
        META_URL,
        examine_meta,
        extract_author,
        extract_meta_json,
        extract_sitename,
        extract_title,
        extract_url,
    )
    from trafilatura.settings import set_date_params

    date_config = set_date_params(True)
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None
    try:
        meta = extract_meta_json(tree, meta)
    except Exception:  # trafilatura's JSON-LD parsing has bugs on odd data; the meta tags stand
        pass
    if not meta.title:
        meta.title = extract_title(tree)
    if not meta.author:
        meta.author = extract_author(tree)
    if not meta.url:
        meta.url = extract_url(tree, url)
    date_config["url"] = meta.url
    meta.date = find_date(tree, **date_config)
    if not meta.sitename:
        meta.sitename = extract_sitename(tree)
    if meta.sitename:
        meta.sitename = site_name(meta.sitename)
    if not meta.sitename and meta.url:
        m = META_URL.match(meta.url)
        if m:
            meta.sitename = m[1]
    meta.clean_and_trim()
    return meta


_SOCIAL_TITLE_XPATH = XPath('//meta[@property="og:title" or @name="twitter:title"]/@content')
_H1_XPATH = XPath("//h1")
_HEAD_TITLE_XPATH = XPath("//head/title/text()")


def _title_candidates(tree: Any, meta_title: str | None) -> list[str]:
    cands = [meta_title or ""]
    cands += [str(v) for v in _SOCIAL_TITLE_XPATH(tree)[:2]]
    cands += [" ".join(h.text_content().split()) for h in _H1_XPATH(tree)[:3]]
    cands += [str(t) for t in _HEAD_TITLE_XPATH(tree)[:1]]
    return [c for c in (_norm(c) for c in cands) if c]


# ---------------------------------------------------------------------------------------------------- body

_WORD = re.compile(r"\w+")


_norm = norm_words


def page_text(body: str, hints: PageHints) -> str:
    """The body without what the page rules (all on) mark: the text the not-an-article checks and the
    benchmark judge.  ``clean`` re-runs the same rules with the user's switches and keeps them as spans."""
    lines = tuple(ln.strip() for ln in body.split("\n") if ln.strip())
    verdicts = page_verdicts(lines, hints)
    return "\n".join(ln for ln, v in zip(lines, verdicts) if v is None)


_ERROR_TITLE = re.compile(
    r"\b(?:404|410|page not found|not found|error 404|page (?:does not|doesn'?t) exist|no longer available|"
    r"página no encontrada|page introuvable|seite nicht gefunden|pagina non trovata|página não encontrada|"
    r"pagina niet gevonden|strony nie znaleziono)\b",
    re.I,
)


def _is_listing(text: str) -> bool:
    """Text made of short lines (headlines, menus), with little prose in sentences."""
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    if len(lines) < 5:
        return False
    prose = sum(len(ln) for ln in lines if len(_WORD.findall(ln)) >= 15 and re.search(r"[.!?。」\"”»)]\s*$", ln))
    return prose < 0.25 * sum(len(ln) for ln in lines)


def _link_share(text: str, tree: Any) -> float:
    """Share of the text's characters in lines that are, word for word, the text of a link in the page."""
    anchors = {_norm(a.text_content()) for a in tree.iterfind(".//a")}
    anchors.discard("")
    lines = [ln.strip().lstrip("-•* ") for ln in text.split("\n") if ln.strip()]
    total = sum(len(ln) for ln in lines)
    linked = sum(len(ln) for ln in lines if _norm(ln) in anchors)
    return linked / total if total else 0.0


def _is_front_page(url: str | None) -> bool:
    """The site's root (og:type is no help: AEB has 7 articles typed ``website``)."""
    if url:
        try:
            path = urlsplit(url).path
        except ValueError:
            return False
        return path in ("", "/") or re.fullmatch(r"/(?:index|default|home)\.\w+", path) is not None
    return False


def _paragraph_chars(tree: Any) -> int:
    """Characters of text in the page's ``<p>`` elements: how much prose the page holds, whatever the layout.

    Cheap (one XPath, ~1 ms) and independent of trafilatura's judgement, so an extraction far shorter than
    it is suspect: the precision mode collapsed onto a caption, an intro or one comment."""
    total = 0
    for p in tree.iterfind(".//p"):
        total += len(" ".join(p.text_content().split()))
    return total


def _is_headline_list(text: str, tree: Any, url: str | None, canonical: str | None) -> bool:
    """A text of short lines is a home/section page when its lines are the page's link texts: mostly, anywhere;
    partly, at the site's root.  A one-page site or a code-heavy post (short lines, few of them links) is not
    one, even when its URL or canonical URL is the root."""
    share = _link_share(text, tree)
    return share > LINK_SHARE or share >= FRONT_LINK_SHARE and (_is_front_page(url) or _is_front_page(canonical))


_SLIM_XPATH = XPath("//script[not(@type='application/ld+json')]|//style|//noscript|//template|//svg|//iframe")


def _slim_tree(tree: Any) -> None:
    """Drop scripts, styles, SVG, iframes and templates from the parsed page, keeping their tails.

    Done once, after the metadata (htmldate reads scripts), so that each of trafilatura's runs walks a
    smaller tree: its pruning XPaths run on the raw tree before its own cleaning removes these (~8% of its
    time on the dev pages; the text changed on 2 of 470 pages)."""
    for el in _SLIM_XPATH(tree):
        parent = el.getparent()
        if parent is None:
            continue
        if el.tail:
            prev = el.getprevious()
            if prev is not None:
                prev.tail = (prev.tail or "") + el.tail
            else:
                parent.text = (parent.text or "") + el.tail
        parent.remove(el)


def _weak(text: str, mass: int) -> bool:
    """A precision-mode text that one of :func:`_body`'s fallbacks may replace: short, or a small share of the
    page's paragraph text."""
    return len(text) < SHORT_TEXT or len(text) < COLLAPSE_SHARE * mass or len(text) < RECALL_SHARE * mass


def _under_visible_share(text: str, tree: Any) -> bool:
    """Whether ``text`` is under :data:`VISIBLE_SHARE` of the page body's text, spaces collapsed (scripts and
    styles are gone by then): what readability, which scores the whole page and not only its ``<p>``, may find
    more of.  Collapsing spaces only shortens a text, so the raw text's length settles most pages without it."""
    body = tree.find(".//body")
    raw = (body if body is not None else tree).text_content()
    if len(text) >= VISIBLE_SHARE * len(raw):
        return False
    return len(text) < VISIBLE_SHARE * len(" ".join(raw.split()))


def _body(tree: Any, url: str | None, fast_first: bool = True) -> str:
    """The article body: trafilatura's precision mode, with the other modes as per-page fallbacks.

    Precision suits news pages (AEB) but on other article pages it drops FAQ/recipe lists, keeps one comment
    or nothing.  Its text is trusted as it is when it is neither short (:data:`SHORT_TEXT`) nor a small share
    of the page's paragraph text (:data:`COLLAPSE_SHARE`); otherwise the balanced mode runs and wins when
    precision kept less than :data:`COLLAPSE_RATIO` of it.  Then, when the text chosen is still under
    :data:`RECALL_SHARE` of the paragraph text, the recall mode (fast: no readability/justext comparison)
    runs and wins when the chosen text is under :data:`RECALL_RATIO` of its length.  The extra runs happen
    on a minority of pages (~15% of the dev pages), which keeps the cost near one trafilatura call.

    ``fast_first``: the precision mode runs first without trafilatura's own comparison with readability and
    jusText (its ``fast`` option), which is 40% of its cost and changes its text on ~6% of pages, nearly all
    of them pages where the text is weak (:func:`_weak`: 45 of the 50 of the 892 wcxb-dev and AEB pages).
    The full precision run (with the comparison) follows only on a weak text or one under
    :data:`VISIBLE_SHARE` of the page's visible text (readability found far more on two WCXB tune pages whose
    article is not in ``<p>`` elements; chosen on the tune half: 2.7% more pages get the second run), and the
    fallbacks then start from its text, as they would without ``fast_first``."""
    import trafilatura

    common: dict[str, Any] = dict(
        url=url, include_comments=False, include_tables=True, deduplicate=False, with_metadata=False
    )

    def run(**kw: Any) -> str:
        doc: Any = trafilatura.bare_extraction(tree, **common, **kw)  # copies the tree
        return (doc.text or "").strip() if doc is not None else ""

    mass = _paragraph_chars(tree)
    text = run(favor_precision=True, fast=True) if fast_first else ""
    if not fast_first or _weak(text, mass) or _under_visible_share(text, tree):
        text = run(favor_precision=True)
    if len(text) < SHORT_TEXT or len(text) < COLLAPSE_SHARE * mass:
        balanced = run()
        if len(text) < COLLAPSE_RATIO * len(balanced):
            text = balanced
    if len(text) < RECALL_SHARE * mass:
        recall = run(favor_recall=True, fast=True)
        if len(text) < RECALL_RATIO * len(recall):
            text = recall
    return text


def _extract(html: str | bytes, location: str, url: str | None, fast_first: bool = True) -> Extracted:
    from trafilatura.utils import load_html

    html, warnings = _repair_input(html)
    if not html.strip():
        raise BadInput(location, "empty page")
    tree = load_html(html)
    if tree is None:
        raise BadInput(location, "not an HTML page (no document could be parsed)")

    meta = _metadata(tree, url)
    _slim_tree(tree)
    text = _body(tree, url, fast_first)
    if not text and _depth(tree) >= LIBXML_MAX_DEPTH - 1:
        flat = load_html(_flatten(html))
        if flat is not None:
            text = _body(flat, url, fast_first)
            if text:
                warnings.append(f"HTML nested deeper than {LIBXML_MAX_DEPTH} levels: layout tags flattened")
        if not text:
            raise BadInput(location, f"HTML nested deeper than {LIBXML_MAX_DEPTH} levels and no article text in it")

    nodes = _jsonld_nodes(tree)
    canonical = _canonical(tree, nodes, meta.url, url)
    hints = PageHints(tuple(_title_candidates(tree, meta.title)), tuple(u for u in (url, canonical, meta.url) if u))
    body, text = text, page_text(text, hints)
    title = " ".join(meta.title.split()) if meta.title else None

    if len(text) < MIN_TEXT_CHARS:
        raise BadInput(location, "no article text found in the page" + (f" ({len(text)} characters)" if text else ""))
    heading = " ".join([title or ""] + [str(t) for t in _HEAD_TITLE_XPATH(tree)[:1]])
    if _ERROR_TITLE.search(heading) and len(text) < ERROR_PAGE_MAX_CHARS:
        raise BadInput(location, f"an error page, not an article (title {(title or heading).strip()[:80]!r})")
    if _is_listing(text) and _is_headline_list(text, tree, url, canonical):
        raise BadInput(location, "a home or section page (a list of headlines), not an article")

    return Extracted(
        title=title,
        text=text,
        body=body,
        hints=hints,
        published=_precise_date(tree, nodes, meta.date),
        author=meta.author,
        sitename=meta.sitename,
        url=canonical,
        language=_language(tree),
        warnings=tuple(warnings),
    )


_WARM_PAGE = (
    "<html lang='en'><head><title>Warm-up</title><meta name='author' content='Ana Warm'></head><body><article>"
    "<h1>Warm-up</h1><p>Published 12 March 2021</p>" + "<p>A sentence of a page that only warms the extractor up.</p>" * 8
    + "</article></body></html>"
)
_WARM_DATE = "Published 12 March 2021"  # dateparser finds no locale for it, so it builds every locale's patterns


def warm_up() -> None:
    """Pay the extractor's one-off start-up once, in a process about to fork its cleaning workers.

    A process's first pages cost ~2 CPU s more than the same pages later (measured on 40 WCXB pages): the imports
    of trafilatura, htmldate and their parsers, and above all dateparser, which htmldate's extensive search asks
    about a date-like string and which then compiles the patterns of each of its ~200 locales (1.9 s on the first
    string no locale takes).  Every forked worker paid it again; done before the fork, the workers share it (the
    fork copies the warmed modules).  Only helps: a failure here is ignored, and nothing it caches changes an
    answer (same compiled patterns, same parser settings)."""
    try:
        extract_html(_WARM_PAGE, "warm-up", "https://example.org/news/warm-up", timeout=None)
    except BadInput:
        pass
    try:
        from htmldate.extractors import get_external_parser

        get_external_parser().get_date_data(_WARM_DATE)
    except Exception:  # noqa: BLE001 - an htmldate without this helper: the workers warm up on their own
        pass


def extract_html(html: str, location: str, url: str | None = None, *, timeout: float | None = DEFAULT_TIMEOUT,
                 fast_first: bool = True) -> Extracted:
    """Main text and metadata of a page; BadInput when the page holds no article text.

    ``fast_first``: see :func:`_body` (False: trafilatura's comparison with readability/jusText on every page).

    Never raises anything but :class:`BadInput` for a bad page: parser errors, recursion on absurd nesting,
    memory exhaustion on one page and the ``timeout`` (seconds; None for none) all come out as one.
    """
    start = time.process_time()
    try:
        with _deadline(timeout):
            return _extract(html, location, url, fast_first)
    except BadInput:
        raise
    except _Deadline:
        raise BadInput(location, f"HTML extraction gave up after {time.process_time() - start:.1f} CPU s "
                                 f"(limit {timeout} s)") from None
    except RecursionError:
        raise BadInput(location, "HTML extraction failed: markup nested too deeply") from None
    except MemoryError:
        raise BadInput(location, "HTML extraction failed: out of memory on this page") from None
    except Exception as exc:  # trafilatura/lxml raise many kinds on broken markup: report, don't crash
        raise BadInput(location, f"HTML extraction failed: {type(exc).__name__}: {exc}") from exc
