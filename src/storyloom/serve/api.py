"""The JSON API: stories, one story (members, copy groups, claim matrix, timeline, provenance), articles,
search, ingest, health.  Pagination by opaque cursors; errors as {"error": {"code", "message", "request_id"}}.

Every route declares its read model as ``response_model`` (so ``/docs`` documents it) and answers with
:class:`ModelJSON`, which writes the model in one pass (pydantic's Rust serialiser): FastAPI's own path
validates a returned model again and walks it with ``jsonable_encoder``, twice the cost of building a story.
Every parameter is bounded (:mod:`storyloom.serve.limits`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from storyloom.readmodels import (
    ArticleDetail,
    Digest,
    ErrorBody,
    Health,
    IngestResult,
    Page,
    SearchHit,
    StoryCard,
    StoryPage,
)
from storyloom.serve import views
from storyloom.serve.deps import read_store, writer_lock
from storyloom.serve.errors import ApiError, quoted, token_ok
from storyloom.serve.limits import (
    DATE_PATTERN,
    ID_PATTERN,
    LANGUAGE_PATTERN,
    MAX_CURSOR_CHARS,
    MAX_NAME_CHARS,
    MAX_QUERY_CHARS,
    decode_cursor,
    encode_cursor,
    remaining,
)
from storyloom.store import Store, queries

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": what}
    for code, what in ((400, "bad request (e.g. a cursor this API did not give out)"), (404, "not found"),
                       (422, "a parameter out of its bounds"), (503, "store unavailable, or the request took too long"))
}
router = APIRouter(responses=ERRORS)


class ModelJSON(Response):
    """A read model written as JSON in one pass (see the module docstring)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, BaseModel):
            return content.model_dump_json(by_alias=True).encode("utf-8")
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


Cursor = Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS, description="the `next_cursor` of a previous page")]
Id = Annotated[str, Path(pattern=ID_PATTERN, description="an id, or a unique prefix of at least 4 characters")]
LENS_PATTERN = r"^[A-Za-z_][A-Za-z0-9_ -]{0,39}$"
Date = Annotated[str | None, Query(pattern=DATE_PATTERN, description="YYYY-MM-DD or an ISO 8601 time")]


def _offset(cursor: str | None) -> int:
    try:
        return decode_cursor(cursor)
    except ValueError as exc:
        raise ApiError(400, "bad_cursor", "the cursor is not one this API gave out") from exc


@router.get("/health", response_model=Health)
def health(request: Request) -> Response:
    from storyloom.errors import StoreError

    try:
        with Store(request.app.state.settings.db_path, readonly=True) as store:
            return ModelJSON(queries.health(store))
    except (StoreError, OSError) as exc:  # the health check says what is wrong instead of failing
        raise ApiError(503, "store_unavailable", str(exc)[:300]) from exc
    except Exception as exc:  # sqlite3.DatabaseError of a corrupt file, and its kin
        raise ApiError(503, "store_unavailable", f"{type(exc).__name__}: {str(exc)[:300]}") from exc


@router.get("/stories", response_model=Page[StoryCard])
def stories(
    request: Request,
    q: Annotated[str | None, Query(max_length=MAX_QUERY_CHARS, description="words (FTS5) any member matches")] = None,
    since: Date = None, until: Date = None,
    language: Annotated[str | None, Query(pattern=LANGUAGE_PATTERN)] = None,
    outlet: Annotated[str | None, Query(max_length=MAX_NAME_CHARS)] = None,
    sort: Annotated[str, Query(pattern="^(recent|size)$")] = "recent",
    min_articles: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=200)] = 20, cursor: Cursor = None,
    blind_spot: Annotated[str | None, Query(pattern=LENS_PATTERN, description=(
        "a lens (kind, country, language, or a column of your outlets file): only the stories covered by one "
        "group of it, the blind spots of the others"))] = None,
    store: Store = Depends(read_store),
) -> Response:
    _offset(cursor)
    return ModelJSON(views.feed(store, limit=limit, cursor=cursor, q=q, since=since, until=until, language=language,
                                outlet=outlet, sort=sort, min_articles=min_articles, blind_spot=blind_spot,
                                outlets_file=request.app.state.settings.outlets_file))


@router.get("/stories/{story_id}", response_model=StoryPage)
def story(request: Request, story_id: Id, store: Store = Depends(read_store),
          fresh: bool = Query(False, description="wait (up to the request's time limit) for the comparison of the "
                                                 "current version of the story instead of answering with the kept "
                                                 "one and refreshing it in the background; see `comparison.status`")
          ) -> Response:
    got = views.story(store, story_id, **views.compare_options(request.app.state), wait=fresh,
                      wait_seconds=max(0.0, remaining(request.scope.get("state")) - 1.0))
    if got is None:
        moved = views.survivor(store, story_id)
        if moved:  # merged into another story: its id keeps working
            suffix = "?fresh=true" if fresh else ""
            return RedirectResponse(f"/api/stories/{moved}{suffix}", status_code=308)
        raise ApiError(404, "not_found", f"no story {quoted(story_id)}")
    return ModelJSON(got[0])


@router.get("/stories/{story_id}/digest", response_model=Digest)
def digest(request: Request, story_id: Id, since: Date = None, store: Store = Depends(read_store),
           fresh: bool = Query(False, description="wait for the comparison of the story's current version")) -> Response:
    """What every outlet agrees on, where they conflict, what each adds, who is quoted, the numbers, who covers
    it; ``since`` adds the facts first reported after that time (a reader's last visit)."""
    got = views.digest(store, story_id, since=since, wait=fresh, **views.digest_options(request.app.state),
                       wait_seconds=max(0.0, remaining(request.scope.get("state")) - 1.0))
    if got is None:
        moved = views.survivor(store, story_id)
        if moved:
            return RedirectResponse(f"/api/stories/{moved}/digest", status_code=308)
        raise ApiError(404, "not_found", f"no story {quoted(story_id)}")
    return ModelJSON(got)


@router.get("/articles/{article_id}", response_model=ArticleDetail)
def article(article_id: Id, raw: bool = False, store: Store = Depends(read_store)) -> Response:
    art = views.article(store, article_id, raw=raw)
    if art is None:
        raise ApiError(404, "not_found", f"no article {quoted(article_id)}")
    return ModelJSON(art)


@router.get("/search", response_model=Page[SearchHit])
def search(q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
           limit: Annotated[int, Query(ge=1, le=100)] = 20, cursor: Cursor = None,
           store: Store = Depends(read_store)) -> Response:
    offset = _offset(cursor)
    rows = queries.search(store, q, limit=limit + 1, offset=offset)
    for r in rows:  # plain-text snippets with the matches as [[…]]: no markup from the server
        r.snippet = r.snippet.replace(queries.MARK_START, "[[").replace(queries.MARK_END, "]]")
    more = len(rows) > limit
    return ModelJSON(Page[SearchHit](items=rows[:limit], next_cursor=encode_cursor(offset + limit) if more else None))


@router.post("/ingest", response_model=IngestResult)
async def ingest(request: Request) -> Response:
    """Articles as a JSON object or array, JSONL (application/x-ndjson), or {"url": "..."}; needs the token."""
    settings = request.app.state.settings
    if not settings.api_token:
        raise ApiError(403, "writes_disabled", "set api_token in the settings to allow ingest over HTTP")
    if not token_ok(settings, request):
        raise ApiError(401, "unauthorized", "a valid token is required")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_request_bytes:
        raise ApiError(413, "too_large", f"body larger than {settings.max_request_bytes:,} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > settings.max_request_bytes:
            raise ApiError(413, "too_large", f"body larger than {settings.max_request_bytes:,} bytes")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    from starlette.concurrency import run_in_threadpool

    return ModelJSON(await run_in_threadpool(_ingest_body, request.app.state, bytes(body), ctype))


def _ingest_body(state: Any, body: bytes, ctype: str) -> IngestResult:
    """Parse and ingest (in a worker thread: fetching and cleaning must not block the event loop)."""
    from storyloom.errors import BadInput
    from storyloom.ingest import iter_url
    from storyloom.ingest.records import jsonl_item, parse_json_bytes, record_to_raw
    from storyloom.ingest.web import Fetcher
    from storyloom.pipeline import ingest_items

    settings = state.settings
    items: list[Any] = []
    if ctype in ("application/x-ndjson", "application/jsonl", "application/x-jsonlines"):
        for n, line in enumerate(body.splitlines(), 1):  # the JSONL reader's own line parsing (depth, UTF-8, types)
            item = jsonl_item(line, f"api:{n}", settings.max_item_bytes)
            if item is not None:
                items.append(item)
    else:
        try:
            payload = parse_json_bytes(body or b"null", "body")
        except BadInput as exc:
            raise ApiError(400, "bad_json", f"body is not usable JSON: {exc.reason[:160]}") from exc
        if isinstance(payload, dict) and set(payload) == {"url"}:
            with Fetcher(settings) as fetcher:
                items = list(iter_url(str(payload["url"]), settings, fetcher))
        else:
            records = payload if isinstance(payload, list) else [payload]
            for n, rec in enumerate(records):
                raw = json.dumps(rec, ensure_ascii=False, sort_keys=True).encode()
                try:
                    items.append(record_to_raw(rec, raw, "json", f"api:{n}"))
                except BadInput as exc:
                    items.append(exc)
    with writer_lock(state):
        from storyloom.store import Store as S

        with S(settings.db_path) as store:
            report = ingest_items(items, store, settings)
    return IngestResult(**report.as_dict(), ids=report.added_ids)
