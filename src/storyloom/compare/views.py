"""Views of a claim: the sentence itself and the facts inside it, so a fact is found whatever it is wrapped in.

Why: outlets wrap the same fact in different frames.  One writes "The results of the talks indicate that
Beijing is increasingly at odds with Moscow", another "The ISW noted that the ministries portrayed the call
differently, suggesting that Beijing is increasingly diverging with Russia".  Scored as whole sentences the
two share half their words and a middling embedding; the facts inside ("Beijing is increasingly at odds with
Moscow" / "Beijing is increasingly diverging with Russia") are plainly the same.  And a sentence that carries
two facts should be able to meet two sentences of another outlet, one for each.

:func:`views` returns the sentence first, then the clauses a reader would call facts: the complement of a
reporting verb ("X said that Y" → Y), the main clause before a trailing attribution ("Y, ISW notes" → Y),
and the parts around a participial or relative tail (", suggesting that Z", ", where W").  English
patterns only: in another language a sentence is its one view (claims.py already splits long sentences and
"While X, Y" contrasts into claims of their own).  The claim aligner scores every view against every view
of the other articles and keeps, per pair of claims, the best (see :func:`storyloom.compare.align.align`).
"""

from __future__ import annotations

import re

MIN_VIEW_WORDS = 5  # a clause shorter than this is rarely a fact of its own ("he said", "as expected")
MAX_VIEWS = 4  # the sentence and at most three clauses: each view costs an embedding and a row of scores

_VERBS = (r"(?:indicates?|indicated|suggests?|suggested|suggesting|shows?|showed|showing|says?|said|saying|notes?|"
          r"noted|noting|reports?|reported|reporting|claims?|claimed|claiming|believes?|believed|warns?|warned|"
          r"warning|adds?|added|adding|argues?|argued|arguing|stress(?:es|ed)?|means?|meant|meaning|confirms?|"
          r"confirmed|announced?|announces|states?|stated|insists?|insisted|concluded?|concludes|found|finds|"
          r"writes?|wrote|explained?|explains|acknowledged?|acknowledges|admits?|admitted|estimates?|estimated)")
# "<frame> <verb> that <fact>": the fact is what another outlet may report under another frame
_THAT = re.compile(rf"\b{_VERBS}\s+that\s+", re.I)
# the same without "that" ("The ministry said the ministers discussed …"), only before a determiner or a pronoun:
# "said on Monday" keeps its frame, "said Lavrov" (a name) is no complement
_BARE = re.compile(r"\b(?:says|said|claims|claimed|reports|reported|believes|believed|insists|insisted|"
                   r"thinks|thought|argues|argued|warns|warned)\s+(?=(?:the|a|an|its|their|his|her|several|many|some|"
                   r"all|both|two|three|it|they|he|she|we)\b)")
# "<fact>, <who> notes." — a trailing attribution of one to five words
_TRAILING = re.compile(rf"^(?P<fact>.+?),?\s+(?:[\w.’'-]+\s+){{1,5}}{_VERBS}\.?[\"”’]?$", re.I | re.S)
# ", suggesting that …", ", where …", ", which …": a tail that adds a second fact or a detail
_TAIL = re.compile(r",[”\"’]?\s+(?=(?:where|which|who|whose|when|suggesting|indicating|saying|adding|noting|meaning|"
                   r"according to)\b)", re.I)
_STRIP = " \t\n,;:–—-“”\"'‘’"


_QUOTES = re.compile(r"[“”\"‘’](?!\w)|(?<!\w)[‘’']|[“”\"]")


def _tidy(s: str) -> str:
    """A clause as a sentence of its own: quotation marks dropped (a quoted fact and a reported one are the
    same fact; a clause cut out of a quote would leave one unbalanced), capitalised, with a full stop."""
    s = _QUOTES.sub("", s).strip(_STRIP)
    if s and s[0].islower():
        s = s[0].upper() + s[1:]
    return s if s.endswith((".", "!", "?")) else s + "."


def _words(s: str) -> int:
    return len(s.split())


def _facts(s: str, depth: int = 0) -> list[str]:
    """The clauses of ``s`` that can stand as facts (not ``s`` itself), outermost first."""
    if depth > 2:
        return []
    out: list[str] = []
    m = _THAT.search(s) or _BARE.search(s)
    if m and _words(s[: m.start()]) >= 1:
        fact = s[m.end():]
        out.append(fact)
        out.extend(_facts(fact, depth + 1))
    t = _TRAILING.match(s)
    if t and _words(s) - _words(t.group("fact")) <= 6:
        out.append(t.group("fact"))
    parts = _TAIL.split(s)
    if len(parts) > 1:
        out.append(parts[0])
        for tail in parts[1:]:
            out.extend(_facts(tail, depth + 1))
    return out


def views(sentence: str) -> list[str]:
    """The sentence, then up to ``MAX_VIEWS - 1`` distinct fact clauses inside it (each ≥ MIN_VIEW_WORDS)."""
    seen = {sentence.strip()}
    got = [sentence]
    for f in _facts(sentence.strip()):
        v = _tidy(f)
        if _words(v) >= MIN_VIEW_WORDS and v not in seen and _words(v) < _words(sentence):
            seen.add(v)
            got.append(v)
            if len(got) >= MAX_VIEWS:
                break
    return got
