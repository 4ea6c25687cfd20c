"""Server-rendered pages: story feed, story (claim matrix, timeline, provenance graph), article (clean text
with removals struck through), search.  Readable without JavaScript; the one script only adds interaction
(clicking a graph node shows its details)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from storyloom import __version__
from storyloom.serve import views
from storyloom.serve.deps import read_store
from storyloom.serve.errors import ApiError, quoted
from storyloom.serve.limits import ID_PATTERN, LANGUAGE_PATTERN, MAX_CURSOR_CHARS, MAX_NAME_CHARS, MAX_QUERY_CHARS
from storyloom.store import Store, queries

HERE = Path(__file__).parent

templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.autoescape = True


def safe_url(url: Any) -> str | None:
    """Only http(s) links leave the page: a javascript: or data: URL from an article is not a link."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def json_script(data: Any) -> Markup:
    """JSON for a <script type="application/json">: <, >, & and line separators escaped so no text in it can
    close the element or open another."""
    text = json.dumps(data, ensure_ascii=False, default=str)
    for a, b in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(a, b)
    return Markup(text)


templates.env.filters["safe_url"] = safe_url
templates.env.filters["json_script"] = json_script
templates.env.globals["version"] = __version__

router = APIRouter(include_in_schema=False)


def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, ctx, status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return page(request, "error.html", status=status, status_code=status, message=message)


Words = Annotated[str | None, Query(max_length=MAX_QUERY_CHARS)]


def _id(value: str, what: str) -> str:
    """A page's id from its path, refused politely (the error page, not a validation dump) when it cannot be one."""
    import re

    if not re.fullmatch(ID_PATTERN, value):
        raise ApiError(404, "not_found", f"no {what} {quoted(value)}")
    return value


@router.get("/", response_class=HTMLResponse)
def feed(request: Request, q: Words = None, language: Annotated[str | None, Query(max_length=16)] = None,
         outlet: Annotated[str | None, Query(max_length=MAX_NAME_CHARS)] = None, sort: str = "recent",
         min_articles: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
         cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS)] = None,
         blind_spot: Annotated[str | None, Query(max_length=40)] = None,
         store: Store = Depends(read_store)) -> HTMLResponse:
    import re

    if blind_spot and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ -]{0,39}", blind_spot):
        blind_spot = None
    if sort not in ("recent", "size"):
        sort = "recent"
    if language and not re.fullmatch(LANGUAGE_PATTERN, language):
        language = None
    try:
        data = views.feed(store, limit=30, cursor=cursor, q=q or None, language=language or None,
                          outlet=outlet or None, sort=sort, min_articles=max(1, min_articles),
                          blind_spot=blind_spot or None, outlets_file=request.app.state.settings.outlets_file)
    except ValueError as exc:
        raise ApiError(400, "bad_cursor", "that page link is not valid") from exc
    previous, current = _visits(request)
    resp = page(request, "feed.html", data=data, q=q or "", language=language or "", outlet=outlet or "",
                sort=sort, min_articles=min_articles, total=queries.count(store, "stories"),
                blind_spot=blind_spot or "", lenses=views.lenses(request.app.state.settings.outlets_file),
                last_visit=previous)
    for name, value in (("storyloom_prev_visit", previous), ("storyloom_visit", current)):
        if value:
            resp.set_cookie(name, value, max_age=400 * 86400, httponly=True, samesite="lax")
    return resp


VISIT_GAP_SECONDS = 30 * 60  # feed views closer together than this are one visit


def _visits(request: Request) -> tuple[str | None, str]:
    """(the reader's previous visit, this one), from two cookies: a story changed since the previous visit is
    marked on the feed.  Views within half an hour are one visit, so reloading the feed does not clear the
    marks; no account, nothing stored on the server."""
    from storyloom.timeparse import maybe_time, utc_now

    now = utc_now()
    prev = request.cookies.get("storyloom_prev_visit")
    last = request.cookies.get("storyloom_visit")
    prev = prev if prev and maybe_time(prev) else None
    last_t = maybe_time(last) if last else None
    if last_t is None:
        return prev, now
    if (maybe_time(now) - last_t).total_seconds() > VISIT_GAP_SECONDS:  # type: ignore[operator]
        return str(last), now  # a new visit: the last one becomes the previous
    return prev, str(last)


@router.get("/stories/{story_id}", response_class=HTMLResponse)
def story(request: Request, story_id: str, store: Store = Depends(read_store)) -> Response:
    """The story page leads with the digest (a screen even for a large story: sections fold with <details>);
    the claim matrix has a page of its own."""
    got = views.story(store, _id(story_id, "story"), **views.digest_options(request.app.state), with_digest=True)
    if got is None:
        moved = views.survivor(store, story_id)
        if moved:  # merged into another story: a bookmarked link still leads to the coverage
            return RedirectResponse(f"/stories/{moved}", status_code=301)
        raise ApiError(404, "not_found", f"no story {quoted(story_id)}")
    detail, graph, digest = got
    return page(request, "story.html", s=detail, d=digest, m=detail.claim_matrix,
                graph=graph or {"nodes": [], "edges": [], "width": 0, "height": 0}, tl=detail.timeline,
                refresh_seconds=5 if detail.comparison.status == "pending" and detail.n_articles > 1 else None)


MATRIX_ROWS = 40


@router.get("/stories/{story_id}/matrix", response_class=HTMLResponse)
def matrix(request: Request, story_id: str, page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
           store: Store = Depends(read_store)) -> Response:
    """The full claim matrix of a story, a page of rows at a time (a 50-article story has hundreds)."""
    got = views.story(store, _id(story_id, "story"), **views.compare_options(request.app.state))
    if got is None:
        moved = views.survivor(store, story_id)
        if moved:
            return RedirectResponse(f"/stories/{moved}/matrix", status_code=301)
        raise ApiError(404, "not_found", f"no story {quoted(story_id)}")
    detail = got[0]
    m = detail.claim_matrix
    rows = m.rows if m is not None else []
    pages = max(1, -(-len(rows) // MATRIX_ROWS))
    page_no = min(page_no, pages)
    shown = rows[(page_no - 1) * MATRIX_ROWS: page_no * MATRIX_ROWS]
    return page(request, "matrix.html", s=detail, m=m, rows=shown, page_no=page_no, pages=pages,
                refresh_seconds=5 if detail.comparison.status == "pending" and detail.n_articles > 1 else None)


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article(request: Request, article_id: str, store: Store = Depends(read_store)) -> HTMLResponse:
    from storyloom.clean.text import render_removed
    from storyloom.models import Span

    art = views.article(store, _id(article_id, "article"))
    if art is None:
        raise ApiError(404, "not_found", f"no article {quoted(article_id)}")
    spans = [Span(s.start, s.end, s.reason, s.rule) for s in art.removed]
    pieces = render_removed(art.body or art.text, spans)
    return page(request, "article.html", a=art, pieces=pieces)


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, q: Annotated[str, Query(max_length=MAX_QUERY_CHARS)] = "",
           store: Store = Depends(read_store)) -> HTMLResponse:
    hits = queries.search(store, q, limit=50) if q.strip() else []
    shown = []
    for h in hits:  # split on the match markers: the template escapes each piece and wraps matches in <mark>
        parts = []
        for i, chunk in enumerate(h.snippet.replace(queries.MARK_END, queries.MARK_START).split(queries.MARK_START)):
            parts.append((chunk, i % 2 == 1))
        shown.append({"hit": h, "parts": parts})
    return page(request, "search.html", q=q, hits=shown)
