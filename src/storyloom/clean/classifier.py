"""A small learned line classifier for scraped text: P(boilerplate) for every line of one document.

The third layer of boilerplate removal, after the pattern rules (:mod:`storyloom.clean.rules`) and corpus-level
templates: it catches the furniture neither names -- menus, teaser headlines, captions, bylines, comment
threads, widget text -- from the *shape* of a line and of its neighbourhood, in any language.

Stacked logistic regressions over hand features, pure Python at inference (no numpy, no scikit-learn):

1. **line pass** -- per line: length in characters and tokens, sentence punctuation (at the end, inside), share
   of stop-words / capitalised words / ALL-CAPS words / digits / punctuation / commas, separators (``|`` ``»``
   ``•``), URLs and e-mail addresses, date-like and ALL-CAPS-prefix ("READ MORE:") shapes, five families of
   furniture words (social/share, account/subscribe/cookie/legal, navigation/related/advertising,
   media/photo credit, byline/dates; a dozen languages), comment-thread shapes ("X said:", "Reply", "3 hours
   ago", a "Comments" heading above), an exact-repeat flag, the lengths and sentence-likeness of the
   neighbouring lines (both sides, and the better and the worse side), a trailing ellipsis (teasers), lexical
   cohesion (the share of the line's words that the 3 lines either side use, and the rest of the document:
   an article's paragraphs share vocabulary, a list of teasers or a menu does not), and the share of
   sentence-like lines in the document (which tells a page dump from an already-extracted article);
2. **context passes** (jusText's context-sensitive step, but learned), each over the line-pass features plus
   features of the previous pass's probabilities: the line's own, its neighbours', windows of 2/4/8 lines,
   the better and the worse side, the *main block* (the contiguous run with the most content, counted in
   lines and in tokens -- so a table or list inside the article is bridged), the share of the document's
   content mass before and after the line, and lexical cohesion (the share of the line's words that the
   content lines also use).

There is no absolute-position feature: a line is not boilerplate because it comes first or last, which keeps
the model safe on article texts that are mostly content.  The weights, the feature scaling and the decision
threshold (chosen on the AEB dev split by cross-validation) live in ``storyloom/data/line_model.json``,
written by ``scripts/train_line_classifier.py`` from ``training/lines_dev.jsonl.gz``.
"""

from __future__ import annotations

import functools
import json
import math
import operator
import re
from collections import Counter
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

MODEL_RESOURCE = "line_model.json"

_TOKEN = re.compile(r"\w+", re.UNICODE)
_DIGIT = re.compile(r"\d")
_SENT_END = re.compile(r"[.!?…。！？؟][\"'”’»)\]]*\s*$")
_INNER_SENT = re.compile(r"[.!?…][\"'”’»)]*\s+(?=[\"'“‘«(]*[^\W\d_])|[。！？](?=.)")
# Chinese and Japanese write words without spaces: a run of their characters is one \w+ token, so their lines
# are counted in words as characters / 2 (about the length of a word there)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_URL = re.compile(r"https?://|www\.|\w@\w|\.(com|org|net|co\.uk|html?|php)\b", re.IGNORECASE)
_SEPARATORS = re.compile(r"[|»›•·▸►▶→«‹]")
_CAPS_PREFIX = re.compile(r"^\W*[A-Z][A-Z0-9 '’&-]{2,30}:\s*\S")
# dates and times: a digit pattern, or a month / time-zone word in a line that has digits
_TIME_DATE = re.compile(r"\d:\d\d|\d[./-]\d{1,2}[./-]\d|(?<!\d)(19|20)\d\d(?!\d)")
_DATE_WORDS = frozenset(
    "jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june july august september "
    "october november december am pm gmt utc edt est bst cet ist ago".split()
)

# Comment threads: a line that heads one, and the lines that frame each comment (who, when, reply).
_COMMENT_HEAD = re.compile(
    r"^\W*(\d+\s+)?(comments?|responses?|replies|reader comments|leave a (reply|comment)|"
    r"join the (conversation|discussion)|discussion|post a comment|add a comment|comentários|comentarios|"
    r"kommentare|commentaires|commenti|комментарии|댓글)\b.{0,30}$|^\W*\d+\s+(thoughts|responses|comments) on\b",
    re.IGNORECASE,
)
_COMMENT_VERBS = frozenset("said says wrote writes commented".split())
_COMMENT_ACTIONS = frozenset("reply replies report flag permalink like upvote downvote log in to abuse this comment".split())
_COMMENT_DIGITS = re.compile(
    r"\d\s+(points?|likes?|replies)\b|\d\s+(seconds?|minutes?|hours?|days?|weeks?|months?|years?)\s+ago\b|"
    r"\bat\s+\d{1,2}:\d{2}",
)

# Function words of the languages news comes in most; a sentence has many, a menu or a headline few.
_STOP = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being it its this that
    these those he she they we you i his her their our your not no so than then there here which who whom whose
    what when where why how all any both each more most other some such only own same too very can will would
    should could may might must do does did has have had also into about after before over under between
    through during while because until against up down out off again further once just now said says
    der die das und oder aber ein eine einer eines einem einen zu im in auf mit von für ist sind war waren wird
    werden nicht auch sich es er sie wir ihr dass als wie bei nach aus noch nur schon
    le la les un une des du de et ou mais en dans sur avec pour par est sont était il elle ils elles nous vous
    que qui ne pas plus se ce cette ces au aux son sa ses leur
    el los las uno una unos unas y o pero en con por para es son era fue que se del al lo su sus como más
    o os as um uma e ou mas em no na nos nas com por para é são foi que se do da dos das ao à seu sua
    il lo gli uno una e o ma di da con per è sono era che si del della dei delle al alla non
    de het een en of maar in op met van voor is zijn was niet ook dat die er
    и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было вот от
    меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас нибудь опять уж
    вам ведь там потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтобы без
    будто чего раз тоже себе под будет это этот эта эти также которые который которая
    yang dan di ke dari untuk dengan ini itu pada adalah dalam tidak akan juga oleh atau
    """.split()
)

# Families of furniture words: single words (looked up among the line's lower-cased \w+ tokens) and phrases.
_FAMILY_WORDS = {
    "social": "share shares shared sharing tweet facebook twitter whatsapp linkedin pinterest instagram telegram "
    "reddit tiktok youtube email print follow compartilhe compartir condividi teilen partager bagikan поделиться",
    "account": "subscribe subscription subscriber newsletter signup signin login register account password cookie "
    "cookies privacy consent gdpr terms policy copyright unsubscribe inbox notification notifications premium "
    "paywall assinante assine abonnieren abonnez suscríbete suscribete iscriviti berlangganan подписаться",
    "navigation": "related recommended trending popular latest menu home search sitemap rss advertise "
    "advertisement advertising sponsored partner next previous prev comment comments reply replies реклама "
    "publicidade publicidad pubblicità werbung anzeige iklan",
    "media": "photo photos photograph image images picture pictures gallery video videos watch listen podcast audio "
    "getty reuters afp shutterstock istock credit courtesy caption foto bild фото видео",
    "byline": "updated published posted editor reporter correspondent aktualisiert publicado atualizado publié "
    "pubblicato обновлено",
}
# Phrases of two or three words, matched on consecutive tokens.
_FAMILY_PHRASES = {
    "social": "e mail",
    "account": "sign up|sign in|log in|rights reserved",
    "navigation": "read more|read next|read also|also read|more from|see also|see more|show more|load more|"
    "most read|top stories|skip to|contact us|about us|back to top|click here|leia mais|leia também|"
    "lesen sie auch|mehr zum thema|lire aussi|leggi anche|lee también|baca juga|читайте также",
    "media": "ap photo|file photo",
    "byline": "last modified|min read|minute read|minutes read|staff writer",
}
_FAMILY_NAMES = tuple(_FAMILY_WORDS)
_WORD_FAMILY = {w: i for i, k in enumerate(_FAMILY_NAMES) for w in _FAMILY_WORDS[k].split()}
_PHRASE_FAMILY = {
    tuple(ph.split()): i for i, k in enumerate(_FAMILY_NAMES) for ph in _FAMILY_PHRASES[k].split("|")
}
_PHRASE_FIRST = {ph[0] for ph in _PHRASE_FAMILY}
# substrings (scripts without spaces, symbols) -> family index
_FAMILY_MARKS = {"©": 1, "®": 1, "™": 1, "подписк": 1, "광고": 2, "広告": 2, "関連": 2, "기자": 4}
_BYLINE_START = frozenset("by von par por di oleh автор".split())

LINE_FEATURES: tuple[str, ...] = (
    "log_chars", "log_words", "few_words", "one_word", "no_token",
    "ends_sentence", "ends_colon", "log_inner_sentences", "starts_upper", "starts_bullet",
    "stop_share", "capitalised_share", "digit_share", "punct_share", "allcaps_share", "comma_per_word",
    "separators", "url", "caps_prefix", "date_like", "repeated", "long_token_share",
    *(f"kw_{k}" for k in _FAMILY_NAMES),
    "kw_any_short", "comment_head", "comment_mark",
    "prev_log_words", "next_log_words", "prev_sentence", "next_sentence",
    "win2_sentence", "win5_sentence", "win5_log_words", "best_side5_sentence", "worst_side5_sentence",
    "doc_sentence_share", "doc_log_lines", "comment_marks_above", "comment_head_above",
    "ends_ellipsis", "local_cohesion", "doc_cohesion",
)  # fmt: skip
CONTEXT_FEATURES: tuple[str, ...] = (
    "p", "logit_p", "p_prev", "p_next", "p_win2", "p_win4", "p_win8", "p_min_neigh", "p_max_neigh",
    "p_best_side4", "p_worst_side4",
    "in_block_lines", "log_dist_block_lines", "in_block_tokens", "log_dist_block_tokens",
    "content_mass_before", "content_mass_after", "cohesion",
)  # fmt: skip
_LOG1P_8 = math.log1p(8)


def _comment_mark(toks: list[str], lowered: str, digits: int) -> bool:
    """A line that frames a comment: "Gary M on September 17, 2018 at 8:50 pm said:", "Reply", "3 hours ago"."""
    if not toks:
        return False
    if toks[-1] in _COMMENT_VERBS and lowered.rstrip(" :").endswith(toks[-1]):
        return True
    if len(toks) <= 5 and all(t in _COMMENT_ACTIONS for t in toks):
        return True
    if digits and _COMMENT_DIGITS.search(lowered):
        return True
    return "ago" in toks and ("an" in toks or "a" in toks) and len(toks) <= 6


def _line_shape(line: str) -> list[float]:
    """Per-line features that need no context (the first block of :data:`LINE_FEATURES`)."""
    s = line.strip()
    n_chars = len(s)
    lowered = s.lower()
    toks = _TOKEN.findall(lowered)
    n_tok = len(toks)
    cjk = len(_CJK.findall(s)) if s and max(s) >= "\u3040" else 0
    if cjk:
        n_tok += cjk // 2
    words = s.split()
    n_words = max(len(words), 1)
    digits = len(_DIGIT.findall(s))
    alnum = sum(map(len, toks))
    punct = n_chars - alnum - (len(words) - 1 if words else 0)
    kws = [0, 0, 0, 0, 0]
    stop = long_tok = 0
    for i, t in enumerate(toks):
        if t in _PHRASE_FIRST:
            for k in (2, 3):
                f = _PHRASE_FAMILY.get(tuple(toks[i : i + k]))
                if f is not None:
                    kws[f] += 1
        if t in _STOP:
            stop += 1
        elif len(t) > 20 and not (cjk and _CJK.search(t)):
            long_tok += 1
        else:
            f = _WORD_FAMILY.get(t)
            if f is not None:
                kws[f] += 1
    if n_tok > 1 and toks[0] in _BYLINE_START and lowered.lstrip(" \t-–—|:(").startswith(toks[0]):
        if toks[1].isalpha():
            kws[4] += 1
    for mark, f in _FAMILY_MARKS.items():
        if mark in lowered:
            kws[f] += 1
    cap = allcaps = 0
    for w in words:
        if w[:1].isupper():
            cap += 1
            if len(w) > 1 and w.isupper():
                allcaps += 1
    first = s[:1] if s[:1].isalnum() else next((c for c in s if c.isalnum()), "")
    return [
        math.log1p(n_chars),
        math.log1p(n_tok),
        1.0 if n_tok < 4 else 0.0,
        1.0 if n_tok <= 1 else 0.0,
        1.0 if n_tok == 0 else 0.0,
        1.0 if _SENT_END.search(s) else 0.0,
        1.0 if s.endswith(":") else 0.0,
        math.log1p(len(_INNER_SENT.findall(s))),
        1.0 if first.isupper() else 0.0,
        1.0 if s[:1] in "•·-–—*►▶→>" else 0.0,
        stop / n_tok if n_tok else 0.0,
        cap / n_words,
        digits / n_chars if n_chars else 0.0,
        punct / n_chars if n_chars else 0.0,
        allcaps / n_words,
        s.count(",") / n_words,
        math.log1p(len(_SEPARATORS.findall(s)) + s.count(" / ")),
        1.0 if ("." in s or "@" in s) and _URL.search(s) else 0.0,
        1.0 if _CAPS_PREFIX.search(s) else 0.0,
        1.0 if digits and (_TIME_DATE.search(s) or not _DATE_WORDS.isdisjoint(toks)) else 0.0,
        0.0,  # repeated: filled in with the document
        long_tok / n_tok if n_tok else 0.0,
        *(math.log1p(k) for k in kws),
        1.0 if n_tok <= 12 and any(kws) else 0.0,
        1.0 if n_tok <= 8 and _COMMENT_HEAD.search(s) else 0.0,
        1.0 if n_tok <= 20 and _comment_mark(toks, lowered, digits) else 0.0,
    ]


_REPEATED = LINE_FEATURES.index("repeated")
_COMMENT_HEAD_I = LINE_FEATURES.index("comment_head")
_COMMENT_MARK_I = LINE_FEATURES.index("comment_mark")


def content_words(lines: Sequence[str]) -> list[set[str]]:
    """Each line's content words (lower-cased, longer than 2 characters, not a stop-word): what the cohesion
    features compare.  Computed once per document and shared by the line pass and every context pass."""
    return [{w for w in _TOKEN.findall(x.lower()) if len(w) > 2 and w not in _STOP} for x in lines]


def line_features(lines: Sequence[str], words: list[set[str]] | None = None) -> list[list[float]]:
    """The line-pass feature vector (:data:`LINE_FEATURES`) of every line of one document (``words``: its
    :func:`content_words`, when the caller has them already)."""
    n = len(lines)
    if n == 0:
        return []
    rows = [_line_shape(x) for x in lines]
    counts = Counter(x.strip() for x in lines)
    log_words = [r[1] for r in rows]
    # a "sentence-like" line: ends like a sentence and has at least 8 tokens
    sent = [1.0 if (r[5] and r[1] >= _LOG1P_8) else 0.0 for r in rows]
    doc_sent = sum(sent) / n
    doc_lines = math.log1p(n)
    cs = [0.0]  # prefix sums for window means
    cw = [0.0]
    for i in range(n):
        cs.append(cs[-1] + sent[i])
        cw.append(cw[-1] + log_words[i])

    def win(c: list[float], i: int, k: int) -> float:
        lo, hi = max(0, i - k), min(n, i + k + 1)
        tot = c[hi] - c[lo] - (c[i + 1] - c[i])
        m = hi - lo - 1
        return tot / m if m else 0.0

    # lexical cohesion without any model: the share of a line's content words that the 3 lines either side use
    # (an article's paragraphs talk about the same things; a list of teasers, a menu, an ad block do not), and
    # that the rest of the document uses
    if words is None:
        words = content_words(lines)
    doc_vocab: Counter[str] = Counter()
    for ws in words:
        doc_vocab.update(ws)
    window: Counter[str] = Counter()
    for ws in words[:4]:
        window.update(ws)
    marks: list[int] = []  # indices of comment-framing lines among the last 10
    head_above = 0.0
    for i, r in enumerate(rows):
        if counts[lines[i].strip()] > 1:
            r[_REPEATED] = 1.0
        while marks and marks[0] < i - 10:
            marks.pop(0)
        marks_above = math.log1p(len(marks))
        if r[_COMMENT_MARK_I]:
            marks.append(i)
        # share of sentence-like lines among the 5 above / below (at an edge, the other side stands for both)
        left = (cs[i] - cs[max(0, i - 5)]) / (i - max(0, i - 5)) if i else -1.0
        right = (cs[min(n, i + 6)] - cs[i + 1]) / (min(n, i + 6) - i - 1) if i + 1 < n else -1.0
        if left < 0.0:
            left = right if right >= 0.0 else sent[i]
        if right < 0.0:
            right = left
        r.extend(
            (
                log_words[i - 1] if i > 0 else 0.0,
                log_words[i + 1] if i + 1 < n else 0.0,
                sent[i - 1] if i > 0 else 0.0,
                sent[i + 1] if i + 1 < n else 0.0,
                win(cs, i, 2),
                win(cs, i, 5),
                win(cw, i, 5),
                max(left, right),
                min(left, right),
                doc_sent,
                doc_lines,
                marks_above,
                head_above,
            )
        )
        ws = words[i]
        if i >= 4:  # window = lines i-3 .. i+3
            window.subtract(words[i - 4])
        if i >= 1 and i + 3 < n:
            window.update(words[i + 3])
        x = lines[i].rstrip()
        r.extend(
            (
                1.0 if x.endswith(("...", "…", "[…]")) else 0.0,
                sum(1 for w in ws if window[w] > 1) / len(ws) if ws else 0.0,
                sum(1 for w in ws if doc_vocab[w] > 1) / len(ws) if ws else 0.0,
            )
        )
        if r[_COMMENT_HEAD_I]:
            head_above = 1.0
    return rows


def _main_block(p: Sequence[float], weight: Sequence[float]) -> tuple[int, int]:
    """``[lo, hi]`` of the contiguous run of lines with the largest sum of ``(0.5 - p) * weight`` (Kadane)."""
    best, best_lo, best_hi, run, run_lo = 0.0, 0, -1, 0.0, 0
    for i, v in enumerate(p):
        if run <= 0.0:
            run, run_lo = 0.0, i
        run += (0.5 - v) * weight[i]
        if run > best:
            best, best_lo, best_hi = run, run_lo, i
    return best_lo, best_hi


def _block_features(i: int, block: tuple[int, int]) -> tuple[float, float]:
    lo, hi = block
    if lo <= i <= hi:
        return 1.0, 0.0
    return 0.0, math.log1p(lo - i if i < lo else i - hi)


def context_features(
    p: Sequence[float], x: Sequence[Sequence[float]], lines: Sequence[str] | None = None,
    words: list[set[str]] | None = None,
) -> list[list[float]]:
    """The context-pass additions (:data:`CONTEXT_FEATURES`) from the previous pass's probabilities ``p``, the
    line-pass features ``x`` and the text of the lines of one document (``words``: their :func:`content_words`,
    when the caller has them already)."""
    n = len(p)
    c = [0.0]
    for v in p:
        c.append(c[-1] + v)

    def win(i: int, k: int) -> float:
        lo, hi = max(0, i - k), min(n, i + k + 1)
        m = hi - lo - 1
        return (c[hi] - c[lo] - p[i]) / m if m else p[i]

    ntok = [math.expm1(r[1]) for r in x]
    # the main block, two ways: lines weighted by 1 + log(tokens) (paragraph count), and by tokens (text mass:
    # short lines -- table cells, list items -- cost little, so the block bridges them)
    block_log = _main_block(p, [1.0 + r[1] for r in x])
    block_tok = _main_block(p, ntok)
    mass = [(1.0 - v) * t for v, t in zip(p, ntok)]
    total = sum(mass) or 1.0
    # lexical cohesion: the share of a line's words found in the other lines that look like content
    if words is None:
        words = content_words(lines) if lines else [set() for _ in range(n)]
    vocab: Counter[str] = Counter()
    for v, ws in zip(p, words):
        if v < 0.5:
            vocab.update(ws)
    before = 0.0
    out = []
    for i, v in enumerate(p):
        prev = p[i - 1] if i > 0 else v
        nxt = p[i + 1] if i + 1 < n else v
        q = min(max(v, 1e-6), 1 - 1e-6)
        after = total - before - mass[i]
        ws = words[i]
        own = 1 if v < 0.5 else 0
        cohesion = sum(1 for w in ws if vocab[w] > own) / len(ws) if ws else 0.0
        left = (c[i] - c[max(0, i - 4)]) / (i - max(0, i - 4)) if i else -1.0  # mean p of the 4 lines above
        right = (c[min(n, i + 5)] - c[i + 1]) / (min(n, i + 5) - i - 1) if i + 1 < n else -1.0  # and below
        if left < 0.0:  # at an edge of the text, the one side there is stands for both
            left = right if right >= 0.0 else v
        if right < 0.0:
            right = left
        out.append([v, math.log(q / (1 - q)), prev, nxt, win(i, 2), win(i, 4), win(i, 8), min(prev, nxt),
                    max(prev, nxt), min(left, right), max(left, right), *_block_features(i, block_log),
                    *_block_features(i, block_tok), before / total, after / total, cohesion])
        before += mass[i]
    return out


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class _Logistic:
    """``sigmoid(intercept + sum(coef * (x - mean) / scale))``, folded into one weight vector at load time."""

    __slots__ = ("w", "b")

    def __init__(self, spec: dict, n_features: int) -> None:
        w, mean, scale = spec["coef"], spec["mean"], spec["scale"]
        if not (len(w) == len(mean) == len(scale) == n_features):
            raise ValueError(f"line model has {len(w)} weights for {n_features} features; retrain it")
        self.w = [float(wi) / float(si) for wi, si in zip(w, scale)]
        self.b = float(spec["intercept"]) - sum(wi * float(mi) for wi, mi in zip(self.w, mean))

    def proba(self, rows: list[list[float]]) -> list[float]:
        w, b, mul = self.w, self.b, operator.mul  # the same products as float.__mul__, at a third of its call cost
        return [_sigmoid(b + sum(map(mul, w, r))) for r in rows]


class LineClassifier:
    """P(boilerplate) for the lines of one document; ``threshold`` is the dev-chosen cut (remove when >= it)."""

    threshold: float

    def __init__(self, spec: dict) -> None:
        if spec.get("line_features") != list(LINE_FEATURES) or spec.get("context_features") != list(
            CONTEXT_FEATURES
        ):
            raise ValueError("line model was trained on a different feature set; retrain it")
        self.spec = spec
        self.threshold = float(spec["threshold"])
        self._line = _Logistic(spec["line_model"], len(LINE_FEATURES))
        n = len(LINE_FEATURES) + len(CONTEXT_FEATURES)
        self._passes = [_Logistic(m, n) for m in spec["context_models"]]

    @classmethod
    def load(cls, path: str | None = None) -> LineClassifier:
        """The model at ``path``, or (cached) the one shipped in the package."""
        if path is None:
            return _default()
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def boilerplate_proba(self, lines: Sequence[str]) -> list[float]:
        """P(boilerplate) per line; ``lines`` are the non-empty lines of ONE document, in order."""
        if not lines:
            return []
        if isinstance(lines, str):
            raise TypeError("boilerplate_proba takes the lines of a document, not one string")
        words = content_words(lines)
        x = line_features(lines, words)
        p = self._line.proba(x)
        for model in self._passes:  # each context pass re-reads the neighbourhood through the last pass
            p = model.proba([a + b for a, b in zip(x, context_features(p, x, lines, words))])
        return p

    def is_boilerplate(self, lines: Sequence[str]) -> list[bool]:
        """``boilerplate_proba(lines) >= threshold`` per line."""
        t = self.threshold
        return [p >= t for p in self.boilerplate_proba(lines)]


@functools.lru_cache(maxsize=1)
def _default() -> LineClassifier:
    text = resources.files("storyloom").joinpath("data", MODEL_RESOURCE).read_text(encoding="utf-8")
    return LineClassifier(json.loads(text))


__all__ = ["LineClassifier", "LINE_FEATURES", "CONTEXT_FEATURES", "content_words", "line_features", "context_features"]
