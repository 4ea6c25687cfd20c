"""One dataclass of tunables, read once and passed down (no module globals).

Values come from the defaults below, then from a TOML file (``storyloom.toml`` in the working directory or
the path in ``STORYLOOM_CONFIG``), then from explicit overrides (CLI flags).  Unknown keys in the file are
an error, so a typo does not silently leave a default in force.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from storyloom import __version__
from storyloom.errors import StoryloomError


@dataclass(frozen=True)
class Settings:
    db_path: str = "storyloom.db"
    # ingest
    max_file_bytes: int = 50 * 1024 * 1024  # a file read whole (.txt/.html/.json, decompressed) larger than this is refused; JSONL/WARC stream
    max_item_bytes: int = 20 * 1024 * 1024  # one article (JSONL line, WARC payload, page)
    batch_size: int = 500  # items per transaction: the unit of crash safety
    busy_wait_seconds: float = 600.0  # a writer finding another one holding the store waits this long in all, then gives up
    # network (URL and feed fetching)
    user_agent: str = f"storyloom/{__version__} (offline news clustering; +https://pypi.org/project/storyloom/)"
    fetch_timeout: float = 15.0  # seconds per request phase (connect, read, write, pool)
    fetch_total_timeout: float = 60.0  # seconds for a whole download, however slowly it trickles
    max_fetch_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    allow_private: bool = False  # allow loopback/private/link-local targets (tests, intranets)
    fetch_links: bool = True  # for feed entries without full content, fetch the linked page
    # clean
    disabled_rules: tuple[str, ...] = ()  # names from `storyloom rules`, e.g. ("author_bio", "classifier")
    template_min_count: int = 3  # a line in at least this many articles of one outlet/feed/folder…
    template_min_share: float = 0.05  # …and in at least this share of them is a template line
    line_classifier: bool = True
    classifier_margin: float = 0.0  # raise to make the learned classifier remove less
    # copies
    run_copies: bool = True  # find copies as articles are ingested (else: `storyloom copies` later)
    copy_bucket_cap: int = 500  # an LSH band / sentence bucket with more articles than this is skipped (logged)
    translations: bool = True  # find translated copies (needs the embedding models; see storyloom.embed)
    translation_window_days: int = 7  # a translation is looked for among articles published this close
    embedder_fast: str = "use"  # title+lead embeddings where the model covers the language
    embedder_wide: str = "e5"  # for languages the fast one does not cover (slow: used only on candidates)
    # stories
    run_stories: bool = True  # cluster articles into stories as they are ingested
    story_threshold: float = 0.42  # the score an article needs to join a story (else it opens one)
    story_window_days: float = 3.0  # stories this close in time to an article are its candidates
    story_merge_margin: float = 0.05  # an article fitting two stories within this margin may merge them
    story_embeddings: bool = True  # use the fast multilingual embedder (embedder_fast) in story scores
    story_workers: int = 1  # processes reading and representing the next chunks while one is clustered (0: none)
    # serve
    host: str = "127.0.0.1"
    port: int = 8000
    api_token: str | None = None  # needed for POST /api/ingest (no token set: no writes over HTTP)
    token_for_reads: bool = False  # when true, reading the API and UI needs the token too
    max_request_bytes: int = 5 * 1024 * 1024  # POST /api/ingest body cap
    compare_inline_articles: int = 4  # a story page compares a story this small itself; larger ones in the background
    # watch
    per_host_delay: float = 2.0  # seconds between two requests to the same host
    backoff_base: float = 60.0  # first retry delay after a failure, doubled each time
    backoff_max: float = 6 * 3600.0

    def with_overrides(self, **changes: Any) -> "Settings":
        """A copy with the given fields changed; ``None`` values leave the field as it is."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def settings_from(data: dict[str, Any], base: Settings | None = None) -> Settings:
    """``base`` (defaults) with the fields of a TOML or JSON mapping: lists become the tuples the frozen
    settings hold."""
    return replace(base or Settings(), **{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def load_settings(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Defaults ← TOML file (if any) ← overrides."""
    settings = Settings()
    candidate = path or os.environ.get("STORYLOOM_CONFIG") or "storyloom.toml"
    p = Path(candidate)
    if p.is_file():
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise StoryloomError(f"{p}: not valid TOML: {exc}") from exc
        known = {f.name for f in fields(Settings)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise StoryloomError(f"{p}: unknown settings {', '.join(unknown)}")
        settings = settings_from(data, settings)
    elif path is not None:
        raise StoryloomError(f"{p}: settings file not found")
    return settings.with_overrides(**overrides)
