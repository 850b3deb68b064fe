"""Clinicians named by initial, credential or signature (masker.detect.staff)."""

from __future__ import annotations

import pytest

from masker.detect.recognizers.staff import staff_names


def names(text: str) -> list[str]:
    return [text[s:e] for s, e in staff_names(text)]


@pytest.mark.parametrize("text,value", [
    ("INR 6.0. E. KOWALSKI AWARE. FFP GIVEN", "E. KOWALSKI"),
    ("REVERSALS NOT GIVEN PER K. NAKASHIMA PA.", "K. NAKASHIMA"),
    ("CVL PLACED OVER WIRE BY C. OYELOWO. NO BLEEDING", "C. OYELOWO"),
    ("sats 87% -> J. Chang PA into evaluate", "J. Chang"),
    ("CI>2, NP Lindqvist AWARE.", "Lindqvist"),
    ("CXR improved per NP Greta, cont lasix", "Greta"),
    ("resp- Arthur Vandermeer, MD made no vent changes", "Arthur Vandermeer"),
    ("suctioned for thick sputum.\nBERNARD OKAFOR, CRT\n", "BERNARD OKAFOR"),
    ("SX. THICK YELLOW SPUTUM. | DAN A. HOLLOWAY-ITO, RRT |", "DAN A. HOLLOWAY-ITO"),
    ("all is well at this time. t. haverkamp rrt", "t. haverkamp"),  # lower case
    ("nipride to be weaned per d. ostrowski, pacing wires in place", "d. ostrowski"),
])
def test_staff_named_with_an_initial_credential_or_signature(text: str, value: str) -> None:
    assert names(text) == [value]


@pytest.mark.parametrize("text", [
    "URINE GREW E. COLI, MD AWARE",  # an organism; "MD AWARE" names nobody
    "BLOOD CX: S. AUREUS",
    "HEPARIN DRIP STOPPED, PA AWARE",  # capitals before a credential, mid-line
    "A. Fib noted, team aware",
    "RN TO FOLLOW UP, PT SEEN BY OT",
    "Smith aware",  # a capitalised word alone is not enough
    "PER L. ANXIOUS RE ETT, S. FAMILY MADE AWARE",  # an initial before a common word
    "urine cx: e. coli, md aware",
])
def test_no_name_without_two_signals(text: str) -> None:
    assert names(text) == []
