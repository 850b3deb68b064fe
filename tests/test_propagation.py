"""Propagation: values detected once, found again elsewhere in the request."""

from __future__ import annotations

import base64
from dataclasses import replace

from masker.detect.propagation import occurrences, propagated_values
from masker.detect.spans import Span
from masker.policy.load import default_policy_path, load_policy
from masker.policy.model import EntityRule

ENV = {"MASKER_KEY_K_HEALTHCARE": base64.b64encode(b"p" * 32).decode()}
POLICY = load_policy(default_policy_path(), ENV)


def _span(text: str, value: str, kind: str = "NAME") -> Span:
    start = text.index(value)
    return Span(start, start + len(value), kind, "ner", "ner", 0.9)


def test_policy_masks_tokenized_and_redacted_kinds_only() -> None:
    entities = dict(POLICY.entities)
    entities["NAME"] = replace(entities["NAME"], action="passthrough")
    policy = replace(POLICY, entities=entities)
    assert POLICY.masks("NAME") and POLICY.masks("PHONE")
    assert not policy.masks("NAME")
    assert not POLICY.masks("NO_SUCH_KIND")


def test_values_followed_are_masked_kinds_of_three_or_more_characters() -> None:
    text = "son Radu called; Al here; phone 415-555-0142"
    spans = [_span(text, "Radu"), _span(text, "Al"), _span(text, "415-555-0142", "PHONE")]
    assert propagated_values(text, spans, POLICY) == {"Radu": "NAME", "415-555-0142": "PHONE", "4155550142": "PHONE"}
    entities = {**POLICY.entities, "PHONE": EntityRule(kind="PHONE", action="passthrough")}
    assert propagated_values(text, spans, replace(POLICY, entities=entities)) == {"Radu": "NAME"}


def test_occurrences_are_whole_words_outside_what_is_skipped() -> None:
    text = "Radu visited. Raduga is a word. Radu again, and [Radu] once more."
    first = text.index("Radu")
    found = occurrences(text, {"Radu": "NAME"}, [(first, first + 4)])
    assert [text[s.start : s.end] for s in found] == ["Radu", "Radu"]
    assert all(s.kind == "NAME" and s.detector == "propagation" for s in found)
    assert found[0].start == text.index("Radu again")


def test_nested_values_give_one_span_per_character() -> None:
    text = "Radu Crosson, later Radu Crosson."
    found = occurrences(text, {"Radu Crosson": "NAME", "Crosson": "NAME"}, [(0, 12)])
    assert [(text[s.start : s.end]) for s in found] == ["Radu Crosson"]


def test_a_number_with_separators_is_followed_as_bare_digits_too() -> None:
    text = "SSN 123-45-6789, file 2024-01"
    spans = [_span(text, "123-45-6789", "SSN"), _span(text, "2024-01", "DATE")]
    values = propagated_values(text, spans, POLICY)
    assert values["123456789"] == "SSN" and "202401" not in values  # six digits: not followed
    other = '{"n": 123456789, "m": 91234567890}'
    assert [other[s.start : s.end] for s in occurrences(other, values, [])] == ["123456789"]
