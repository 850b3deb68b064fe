"""Names announced by a relation word or a person label: "son bill", "Caller: Ngozi Adeyemi"."""

from __future__ import annotations

import pytest

from masker.detect.recognizers.cued_names import labelled_names, relatives
from masker.detect.regex import RegexPass


def _values(text: str, found: list[tuple[int, int]]) -> list[str]:
    return [text[s:e] for s, e in found]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("social: son bill called twice for updates", ["bill"]),
        ("Family: Son, Ed, was updated by MD today.", ["Ed"]),
        ("wife Barbara Kowalczyk called, phone # in chart", ["Barbara Kowalczyk"]),
        ("DAUGHTER MAUREEN IN TO VISIT", ["MAUREEN"]),
        ("health care proxy Ionut aware of plan", ["Ionut"]),
        ("tell aunt fatima we're landing at nine", ["fatima"]),  # a contraction is no surname
        ("my brother Kwame don't know yet", ["Kwame"]),
    ],
)
def test_a_name_after_a_relation_word(text: str, names: list[str]) -> None:
    assert _values(text, relatives(text)) == names


@pytest.mark.parametrize(
    "text",
    [
        "son at bedside, wife states she is tired, daughter agrees with plan",
        "FHx: mother htn, father CAD, sister breast ca",  # family history: shorthand and words
        "son's car is outside",  # a possessive, not a name after the word
        "daughter called and visited",
        "husband Mr Smith",  # a title is not the name (the model finds Smith)
        "updated pt's daughter via telephone",
        "FAMILY: DAUGHTER, SISTER AND HUSBAND IN TO VISIT",  # relations are not names
    ],
)
def test_no_name_after_a_relation_word(text: str) -> None:
    assert relatives(text) == []


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Caller: Ngozi Adeyemi\nReason: refill", ["Ngozi Adeyemi"]),
        ("Patient name: OKONKWO CHIDI", ["OKONKWO CHIDI"]),
        ("Emergency contact: Rose Young (daughter)", ["Rose Young"]),
    ],
)
def test_capitalised_words_after_a_person_label(text: str, names: list[str]) -> None:
    assert _values(text, labelled_names(text)) == names


@pytest.mark.parametrize(
    "text",
    [
        "Caller: Hi, I need a refill please.",
        "Patient: Alert And Oriented",
        "Contact: MRSA isolation",
        "the caller: Ngozi",  # the label must start the line
        "no label here at all",
    ],
)
def test_no_name_after_a_person_label(text: str) -> None:
    assert labelled_names(text) == []


def test_regex_pass_reports_cued_names_as_names() -> None:
    text = "Caller: Ngozi Adeyemi\nson kwame will pick up the prescription"
    found = {(text[s.start : s.end], s.kind, s.detector) for s in RegexPass().detect(text)}
    assert ("Ngozi Adeyemi", "NAME", "labelled_name") in found
    assert ("kwame", "NAME", "relative_name") in found
