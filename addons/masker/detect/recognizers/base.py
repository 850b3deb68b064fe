"""What every written-form recognizer shares: the scan of one text and the recognizer shape.

A recognizer (``masker.detect.recognizer.Recognizer``) of the regex pass is a
class with the registry attributes and a ``find(scan, emit)`` method; the
pass builds each once per policy and calls ``find`` on every text, in the
order of ``masker.detect.recognizers.RECOGNIZERS``.
"""

from __future__ import annotations

from collections.abc import Iterator

import regex

from masker.detect.context import ContextScorer, lower_ascii
from masker.detect.recognizer import Emit
from masker.policy.model import Policy

PASS = "regex"

DIGIT = regex.compile(r"[0-9]")
DIGIT_GROUP = regex.compile(r"[0-9]+")


class Scan:
    """One text as every recognizer reads it: built once per text by the pass."""

    __slots__ = ("text", "low", "has_digit", "context")

    def __init__(self, text: str, context: ContextScorer) -> None:
        self.text = text
        self.low = lower_ascii(text)  # same length: offsets into it are offsets into ``text``
        self.has_digit = DIGIT.search(text) is not None
        self.context = context


class RegexRecognizer:
    """Base of the written-form recognizers: the registry attributes and the policy hook.

    ``needs_digit`` recognizers are skipped on text without an ASCII digit.
    Most recognizers keep nothing of the policy (its cue words reach them
    through ``Scan.context``); one that does overrides ``__init__``.
    """

    id: str
    pass_name = PASS
    kinds: frozenset[str]
    detectors: frozenset[str]
    description: str
    needs_digit = True

    def __init__(self, policy: Policy | None = None) -> None:
        del policy  # nothing to keep

    def find(self, scan: Scan, emit: Emit) -> None:
        """``emit`` every candidate of this recognizer's family in ``scan.text``."""
        raise NotImplementedError


def finditer_in(pattern: regex.Pattern[str], text: str, regions: list[tuple[int, int]]) -> Iterator[regex.Match[str]]:
    """Matches of ``pattern`` inside each (disjoint, sorted) region."""
    for lo, hi in regions:
        yield from pattern.finditer(text, lo, hi)
