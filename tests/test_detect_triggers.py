"""Patterns tried only where their cue words start find what a scan of every position finds."""

from __future__ import annotations

import random

import pytest
import regex

from masker.detect.context import finditer_at_words, leading_words, lower_ascii
from masker.detect.recognizers import cued_names, facility, staff

VERBS = (
    "transferred transfering transfer trans xferred xferd xfer txd tx'd sent referred refer readmitted "
    "admitted admit adm discharged discharge d/c'd dcd dc'd went going goes go came come coming brought "
    "returned returning return back med-flighted med- flighted medflighted flighted flown arrived presented "
    "followed screened seen evaluated enroute records placement leave left"
).split() + ["en route", "en  route"]
PREPOSITIONS = "to from into at in on onto by".split()
BEFORE = ["per", "by", "w/", "with", "called", "paged", "notified", "informed", "d/w", "discussed with",
          "spoke with", "spoke to"]
CREDENTIALS = "MD M.D. NP PA PA-C RN RRT CRT CNS RPh PharmD LICSW LCSW MSW PT OT SLP Dr dr.".split()
RELATIONS = (
    "son sons daughter daughters dtr wife husband hub husb spouse partner sister sisters brother brothers "
    "sibling niece nephew mother father dad grandson granddaughter grandchild grandmother grandfather aunt "
    "uncle cousin friend fiance fiancee fiancé girlfriend boyfriend proxy guardian neighbor neighbour "
    "stepson stepdaughter stepmother stepfather"
).split() + ["significant other", "health care proxy", "healthcare proxy"]
FILLERS = ["Whitfield 4", "the HARTWELL 12B", "brindlemoor 6", "levo 5", "E. Kowalski", "NP Lindqvist aware",
           "bill called", "Barbara Kowalczyk", "Greta", "K. Nakashima PA", "floor 3", "him to", ",", ".", "\n",
           "5 mg", "-", "/", "'s", "x"]


def _cased(word: str, rng: random.Random) -> str:
    return rng.choice([word, word.upper(), word.title(), word.lower()])


def _texts(words: list[str], seed: int) -> list[str]:
    rng = random.Random(seed)
    pieces = words + PREPOSITIONS + FILLERS
    out = []
    for _ in range(1500):
        parts = [_cased(rng.choice(pieces), rng) for _ in range(rng.randint(1, 12))]
        out.append("".join(p + rng.choice([" ", " ", "  ", "", "\t", ": "]) for p in parts))
    out += [f"{v} to Whitfield 4. {v.upper()} FROM HARTWELL 12B" for v in words]
    return out


CASES = [
    (facility._WARD, facility._WARD_TRIGGERS, VERBS),
    (staff._CUED_INITIAL_NAME, staff._BEFORE_TRIGGERS, BEFORE),
    (staff._CUED_TITLED_NAME, staff._BEFORE_TRIGGERS, BEFORE + CREDENTIALS),
    (staff._TITLED_NAME, staff._CREDENTIAL_TRIGGERS, CREDENTIALS),
    (staff._ANY_CREDENTIAL, staff._CREDENTIAL_TRIGGERS, CREDENTIALS),
    (cued_names._RELATIVE, cued_names._RELATION_TRIGGERS, RELATIONS),
]


def _spans(matches: object) -> list[tuple[int, int]]:
    return [m.span() for m in matches]  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_same_matches_as_finditer(case: int) -> None:
    pattern, triggers, words = CASES[case]
    texts = _texts(words, case)
    long_body = " ".join(texts)
    hits = 0
    for text in [*texts, long_body]:
        expected = _spans(pattern.finditer(text))
        hits += len(expected)
        assert _spans(finditer_at_words(pattern, text, lower_ascii(text), triggers)) == expected, text
    assert hits > len(words)  # the texts do exercise the pattern


def test_text_with_case_folding_to_ascii_is_scanned_in_full() -> None:
    text = "ſent to Whitfield 4"  # "ſ" matches "s" case-insensitively; ASCII lowering keeps it
    assert _spans(finditer_at_words(facility._WARD, text, lower_ascii(text), facility._WARD_TRIGGERS)) == [(0, 19)]


def test_matches_do_not_overlap() -> None:
    pattern = regex.compile(r"(?<!\p{L})(?i:ab|abab)")
    text = "abab ab"
    assert _spans(finditer_at_words(pattern, text, lower_ascii(text), ("ab",))) == _spans(pattern.finditer(text))


def test_alone_trigger_search_agrees_with_the_word_scan() -> None:
    from masker.detect.spoken import precheck

    rng = random.Random(11)
    triggers = sorted(precheck._ALONE_TRIGGERS)
    glue = ["'", "’", "x", "é", " ", "-", "1", "_", "s", "²", "\n"]
    found = 0
    for _ in range(5000):
        text = "".join(rng.choice([rng.choice(triggers), rng.choice(glue)]) for _ in range(rng.randint(1, 6))).lower()
        in_scan = not set(precheck._SCAN_WORD_RE.findall(text)).isdisjoint(precheck._ALONE_TRIGGERS)
        assert (precheck._ALONE_TRIGGER_RE.search(text) is not None) == in_scan, text
        found += in_scan
    assert 0 < found < 5000


@pytest.mark.parametrize("pattern, words", [
    (r"(?<!\p{L})(?i:per|w/|d/w|spoke\s+to)\s+", ("d/w", "per", "spoke", "w/")),
    (r"hus?b|sons?|tx'?d", ("hub", "husb", "son", "tx'd", "txd")),
    (r"(?:re)?admit|(?:health\s*care\s+)?proxy|M\.D\.|PA-C", ("admit", "health", "m.d.", "pa-c", "proxy", "re")),
    (r"(?m)(?P<verb>sent|go(?:ing)?)\s", ("go", "sent")),
])
def test_leading_words_are_read_from_the_pattern(pattern: str, words: tuple[str, ...]) -> None:
    assert leading_words(pattern) == words


@pytest.mark.parametrize("pattern", [r"to|\p{Lu}\w+", r"[a-z]+ward", r"(?:in)?\s+"])
def test_an_alternative_with_no_literal_start_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        leading_words(pattern)
