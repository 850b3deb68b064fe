"""Propagation: a value detected once is masked wherever else it occurs in the request.

Context finds a name in "son Radu called" but not in "Radu visited later";
left there, the clear name would sit beside its token, and since vault tokens
are deterministic that pairing would unmask every other use of the token.
``MaskingEngine`` applies this across all fields of a request;
``scripts/eval_detect.py`` applies it per benchmark document, so the scores
describe what the sidecar forwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from masker.detect.merge import merge_spans
from masker.detect.recognizer import Explanation
from masker.detect.spans import Span
from masker.policy.model import Policy

# Shorter values ("Al", "ED") recur as ordinary text too often to follow.
MIN_PROPAGATED_LEN = 3


# A number written with separators ("123-45-6789") is followed as its bare
# digits too ("123456789", a JSON number or a form field elsewhere in the
# request); shorter digit runs recur as ordinary numbers too often.
MIN_PROPAGATED_DIGITS = 7
_SEPARATORS = frozenset(" -.()/+")


def propagated_values(text: str, spans: Sequence[Span], policy: Policy) -> dict[str, str]:
    """value -> kind for the detected values worth following: masked by the policy, long enough.

    A value made of digits and separators is followed in its bare-digit form too.
    """
    out: dict[str, str] = {}
    for s in spans:
        value = text[s.start : s.end]
        if not policy.masks(s.kind) or len(value.strip()) < MIN_PROPAGATED_LEN:
            continue
        out[value] = s.kind
        digits = "".join(c for c in value if c.isdigit())
        if len(digits) >= MIN_PROPAGATED_DIGITS and digits != value and all(c.isdigit() or c in _SEPARATORS for c in value):
            out.setdefault(digits, s.kind)
    return out


_WHY = Explanation("propagation")  # the value was detected elsewhere in the same request


def occurrences(text: str, values: Mapping[str, str], skip: Sequence[tuple[int, int]]) -> list[Span]:
    """Merged spans of ``values`` found again in ``text``: whole words only, none overlapping ``skip``
    (what is already detected or what Masker wrote)."""
    spans: list[Span] = []
    for value, kind in values.items():
        start = text.find(value)
        while start != -1:
            end = start + len(value)
            if not any(a < end and start < b for a, b in skip) and _word_bounded(text, start, end):
                spans.append(Span(start, end, kind, "propagation", "propagation", 1.0, _WHY))
            start = text.find(value, end)
    return merge_spans(spans, text=text)


def _word_bounded(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not (before.isalnum() or after.isalnum())
