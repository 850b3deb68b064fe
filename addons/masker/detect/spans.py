"""The span every detection pass produces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """A detected entity: ``text[start:end]`` in the text that was scanned.

    ``pass_name`` is the pass that found it (``regex``, ``spoken``, ``ner``),
    ``detector`` the detector id inside that pass (``ssn``, ``phone_nanp``,
    ``spoken_phone``, ``ner``), ``confidence`` in [0, 1].
    A span never carries the value itself, so spans are safe to log.
    """

    start: int
    end: int
    kind: str
    pass_name: str
    detector: str
    confidence: float

    def to_json(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "kind": self.kind,
            "pass": self.pass_name,
            "detector": self.detector,
            "confidence": round(self.confidence, 4),
        }
