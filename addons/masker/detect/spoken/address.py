"""Spoken street addresses: "twelve hundred main street [apartment four b]"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from masker.detect.spoken.view import NUMBER_WORDS
from masker.detect.vocab.spoken_cues import NOT_STREET_NAME
from masker.detect.vocab.words import STREET_SUFFIXES, UNIT_WORDS

if TYPE_CHECKING:
    from masker.detect.spoken.scan import Scan

ADDRESS_CONFIDENCE = 0.8

_STREET_SUFFIXES = frozenset(STREET_SUFFIXES)
_UNIT_WORDS = frozenset(UNIT_WORDS)
_MAX_STREET_NAMES = 4  # words between the number and the street suffix


class SpokenAddress:
    """A house number said in words, one to four street-name words, a street suffix, an optional unit."""

    id = "spoken_address"
    pass_name = "spoken"
    kinds = frozenset({"ADDRESS"})
    detectors = frozenset({"spoken_address"})
    description = 'street addresses with a spoken house number: "twelve hundred main street"'

    def scan(self, s: Scan) -> None:
        items, claimed = s.items, s.claimed
        for i in s.numbers:
            # Only from the first number of a run of numbers nobody claimed.
            if not claimed[i] and not (i > 0 and items[i - 1].kind == "num" and not claimed[i - 1]):
                self._at(s, i)

    def _at(self, s: Scan, i: int) -> None:
        items = s.items
        k = i
        while k + 1 < len(items) and items[k + 1].is_num and not s.claimed[k + 1]:
            k += 1
        if not any(items[m].spoken for m in range(i, k + 1)) or items[k].value <= 0:
            return
        j = k + 1
        names = 0
        while j < len(items) and names <= _MAX_STREET_NAMES and items[j].kind == "word":
            w = items[j].low
            if w in _STREET_SUFFIXES and names >= 1:
                end = j
                u = j + 1
                if s.low(u) in _UNIT_WORDS and u + 1 < len(items) and (items[u + 1].is_num or s.is_letter(u + 1)):
                    end = u + 1
                    if end + 1 < len(items) and s.is_letter(end + 1):
                        end += 1
                if s.free(i, end):
                    s.emit(i, end, "ADDRESS", "spoken_address", ADDRESS_CONFIDENCE)
                return
            if w in NOT_STREET_NAME or w in NUMBER_WORDS:
                return
            names += 1
            j += 1
