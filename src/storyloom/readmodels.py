"""Read models: the typed shapes of everything the CLI, the API and the web pages show.

The store returns these (never raw rows or loose dicts), the API declares them as response models (so
``/docs`` documents every endpoint and a renamed field is caught by the type checker, not by a reader), and
the CLI and templates read their attributes.  Pydantic, because FastAPI documents and serialises it natively;
``model_dump_json`` writes a story page in one pass in Rust.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class ReadModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- articles ---------------------------------------------------------------------------------------


class ArticleRow(ReadModel):
    """An article in a list."""

    id: str
    title: str
    outlet: str | None = None
    language: str | None = None
    published: str | None = Field(None, description="ISO 8601 with the outlet's own offset (a date-only value stays a date), or null when unknown")
    date_flag: str | None = Field(None, description="why `published` is missing or not trusted")
    url: str | None = None
    kind: str
    chars: int = Field(description="length of the clean text")
    previous_id: str | None = None


class RemovedSpan(ReadModel):
    start: int
    end: int
    reason: str
    rule: str


class Sighting(ReadModel):
    location: str
    blob: str
    first_seen: str


class RawPayload(ReadModel):
    encoding: Literal["utf-8", "base64"]
    data: str


class CopyMember(ReadModel):
    id: str
    title: str
    outlet: str | None = None
    published: str | None = None
    language: str | None = None
    url: str | None = None
    chars: int | None = None


class CopyLink(ReadModel):
    a: str
    b: str
    kind: str = Field(description="exact | near_duplicate | containment | translation")
    score: float
    direction: str
    details: dict[str, Any] = {}
    evidence: list[dict[str, Any]] = []


class CopyGroup(ReadModel):
    """A copy group: members (canonical first) and every verified link with its evidence."""

    group_id: str
    canonical: str
    members: list[CopyMember]
    links: list[CopyLink]


class CopyGroupSummary(ReadModel):
    group_id: str
    size: int
    canonical: CopyMember
    link_kinds: dict[str, int]


class ArticleDetail(ReadModel):
    """One article with everything known about it."""

    id: str
    blob: str
    kind: str
    location: str
    url: str | None = None
    canonical_url: str | None = None
    title: str
    text: str
    text_hash: str
    published: str | None = None
    date_flag: str | None = None
    outlet: str | None = None
    author: str | None = None
    language: str | None = None
    extra: dict[str, Any] = {}
    warnings: list[str] = []
    previous_id: str | None = None
    next_id: str | None = None
    ingested_at: str
    body: str | None = Field(None, description="the text before furniture was removed; `removed` indexes into it")
    meta: dict[str, Any] = {}
    declared: dict[str, Any] = {}
    template_group: str | None = None
    removed: list[RemovedSpan] = []
    sightings: list[Sighting] = []
    copy_group: CopyGroup | None = None
    story_id: str | None = None
    raw: RawPayload | None = None


class SearchHit(ReadModel):
    id: str
    title: str
    outlet: str | None = None
    language: str | None = None
    published: str | None = None
    snippet: str = Field(description="plain text; matches marked (the API marks them [[…]])")
    score: float


class StoreStats(ReadModel):
    articles: int
    raw_inputs: int
    raw_bytes: int
    stored_bytes: int
    sightings: int
    versions: int
    outlets: int
    undated: int
    first_published: str | None = None
    last_published: str | None = None
    by_kind: dict[str, int]
    by_language: dict[str, int]
    top_outlets: dict[str, int]
    watched_feeds: int
    schema_version: int
    stories: int = 0


class Health(ReadModel):
    status: str
    articles: int
    stories: int
    schema_version: int


# -- stories ----------------------------------------------------------------------------------------


class StoryCard(ReadModel):
    """A story in the feed."""

    id: str
    label: str
    first_seen: str
    last_seen: str
    n_articles: int
    outlets: dict[str, int]
    languages: dict[str, int]
    daily: list[int] = Field([], description="articles per day over the story's span (its last 30 days)")
    sparkline: str = Field("", description="SVG polyline points of `daily`")
    updated_at: str | None = Field(None, description="when storyloom last changed the story (UTC)")


class StoryMember(ReadModel):
    id: str
    title: str
    outlet: str | None = None
    language: str | None = None
    published: str | None = None
    url: str | None = None
    time: str = Field(description="the time used for ordering")
    time_flag: str | None = Field(None, description="why `time` is not a trusted publication time")
    score: float
    reason: str = Field(description="opened | joined | copy | merged")
    group_id: str | None = None
    language_relation: str | None = Field(None, description="on a story page: 'translated from …' / 'translation of …' "
                                          "for a translated copy of another member, 'own report in <language>' for an "
                                          "article in another language than most members that translates none of them")


class StoryEvent(ReadModel):
    at: str
    kind: str
    story_id: str
    other_id: str | None = None
    article_id: str | None = None
    detail: str | None = None


class StoryDetail(ReadModel):
    id: str
    label: str
    label_article: str
    first_seen: str
    last_seen: str
    n_articles: int
    outlets: dict[str, int]
    languages: dict[str, int]
    entities: dict[str, int]
    members: list[StoryMember]
    events: list[StoryEvent]


class ComparisonStatus(ReadModel):
    status: Literal["fresh", "stale", "pending"]
    articles: int | None = Field(None, description="the story's size when the kept comparison was made")


class CopyGroupRef(ReadModel):
    group_id: str
    members: list[str]


class Mention(ReadModel):
    """A round-up, live blog, explainer or list that touches a story but was kept out of it ("also mentioned
    in"): it tells many topics at once, so as a member it would glue unrelated stories together."""

    article_id: str
    title: str
    outlet: str | None = None
    time: str | None = None
    story_id: str | None = Field(None, description="the story the round-up itself belongs to")
    why: str | None = Field(None, description="why it reads as a round-up")


class TimelineRow(ReadModel):
    label: str
    y: float


class TimelineDot(ReadModel):
    x: float
    y: float
    id: str
    title: str
    time: str
    flag: str | None = None
    outlet: str


class Tick(ReadModel):
    x: float
    label: str


class Timeline(ReadModel):
    width: int
    height: int
    left: int
    rows: list[TimelineRow]
    dots: list[TimelineDot]
    ticks: list[Tick]


class Quantity(ReadModel):
    text: str
    value: float
    unit: str


class ClaimCell(ReadModel):
    """One outlet's sentence (or clause) in a row of the claim matrix."""

    column: str
    article_id: str
    index: int
    key: str
    text: str
    source: str | None = Field(None, description="who the sentence attributes it to")
    verb: str | None = None
    quotes: list[str] = []
    quantities: list[Quantity] = []
    dates: list[str] = []
    entities: list[str] = []
    cut: bool = False


class RowConflict(ReadModel):
    unit: str
    values: dict[str, list[str]] = Field(description="the figure as an outlet wrote it → the columns giving it")


class FirstReport(ReadModel):
    column: str
    time: str
    article_id: str | None = None


class MatrixColumn(ReadModel):
    column: str
    article_id: str
    outlet: str | None = None
    title: str
    published: str | None = None
    date_flag: str | None = None
    language: str | None = None
    url: str | None = None


class ClaimRow(ReadModel):
    status: Literal["shared", "partial", "only"]
    columns: list[str]
    cells: list[ClaimCell]
    conflicts: list[RowConflict]
    first: FirstReport | None = None
    evidence: list[dict[str, Any]] = Field([], description="the aligned pairs behind the row, with their probability")


class MatrixSummary(ReadModel):
    claims: int
    rows: int
    shared_by_all: int
    partial: int
    only_in: dict[str, int]
    conflicting: int
    members_left_out: int = 0


class ClaimMatrix(ReadModel):
    columns: list[MatrixColumn]
    rows: list[ClaimRow]
    summary: MatrixSummary
    first_reporter: FirstReport | None = None
    untrusted_dates: list[str] = []


class GraphPart(BaseModel):
    """A node or an edge of the provenance graph: its kind decides which of the other fields it has."""

    model_config = ConfigDict(extra="allow")


class Provenance(ReadModel):
    nodes: list[GraphPart]
    edges: list[GraphPart]


class StoryPage(StoryDetail):
    """A story as its page shows it: members, copy groups, timeline and the kept comparison."""

    comparison: ComparisonStatus
    copy_groups: list[CopyGroupRef]
    timeline: Timeline
    claim_matrix: ClaimMatrix | None = Field(None, description="null while the comparison is being computed")
    provenance: Provenance | None = Field(None, description="nodes and edges of the provenance graph")
    mentioned_in: list[Mention] = Field([], description="round-ups that touch this story, kept out of it")


T = TypeVar("T")


class Page(ReadModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class IngestResult(ReadModel):
    counts: dict[str, int]
    errors: list[dict[str, str]]
    seconds: float
    copy_links: dict[str, int]
    stories_opened: int
    ids: list[str]


class ErrorDetail(ReadModel):
    code: str
    message: str
    request_id: str | None = None


class ErrorBody(ReadModel):
    error: ErrorDetail


# -- the story digest ---------------------------------------------------------------------------------


class Carrier(ReadModel):
    """One outlet's wording of a fact."""

    outlet: str = Field(description="the column of the claim matrix: the outlet, or the file/host without one")
    article_id: str
    text: str
    time: str | None = Field(None, description="the article's trusted publication time")
    language: str | None = None


class KeyFact(ReadModel):
    text: str = Field(description="the clearest wording")
    outlets: list[str]
    n_outlets: int
    first: Carrier | None = Field(None, description="who carried it first (trusted dates only)")
    attributed_to: list[str] = Field([], description='whom the outlets attribute it to ("ISW")')
    wordings: list[Carrier]
    numbers: list[str] = []


class Conflict(ReadModel):
    """The same fact with different figures (or dates) in different outlets."""

    what: str = Field(description="the unit or kind of value that differs, e.g. 'killed', 'USD', 'date'")
    values: dict[str, list[str]] = Field(description="value → the outlets that give it")
    wordings: list[Carrier]


class Quote(ReadModel):
    text: str
    outlets: list[str]


class Speaker(ReadModel):
    name: str
    quotes: list[Quote]
    outlets: list[str]


class NumberReport(ReadModel):
    value: float
    unit: str
    text: str
    outlets: list[str]


class OutletLens(ReadModel):
    outlet: str
    title: str = Field(description="the outlet's headline: framing at a glance")
    article_id: str
    published: str | None = None
    language: str | None = None
    country: str | None = None
    kind: str | None = Field(None, description="wire | national | regional | international | aggregator | "
                             "content farm | unknown")
    kind_source: str | None = Field(None, description="bundled table, learnt from the data, or your file")
    attributes: dict[str, str] = Field({}, description="attributes from your outlets file (lean, owner…)")
    exclusive_facts: list[str] = Field(description="its top facts no other outlet carries")
    n_exclusive: int
    exclusive_quotes: list[str] = []


class CoverageGroup(ReadModel):
    lens: str = Field(description="kind, country, language, or an attribute of your outlets file")
    counts: dict[str, int] = Field(description="group → outlets of the story in it")


class Digest(ReadModel):
    """What a reader needs of a story in thirty seconds: the facts every outlet agrees on, where they conflict,
    what each adds, who is quoted, the numbers, and who covers it."""

    story_id: str
    label: str
    n_articles: int
    n_outlets: int
    languages: list[str]
    first_seen: str
    last_seen: str
    first_reporter: Carrier | None = None
    key_facts: list[KeyFact]
    more_key_facts: int = Field(0, description="key facts left out of this list (see the claim matrix)")
    conflicts: list[Conflict]
    outlets: list[OutletLens]
    more_outlets: int = 0
    speakers: list[Speaker]
    numbers: list[NumberReport]
    coverage: list[CoverageGroup]
    new_since: str | None = Field(None, description="the time `new_facts` are counted from")
    new_facts: list[KeyFact] = []
    notes: list[str] = Field([], description="what the digest could not do (one article, articles left out…)")
    status: Literal["fresh", "stale", "pending"] = "fresh"


# -- following -------------------------------------------------------------------------------------


class Subscription(ReadModel):
    """Something followed: a story, a saved search, an outlet or a named entity."""

    id: str
    kind: Literal["story", "search", "outlet", "entity"]
    target: str = Field(description="story id, FTS5 query, outlet name or entity name")
    filters: dict[str, Any] = Field({}, description="search: language, outlet, since, min_outlets")
    owner: str = ""
    token: str | None = Field(None, description="the feed's capability token (/feeds/{token}.atom); hidden "
                              "unless the request may write")
    webhook: str | None = None
    email: str | None = None
    created_at: str
    story_status: str | None = Field(None, description="story subscriptions: live, merged into ID, or gone")
    n_alerts: int = 0


class AlertStory(ReadModel):
    story_id: str | None = None
    label: str
    lines: list[str] = Field(description="what changed, one line each")
    article_id: str | None = Field(None, description="for an article without a story yet")


class Alert(ReadModel):
    """One coalesced alert: the news of one subscription since its previous alert, each line saying why."""

    id: str
    sub_id: str
    created_at: str
    why: str = Field(description="the whole alert in one line")
    stories: list[AlertStory]
    since: str | None = Field(None, description="the subscription's previous alert: the digest's 'new since' time")
    deliveries: dict[str, str] = Field({}, description="channel → pending | sent | dead")


class Delivery(ReadModel):
    alert_id: str
    channel: str
    status: str
    attempts: int
    next_try: float
    last_error: str | None = None
    done_at: str | None = None
