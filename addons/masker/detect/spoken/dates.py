"""Spoken dates: "january fifth nineteen eighty", "the fifth of january", "march twenty first"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from masker.detect.vocab.spoken_cues import AMBIGUOUS_MONTHS
from masker.detect.vocab.words import MONTH_NAMES, ORDINAL_SUFFIXES, ORDINAL_UNITS, ORDINALS

if TYPE_CHECKING:
    from masker.detect.spoken.scan import Scan

BIRTH_DATE_CONFIDENCE = 0.92  # a birth cue before it: a DOB
FULL_DATE_CONFIDENCE = 0.8  # day and year
PARTIAL_DATE_CONFIDENCE = 0.65  # day or year

_MONTHS = frozenset(MONTH_NAMES)
# Words a date can start with; any other date starts with a number.
_STARTS = _MONTHS | frozenset(ORDINALS)


def _day(s: Scan, j: int, cardinal: bool) -> tuple[int, int, bool] | None:
    """(day, index after it, spoken) at item ``j``; a cardinal ("january five") only if ``cardinal``."""
    items = s.items
    if j >= len(items):
        return None
    it = items[j]
    if it.kind == "word" and it.low in ORDINALS and ORDINALS[it.low] <= 31:
        return ORDINALS[it.low], j + 1, True
    if it.spoken and it.form == "tens" and it.value in (20, 30) and j + 1 < len(items):
        nxt = items[j + 1].low if items[j + 1].kind == "word" else ""
        if nxt in ORDINAL_UNITS and it.value + ORDINAL_UNITS[nxt] <= 31:
            return it.value + ORDINAL_UNITS[nxt], j + 2, True
    if it.kind == "num" and it.form == "raw" and len(it.digits) <= 2 and 1 <= it.value <= 31:
        if j + 1 < len(items) and items[j + 1].low in ORDINAL_SUFFIXES and items[j + 1].start == it.end:
            return it.value, j + 2, False
        if cardinal:
            return it.value, j + 1, False
    if cardinal and it.spoken and it.form in ("unit", "teen", "tens", "compound") and 1 <= it.value <= 31:
        return it.value, j + 1, True
    return None


def _year(s: Scan, j: int, two_digit: bool) -> tuple[int, bool] | None:
    """(index after, spoken) of a year at item ``j``; "eighty" for 1980 only if ``two_digit``."""
    items = s.items
    if j >= len(items) or not items[j].is_num:
        return None
    it = items[j]
    if len(it.digits) == 4 and 1900 <= it.value <= 2099:
        return j + 1, it.spoken
    if two_digit and it.spoken and it.form in ("tens", "compound") and it.value >= 20:
        return j + 1, True
    return None


class SpokenDate:
    """A month with an ordinal day and/or a year, either order; a DOB after a birth cue."""

    id = "spoken_date"
    pass_name = "spoken"
    kinds = frozenset({"DATE", "DOB"})
    detectors = frozenset({"spoken_date"})
    description = 'dates said aloud: "january fifth nineteen eighty", "the fifth of january"'

    def scan(self, s: Scan) -> None:
        claimed = s.claimed
        for i in sorted(s.numbers + s.where(_STARTS)):  # a number item's ``low`` is never a start word
            if not claimed[i]:
                self._at(s, i)

    def _at(self, s: Scan, i: int) -> None:
        items = s.items
        it = items[i]
        cue = None
        end = -1
        spoken = False
        has_day = has_year = False
        if it.kind == "word" and it.low in _MONTHS:
            cue = s.cue(i, ("DOB",))
            j = i + 1
            if s.low(j) == "the":
                j += 1
            d = _day(s, j, cardinal=True)
            if d is not None:
                _, j, spoken = d
                has_day = True
                end = j - 1
            k = s.skip_punct(j)
            if s.low(k) == "of":
                k += 1
            y = _year(s, k, two_digit=cue is not None and has_day)
            if y is not None:
                end = y[0] - 1
                spoken = spoken or y[1]
                has_year = True
            if it.low in AMBIGUOUS_MONTHS and not has_year:
                d = _day(s, i + 1, cardinal=False) or _day(s, i + 2, cardinal=False)
                if d is None:
                    return
        else:
            d = _day(s, i, cardinal=False)
            if d is None:
                return
            _, j, spoken = d
            if s.low(j) == "of":
                j += 1
            if s.low(j) not in _MONTHS:
                return
            cue = s.cue(i, ("DOB",))
            has_day = True
            end = j
            k = s.skip_punct(j + 1)
            y = _year(s, k, two_digit=cue is not None)
            if y is not None:
                end = y[0] - 1
                spoken = spoken or y[1]
                has_year = True
        if end < 0 or not spoken or not (has_day or has_year) or not s.free(i, end):
            return
        if cue is not None:
            s.emit(i, end, "DOB", "spoken_date", BIRTH_DATE_CONFIDENCE, cue=cue)
        else:
            confidence = FULL_DATE_CONFIDENCE if has_day and has_year else PARTIAL_DATE_CONFIDENCE
            s.emit(i, end, "DATE", "spoken_date", confidence)
