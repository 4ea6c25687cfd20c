"""Following over HTTP: ``/api/subscriptions`` (token-protected writes), ``/api/alerts``, the Atom feed of a
subscription at ``/feeds/{token}.atom`` and the ``/follow`` page.

The feed's token is a capability: whoever has the URL reads the feed, with no login a feed reader could not
give.  An unknown, malformed or revoked token gets the same 404 as any missing page, so probing says nothing
about which tokens exist.  Tokens are listed only to a request that may write (or when no API token is set:
a local single-user server).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from storyloom.readmodels import Alert, Subscription
from storyloom.serve.api import ERRORS, ModelJSON
from storyloom.serve.deps import read_store
from storyloom.serve.errors import ApiError, token_ok
from storyloom.serve.limits import ID_PATTERN, MAX_QUERY_CHARS
from storyloom.serve.web import page
from storyloom.store import Store
from storyloom.store import follow as sql

router = APIRouter()
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


class SubscriptionIn(BaseModel):
    """A subscription to make."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(pattern="^(story|search|outlet|entity)$")
    target: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    owner: str = Field("", max_length=100)
    filters: dict[str, str | int | None] = Field({}, max_length=8)
    webhook: str | None = Field(None, max_length=2000)
    secret: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254)


class Created(BaseModel):
    subscription: Subscription
    feed: str
    secret: str | None = Field(None, description="the webhook's signing secret (shown once)")


class Deleted(BaseModel):
    deleted: str = Field(description="the subscription id: its alerts, feed and delivery log are gone too")


def _plain(models: list[Any]) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json") for m in models]


def _may_write(request: Request) -> bool:
    settings = request.app.state.settings
    return not settings.api_token or token_ok(settings, request)


def _writer(request: Request) -> Any:
    settings = request.app.state.settings
    if not settings.api_token:
        raise ApiError(403, "writes_disabled", "set api_token in the settings to allow writes over HTTP")
    if not token_ok(settings, request):
        raise ApiError(401, "unauthorized", "a valid token is required")
    return settings


@router.get("/api/subscriptions", response_model=list[Subscription], responses=ERRORS)
def list_subscriptions(request: Request, owner: Annotated[str | None, Query(max_length=100)] = None,
                       store: Store = Depends(read_store)) -> Response:
    return ModelJSON(_plain(sql.list_subs(store, owner, show_tokens=_may_write(request))))


@router.post("/api/subscriptions", response_model=Created, responses=ERRORS)
def create_subscription(request: Request, body: SubscriptionIn) -> Response:
    """Follow something; needs the token.  A bad target (an FTS5 query that does not parse, no such story, a
    private webhook) is a 422 with one line saying why."""
    from storyloom.follow import FollowError, subscribe

    settings = _writer(request)
    with Store(settings.db_path) as store:
        try:
            sub = subscribe(store, settings, body.kind, body.target, owner=body.owner, filters=dict(body.filters),
                            webhook=body.webhook, secret=body.secret, email=body.email)
        except FollowError as exc:
            raise ApiError(422, "cannot_follow", str(exc)) from exc
        secret = (sql.sub_raw(store, sub.id) or {}).get("secret") if body.webhook and not body.secret else None
    feed = f"{settings.follow_base_url.rstrip('/')}/feeds/{sub.token}.atom"
    return ModelJSON(Created(subscription=sub, feed=feed, secret=secret))


@router.delete("/api/subscriptions/{sub_id}", response_model=Deleted, responses=ERRORS)
def delete_subscription(request: Request, sub_id: str) -> Response:
    from storyloom.follow import unfollow

    settings = _writer(request)
    if not re.fullmatch(ID_PATTERN, sub_id):
        raise ApiError(404, "not_found", "no such subscription")
    with Store(settings.db_path) as store:
        if not unfollow(store, sub_id):
            raise ApiError(404, "not_found", "no such subscription")
    return ModelJSON(Deleted(deleted=sub_id))


@router.get("/api/subscriptions/{sub_id}/alerts", response_model=list[Alert], responses=ERRORS)
def subscription_alerts(sub_id: str, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                        store: Store = Depends(read_store)) -> Response:
    if not re.fullmatch(ID_PATTERN, sub_id) or sql.sub_raw(store, sub_id) is None:
        raise ApiError(404, "not_found", "no such subscription")
    return ModelJSON(_plain(sql.alerts(store, sub_id, limit)))


@router.get("/api/alerts", response_model=list[Alert], responses=ERRORS)
def recent_alerts(limit: Annotated[int, Query(ge=1, le=500)] = 50, store: Store = Depends(read_store)) -> Response:
    return ModelJSON(_plain(sql.alerts(store, None, limit)))


@router.get("/feeds/{token}.atom", include_in_schema=False)
def feed(request: Request, token: str, store: Store = Depends(read_store)) -> Response:
    from storyloom.follow.atom import feed_xml

    sub = sql.sub_by_token(store, token) if TOKEN.fullmatch(token) else None
    if sub is None:
        raise ApiError(404, "not_found", "no such page")
    body = feed_xml(sub, sql.alerts(store, sub["id"], 50), request.app.state.settings, sub["created_at"])
    return Response(body, media_type="application/atom+xml; charset=utf-8",
                    headers={"Cache-Control": "private, max-age=60"})


KIND_CHOICES = ("story", "search", "outlet", "entity")
MAX_FORM_BYTES = 8192


def _follow_page(request: Request, store: Store, status: int = 200, **ctx: Any) -> HTMLResponse:
    subs = sql.list_subs(store, None, show_tokens=_may_write(request))
    form = {"kind": "story", "target": "", "owner": "", **ctx.pop("form", {})}
    return page(request, "follow.html", status=status, subs=subs, alerts=sql.alerts(store, None, 50),
                names={s.id: f"{s.kind} {s.target}" for s in subs}, form=form, kinds=KIND_CHOICES,
                writable=bool(request.app.state.settings.api_token), **ctx)


@router.get("/follow", response_class=HTMLResponse, include_in_schema=False)
def follow_page(request: Request, kind: Annotated[str, Query(max_length=16)] = "story",
                target: Annotated[str, Query(max_length=MAX_QUERY_CHARS)] = "",
                made: Annotated[str | None, Query(max_length=64)] = None,
                store: Store = Depends(read_store)) -> HTMLResponse:
    """Subscriptions, recent alerts, and a form to follow something (``?kind=story&target=ID`` fills it in: the
    story page's Follow link)."""
    form = {"kind": kind if kind in KIND_CHOICES else "story", "target": target}
    return _follow_page(request, store, form=form, made=made if made and re.fullmatch(ID_PATTERN, made) else None)


@router.post("/follow", response_class=HTMLResponse, include_in_schema=False)
async def follow_form(request: Request) -> Response:
    """The form's POST: the API token travels in the form (a page cannot send a header), which also makes a
    forged cross-site POST useless without it."""
    import hmac
    from urllib.parse import parse_qs

    from fastapi.responses import RedirectResponse
    from starlette.concurrency import run_in_threadpool

    from storyloom.follow import FollowError, subscribe

    settings = request.app.state.settings
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise ApiError(413, "too_large", "form too large")
    fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), max_num_fields=10).items()}
    form = {"kind": fields.get("kind", "story"), "target": fields.get("target", "")[:MAX_QUERY_CHARS],
            "owner": fields.get("owner", "")[:100]}
    given = fields.get("token", "")
    problem = None
    if not settings.api_token:
        problem = "set api_token in the settings to follow from this page (or use `storyloom follow`)"
    elif not hmac.compare_digest(given.encode(), settings.api_token.encode()):
        problem = "that token is not the server's API token"
    elif form["kind"] not in KIND_CHOICES:
        problem = "choose what to follow"

    def make() -> str:
        with Store(settings.db_path) as store:
            return subscribe(store, settings, form["kind"], form["target"], owner=form["owner"]).id

    if problem is None:
        try:
            made = await run_in_threadpool(make)
            return RedirectResponse(f"/follow?made={made}", status_code=303)
        except FollowError as exc:
            problem = str(exc)
    reader = request.app.state.reads.take()
    try:
        return _follow_page(request, reader, status=422, form=form, problem=problem)
    finally:
        request.app.state.reads.give(reader)
