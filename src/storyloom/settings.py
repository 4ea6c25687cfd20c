"""One dataclass of tunables, read once and passed down (no module globals).

Values come from the defaults below, then from a TOML file (``storyloom.toml`` in the working directory or
the path in ``STORYLOOM_CONFIG``), then from explicit overrides (CLI flags).  Every field declares its type,
its range and a line of help; a file is validated on load and every bad key gets one clear line (a typo, a
string where a number belongs, a number out of range, one rule name where a list is expected), so a mistake
never silently leaves a default in force or a setting half-applied.  ``storyloom settings`` prints them all
with their values and where each value came from.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from storyloom import __version__
from storyloom.errors import StoryloomError

MB = 1024 * 1024


def opt(default: Any, help: str, lo: float | None = None, hi: float | None = None,
        choices: tuple[str, ...] | None = None) -> Any:
    """A setting: its default, one line of help and its allowed range or values (checked on load)."""
    return field(default=default, metadata={"help": help, "lo": lo, "hi": hi, "choices": choices})


@dataclass(frozen=True)
class Settings:
    db_path: str = opt("storyloom.db", "the store file")
    # ingest
    max_file_bytes: int = opt(50 * MB, "a file read whole (.txt/.html/.json, decompressed) larger than this is "
                              "refused; JSONL and WARC stream", lo=1)
    max_item_bytes: int = opt(20 * MB, "one article (JSONL line, WARC payload, page) larger than this is refused", lo=1)
    batch_size: int = opt(500, "items per transaction: the unit of crash safety", lo=1, hi=100_000)
    ingest_workers: int = opt(0, "processes cleaning items side by side while the ingest writes them in input order "
                              "(0: one per CPU; 1: none, all in the ingesting process); the store is the same "
                              "whatever the number", lo=0, hi=64)
    follow_symlinks: bool = opt(False, "follow symlinks that lead out of an ingested folder (off: a link to "
                                "/etc/passwd stays out)")
    busy_wait_seconds: float = opt(600.0, "a writer finding another one holding the store waits this long in all, "
                                   "then gives up with one line", lo=0.0, hi=86400)
    store_cache_mb: int = opt(64, "SQLite page cache of a writing connection, in MB (SQLite's own default is 2 MB; "
                              "bench/store_cache.py measures it)", lo=1, hi=65_536)
    # network (URL and feed fetching)
    user_agent: str = opt(f"storyloom/{__version__} (offline news clustering; +https://pypi.org/project/storyloom/)",
                          "the User-Agent of every request")
    fetch_timeout: float = opt(15.0, "seconds per request phase (connect, read, write, pool)", lo=0.01, hi=3600)
    fetch_total_timeout: float = opt(60.0, "seconds for a whole download, however slowly it trickles", lo=0.01, hi=86400)
    max_fetch_bytes: int = opt(10 * MB, "a response larger than this is refused", lo=1)
    max_redirects: int = opt(5, "redirects followed per URL", lo=0, hi=50)
    allow_private: bool = opt(False, "allow loopback/private/link-local targets (tests, intranets)")
    fetch_links: bool = opt(True, "for feed entries without full content, fetch the linked page")
    # clean
    disabled_rules: tuple[str, ...] = opt((), 'rule names from `storyloom rules`, e.g. ["author_bio", "classifier"]')
    template_min_count: int = opt(3, "a line in at least this many articles of one outlet/feed/folder…", lo=2)
    template_min_share: float = opt(0.05, "…and in at least this share of them is a template line", lo=0.0, hi=1.0)
    line_classifier: bool = opt(True, "use the learned line classifier on scraped text")
    classifier_margin: float = opt(0.0, "raise to make the learned classifier remove less", lo=-1.0, hi=1.0)
    # copies
    run_copies: bool = opt(True, "find copies as articles are ingested (else: `storyloom copies` later)")
    copy_bucket_cap: int = opt(500, "an LSH band / sentence bucket with more articles than this is skipped (logged)",
                               lo=2)
    copy_sketches: bool = opt(False, "keep each text's MinHash sketch in the store (512 bytes an article; only the "
                              "batch tables need it, else it is computed again from the text when needed)")
    translations: bool = opt(True, "find translated copies (needs the embedding models; see storyloom.embed)")
    translation_window_days: int = opt(7, "a translation is looked for among articles published this close", lo=0,
                                       hi=3650)
    embedder_fast: str = opt("use", "title+lead embeddings where the model covers the language (use, e5, or "
                             "module:Class)")
    embedder_wide: str = opt("e5", "for languages the fast one does not cover (slow: used only on candidates)")
    # stories
    run_stories: bool = opt(True, "cluster articles into stories as they are ingested")
    story_threshold: float = opt(0.42, "the score an article needs to join a story (else it opens one)", lo=0.0, hi=1.0)
    story_window_days: float = opt(3.0, "a story's reach in time while it has not developed (a one-day event): "
                                   "stories this close to an article are its candidates", lo=0.01, hi=3650)
    story_reach_growth: float = opt(1.0, "days of reach a story gains for each day it has kept developing (0: the "
                                    "fixed story_window_days)", lo=0.0, hi=10.0)
    story_reach_max_days: float = opt(7.0, "the farthest a story's reach grows; with story_continuation, up to this "
                                      "long after its last article an article sharing its distinctive actors continues "
                                      "it past its own reach", lo=0.0, hi=3650)
    story_continuation: bool = opt(True, "past a story's reach (up to story_reach_max_days), an article naming the "
                                   "story's distinctive actors still continues it")
    story_entity_check: bool = opt(True, "refuse a join or merge whose article and story share no distinctive named "
                                   "actor (logged in story_events as 'refuse')")
    story_fact_check: bool = opt(True, "with story_embeddings: refuse a join or merge below the strong score that "
                                 "shares few distinctive actors with the story unless the article states a fact its "
                                 "latest members state (claims aligned as on the story page; logged as 'refuse')")
    story_roundups: str = opt("apart", "round-ups, live blogs, explainers, lists: 'weak' (a member that never shapes "
                              "or merges its story), 'apart' (their own story) or 'off' (ordinary members)",
                              choices=("weak", "apart", "off"))
    story_merge_margin: float = opt(0.05, "an article fitting two stories within this margin may merge them", lo=0.0,
                                    hi=1.0)
    story_embeddings: bool = opt(True, "use the fast multilingual embedder (embedder_fast) in story scores")
    story_workers: int = opt(1, "processes reading and representing the next chunks while one is clustered (0: none)",
                             lo=0, hi=64)
    # compare
    outlets_file: str | None = opt(None, "a CSV (name column, then country, language, kind, or any attribute of "
                                   "yours: lean, owner…) or TOML file of outlets for the story digest's lenses")
    # serve
    host: str = opt("127.0.0.1", "address `storyloom serve` listens on")
    port: int = opt(8000, "port `storyloom serve` listens on", lo=1, hi=65535)
    api_token: str | None = opt(None, "needed for POST /api/ingest (no token set: no writes over HTTP)")
    token_for_reads: bool = opt(False, "when true, reading the API and UI needs the token too")
    max_request_bytes: int = opt(5 * MB, "POST /api/ingest body cap", lo=1)
    compare_inline_articles: int = opt(4, "a story page compares a story this small itself; larger ones in the "
                                       "background", lo=0)
    request_timeout: float = opt(20.0, "seconds one HTTP request may work before it is stopped (503)", lo=0.1,
                                 hi=3600)
    # watch
    per_host_delay: float = opt(2.0, "seconds between two requests to the same host", lo=0.0, hi=3600)
    backoff_base: float = opt(60.0, "first retry delay after a failure, doubled each time", lo=0.0)
    backoff_max: float = opt(6 * 3600.0, "longest retry delay of a failing feed", lo=0.0)
    # follow (subscriptions and alerts)
    follow_interval_seconds: float = opt(300.0, "at most one alert per subscription per this many seconds (news in "
                                         "between waits and is coalesced into the next)", lo=0.0, hi=7 * 86400)
    follow_digest: bool = opt(True, "for followed stories, compare the story after an ingest and alert on new key "
                              "facts and conflicts (costs a comparison per changed followed story)")
    follow_base_url: str = opt("http://127.0.0.1:8000", "the address alerts link to (story pages, digests, feeds)")
    follow_maildir: str | None = opt(None, "the maildir e-mail alerts are written to (default: <store>.maildir)")
    webhook_timeout: float = opt(10.0, "seconds per webhook request phase; a hanging receiver is given up then",
                                 lo=0.1, hi=600)
    webhook_retry_hours: float = opt(24.0, "a webhook alert is retried (with backoff) this long, then dead-lettered",
                                     lo=0.0, hi=24 * 30)
    webhook_backoff_base: float = opt(30.0, "seconds before the first webhook retry, doubled each time (at most an "
                                      "hour)", lo=0.0, hi=3600)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given fields changed; ``None`` values leave the field as it is.  Checked like a file."""
        given = {k: v for k, v in changes.items() if v is not None}
        problems = [p for k, v in given.items() for p in check(k, v)]
        if problems:
            raise StoryloomError("; ".join(problems))
        return replace(self, **{k: coerce(k, v) for k, v in given.items()})


FIELDS: dict[str, Field[Any]] = {f.name: f for f in fields(Settings)}


def _kind(name: str) -> str:
    """The declared type of a field as written (annotations are strings here): int, float, bool, str,
    ``str | None`` or ``tuple[str, ...]``."""
    return str(FIELDS[name].type)


def check(name: str, value: Any) -> list[str]:
    """What is wrong with ``value`` for the setting ``name`` (empty when it is fine), one line per problem."""
    if name not in FIELDS:
        return [f"unknown setting {name!r}"]
    kind, meta = _kind(name), FIELDS[name].metadata
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:60] + "…"
    if kind == "bool":
        return [] if isinstance(value, bool) else [f"{name} = {shown}: expected true or false"]
    if kind in ("int", "float"):
        ok = isinstance(value, int) if kind == "int" else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok or (isinstance(value, float) and not math.isfinite(value)):
            return [f"{name} = {shown}: expected {'a whole number' if kind == 'int' else 'a number'}"]
        lo, hi = meta.get("lo"), meta.get("hi")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f"between {lo:g} and {hi:g}" if lo is not None and hi is not None else (
                f"at least {lo:g}" if lo is not None else f"at most {hi:g}")
            return [f"{name} = {shown}: must be {bounds}"]
        return []
    if kind == "str":
        return [] if isinstance(value, str) else [f"{name} = {shown}: expected a string"]
    if kind == "str | None":
        return [] if value is None or isinstance(value, str) else [f"{name} = {shown}: expected a string"]
    if kind == "tuple[str, ...]":
        if isinstance(value, (list, tuple)) and all(isinstance(x, str) for x in value):
            return []
        hint = f' (a list: {name} = ["{value}"])' if isinstance(value, str) else ""
        return [f"{name} = {shown}: expected a list of strings{hint}"]
    return []  # pragma: no cover - every field's kind is handled above


def coerce(name: str, value: Any) -> Any:
    """A checked value as the frozen settings hold it: lists become tuples, whole numbers of a float field floats."""
    kind = _kind(name)
    if kind == "tuple[str, ...]":
        return tuple(value)
    if kind == "float":
        return float(value)
    return value


def settings_from(data: dict[str, Any], base: Settings | None = None, source: str = "settings") -> Settings:
    """``base`` (defaults) with the fields of a TOML or JSON mapping, validated: StoryloomError listing every bad
    key, one per line."""
    problems = [p for k, v in data.items() for p in check(k, v)]
    if problems:
        raise StoryloomError(f"{source}: " + "\n".join(problems) if len(problems) == 1 else
                             f"{source}: {len(problems)} bad settings:\n" + "\n".join(f"  {p}" for p in problems))
    return replace(base or Settings(), **{k: coerce(k, v) for k, v in data.items()})


def settings_file(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The settings file in force: ``path``, else ``STORYLOOM_CONFIG``, else ./storyloom.toml if it exists."""
    candidate = path or os.environ.get("STORYLOOM_CONFIG") or "storyloom.toml"
    p = Path(candidate)
    if p.is_file():
        return p
    if path is not None:
        raise StoryloomError(f"{p}: settings file not found")
    return None


def read_file(p: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise StoryloomError(f"{p}: not valid TOML: {exc}") from exc
    return data


def load_settings(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Defaults ← TOML file (if any) ← overrides."""
    settings = Settings()
    p = settings_file(path)
    if p is not None:
        settings = settings_from(read_file(p), settings, source=str(p))
    return settings.with_overrides(**overrides)


def describe(path: str | os.PathLike[str] | None = None, **overrides: Any) -> list[dict[str, Any]]:
    """Every setting with its value, where the value came from (default, the file, an override) and its help."""
    p = settings_file(path)
    in_file = read_file(p) if p is not None else {}
    settings = settings_from(in_file, source=str(p)).with_overrides(**overrides)
    rows = []
    for f in fields(Settings):
        value = getattr(settings, f.name)
        if overrides.get(f.name) is not None:
            source = "command line"
        elif f.name in in_file:
            source = str(p)
        else:
            source = "default"
        default = f.default if f.default is not MISSING else None
        rows.append({"name": f.name, "value": value, "default": default, "source": source, "type": _kind(f.name),
                     "help": f.metadata.get("help", "")})
    return rows
