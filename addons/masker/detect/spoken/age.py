"""Spoken ages over 89, which Safe Harbor (C) masks: "ninety two years old", "aged ninety five"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from masker.detect.spoken.cues import Cue
from masker.detect.vocab.spoken_cues import AGE_AFTER, AGE_BEFORE

if TYPE_CHECKING:
    from masker.detect.spoken.scan import Scan

AGE_CONFIDENCE = 0.85

_MIN_AGE = 90
_MAX_AGE = 130
_AFTER_WORDS = max(len(p) for p in AGE_AFTER)
_AGE_CUE = Cue("AGE", "AGE")  # the words of AGE_AFTER / AGE_BEFORE


class SpokenAge:
    """A number 90-130 said in words, with "years old"/"yo" after it or "age"/"aged" before it."""

    id = "spoken_age"
    pass_name = "spoken"
    kinds = frozenset({"AGE"})
    detectors = frozenset({"spoken_age"})
    description = 'ages over 89 said aloud: "ninety two years old"'

    def scan(self, s: Scan) -> None:
        items, claimed = s.items, s.claimed
        for i in s.numbers:
            if not claimed[i] and items[i].spoken and _MIN_AGE <= items[i].value <= _MAX_AGE:
                self._at(s, i)

    def _at(self, s: Scan, i: int) -> None:
        after = tuple(s.low(i + 1 + k) for k in range(_AFTER_WORDS))
        before = s.words_before(i, 1)
        if any(after[:len(p)] == p for p in AGE_AFTER) or (before and before[-1] in AGE_BEFORE):
            s.emit(i, i, "AGE", "spoken_age", AGE_CONFIDENCE, cue=_AGE_CUE)
