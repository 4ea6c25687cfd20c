"""Scraped text → the article itself, every removal explained.

Three layers decide, line by line, in this order, and the first that fires gives the reason:

1. pattern rules (:mod:`storyloom.clean.rules`) for the furniture families every site has;
2. corpus-level templates: a line that recurs in many articles of the same outlet or feed is furniture even
   when no rule knows it (the counts come from the store, through :class:`TemplateCounts`);
3. a small learned line classifier (:mod:`storyloom.clean.classifier`) for what neither catches; it only
   removes lines it is very sure of, because losing a sentence of the article is worse than keeping a
   stray line of furniture.

Removal is by whole line; each removed span is ``(start, end)`` in ``body`` (the normalised input), so a
user can see the text with removals marked and switch a rule off.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from storyloom.clean.rules import RULES, UNRELATED_HEADLINE, WORD, LineContext, bio_author, bio_outlet, cited_source
from storyloom.models import Span

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
_HAS_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANKS = re.compile(r"\n{3,}")
TEMPLATE_MAX_SHARE = 0.5  # if "templates" would remove more than this share of lines, it is a copy, not furniture


def normalize_text(text: str) -> str:
    """NFC, unified line endings, one space for runs of spaces, at most one blank line between paragraphs."""
    text = unicodedata.normalize("NFC", text)
    if _HAS_ZERO_WIDTH.search(text):  # str.translate is slow on long text: only when needed
        text = text.translate(_ZERO_WIDTH)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def line_key(line: str) -> str:
    """The identity of a line for template counting: case, digits and spacing folded (dates and counters
    in furniture change from page to page)."""
    folded = re.sub(r"\d+", "0", " ".join(WORD.findall(line.casefold())))
    return hashlib.blake2b(folded.encode("utf-8"), digest_size=8).hexdigest()


class TemplateCounts(Protocol):
    """How many articles of a group (outlet, feed or folder) contain a line; the store implements it."""

    def group_size(self, group: str) -> int: ...

    def line_counts(self, group: str, keys: Sequence[str]) -> dict[str, int]: ...


@dataclass(frozen=True)
class TextOptions:
    disabled_rules: frozenset[str] = frozenset()
    template_min_count: int = 3  # a line seen in at least this many articles of the group…
    template_min_share: float = 0.05  # …and in at least this share of them is a template line
    classifier: bool = True
    classifier_margin: float = 0.0  # added to the model's own threshold: higher removes less


@dataclass(frozen=True)
class Cleaned:
    body: str  # the normalised input; spans index into it
    text: str  # the article: body minus removed lines
    removed: tuple[Span, ...]
    cited_sources: tuple[str, ...] = ()
    bio_author: str | None = None
    bio_outlet: str | None = None
    line_keys: tuple[str, ...] = field(default=(), repr=False)  # of every non-empty line, for template counts


def _lines_with_offsets(body: str) -> list[tuple[int, int, str]]:
    out, pos = [], 0
    for raw in body.split("\n"):
        start, end = pos, pos + len(raw)
        pos = end + 1
        if raw.strip():
            out.append((start, end, raw))
    return out


def clean_scraped(
    text: str,
    title: str | None = None,
    options: TextOptions | None = None,
    templates: TemplateCounts | None = None,
    group: str | None = None,
) -> Cleaned:
    """Remove furniture from one article's text; see the module docstring for the layers."""
    opts = options or TextOptions()
    body = normalize_text(text)
    located = _lines_with_offsets(body)
    lines = tuple(line for _, _, line in located)
    keys = tuple(line_key(line) for line in lines)
    counts = Counter(w.lower() for line in lines for w in WORD.findall(line) if len(w) > 3)
    verdicts: list[tuple[str, str] | None] = [None] * len(lines)  # (rule, reason)

    for i in range(len(lines)):
        ctx = LineContext(lines, i, title, counts)
        for rule in RULES:
            if rule.name not in opts.disabled_rules and rule.test(ctx):
                verdicts[i] = (rule.name, rule.reason)
                break
    if templates is not None and group and "template" not in opts.disabled_rules:
        size = templates.group_size(group)
        if size >= opts.template_min_count:
            seen = templates.line_counts(group, sorted(set(keys)))
            need = max(opts.template_min_count, opts.template_min_share * size)
            hits = [i for i, k in enumerate(keys) if verdicts[i] is None and seen.get(k, 0) >= need]
            if hits and len(hits) <= TEMPLATE_MAX_SHARE * len(lines):
                for i in hits:
                    verdicts[i] = ("template", f"repeated template line (in {seen[keys[i]]} of {size} articles of {group})")

    # Second pass: headline-shaped teasers for other stories, at the top or beside removed furniture.
    if UNRELATED_HEADLINE.name not in opts.disabled_rules:
        furniture = [v is not None for v in verdicts]
        for i in range(len(lines)):
            near = i <= 1 or (i > 0 and furniture[i - 1]) or (i + 1 < len(lines) and furniture[i + 1])
            if verdicts[i] is None and near and UNRELATED_HEADLINE.test(LineContext(lines, i, title, counts)):
                verdicts[i] = (UNRELATED_HEADLINE.name, UNRELATED_HEADLINE.reason)

    if opts.classifier and "classifier" not in opts.disabled_rules and lines:
        _apply_classifier(lines, verdicts, opts)

    removed = tuple(
        Span(located[i][0], located[i][1], v[1], v[0]) for i, v in enumerate(verdicts) if v is not None
    )
    kept = [lines[i] for i, v in enumerate(verdicts) if v is None]
    sources = tuple(dict.fromkeys(s for line in lines if (s := cited_source(line))))
    bios = [line for i, line in enumerate(lines) if verdicts[i] and verdicts[i][0] == "author_bio"]
    author = next((a for line in bios if (a := bio_author(line))), None)
    outlet = next((o for line in bios if (o := bio_outlet(line))), None)
    return Cleaned(body, "\n\n".join(kept), removed, sources, author, outlet, keys)


def _apply_classifier(lines: tuple[str, ...], verdicts: list[tuple[str, str] | None], opts: TextOptions) -> None:
    try:
        from storyloom.clean.classifier import LineClassifier
    except ImportError:  # the model is optional: rules and templates still work without it
        return
    model = LineClassifier.load()
    threshold = model.threshold + opts.classifier_margin
    for i, p in enumerate(model.boilerplate_proba(list(lines))):
        if verdicts[i] is None and p >= threshold:
            verdicts[i] = ("classifier", f"learned line classifier: looks like page furniture (p={p:.2f})")


def render_removed(body: str, removed: Sequence[Span]) -> list[tuple[str, Span | None]]:
    """The body as (piece, span-or-None) runs, for showing the text with removals marked."""
    out: list[tuple[str, Span | None]] = []
    pos = 0
    for s in sorted(removed, key=lambda s: s.start):
        if s.start > pos:
            out.append((body[pos : s.start], None))
        out.append((body[s.start : s.end], s))
        pos = s.end
    if pos < len(body):
        out.append((body[pos:], None))
    return out
