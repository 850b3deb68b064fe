"""merge_spans: one span per character, precedence, trimming, coalescing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from masker.detect.merge import merge_spans
from masker.detect.regex import RegexPass
from masker.detect.spans import Span
from masker.kinds import SPECIFICITY


def sp(start: int, end: int, kind: str, conf: float = 0.9, pass_name: str = "regex", det: str = "d") -> Span:
    return Span(start, end, kind, pass_name, det, conf)


def bounds(spans: list[Span]) -> list[tuple[int, int, str]]:
    return [(s.start, s.end, s.kind) for s in spans]


def test_more_specific_kind_wins_and_loser_is_trimmed() -> None:
    text = "id 4111111111111111 x"
    out = merge_spans([sp(0, 21, "ACCOUNT", 0.99), sp(3, 19, "CREDIT_CARD", 0.7)], text=text)
    # ACCOUNT keeps "id" and "x"; the separator-only edges are stripped.
    assert bounds(out) == [(0, 2, "ACCOUNT"), (3, 19, "CREDIT_CARD"), (20, 21, "ACCOUNT")]


def test_same_specificity_higher_confidence_then_longer_wins() -> None:
    assert SPECIFICITY["URL"] == SPECIFICITY["IP_ADDRESS"]
    out = merge_spans([sp(0, 10, "URL", 0.7), sp(5, 12, "IP_ADDRESS", 0.9)])
    assert bounds(out) == [(0, 5, "URL"), (5, 12, "IP_ADDRESS")]
    out = merge_spans([sp(0, 10, "URL", 0.8), sp(5, 12, "IP_ADDRESS", 0.8)])
    assert bounds(out) == [(0, 10, "URL"), (10, 12, "IP_ADDRESS")]


def test_fragment_without_alphanumerics_is_dropped() -> None:
    text = "(555) 234-5678"
    out = merge_spans([sp(0, 14, "DATE", 0.9), sp(1, 14, "PHONE", 0.9)], text=text)
    assert bounds(out) == [(1, 14, "PHONE")]  # "(" alone carries nothing


def test_untrimmed_span_keeps_its_punctuation() -> None:
    text = "call (555) 234-5678"
    out = merge_spans([sp(5, 19, "PHONE")], text=text)
    assert bounds(out) == [(5, 19, "PHONE")]


def test_same_kind_overlapping_or_touching_coalesce_with_max_confidence() -> None:
    out = merge_spans([sp(0, 5, "PHONE", 0.6, det="a"), sp(3, 9, "PHONE", 0.9, det="b"), sp(9, 12, "PHONE", 0.5)])
    assert len(out) == 1
    assert (out[0].start, out[0].end, out[0].confidence, out[0].detector) == (0, 12, 0.9, "b")


def test_ner_and_regex_spans_merge() -> None:
    out = merge_spans([sp(0, 8, "NAME", 0.8, pass_name="ner"), sp(4, 15, "ADDRESS", 0.8)])
    assert [(s.start, s.end, s.kind, s.pass_name) for s in out] == [(0, 4, "NAME", "ner"), (4, 15, "ADDRESS", "regex")]


def test_loser_inside_winner_vanishes_but_winner_covers_it() -> None:
    out = merge_spans([sp(0, 20, "SSN"), sp(5, 10, "ZIP")])
    assert bounds(out) == [(0, 20, "SSN")]


def test_empty_and_degenerate_input() -> None:
    assert merge_spans([]) == []
    assert merge_spans([sp(3, 3, "SSN")]) == []


def test_card_followed_by_digits_end_to_end() -> None:
    text = "4111 1111 1111 1111 1234"
    out = merge_spans(RegexPass().detect(text), text=text)
    cards = [text[s.start : s.end] for s in out if s.kind == "CREDIT_CARD"]
    assert cards == ["4111 1111 1111 1111"]


_KINDS = sorted(SPECIFICITY)


@st.composite
def text_and_spans(draw):
    text = draw(st.text(alphabet="ab1 -().", min_size=1, max_size=40))
    n = len(text)
    spans = []
    for _ in range(draw(st.integers(0, 8))):
        start = draw(st.integers(0, n - 1))
        end = draw(st.integers(start + 1, n))
        kind = draw(st.sampled_from(_KINDS))
        conf = draw(st.sampled_from([0.3, 0.6, 0.9]))
        spans.append(sp(start, end, kind, conf))
    return text, spans


@settings(max_examples=300, deadline=None)
@given(text_and_spans())
def test_property_no_overlap_and_every_alnum_char_still_covered(case) -> None:
    text, spans = case
    out = merge_spans(spans, text=text)
    for a, b in zip(out, out[1:]):
        assert a.end <= b.start
    covered = {i for s in out for i in range(s.start, s.end)}
    for s in spans:
        for i in range(s.start, s.end):
            if text[i].isalnum():
                assert i in covered
    # Every output character was claimed by an input span of the same kind.
    for o in out:
        for i in range(o.start, o.end):
            assert any(s.start <= i < s.end and s.kind == o.kind for s in spans)
