"""Pattern rules for the furniture that recurs across news sites, one named rule per family.

Each rule looks at one line (with a little context) and, when it fires, says why in words a user reads in
``storyloom show ID --removed``.  Rules are deliberately anchored (whole-line shapes, start-of-line cues,
phrases that only furniture uses) so that an article sentence *mentioning* cookies or newsletters is kept.
A user can switch any rule off by name (``disabled_rules`` in storyloom.toml) and re-clean.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

WORD = re.compile(r"\w+", re.UNICODE)
SENTENCE_END = re.compile(r"[.!?…:;\"”’»)\]]\s*$")


@dataclass(frozen=True)
class LineContext:
    lines: tuple[str, ...]  # the non-empty lines of the document, stripped
    index: int
    title: str | None
    word_counts: Counter[str]  # lower-cased words of the whole document (for relatedness checks)

    @property
    def line(self) -> str:
        return self.lines[self.index]

    @property
    def from_end(self) -> int:
        return len(self.lines) - 1 - self.index


@dataclass(frozen=True)
class Rule:
    name: str
    reason: str
    test: Callable[[LineContext], bool]


def _rx(pattern: str, flags: int = re.IGNORECASE, keys: tuple[str, ...] = ()) -> Callable[[LineContext], bool]:
    """A rule that fires when ``pattern`` is found in the line (``keys``: see :class:`Keyed`)."""
    if keys:
        found = Keyed(pattern, flags, keys)
        return lambda ctx: found(ctx.line)
    compiled = re.compile(pattern, flags)
    return lambda ctx: bool(compiled.search(ctx.line))


# Characters ``re.IGNORECASE`` matches to an ASCII letter that ``str.lower`` does not turn into that letter alone
# (Python's sre: simple case mapping plus its fixes; the Kelvin sign's ``lower`` is already "k").
_TO_ASCII_FOLD = {0x130: "i", 0x131: "i", 0x17F: "s"}


class Keyed:
    """A rule's pattern with literal strings at least one of which every match contains: a line that holds
    none of them cannot match, so the regex is not run on it (most lines; the unanchored, case-folded
    alternations cost ~20 µs a line, half of all the line rules' time).

    The answer is the regex's on every line.  For a case-insensitive pattern the keys (lower-case ASCII) are
    looked up in the lower-cased line, where ``re.IGNORECASE``'s own foldings onto ASCII letters that
    ``str.lower`` lacks are made first (:data:`_TO_ASCII_FOLD`: "ſ" is an "s", "ı" an "i", and "İ" an "i"
    where ``str.lower`` gives two characters), so a line the regex matches always holds a key."""

    __slots__ = ("pattern", "keys", "folded")

    def __init__(self, pattern: str, flags: int, keys: tuple[str, ...]) -> None:
        self.pattern = re.compile(pattern, flags)
        self.folded = bool(flags & re.IGNORECASE)
        if self.folded and not all(c.isascii() and c == c.lower() or c.lower() == c.upper() == c for k in keys for c in k):
            raise ValueError("keys of a case-insensitive pattern are lower-case ASCII or caseless characters")
        self.keys = keys

    def __call__(self, line: str) -> bool:
        if self.folded:
            low = line.lower() if line.isascii() else line.translate(_TO_ASCII_FOLD).lower()
            for k in self.keys:
                if k in low:
                    break
            else:
                return False
        else:
            for k in self.keys:
                if k in line:
                    break
            else:
                return False
        return self.pattern.search(line) is not None


def _words(s: str) -> list[str]:
    return WORD.findall(s)


# -- families ---------------------------------------------------------------------------------------

_READ_MORE = _rx(
    r"^\s*(read more|read also|also read|read next|more reading|see also|related|related articles?|related stories|"
    r"recommended|more from|you may also like|you might also like|don'?t miss|trending|most read|popular|watch|"
    r"watch now|listen|more|click here|continue reading|read the full (story|article))\s*[:>»|–—-]",
)
_READ_MORE_ALONE = _rx(
    r"^\s*(read more|continue reading|read full (article|story)|read the full (article|story)|"
    r"click here to read more|show more|load more|see more|more info)\s*[.…»›>]*\s*$"
)

_SECTION_TAG = Keyed(r"\S\s*\[\s*[A-Z][A-Z &'-]{1,24}\s*\]\s*$|^\s*\[\s*[A-Z][A-Z &'-]{1,24}\s*\]\s*\S", 0, ("[",))


def _section_tag_teaser(ctx: LineContext) -> bool:
    """Teasers such as "Russian ruble collapses to lowest value[ECONOMY]": a story headline with a bracketed
    ALL-CAPS section tag before or after it (a lone "[ CNET ]" is not one)."""
    return _SECTION_TAG(ctx.line) and 4 <= len(_words(ctx.line)) <= 30


_CONSENT = _rx(
    r"(we use (your sign-?up|cookies)|use of cookies|cookie (policy|settings|preferences)|accept (all )?cookies|"
    r"you('|’)ve consented|you can unsubscribe|unsubscribe at any time|sign up (to|for) (our|the) [\w ]*newsletter|"
    r"subscribe to (our|the) [\w ]*newsletter|enter your email|invalid email|by (clicking|signing up|subscribing)|"
    r"privacy (policy|notice) (for|and)|adverts from us and 3rd parties|thank you for subscribing|"
    r"something went wrong,? please try again|get the latest [\w ]+ (delivered|straight) to your inbox|"
    r"this site is protected by recaptcha)",
    keys=("we use", "cookie", "consented", "unsubscribe", "newsletter", "email", "clicking", "signing up", "subscribing",
          "privacy", "adverts", "went wrong", "inbox", "recaptcha"),
)
_SOCIAL = _rx(
    r"^\s*(follow (us|our [\w ]*accounts?)|like us on|join us on|share this (article|story|post|page|video)|"
    r"share (on|via) (facebook|twitter|x|linkedin|whatsapp|telegram|email)|click to share|tweet this|"
    r"share article|share story|follow @|find us on|connect with us|subscribe to our (youtube|channel|podcast))"
    r"|^\s*(facebook|twitter|x|linkedin|whatsapp|telegram|email|reddit|pinterest|copy link)"
    r"(\s*[|/,·•]\s*(facebook|twitter|x|linkedin|whatsapp|telegram|email|reddit|pinterest|copy link))+\s*$"
)
_CSS_JS = Keyed(
    r"(^[\s.#@\w\-:,>()\[\]=\"'*]+\{[^{}]*:[^{}]*\}"  # selector { prop: value }
    r"|@media\s*\(|\{\s*(width|height|display|margin|padding|font|color|background)\s*:"
    r"|\b(googletag|adsbygoogle|window\.dataLayer|document\.(write|getElement)|function\s*\(|var \w+ ?=)"
    r"|^\s*<\/?(script|style|div|iframe)\b)",
    0, ("{", "@media", "googletag", "adsbygoogle", "window.dataLayer", "document.", "function", "var ", "<"),
)


def _inline_css_js(ctx: LineContext) -> bool:
    return _CSS_JS(ctx.line)


_BIO_FIRST_PERSON = re.compile(
    r"^\s*(I am|I'm|I’m|My name is)\s+([A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){0,3}),?\s+(a|an|the)\b[^.]*"
    r"\b(writer|journalist|reporter|editor|correspondent|author|columnist|blogger|contributor)\b",
)
_BIO_THIRD_PERSON = re.compile(
    r"^\s*([A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){1,3})\s+is\s+(a|an|the)\b[^.]{0,80}"
    r"\b(writer|journalist|reporter|editor|correspondent|columnist|contributor|author)\b[^.]{0,60}"
    r"\b(for|at|who|with|based)\b",
)


_BIO_OUTLET = re.compile(r"\b(?:writer|journalist|reporter|editor|correspondent|columnist|contributor|author)\s+"
                         r"(?:(?:and|&)\s+\w+\s+)?(?:for|at|with)\s+([A-Z][\w'’&-]*(?:\s+[A-Z][\w'’&-]*){0,4})")


def bio_outlet(line: str) -> str | None:
    """The outlet an author bio names ("…a journalist for Buna Times.")."""
    m = _BIO_OUTLET.search(line)
    return m.group(1).strip().rstrip(".") if m else None


def bio_author(line: str) -> str | None:
    """The name in an author-bio line ("I am David Wyatt, a professional writer…"), if it is one."""
    m = _BIO_FIRST_PERSON.search(line)
    if m:
        return m.group(2)
    m = _BIO_THIRD_PERSON.search(line)
    return m.group(1) if m else None


def _author_bio(ctx: LineContext) -> bool:
    if ctx.from_end > 3:
        return False  # bios sit at the end; earlier, "X is a journalist who…" is likely the story itself
    if bio_author(ctx.line):
        return True
    # the bio's following sentences ("I specialize in…", "As a graduate of…") on the same line count too
    return False


_PHOTO = _rx(
    r"^\s*((photo|image|picture|photograph|video|graphic|illustration)s?( credit| source)?\s*[:|/-]|credit\s*:|"
    r"\((photo|image|picture)s?\s*:)"
)
_AGENCY = Keyed(
    r"(^|[(/©|]\s*)(Getty Images|AFP|Reuters|AP Photo|AP|Shutterstock|EPA|Alamy|PA Images|PA|Anadolu|Xinhua|TASS)"
    r"(\s*(via|/)\s*[\w ]+)?\)?\s*$",
    0, ("AP", "PA", "Getty Images", "AFP", "Reuters", "Shutterstock", "Alamy", "Anadolu", "Xinhua", "TASS"),
)
_AGENCY_CREDIT = _AGENCY.pattern


def _photo_credit(ctx: LineContext) -> bool:
    # the patterns first: they fail on nearly every line, and counting its words is the dearer half
    if _PHOTO(ctx):
        return len(_words(ctx.line)) <= 25
    return _AGENCY(ctx.line) and len(_words(ctx.line)) <= 8


SOURCE_LINE = re.compile(r"^\s*(source|sources|via|originally published (at|on|by|in))\s*[:\-–—]?\s*(.+?)\s*$", re.IGNORECASE)
SCRAPER_FOOTERS = re.compile(
    r"^(read full article|read the full article|read more|full article|original article|click here|link|"
    r"continue reading|the original|here)\W*$",
    re.IGNORECASE,
)


def cited_source(line: str) -> str | None:
    """The outlet a "Source: X" footer names; None for scraper footers ("Source: Read Full Article")."""
    m = SOURCE_LINE.match(line)
    if not m or len(_words(line)) > 12:
        return None
    name = m.group(3).strip().strip(".").strip()
    if not name or SCRAPER_FOOTERS.match(name) or len(_words(name)) > 6:
        return None
    return name


def _source_footer(ctx: LineContext) -> bool:
    m = SOURCE_LINE.match(ctx.line)
    return m is not None and len(_words(m.group(3))) <= 6 and ctx.from_end <= 5


_ADS = _rx(
    r"^\s*(advertisement|advertising|sponsored( content)?|ad|ads|promoted|paid content|"
    r"story continues below( this)? (advertisement|ad)|article continues below|scroll to continue( with content)?|"
    r"continue reading (the main story|below))\s*$"
)
_COPYRIGHT_LINE = Keyed(r"^\s*(©|\(c\)|copyright\b).{0,120}$|all rights reserved\.?\s*$", re.IGNORECASE,
                        ("©", "(c)", "copyright", "all rights reserved"))


def _copyright(ctx: LineContext) -> bool:
    """A copyright notice: a short line starting "©"/"Copyright", or ending "All rights reserved" -- not a
    paragraph that merely ends with one (a one-line article ending "Copyright © 2018 …" is the article)."""
    return _COPYRIGHT_LINE(ctx.line) and len(_words(ctx.line)) <= 30


_INNER_SENTENCE = re.compile(r"[。！？]|[.!?]\s+\S")  # a headline is one sentence: a line with two is prose


def unrelated_headline(ctx: LineContext) -> bool:
    """A headline-shaped line whose words the article barely uses: a related-story teaser.

    Crossheads inside an article share its vocabulary; a teaser for another story does not.  Tables, lists
    and headings also look like this, so the caller only asks near the top of the text or next to other
    furniture (teasers come in blocks).
    """
    line = ctx.line
    words = _words(line)
    if not (4 <= len(words) <= 18) or SENTENCE_END.search(line) or ":" in line or _INNER_SENTENCE.search(line):
        return False
    alpha = [w for w in words if w.isalpha()]
    if len(alpha) < 0.8 * len(words) or sum(w[0].isupper() for w in alpha) < 2 or len(line) > 160:
        return False
    if sum(map(len, words)) > 12 * len(words):  # scripts written without spaces: no word shapes to judge
        return False
    content = [w.lower() for w in alpha if len(w) > 3]
    if len(content) < 4:
        return False
    own = Counter(content)
    shared = sum(1 for w in content if ctx.word_counts[w] > own[w])  # used elsewhere, not only in this line
    return shared / len(content) < 0.34


RULES: tuple[Rule, ...] = (
    Rule("inline_css_js", "inline CSS or JavaScript", _inline_css_js),
    Rule("read_more", "read-more / related-article link", lambda c: _READ_MORE(c) or _READ_MORE_ALONE(c)),
    Rule("section_tag_teaser", "teaser for another story, tagged with a section label like [VIDEO]", _section_tag_teaser),
    Rule("consent_newsletter", "newsletter sign-up, consent or cookie notice", _CONSENT),
    Rule("social", "social-media follow or share line", _SOCIAL),
    Rule("source_footer", "\"Source: …\" footer (the cited outlet is kept as metadata)", _source_footer),
    Rule("author_bio", "author bio (the name is kept as the author)", _author_bio),
    Rule("photo_credit", "photo credit or caption", _photo_credit),
    Rule("ads", "advertisement marker", _ADS),
    Rule("copyright", "copyright notice", _copyright),
)
# A rule over the whole text (clean.text asks it once per document, after the line rules).
TEASER_LIST = ("teaser_list", "list of teasers for other stories (headlines and summaries under recurring dates)")
TEASER_MAX_GAP = 4  # date lines at most this many lines apart belong to one list…
TEASER_MIN_RUN = 3  # …of at least this many items…
TEASER_MAX_TOKENS = 60  # …each with at most this many words besides its date (a live blog's entries run longer)


def dated_teaser_list(lines: tuple[str, ...]) -> set[int]:
    """The lines of lists of teasers: a date line recurring every few lines ("Tuesday November 19, 2019",
    "18 Nov 2019, 4:33pm") with a short headline and summary between -- the "more from this section" block
    of a page dump.  An article has one dateline; a live blog's entries run longer than a teaser.

    Chosen on the AEB dev page dumps with out-of-fold classifier probabilities (scripts/train_line_classifier
    --dump-oof): gaps 2-5 and runs 3-5 tried; token F1 0.886 → 0.892, no article line of the article-text
    variants lost."""
    dates = [i for i, line in enumerate(lines) if is_date_line(line)]
    out: set[int] = set()
    run: list[int] = []

    def flush() -> None:
        if len(run) < TEASER_MIN_RUN:
            return
        between = sum(len(_words(lines[i])) for i in range(run[0], run[-1] + 1) if i not in run)
        if between / (len(run) - 1) <= TEASER_MAX_TOKENS:
            out.update(range(run[0], run[-1] + 1))

    for i in dates:
        if run and i - run[-1] > TEASER_MAX_GAP:
            flush()
            run.clear()
        run.append(i)
    flush()
    return out


# Asked by clean.text only for lines at the top of the text or next to other removed furniture.
UNRELATED_HEADLINE = Rule(
    "unrelated_headline", "headline of another story (its words are not this article's)", unrelated_headline
)
LINE_RULES: tuple[Rule, ...] = (*RULES, UNRELATED_HEADLINE)


# -- page rules: what an HTML page's extracted body repeats around the article ------------------------------
#
# The extractor (clean.html) hands over the body as trafilatura found it; these rules, like the line rules
# above, only *mark* lines, so each removal is a span with its rule name and can be switched off.  They need
# what the page says about itself (its headline candidates, its URLs) and a line's position (top of the body,
# the list under a "Related:" line, the tail), so they run over the whole body at once.  Where a family is
# one of the line rules' (read_more, social, consent_newsletter, copyright) it takes the same name: switching
# ``copyright`` off keeps copyright lines on pages and in scraped text alike.

HEAD_LINES = 5  # lines at the top of the body searched for a repeated headline
_PAGE_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class PageHints:
    """What the page says about itself: headline candidates (normalised by :func:`norm_words`) and its URLs."""

    titles: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()


def norm_words(s: str) -> str:
    """Lower-cased words joined by one space: how a body line is compared with a headline."""
    return " ".join(_PAGE_WORD.findall(s.lower()))


_MARKER = (
    r"related|related articles?|related stories|related content|read more|read also|also read|see also|"
    r"more on this|more from|recommended|recommended for you|you may also like|you might also like|"
    r"don'?t miss|must read|trending|popular|most read|"
    r"leggi anche|lire aussi|à lire aussi|a lire aussi|lesen sie auch|mehr zum thema|lea también|"
    r"leia também|leia mais|lees ook|czytaj też|czytaj także|читайте также"
)
LINK_LINE = re.compile(rf"^\s*(?:{_MARKER})\s*(?:[:：|»›>–—-].*)?$|^\s*also on \S+\.[a-z]{{2,}}\b", re.I)
# The tail of a page body, by family: (rule name, reason, start-of-line pattern).
_TAIL: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("social", "share/follow line at the end of the page",
     re.compile(r"^\s*(?:share (?:this|on|it|the)\b|like this (?:story|article)|"
                r"follow (?:us|@\w+|\w+ on (?:twitter|facebook|instagram)))", re.I)),
    ("consent_newsletter", "subscribe/newsletter line at the end of the page",
     re.compile(r"^\s*(?:sign up|subscribe)\b.{0,120}(?:newsletter|updates|inbox|email)", re.I)),
    ("copyright", "copyright notice at the end of the page",
     re.compile(r"^\s*(?:copyright\b|©|\(c\)\s*\d{4}|all rights reserved)", re.I)),
    ("tags_footer", "tags/topics/categories line at the end of the page",
     re.compile(r"^\s*(?:tags?\s*:|tags\s*$|topics?\s*:|filed under\b|categories?\s*:)", re.I)),
    ("comment_prompt", "call to comment, write in or click at the end of the page",
     re.compile(r"^\s*(?:click here\b|tell us what you think|join the (?:conversation|discussion)|"
                r"if you (?:enjoyed|liked) this|(?:leave|post|add) a comment|\d*\s*comments?\s*$|"
                r"write to .{2,60} at \S+@\S+)", re.I)),
)
_TAGS_HEADING = re.compile(r"^\s*(?:tags|topics|schlagwörter|etiquetas|tag)\s*:?\s*$", re.I)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")

PAGE_RULES: tuple[tuple[str, str], ...] = (
    ("repeated_headline", "the headline (or the page's own URL) repeated at the top of the page body"),
    ("top_date_line", "a lone date line before the first paragraph of the page body"),
    ("read_more", "\"Related:\"/\"Read more:\" line on the page, with the list of links under it"),
    *((name, reason) for name, reason, _ in _TAIL),
)


def is_date_line(line: str) -> bool:
    """A short line that is mostly a date ("Tuesday November 19, 2019", "18 Nov 2019, 4:33pm")."""
    toks = _PAGE_WORD.findall(line)
    if not toks or len(toks) > 12 or not _YEAR.search(line):
        return False
    numeric = sum(t.isdigit() for t in toks)
    return numeric >= 3 or numeric / len(toks) >= 0.4


def matches_title(line: str, titles: tuple[str, ...]) -> bool:
    """The line is the headline, give or take a site-name suffix (a paragraph starting with it is not)."""
    n = norm_words(line)
    if not n or len(n) < 8:
        return False
    for t in titles:
        if n == t:
            return True
        if len(n) < 20:
            continue
        # the <title> often carries "| Site name" after the headline; a body line may add a short suffix,
        # but a paragraph that merely starts with the headline's words is body text
        if t.startswith(n) and len(n) >= 0.6 * len(t) or n.startswith(t) and len(n) <= 1.25 * len(t):
            return True
    return False


def _is_list_headline(line: str) -> bool:
    """A link-list item: a bullet, short, not a sentence."""
    return (line.startswith(("- ", "• ", "* ")) and len(_PAGE_WORD.findall(line)) <= 15
            and not re.search(r"[.!?:;]\s*$", line))


Verdict = tuple[str, str]  # (rule name, reason)


def page_verdicts(lines: tuple[str, ...], hints: PageHints, disabled: frozenset[str] = frozenset()
                  ) -> list[Verdict | None]:
    """Which lines of an extracted page body are the page's furniture around the article (see above).

    A switched-off rule's lines stay, and the scan goes on past them as if they had been removed (so turning
    ``copyright`` off keeps the copyright line only, not the share buttons above it)."""
    out: list[Verdict | None] = [None] * len(lines)
    reason = dict(PAGE_RULES)

    def mark(i: int, rule: str, why: str | None = None) -> None:
        if rule not in disabled:
            out[i] = (rule, why or reason[rule])

    # 1. top: the headline repeated anywhere in the first lines (a kicker may come first), the page's own URL,
    #    then lone date lines before the first paragraph
    handled = {i for i, line in enumerate(lines[:HEAD_LINES])
               if matches_title(line, hints.titles) or line.strip() in hints.urls}
    for i in handled:
        mark(i, "repeated_headline")
    for i, line in enumerate(lines):
        if i in handled:
            continue
        if not is_date_line(line):
            break
        mark(i, "top_date_line")
    # 2. "Related: …" / "Read more: …" / "Also on site.com …" lines and the bullet list right after them
    in_list = False
    for i, line in enumerate(lines):
        s = line.strip()
        if len(_PAGE_WORD.findall(s)) <= 25 and LINK_LINE.match(s):
            mark(i, "read_more")
            in_list = True
        elif in_list and _is_list_headline(s):
            mark(i, "read_more")
        else:
            in_list = False
    # 3. tail: share/follow/subscribe/copyright/tags/comment lines, and the tag list under a "Tags" heading
    i = len(lines) - 1
    while i >= 0:
        if out[i] is not None:
            i -= 1
            continue
        s = lines[i].strip()
        hit = next(((n, r) for n, r, rx in _TAIL if len(_PAGE_WORD.findall(s)) <= 40 and rx.match(s)), None)
        if hit:
            mark(i, *hit)
            i -= 1
            continue
        if i >= 1 and _TAGS_HEADING.match(lines[i - 1]):
            mark(i - 1, "tags_footer", "a \"Tags\" heading at the end of the page")
            mark(i, "tags_footer", "the tag list under a \"Tags\" heading at the end of the page")
            i -= 2
            continue
        break
    return out


# Every rule name ``disabled_rules`` takes, with what it removes (``storyloom rules`` prints this).
# A page rule of a line rule's family (read_more, social, …) shares its name: listed once, with the line
# rule's reason.
_TABLE: dict[str, str] = {r.name: r.reason for r in LINE_RULES}
_TABLE[TEASER_LIST[0]] = TEASER_LIST[1]
for _name, _reason in PAGE_RULES:
    _TABLE.setdefault(_name, _reason)
RULE_TABLE: tuple[tuple[str, str], ...] = tuple(_TABLE.items())
RULE_NAMES = tuple(name for name, _ in RULE_TABLE)


# -- the outlet a text names about itself -------------------------------------------------------------------
#
# Scraped text often comes without its outlet, yet names it in its own furniture: "Follow our social media
# accounts here on and @expressusnews", "© 2018 The Valley Ledger", "…a journalist for Buna Times".  A
# "Source: X" footer is weaker: a repost cites its *original* that way ("Source: Racurs" under a Buna Times
# text), so it counts only when the text names no outlet of its own (see clean.text.outlet_evidence).

_OWN_SOCIAL = re.compile(r"^\s*(?:follow|like|join|find|connect with)\b[^@]{0,80}?\b(?:us|our)\b", re.I)
_FOLLOW_HANDLE = re.compile(r"^\s*follow\s+@", re.I)
_HANDLE = re.compile(r"(?<![\w@.])@([A-Za-z0-9_]{3,30})\b(?!\.\w)")  # not an e-mail address
_COPYRIGHT_OWNER = re.compile(
    r"(?:(?i:©|\(c\)|\bcopyright\b)\s*)+(?:(?:19|20)\d\d(?:\s*[-–]\s*(?:19|20)?\d\d)?\s*,?\s*)?(?i:by\s+)?"
    r"(?P<name>(?:[Tt]he\s+)?[A-Z0-9][\w&'’.-]*(?:\s+(?:&\s+)?[A-Z0-9][\w&'’.-]*){0,5})")
_COPYRIGHT_TAIL = re.compile(
    r"[\s.,]*(?:all rights reserved|all|ltd|limited|inc|llc|plc|gmbh|s\.a|co|(?:19|20)\d\d)\.?\s*$", re.I)


def social_handle(line: str) -> str | None:
    """The handle in an own follow line ("Follow our … accounts … @expressusnews", "Follow @x"), as "@name"."""
    if not (_OWN_SOCIAL.search(line) or _FOLLOW_HANDLE.match(line)):
        return None
    m = _HANDLE.search(line)
    return f"@{m.group(1)}" if m else None


def copyright_owner(line: str) -> str | None:
    """Who a copyright notice names ("Copyright 2024 The Daily Ledger. All rights reserved." → "The Daily
    Ledger"); None for agency photo credits ("© Getty Images") and notices naming no one."""
    m = _COPYRIGHT_OWNER.search(line)
    if not m or len(_words(line)) > 30:  # a notice, not a paragraph that mentions copyright
        return None
    name = re.split(r"[|,;]\s", m.group("name").strip(), maxsplit=1)[0]
    while True:
        cut = _COPYRIGHT_TAIL.sub("", name).strip().rstrip(".")
        if cut == name:
            break
        name = cut
    if not name or name.isdigit() or name.lower() in {"all", "the", "by"} or _AGENCY_CREDIT.search(name):
        return None
    return name
