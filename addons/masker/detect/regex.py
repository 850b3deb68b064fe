"""The regex detection pass: structured identifiers found by pattern, checksum and context.

A thin runner over the written-form recognizers (``masker.detect.recognizers``):
built from a policy, it builds the context scorer (the policy's cue words)
and the recognizers the policy leaves switched on, once; ``detect`` runs
them in order over one text and reports raw candidates with a confidence
and an ``Explanation``. It neither filters by policy nor merges (the
pipeline does both, see :mod:`masker.detect.merge`).

Confidence model: each recognizer starts from a base that reflects how
structured its match is (a checksum or a strict format scores high), a cue
word before the candidate raises it (and is *required* for ambiguous shapes
such as nine bare digits for an SSN), and a negative cue (``mg``, ``room``,
``order #``...) lowers it (:mod:`masker.detect.context`). A policy's own cue
words for a kind raise the confidence of its spans once more.

Recognizers of digit-based values are skipped on text without any ASCII digit.
"""

from __future__ import annotations

from masker.detect.context import ContextScorer
from masker.detect.recognizer import Explanation
from masker.detect.recognizers import RECOGNIZERS
from masker.detect.recognizers.base import PASS, Scan
from masker.detect.spans import Span
from masker.policy.model import Policy

KINDS: frozenset[str] = frozenset().union(*(r.kinds for r in RECOGNIZERS))


class RegexPass:
    """Pattern-based detector. ``detect(text)`` -> candidate spans (pass ``regex``)."""

    def __init__(self, policy: Policy | None = None) -> None:
        self._context = ContextScorer(policy)
        recognizers = [cls(policy) for cls in RECOGNIZERS if policy is None or policy.recognizer_enabled(cls.id)]
        self._all = tuple(recognizers)
        self._without_digits = tuple(r for r in recognizers if not r.needs_digit)
        self.kinds: frozenset[str] = KINDS.union(*(r.kinds for r in recognizers))
        # One Explanation per (recognizer, cue, validator): ids from Masker's tables, so few.
        self._whys: dict[tuple[str, str | None, str | None], Explanation] = {}

    def detect(self, text: str) -> list[Span]:
        if not text:
            return []
        spans: list[Span] = []
        whys = self._whys
        recognizer = ""  # id of the recognizer running; ``emit`` reads it

        def emit(
            start: int,
            end: int,
            kind: str,
            detector: str,
            confidence: float,
            *,
            cue: str | None = None,
            validator: str | None = None,
        ) -> None:
            if end > start:
                key = (recognizer, cue, validator)
                why = whys.get(key)
                if why is None:
                    why = whys[key] = Explanation(recognizer, cue, validator)
                spans.append(Span(start, end, kind, PASS, detector, min(1.0, max(0.0, confidence)), why))

        scan = Scan(text, self._context)
        for r in self._all if scan.has_digit else self._without_digits:
            recognizer = r.id
            r.find(scan, emit)
        if self._context.boosts:
            spans = self._context.boosted(text, spans)
        return spans
