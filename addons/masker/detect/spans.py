"""The span every detection pass produces."""

from __future__ import annotations

from dataclasses import dataclass, field

from masker.detect.recognizer import Explanation


@dataclass(frozen=True, slots=True)
class Span:
    """A detected entity: ``text[start:end]`` in the text that was scanned.

    ``pass_name`` is the pass that found it (``regex``, ``spoken``, ``ner``),
    ``detector`` the detector id inside that pass (``ssn``, ``phone_nanp``,
    ``spoken_phone``, ``ner``), ``confidence`` in [0, 1].
    ``why`` says which recognizer found it and on what evidence (not part
    of equality: two passes finding the same thing report the same span).
    A span never carries the value itself, so spans are safe to log.
    """

    start: int
    end: int
    kind: str
    pass_name: str
    detector: str
    confidence: float
    why: Explanation | None = field(default=None, compare=False)

    def with_kind(self, kind: str) -> Span:
        return Span(self.start, self.end, kind, self.pass_name, self.detector, self.confidence, self.why)

    def with_confidence(self, confidence: float) -> Span:
        return Span(self.start, self.end, self.kind, self.pass_name, self.detector, confidence, self.why)

    def moved(self, start: int, end: int) -> Span:
        """The same finding at other offsets (mapped to the original text, cut around a token)."""
        return Span(start, end, self.kind, self.pass_name, self.detector, self.confidence, self.why)

    def to_json(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "kind": self.kind,
            "pass": self.pass_name,
            "detector": self.detector,
            "confidence": round(self.confidence, 4),
        }
