"""Which script each language is written in, and which letters of a script can start a sentence.

One table for every stage that asks: the copies stage (two Latin-script texts capitalise the same names and
write the same digits, so their anchors must meet more before the slow model embeds them), the language
coverage table (``storyloom languages``) and the sentence splitter (what may follow a full stop).  Before it,
the coverage table called every language it did not list "Latin" (wrong for Greek or Hebrew) and the copies
stage kept its own list of Latin-script languages.

Codes are those :func:`storyloom.enrich.language.detect_language` returns (py3langid's, ISO 639-1 where there
is one).  A language written in two scripts is filed under the one its news is mostly written in (Serbian:
Cyrillic; Uzbek and Azerbaijani: Latin); a code not listed has no known script (``None``).
"""

from __future__ import annotations

import unicodedata

_BY_SCRIPT = {
    "Latin": "ace af an az bcl br bs ca crh cs cy da de en eo es et eu ext fi fo fr fuv fy ga gcf gcr gd gl gug "
             "guw ha hr ht hu id ig is it jv kab kik ku la lb lg lij ln lt ltg lv mg ms mt nl nn no nso oc om pcm "
             "pl pt qu ro rw se sk sl sn so sq st su sv sw tk tl tr uz vec vi vo wa xh yo zu",
    "Cyrillic": "ba be bg kk ky mk mn ru sr tg tt uk",
    "Greek": "el grc",
    "Armenian": "hy",
    "Georgian": "ka",
    "Hebrew": "he hbo yi",
    "Arabic": "ar ary arz fa ps sdh ug ur uzs",
    "Devanagari": "gom hi mr ne sa",
    "Bengali": "as bn",
    "Gurmukhi": "pa",
    "Gujarati": "gu",
    "Oriya": "or",
    "Tamil": "ta",
    "Telugu": "te",
    "Kannada": "kn",
    "Malayalam": "ml",
    "Sinhala": "si",
    "Thai": "th",
    "Lao": "lo",
    "Khmer": "km",
    "Myanmar": "my",
    "Tibetan": "dz",
    "Ethiopic": "am",
    "Hangul": "ko",
    "CJK": "ja zh wuu yue",
}

SCRIPT_OF: dict[str, str] = {code: script for script, codes in _BY_SCRIPT.items() for code in codes.split()}
LATIN_SCRIPT = frozenset(code for code, script in SCRIPT_OF.items() if script == "Latin")


# Scripts whose sentences the splitter cannot find (no stop it knows; Thai and Lao mark sentences with spaces): a
# text in one is split at paragraphs only, so its "sentence" counts are paragraph counts.
PARAGRAPHS_ONLY = frozenset({"Thai", "Lao", "Khmer", "Myanmar", "Tibetan"})


def unsplit(code: str | None) -> bool:
    """Whether texts in this language are split at paragraphs only (see :data:`PARAGRAPHS_ONLY`)."""
    return script_of(code) in PARAGRAPHS_ONLY


def script_of(code: str | None) -> str | None:
    """The script a language is written in (``"Latin"``, ``"Cyrillic"``, ``"CJK"``…), or None if unknown."""
    return SCRIPT_OF.get(code) if code else None


# -- what may start a sentence after . ! ? (storyloom.enrich.sentences) ------------------------------------------
# Scripts with capitals: a capital (Unicode category Lu) of their blocks.  Ł Ś Ż Č Ř Ş İ Ő (Latin Extended), Greek
# and Armenian capitals start sentences as A-Z do; a lower-case letter after "Nr. " or "ca. " does not.
_CASED_BLOCKS = ((0x41, 0x5A), (0xC0, 0x24F), (0x370, 0x3FF), (0x400, 0x52F), (0x531, 0x556), (0x10A0, 0x10CF),
                 (0x1E00, 0x1FFF))
# Scripts without capitals whose writers end sentences with ". " (or their own stop, see sentences.py): any letter
# of theirs may start one.  Thai and Lao mark sentences with spaces; CJK with its own full stops.
_CASELESS_BLOCKS = ((0x5D0, 0x5EA), (0x620, 0x64A), (0x671, 0x6D3), (0x904, 0x97F), (0x980, 0xDFF), (0x10D0, 0x10FF),
                    (0x1100, 0x11FF), (0x1200, 0x135A), (0xAC00, 0xD7A3))


def _char_class(chars: list[str]) -> str:
    """A regex character class body (ranges where code points run on) for ``chars``."""
    cps = sorted({ord(c) for c in chars})
    out, i = [], 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        lo, hi = chr(cps[i]), chr(cps[j])
        out.append(lo if i == j else f"{lo}-{hi}")
        i = j + 1
    return "".join(out)


CAPITALS = _char_class([chr(c) for lo, hi in _CASED_BLOCKS for c in range(lo, hi + 1)
                        if unicodedata.category(chr(c)) == "Lu"])
CASELESS_LETTERS = _char_class([chr(c) for lo, hi in _CASELESS_BLOCKS for c in range(lo, hi + 1)
                                if unicodedata.category(chr(c)) in ("Lo", "Ll")])  # Georgian is Ll
