"""Dates (ISO, numeric, month/day, written with a month name), dates of birth, and ages over 89.

A date right after a birth cue ("DOB", "born on") is a DOB. Slash pairs that
are ventilator settings, scores, strengths or fractions ("PSV 10/5", "pain
3/10", "1/2 NS") are no dates (the SLASH_* and MD_AFTER_* negative cues).
"""

from __future__ import annotations

import regex

from masker.detect.context import find_words, windows
from masker.detect.recognizer import Emit
from masker.detect.recognizers.base import RegexRecognizer, Scan, finditer_in
from masker.detect.vocab.words import MONTH_PATTERN, MONTH_STEMS, ORDINAL_SUFFIXES

ISO_CONFIDENCE = 0.95
NUMERIC_CONFIDENCE = 0.9  # "03/04/1961"
NUMERIC_SHORT_YEAR_CONFIDENCE = 0.75  # "03/04/61"
DOTTED_CONFIDENCE = 0.85  # "03.04.1961"
DOTTED_SHORT_YEAR_CONFIDENCE = 0.5  # "03.04.61": as often a version or a measurement
MONTH_YEAR_NUMERIC_CONFIDENCE = 0.62  # "MI 3/98"
MD_CUED_CONFIDENCE = 0.65  # "on 3/14"
MD_TWO_DIGIT_DAY_CONFIDENCE = 0.62  # "seen 3/14", "11/02"
MD_CONFIDENCE = 0.6  # "extubated 7/2"
WRITTEN_MONTH_YEAR_CONFIDENCE = 0.7  # "January 1980"
WRITTEN_FULL_CONFIDENCE = 0.95  # "Jan 5, 1980"
WRITTEN_CONFIDENCE = 0.8  # "Jan 5", "march 3rd"
WRITTEN_VERB_CONFIDENCE = 0.55  # "may 2", "march 3" in lower case: maybe a verb
DOB_CONFIDENCE = 0.95  # the least a date after a birth cue gets
AGE_CONFIDENCE = 0.9
DATE_CUE_WINDOW = 20  # characters before a month/day searched for a date cue
SLASH_NEGATIVE_BEFORE = 16
SLASH_NEGATIVE_AFTER = 6
MD_NEGATIVE_AFTER = 8
WHOLE_BEFORE = 8  # characters before "n/n" searched for a whole number
YEARS = (1800, 2199)  # four-digit years a numeric date may have
AGES = (90, 125)  # HIPAA Safe Harbor: ages over 89 are identifiers
# Characters scanned (before, after) around a month trigger and around an age trigger.
MONTH_REGION = (16, 24)
AGE_REGION = (12, 16)

_NB = r"(?<![0-9]|[0-9][./-])"  # not inside a longer number / date
DATE_NUMERIC = regex.compile(
    _NB + r"(?P<p1>[0-9]{1,2})(?P<s>[/.-])(?P<p2>[0-9]{1,2})(?P=s)(?P<y>[0-9]{4}|[0-9]{2})"
    r"(?![0-9]|[./-][0-9])"
)
DATE_ISO = regex.compile(
    _NB + r"(?P<y>1[89][0-9]{2}|2[01][0-9]{2})(?P<s>[-/.])(?P<m>[0-9]{1,2})(?P=s)(?P<d>[0-9]{1,2})"
    r"(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])?)?(?![0-9]|[./-][0-9])"
)
# Month/day without a year ("on 3/14").
DATE_MD = regex.compile(_NB + r"(?P<m>[0-9]{1,2})/(?P<d>[0-9]{1,2})(?![0-9]|[./-][0-9])")
_MONTH = r"(?P<mon>" + MONTH_PATTERN + r")(?!\p{L})\.?"
_DAY = r"(?P<d>[0-9]{1,2})(?:st|nd|rd|th)?(?![0-9\p{L}])"
_YEAR = r"(?P<y>(?:1[89]|2[01])[0-9]{2}(?![0-9])|'[0-9]{2}(?![0-9]))"
# "Jan 5, 1980" / "January 5th 1980" / "Jan. 5" / "5 January 1980" / "5th of January"
# / "05-Jan-1980" / "January 1980". Group names repeat across alternatives (the
# regex module gives equal names one group); an unmatched ``d`` means month + year.
DATE_WRITTEN = regex.compile(
    r"(?<![\p{L}0-9])(?:"
    + _MONTH + r"[ ]*(?:-|[ ]|(?<=\.))[ ]*" + _DAY + r"(?:(?:,[ ]*|[ ]+|-)" + _YEAR + r")?"
    + r"|" + _DAY + r"(?:[ ]+(?:of[ ]+)?|-)" + _MONTH + r"(?:(?:,[ ]*|[ ]+|-)" + _YEAR
    + r"|-(?P<y>[0-9]{2})(?![0-9]))?"
    + r"|" + _MONTH + r",?[ ]+" + _YEAR
    + r")",
    regex.I,
)
# A whole number right before "n/n" makes it a fraction or a product: "3 1/2", "600x12/5".
WHOLE_BEFORE_FRACTION = regex.compile(r"(?:[0-9]\s|[0-9]\s*[x×]\s*)$", regex.IGNORECASE)
_LOWER_MONTH_WORDS = frozenset({"may", "mar", "march"})  # months that are also verbs

AGE = regex.compile(
    r"(?<![0-9])(?P<n>[0-9]{2,3})(?:[ -]?(?:years?|yrs?)[ -]?old(?!\p{L})|[ ]?(?:y/o|y\.o\.|yo(?!\p{L}))"
    r"|[ ]?(?:years?|yrs?)[ ]of[ ]age(?!\p{L}))"
    r"|(?<!\p{L})(?:age[ds]?|aged)[ ]*[:=]?[ ]*(?P<n>[0-9]{2,3})(?![0-9])",
    regex.I,
)
AGE_TRIGGERS = ("age", "year", "yr", "yo", "y/o", "y.o")


class Date(RegexRecognizer):
    id = "date"
    kinds = frozenset({"DATE", "DOB"})
    detectors = frozenset({"date_iso", "date_numeric", "date_written", "dob"})
    description = "dates: ISO, numeric, month/day, with a month name; a date after a birth cue is a DOB"

    def find(self, scan: Scan, emit: Emit) -> None:
        text, low, context = scan.text, scan.low, scan.context
        found: list[tuple[int, int, str, float]] = []
        for m in DATE_ISO.finditer(text):
            if 1 <= int(m.group("m")) <= 12 and 1 <= int(m.group("d")) <= 31:
                found.append((m.start(), m.end(), "date_iso", ISO_CONFIDENCE))
        for m in DATE_NUMERIC.finditer(text):
            a, b, y = int(m.group("p1")), int(m.group("p2")), m.group("y")
            if not ((1 <= a <= 12 and 1 <= b <= 31) or (1 <= b <= 12 and 1 <= a <= 31)):
                continue
            if len(y) == 4 and not YEARS[0] <= int(y) <= YEARS[1]:
                continue
            if len(y) == 2 and _slash_negative(scan, m.start(), m.end()):
                continue  # "AC 14/5/50": ventilator settings
            if m.group("s") == ".":
                conf = DOTTED_CONFIDENCE if len(y) == 4 else DOTTED_SHORT_YEAR_CONFIDENCE
            else:
                conf = NUMERIC_CONFIDENCE if len(y) == 4 else NUMERIC_SHORT_YEAR_CONFIDENCE
            found.append((m.start(), m.end(), "date_numeric", conf))
        for m in DATE_MD.finditer(text):
            month, day = int(m.group("m")), int(m.group("d"))
            if not 1 <= month <= 12 or _slash_negative(scan, m.start(), m.end()):
                continue
            if day > 31:
                # "MI 3/98": month and two-digit year, a date element all the same.
                found.append((m.start(), m.end(), "date_numeric", MONTH_YEAR_NUMERIC_CONFIDENCE))
            elif day == 0:
                continue
            elif context.before("DATE", text, m.start(), DATE_CUE_WINDOW):
                found.append((m.start(), m.end(), "date_numeric", MD_CUED_CONFIDENCE))
            elif len(m.group("d")) == 2 and day != 10:
                # "seen 3/14", "11/02": two digits after the slash are rarely a score
                # ("/10" is: pain scales), a ratio or a setting.
                found.append((m.start(), m.end(), "date_numeric", MD_TWO_DIGIT_DAY_CONFIDENCE))
            elif not _fraction_like(month, day) and not context.after("MD_AFTER_NEGATIVE", text, m.end(), MD_NEGATIVE_AFTER):
                # "extubated 7/2", "LBM 11/4": notes date events by month/day alone.
                found.append((m.start(), m.end(), "date_numeric", MD_CONFIDENCE))
        months = windows(text, find_words(low, MONTH_STEMS), *MONTH_REGION)
        for m in finditer_in(DATE_WRITTEN, text, months):
            day, year = m.group("d"), m.group("y")
            if day and not 1 <= int(day) <= 31:
                continue
            if day is None:
                conf = WRITTEN_MONTH_YEAR_CONFIDENCE
            elif year:
                conf = WRITTEN_FULL_CONFIDENCE
            else:
                # "may 2" / "march 3" in lower case may be a verb; "march 3rd" is a date.
                ordinal = low[m.end("d") : m.end("d") + 2] in ORDINAL_SUFFIXES
                verb = m.group("mon") in _LOWER_MONTH_WORDS and not ordinal
                conf = WRITTEN_VERB_CONFIDENCE if verb else WRITTEN_CONFIDENCE
            end = m.end()
            if text[end - 1] == "." and len(m.group("mon")) > 4:
                end -= 1  # a full month name's "." ends the sentence
            found.append((m.start(), end, "date_written", conf))

        found.sort()
        prev_end = 0
        for start, end, detector, conf in found:
            cue = context.before("DOB", text, start, floor=prev_end)
            if cue:
                emit(start, end, "DOB", "dob", max(conf, DOB_CONFIDENCE), cue=cue)
            else:
                emit(start, end, "DATE", detector, conf)
            prev_end = max(prev_end, end)


class Age(RegexRecognizer):
    id = "age"
    kinds = frozenset({"AGE"})
    detectors = frozenset({"age_over_89"})
    description = "ages over 89 (HIPAA Safe Harbor): '92-year-old', 'age 95', '91 y/o'"

    def find(self, scan: Scan, emit: Emit) -> None:
        text = scan.text
        for m in finditer_in(AGE, text, windows(text, find_words(scan.low, AGE_TRIGGERS), *AGE_REGION)):
            if AGES[0] <= int(m.group("n")) <= AGES[1]:
                emit(m.start("n"), m.end("n"), "AGE", "age_over_89", AGE_CONFIDENCE)


def _slash_negative(scan: Scan, start: int, end: int) -> bool:
    """Numbers with slashes that are ventilator settings, scores, strengths, fluids or fractions."""
    text = scan.text
    if end < len(text) and text[end] == "%":
        return True  # "10/5/50%": pressures and FiO2
    if WHOLE_BEFORE_FRACTION.search(text, max(0, start - WHOLE_BEFORE), start):
        return True  # "3 1/2 hours", "600x12/5"
    context = scan.context
    return bool(
        context.before("SLASH_NEGATIVE", text, start, SLASH_NEGATIVE_BEFORE)
        or context.after("SLASH_AFTER_NEGATIVE", text, end, SLASH_NEGATIVE_AFTER)
    )


def _fraction_like(numerator: int, denominator: int) -> bool:
    """"1/2", "2/3", "3/4" (fractions) and "2/2", "5/5" (counts, strengths) rather than dates."""
    return numerator < denominator <= 4 or numerator == denominator <= 5
