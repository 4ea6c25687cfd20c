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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from storyloom.clean.meta import outlet_from_url
from storyloom.clean.rules import (
    RULES,
    TEASER_LIST,
    UNRELATED_HEADLINE,
    WORD,
    LineContext,
    PageHints,
    Verdict,
    bio_author,
    bio_outlet,
    cited_source,
    copyright_owner,
    dated_teaser_list,
    page_verdicts,
    social_handle,
)
from storyloom.models import Span, TemplateSkip

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
    # the outlet the text names about itself, when it does: (name, what named it, the line), see outlet_evidence
    outlet_evidence: tuple[str, str, str] | None = None
    line_keys: tuple[str, ...] = field(default=(), repr=False)  # of every non-empty line, for template counts
    # the non-empty lines the template layer did not judge: (taken by page rules, taken by line rules), see template_skip
    template_skip: TemplateSkip | None = field(default=None, repr=False)


def _lines_with_offsets(body: str) -> list[tuple[int, int, str]]:
    out, pos = [], 0
    for raw in body.split("\n"):
        start, end = pos, pos + len(raw)
        pos = end + 1
        if raw.strip():
            out.append((start, end, raw))
    return out


def keyed_lines(body: str) -> list[tuple[int, str]]:
    """(start, :func:`line_key`) of each non-empty line of a normalised ``body``, numbered as
    :func:`prepare_scraped` numbers them: the lines a stored article's ``template_skip`` indexes and its template
    counts hold (``storyloom.retemplate`` reads a stored body through this, so both sides split alike)."""
    return [(start, line_key(line)) for start, _, line in _lines_with_offsets(body)]


def clean_scraped(
    text: str,
    title: str | None = None,
    options: TextOptions | None = None,
    templates: TemplateCounts | None = None,
    group: str | None = None,
    page: PageHints | None = None,
) -> Cleaned:
    """Remove furniture from one article's text; see the module docstring for the layers.

    ``page`` is given for the body of an HTML page: its page rules (repeated headline, "Related:" lists,
    share/copyright tails) run first, and the line rules then see the body without those lines, as they
    would see a scraper's text.

    Two halves, so that an ingest can run the first in worker processes: :func:`prepare_scraped` (everything
    that reads only this text, the line classifier's probabilities included) and :func:`finish_scraped` (the
    template lines, which need the counts of the articles before it, and what follows from every verdict)."""
    prep = prepare_scraped(text, title, options, page)
    return finish_scraped(prep, template_hits(prep, templates, group))


@dataclass(frozen=True)
class PreparedText:
    """The half of :func:`clean_scraped` that depends on the text alone (picklable, for worker processes)."""

    body: str
    title: str | None
    opts: TextOptions
    located: tuple[tuple[int, int, str], ...]
    keys: tuple[str, ...]
    verdicts: tuple[Verdict | None, ...]  # rules and teaser lists; templates and the classifier not yet
    active: tuple[int, ...]  # the lines the line rules saw
    proba: tuple[float, ...] | None  # the line classifier's P(furniture) of each active line; None: not asked

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(line for _, _, line in self.located)


def prepare_scraped(text: str, title: str | None = None, options: TextOptions | None = None,
                    page: PageHints | None = None) -> PreparedText:
    """Normalise, key the lines, run the pattern rules and the line classifier: nothing of other articles."""
    opts = options or TextOptions()
    body = normalize_text(text)
    located = _lines_with_offsets(body)
    lines = tuple(line for _, _, line in located)
    keys = tuple(line_key(line) for line in lines)
    verdicts: list[Verdict | None] = [None] * len(lines)
    if page is not None:
        verdicts = page_verdicts(lines, page, opts.disabled_rules)
    active = [i for i, v in enumerate(verdicts) if v is None]  # what the line rules see
    seen_lines = tuple(lines[i] for i in active)
    counts = _word_counts(seen_lines)

    for j, i in enumerate(active):
        ctx = LineContext(seen_lines, j, title, counts)
        for rule in RULES:
            if rule.name not in opts.disabled_rules and rule.test(ctx):
                verdicts[i] = (rule.name, rule.reason)
                break
    if TEASER_LIST[0] not in opts.disabled_rules:
        for j in sorted(dated_teaser_list(seen_lines)):
            if verdicts[active[j]] is None:
                verdicts[active[j]] = TEASER_LIST
    proba = None
    if opts.classifier and "classifier" not in opts.disabled_rules and active:
        proba = _classifier_proba(seen_lines)
    return PreparedText(body, title, opts, tuple(located), keys, tuple(verdicts), tuple(active), proba)


_LONG_WORD = re.compile(r"\w{4,}")  # the words of WORD longer than 3 characters (a shorter run never matches)


def _word_counts(seen_lines: tuple[str, ...]) -> Counter[str]:
    """Lower-cased words of more than 3 characters: one regex over the joined lines and ``map`` (in C), the
    same counts as filtering :data:`WORD`'s words one by one in Python, at a fifth of the cost."""
    return Counter(map(str.lower, _LONG_WORD.findall("\n".join(seen_lines))))


def template_hits(prep: PreparedText, templates: TemplateCounts | None, group: str | None) -> tuple[tuple[int, Verdict], ...]:
    """The lines the template layer removes, given the counts of the group's other articles (none: empty)."""
    opts, keys = prep.opts, prep.keys
    if templates is None or not group or "template" in opts.disabled_rules:
        return ()
    size = templates.group_size(group)
    if size < opts.template_min_count:
        return ()
    seen = templates.line_counts(group, sorted(set(keys)))
    hits = template_picks([(i, keys[i]) for i in template_candidates(prep)], len(prep.active), size, seen, opts)
    return tuple((i, ("template", f"repeated template line (in {seen[keys[i]]} of {size} articles of {group})"))
                 for i in hits)


def template_candidates(prep: PreparedText) -> list[int]:
    """The lines the template layer judges: those the line rules saw (``active``) and no rule took."""
    return [i for i in prep.active if prep.verdicts[i] is None]


def template_picks(candidates: Sequence[tuple[int, str]], n_active: int, size: int, seen: Mapping[str, int],
                   opts: TextOptions) -> tuple[int, ...]:
    """Of the candidates ``(line, key)``, the lines the template layer takes, given the group's size and line
    counts (``seen``) without the article itself: none when that would be more than half of the ``n_active``
    lines the line rules saw (then it is a copy, not furniture).  The one place the verdict is made, for an
    article being cleaned (:func:`template_hits`) and for a stored one (``storyloom.retemplate``)."""
    if size < opts.template_min_count:
        return ()
    need = max(opts.template_min_count, opts.template_min_share * size)
    hits = tuple(i for i, k in candidates if seen.get(k, 0) >= need)
    if not hits or len(hits) > TEMPLATE_MAX_SHARE * n_active:
        return ()
    return hits


def template_skip(prep: PreparedText) -> TemplateSkip:
    """What an article's stored body alone cannot tell about its template candidates: the non-empty lines the
    page rules took (the line rules did not see them) and those a line rule took, by index.  Kept with the
    article (``articles.template_skip``) so that a stored article's template lines can be judged again from
    its body and the counts, without cleaning it from its raw bytes (its removed spans do not tell: a line a
    rule took is put back when no prose would be left, see :func:`_keep_only_content`)."""
    active = set(prep.active)
    inactive = tuple(i for i in range(len(prep.located)) if i not in active)
    ruled = tuple(i for i in prep.active if prep.verdicts[i] is not None)
    return inactive, ruled


def finish_scraped(prep: PreparedText, hits: Sequence[tuple[int, Verdict]] = ()) -> Cleaned:
    """The rest of :func:`clean_scraped` once the template lines (``hits``, see :func:`template_hits`) are known:
    teaser headlines, the classifier's verdicts, the article's text and what it says about itself."""
    opts, lines, located = prep.opts, prep.lines, prep.located
    verdicts: list[Verdict | None] = list(prep.verdicts)
    for i, hit in hits:
        verdicts[i] = hit
    active = list(prep.active)
    seen_lines = tuple(lines[i] for i in active)

    if UNRELATED_HEADLINE.name not in opts.disabled_rules:
        _unrelated_headlines(seen_lines, active, verdicts, prep.title, _word_counts(seen_lines))

    if prep.proba is not None:
        _apply_classifier(prep.proba, active, verdicts, opts)
    _keep_only_content(lines, verdicts)

    removed = tuple(
        Span(located[i][0], located[i][1], v[1], v[0]) for i, v in enumerate(verdicts) if v is not None
    )
    kept = [lines[i] for i, v in enumerate(verdicts) if v is None]
    sources = tuple(dict.fromkeys(s for line in lines if (s := cited_source(line))))
    bios = [line for i, line in enumerate(lines) if (v := verdicts[i]) and v[0] == "author_bio"]
    author = next((a for line in bios if (a := bio_author(line))), None)
    outlet = next((o for line in bios if (o := bio_outlet(line))), None)
    evidence = outlet_evidence(lines, verdicts)
    return Cleaned(prep.body, "\n\n".join(kept), removed, sources, author, outlet, evidence, prep.keys,
                   template_skip(prep))


def outlet_evidence(lines: tuple[str, ...], verdicts: list[Verdict | None]) -> tuple[str, str, str] | None:
    """The outlet a text names about itself, strongest sign first: its author bio ("a journalist for Buna
    Times"), its copyright notice, the handle in its own follow line ("Follow our … accounts … @expressusnews").

    A "Source: X" footer counts last and only as the text's very last line: a repost cites its original that
    way ("Source: Racurs" above Buna Times' bio is a cited source, and the bio names the outlet), while a
    scraper's dump of a publisher's page ends with a footer naming that publisher (or linking to its site)."""
    rule = [v[0] if v else None for v in verdicts]
    for i, line in enumerate(lines):
        if rule[i] == "author_bio" and (name := bio_outlet(line)):
            return name, "author bio", line
    for i in reversed(range(len(lines))):
        if (rule[i] == "copyright" or len(lines) - i <= 3) and (name := copyright_owner(line := lines[i])):
            return name, "copyright notice", line
    for line in lines:
        if handle := social_handle(line):
            return handle, "social-media handle in the text's own follow line", line
    if lines and (name := cited_source(lines[-1])):
        if name.startswith(("http://", "https://", "www.")):
            name = outlet_from_url(name if "://" in name else f"https://{name}") or name
        return name, "\"Source:\" footer, the text's last line (a repost's footer names its original instead)", lines[-1]
    return None


PROSE_WORDS = 12  # a line of at least this many words ending a sentence is the article's prose
_PROSE_END = re.compile(r"[.!?…。！？\"”’»)]\s*$")
_TEASER_NEIGHBOURS = frozenset({"read_more", "section_tag_teaser", "template", UNRELATED_HEADLINE.name})


def _is_prose(line: str) -> bool:
    return len(WORD.findall(line)) >= PROSE_WORDS and bool(_PROSE_END.search(line))


def _unrelated_headlines(lines: tuple[str, ...], active: list[int], verdicts: list[Verdict | None],
                         title: str | None, counts: Counter[str]) -> None:
    """Headline-shaped teasers for other stories, asked only at the top of the text or beside furniture.

    Inside the article's span (between its first and last kept paragraph of prose) a headline-shaped line
    is a subheading ("Vintage trifft Urban Jungle" under a photo credit) unless it sits in a teaser block:
    next to a "Read more" line, a tagged teaser, a template line or another teaser."""
    n = len(lines)
    furniture = [verdicts[i] is not None for i in active]
    prose = [j for j, i in enumerate(active) if verdicts[i] is None and _is_prose(lines[j])]
    first, last = (prose[0], prose[-1]) if prose else (n, -1)
    shaped = [verdicts[i] is None and UNRELATED_HEADLINE.test(LineContext(lines, j, title, counts))
              for j, i in enumerate(active)]

    def teaser_next_to(j: int) -> bool:
        for k in (j - 1, j + 1):
            if 0 <= k < n:
                v = verdicts[active[k]]
                if (v is not None and v[0] in _TEASER_NEIGHBOURS) or shaped[k]:
                    return True
        return False

    for j, i in enumerate(active):
        if not shaped[j]:
            continue
        near = j <= 1 or (j > 0 and furniture[j - 1]) or (j + 1 < n and furniture[j + 1])
        if not near:
            continue
        if first < j < last and not teaser_next_to(j):
            continue  # a subheading of the article
        verdicts[i] = (UNRELATED_HEADLINE.name, UNRELATED_HEADLINE.reason)


def _keep_only_content(lines: tuple[str, ...], verdicts: list[Verdict | None]) -> None:
    """No rule takes an article's only content: when nothing of prose would be left, the removed lines of
    prose stay (a one-line article ending "Copyright © 2018 …" is an article, not a copyright notice)."""
    if any(v is None and _is_prose(line) for line, v in zip(lines, verdicts)):
        return
    for i, line in enumerate(lines):
        if verdicts[i] is not None and _is_prose(line):
            verdicts[i] = None


def _classifier_proba(lines: tuple[str, ...]) -> tuple[float, ...] | None:
    """The learned model's P(furniture) of each line the line rules saw (None when the model is not installed)."""
    try:
        from storyloom.clean.classifier import LineClassifier
    except ImportError:  # the model is optional: rules and templates still work without it
        return None
    return tuple(LineClassifier.load().boilerplate_proba(list(lines)))


def _apply_classifier(proba: Sequence[float], active: list[int], verdicts: list[Verdict | None],
                      opts: TextOptions) -> None:
    """The learned model's verdicts on the lines the line rules saw (``active`` maps them back to the body's)."""
    from storyloom.clean.classifier import LineClassifier

    threshold = LineClassifier.load().threshold + opts.classifier_margin
    for i, p in zip(active, proba):
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
