"""The scanner core the spoken-form recognizers share: one walk over the items of one text.

A ``Scan`` holds the items of the spoken-number view (``spoken.view``), the
cue look-back, and which items a detection already claimed. Recognizers run
in a fixed order (``spoken.recognizers.RECOGNIZERS``); each walks the items
and ``emit``s what it finds, claiming those items, so a later recognizer
never reports a second span over them ("january fifth" is a date, not a
digit chain).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from masker.detect.recognizer import Explanation
from masker.detect.spoken.cues import Cue, Cues
from masker.detect.spoken.recognizers import RECOGNIZERS

if TYPE_CHECKING:
    from masker.detect.spoken.view import Item

_CUE_WINDOW = 8  # words looked at before a candidate
_LOOKBACK_ITEMS = 40  # items walked back to find them (bounds work on punctuation runs)


class SpokenRecognizer(Protocol):
    """A ``masker.detect.recognizer.Recognizer`` that walks a ``Scan``."""

    id: str
    pass_name: str
    kinds: frozenset[str]
    detectors: frozenset[str]
    description: str

    def scan(self, s: Scan) -> None:
        """Walk ``s.items`` and ``s.emit`` every detection over items nobody claimed."""
        ...


@dataclass(frozen=True, slots=True)
class Found:
    """A detection over items ``[first, last]`` (inclusive)."""

    first: int
    last: int
    kind: str
    detector: str
    confidence: float
    why: Explanation


class Scan:
    """One detection run over the items of one text."""

    def __init__(self, items: list[Item], cues: Cues, recognizers: Sequence[SpokenRecognizer] = RECOGNIZERS) -> None:
        self.items = items
        self.cues = cues
        self.recognizers = recognizers
        # Indices of the number items: what the number, address and age recognizers start from.
        self.numbers = [i for i, it in enumerate(items) if it.kind == "num"]
        # The ``low`` of every item: recognizers find where they can start in it
        # with one comprehension (``where``) instead of a Python loop over the items.
        self.lows = [it.low for it in items]
        self.claimed = [False] * len(items)
        self.found: list[Found] = []
        self._running = ""

    def run(self) -> list[Found]:
        for recognizer in self.recognizers:
            self._running = recognizer.id
            recognizer.scan(self)
        return self.found

    def emit(
        self,
        first: int,
        last: int,
        kind: str,
        detector: str,
        confidence: float,
        *,
        cue: Cue | None = None,
        validator: str | None = None,
    ) -> None:
        """Report items ``[first, last]`` as ``kind`` and claim them."""
        why = Explanation(self._running, cue.id if cue is not None else None, validator)
        self.found.append(Found(first, last, kind, detector, confidence, why))
        for k in range(first, last + 1):
            self.claimed[k] = True

    # -- reading the items -------------------------------------------------

    def where(self, words: frozenset[str]) -> list[int]:
        """Indices of the items whose ``low`` is one of ``words``, in order."""
        return [i for i, low in enumerate(self.lows) if low in words]

    def low(self, i: int) -> str:
        """The word at item ``i`` (lower case), or "" for a number, punctuation or no item."""
        return self.items[i].low if 0 <= i < len(self.items) and self.items[i].kind == "word" else ""

    def is_letter(self, i: int) -> bool:
        it = self.items[i]
        return it.kind == "word" and len(it.low) == 1 and it.low.isalpha()

    def free(self, first: int, last: int) -> bool:
        return not any(self.claimed[first:last + 1])

    def skip_punct(self, j: int, allowed: frozenset[str] = frozenset({","})) -> int:
        while j < len(self.items) and self.items[j].kind == "punct" and self.items[j].low in allowed:
            j += 1
        return j

    def words_before(self, i: int, n: int = _CUE_WINDOW) -> list[str]:
        """The ``n`` words before item ``i`` (punctuation skipped, a number as "#"), oldest first."""
        out: list[str] = []
        j = i - 1
        stop = max(-1, i - 1 - _LOOKBACK_ITEMS)
        while j > stop and len(out) < n:
            it = self.items[j]
            if it.kind == "word":
                out.append(it.low.removesuffix("'s").removesuffix("’s"))
            elif it.kind == "num":
                out.append("#")
            j -= 1
        out.reverse()
        return out

    def cue(self, i: int, kinds: Sequence[str]) -> Cue | None:
        """The cue of one of ``kinds`` nearest before item ``i``."""
        return self.cues.before(self.words_before(i), kinds)
