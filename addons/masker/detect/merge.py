"""Resolve overlapping candidate spans (from any pass) to one span per character.

Precedence when two spans of different kinds claim the same characters:

1. higher ``kinds.SPECIFICITY[kind]`` (unknown kinds count as 0),
2. then higher ``confidence``,
3. then the longer span,
4. then the earlier start (only to make the result deterministic).

The winner keeps all its characters. The loser is *trimmed* to the characters
no better span covers, never dropped wholesale: dropping it would let the part
the winner does not cover leave unmasked. When the text is given, a trimmed
fragment is stripped of leading/trailing non-alphanumerics, and any span or
fragment with nothing alphanumeric is dropped (a lone separator carries no
PHI). Untrimmed spans keep their exact bounds ("(555) 123-4567", "+1 ...").

Spans of the same kind that overlap or touch coalesce first into one span
(their union) with the maximum confidence; the pass and detector of the most
confident member are kept. Fragments of one kind that end up touching after
trimming coalesce the same way.

The pipeline is expected to drop spans below the policy threshold *before*
merging: a low-confidence span of a specific kind would otherwise outrank a
confident span of a generic kind.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from operator import attrgetter

from masker.detect.spans import Span
from masker.kinds import SPECIFICITY

_BOUNDS = attrgetter("start", "end")  # the sort key (start, end), without a Python call per span


def merge_spans(spans: Iterable[Span], *, text: str | None = None) -> list[Span]:
    """Non-overlapping spans sorted by start, covering every input character.

    ``text`` (the scanned text) enables dropping fragments without any
    alphanumeric character; without it every fragment is kept.
    """
    valid = [s for s in spans if s.end > s.start]
    if not valid:
        return []
    candidates = _coalesce(valid)
    candidates.sort(key=_precedence)

    starts: list[int] = []  # starts of accepted spans, sorted
    accepted: dict[int, Span] = {}
    for span in candidates:
        for lo, hi in _uncovered(span, starts, accepted):
            if text is not None:
                if (lo, hi) != (span.start, span.end):
                    lo, hi = _strip(text, lo, hi)
                if not _has_alnum(text, lo, hi):
                    continue
            piece = _with_bounds(span, lo, hi)
            insort(starts, lo)
            accepted[lo] = piece
    return _coalesce([accepted[s] for s in starts])


def _precedence(span: Span) -> tuple:
    return (
        -SPECIFICITY.get(span.kind, 0),
        -span.confidence,
        -(span.end - span.start),
        span.start,
    )


def _uncovered(span: Span, starts: list[int], accepted: dict[int, Span]) -> list[tuple[int, int]]:
    """Parts of ``span`` not covered by already accepted (disjoint) spans."""
    # Accepted spans are disjoint, so sorted by start they are sorted by end too.
    i = bisect_left(starts, span.end) - 1
    blockers: list[Span] = []
    while i >= 0 and accepted[starts[i]].end > span.start:
        blockers.append(accepted[starts[i]])
        i -= 1
    pieces: list[tuple[int, int]] = []
    cursor = span.start
    for b in reversed(blockers):
        if b.start > cursor:
            pieces.append((cursor, b.start))
        cursor = max(cursor, b.end)
    if cursor < span.end:
        pieces.append((cursor, span.end))
    return pieces


def _has_alnum(text: str, lo: int, hi: int) -> bool:
    """Whether ``text[lo:hi]`` holds an alphanumeric character (most spans start with one)."""
    return lo < hi and (text[lo].isalnum() or any(c.isalnum() for c in text[lo + 1 : hi]))


def _strip(text: str, lo: int, hi: int) -> tuple[int, int]:
    while lo < hi and not text[lo].isalnum():
        lo += 1
    while hi > lo and not text[hi - 1].isalnum():
        hi -= 1
    return lo, hi


def _with_bounds(span: Span, start: int, end: int) -> Span:
    if start == span.start and end == span.end:
        return span
    return span.moved(start, end)


def _coalesce(spans: list[Span]) -> list[Span]:
    """Union overlapping or touching spans of the same kind (max confidence)."""
    by_kind: dict[str, list[Span]] = {}
    for s in spans:
        by_kind.setdefault(s.kind, []).append(s)
    out: list[Span] = []
    for group in by_kind.values():
        group.sort(key=_BOUNDS)
        cur = group[0]
        cur_end = cur.end
        best = cur
        for s in group[1:]:
            if s.start <= cur_end:
                cur_end = max(cur_end, s.end)
                if s.confidence > best.confidence:
                    best = s
                continue
            out.append(_union(cur.start, cur_end, best))
            cur, cur_end, best = s, s.end, s
        out.append(_union(cur.start, cur_end, best))
    out.sort(key=_BOUNDS)
    return out


def _union(start: int, end: int, best: Span) -> Span:
    return _with_bounds(best, start, end)
