"""Phone and fax numbers: NANP, international (+cc), seven-digit local, and any phone-shaped value after a cue.

The nearest phone/fax cue before a number decides PHONE or FAX
(``ContextScorer.phone_cue``) and raises its confidence; a negative cue
(``mg``, ``room``, ``order #``) lowers it.
"""

from __future__ import annotations

import regex

from masker.detect.context import find_words, phone_kind
from masker.detect.recognizer import Emit
from masker.detect.recognizers.base import DIGIT_GROUP, RegexRecognizer, Scan

# NANP: (area) exchange-line, +1 optional.
BARE_CUED_CONFIDENCE = 0.85  # ten bare digits after a phone cue
BARE_CONFIDENCE = 0.35  # ten bare digits, no cue
CUED_VALID_CONFIDENCE = 0.95  # formatted, after a cue, area and exchange valid
CUED_CONFIDENCE = 0.85  # formatted, after a cue
VALID_WITH_COUNTRY_CONFIDENCE = 0.9  # formatted, valid, with "+1"
VALID_CONFIDENCE = 0.85  # formatted, valid
FORMATTED_CONFIDENCE = 0.6  # formatted, area or exchange starting with 0/1
# International (+cc ...), 8-15 digits.
INTL_CUED_CONFIDENCE = 0.95
INTL_CONFIDENCE = 0.85
# Local "123-4567".
LOCAL_CUED_CONFIDENCE = 0.8
LOCAL_CONFIDENCE = 0.45
# Any phone-shaped value right after a cue word (national formats of other countries).
CUE_VALUE_CONFIDENCE = 0.8
CUE_VALUE_GAP = 12  # characters allowed between the cue and its value
MAX_DIGITS = 15  # E.164
MIN_DIGITS = 7
PAGER_MIN_DIGITS = 4  # pagers and beepers are reached by 4-6 digit numbers ("pager #41234")
INTL_DIGITS = (8, 15)

PHONE_NANP = regex.compile(
    # The leading lookahead lets the engine skip positions that cannot start a phone.
    r"(?=[0-9(+])(?<![0-9+]|[0-9][./-])(?:(?P<cc>\+?1)(?P<s0>[ .-]?))?"
    r"(?:\((?P<a1>[0-9]{3})\)[ ]?|(?P<a2>[0-9]{3})(?P<s1>[ ./-]?))"
    r"(?P<x>[0-9]{3})(?P<s2>[ ./-]?)(?P<l>[0-9]{4})(?![0-9]|[./-][0-9])"
    r"(?P<ext>[ ]*(?i:x|ext\.?|extension)[ ]*[0-9]{1,6}(?![0-9]))?"
)
PHONE_LOCAL = regex.compile(r"(?<![0-9]|[0-9][ ./)-]|\)[ ])[0-9]{3}[-.][0-9]{4}(?![0-9]|[.-][0-9])")
PHONE_INTL = regex.compile(r"(?<![\w+])\+(?>[0-9]{1,3}(?:[ .-]?\(?[0-9]{1,5}\)?){1,6})(?![0-9])")
# A phone-shaped value right after a phone/fax cue ("tel: 020 7946 0958").
_PHONE_VALUE = r"\+?\(?[0-9]++\)?(?:[ .-]?\(?[0-9]++\)?){0,7}+"
PHONE_CUE_VALUE = regex.compile(
    r"[ \t]*(?:(?:[:#=.\-]|(?:number|no|is|at|of)(?![\p{L}\p{N}]))[ \t]*)*+(?P<v>" + _PHONE_VALUE + ")",
    regex.I,
)
_PAGER_WORDS = ("pager", "beeper", "pg", "bpr")
_VALID_FIRST = "23456789"  # NANP area codes and exchanges start with 2-9


class Phone(RegexRecognizer):
    id = "phone"
    kinds = frozenset({"PHONE", "FAX"})
    detectors = frozenset({"phone_nanp", "phone_intl", "phone_local", "phone_cue", "fax"})
    description = "phone and fax numbers: NANP, +international, local 7-digit, any number after a phone/fax cue"

    def find(self, scan: Scan, emit: Emit) -> None:
        text, context = scan.text, scan.context
        for m in PHONE_NANP.finditer(text):
            if (m.group("s1") == "/") != (m.group("s2") == "/"):
                continue  # "555/123-4567" mixes a slash in: no phone format does
            cue = context.phone_cue(text, m.start())
            kind = phone_kind(cue) if cue is not None else "PHONE"
            area = m.group("a1") or m.group("a2")
            bare = not m.group("a1") and not m.group("s1") and not m.group("s2")
            valid = area[0] in _VALID_FIRST and m.group("x")[0] in _VALID_FIRST
            if bare:
                conf = BARE_CUED_CONFIDENCE if cue else BARE_CONFIDENCE
            elif cue:
                conf = CUED_VALID_CONFIDENCE if valid else CUED_CONFIDENCE
            elif valid:
                conf = VALID_WITH_COUNTRY_CONFIDENCE if m.group("cc") else VALID_CONFIDENCE
            else:
                conf = FORMATTED_CONFIDENCE
            conf = context.penalized(conf, text, m.start(), m.end())
            label = context.phone_label(text, cue) if cue is not None else None
            emit(m.start(), m.end(), kind, "fax" if kind == "FAX" else "phone_nanp", conf, cue=label)
        for m in PHONE_INTL.finditer(text):
            digits = sum(c.isdigit() for c in m.group())
            if not INTL_DIGITS[0] <= digits <= INTL_DIGITS[1]:
                continue
            cue = context.phone_cue(text, m.start())
            kind = phone_kind(cue) if cue is not None else "PHONE"
            label = context.phone_label(text, cue) if cue is not None else None
            conf = INTL_CUED_CONFIDENCE if cue else INTL_CONFIDENCE
            emit(m.start(), m.end(), kind, "fax" if kind == "FAX" else "phone_intl", conf, cue=label)
        for m in PHONE_LOCAL.finditer(text):
            cue = context.phone_cue(text, m.start())
            kind = phone_kind(cue) if cue is not None else "PHONE"
            label = context.phone_label(text, cue) if cue is not None else None
            conf = context.penalized(LOCAL_CUED_CONFIDENCE if cue else LOCAL_CONFIDENCE, text, m.start(), m.end())
            emit(m.start(), m.end(), kind, "fax" if kind == "FAX" else "phone_local", conf, cue=label)
        low = scan.low
        for pos in find_words(low, context.phone_triggers):
            cue = context.phone_cue_at(text, pos)
            if cue is None:
                continue
            v = PHONE_CUE_VALUE.match(text, cue.end())
            if v is None or v.start("v") - cue.end() > CUE_VALUE_GAP:
                continue
            pager = low.startswith(_PAGER_WORDS, cue.start())
            start, end = trim_phone(text, v.start("v"), v.end("v"), PAGER_MIN_DIGITS if pager else MIN_DIGITS)
            if end <= start:
                continue
            kind = phone_kind(cue)
            detector = "fax" if kind == "FAX" else "phone_cue"
            emit(start, end, kind, detector, CUE_VALUE_CONFIDENCE, cue=context.phone_label(text, cue))


def trim_phone(text: str, start: int, end: int, min_digits: int = MIN_DIGITS) -> tuple[int, int]:
    """Shorten a cue-introduced phone value to <= 15 digits, dropping stray trailing groups.

    Returns an empty range when fewer than ``min_digits`` digits remain.
    """
    groups = [(g.start(), g.end()) for g in DIGIT_GROUP.finditer(text, start, end)]
    while groups and (
        sum(e - s for s, e in groups) > MAX_DIGITS or (len(groups) > 1 and groups[-1][1] - groups[-1][0] == 1)
    ):
        groups.pop()
    digits = sum(e - s for s, e in groups)
    if not min_digits <= digits <= MAX_DIGITS:
        return start, start
    end = groups[-1][1]
    if text.count("(", start, end) > text.count(")", start, end) and text.startswith(")", end):
        end += 1
    return start, end
