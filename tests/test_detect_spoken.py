"""Spoken-form pass: number words, spelled letters, spoken emails and dates."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masker.detect.spans import Span
from masker.detect.spoken import KINDS, SpokenPass, normalize
from masker.detect.spoken.view import normalize as normalize_direct
from masker.kinds import ALL_KINDS
from masker.policy.model import EntityRule, Policy

PASS = SpokenPass()


def found(text: str, pass_: SpokenPass = PASS) -> list[tuple[str, str]]:
    """(covered text, kind) for every span; asserting on these never prints them on success."""
    return [(text[s.start:s.end], s.kind) for s in pass_.detect(text)]


def make_policy(**rules: EntityRule) -> Policy:
    return Policy(
        name="t", version=1, description="", kid="K_T",
        tokenization="vault-deterministic", passes=("regex",), entities=dict(rules),
    )


# -- normalizer ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "view"),
    [
        ("one two three forty five sixty seven eighty nine", "1 2 3 45 67 89"),
        ("five ten, five five five, one two one two", "5 10, 5 5 5, 1 2 1 2"),
        ("double five triple two", "55 222"),
        ("double oh seven", "00 7"),
        ("nine oh two one oh", "9 0 2 1 0"),
        ("nineteen eighty", "1980"),
        ("nineteen oh five", "1905"),
        ("two thousand five", "2005"),
        ("two thousand and twenty three", "2023"),
        ("twenty twenty four", "2024"),
        ("twelve hundred main street", "1200 main street"),
        ("one hundred and twenty", "120"),
        ("one hundred five milligrams", "105 milligrams"),
        ("eight hundred five five five", "800 5 5 5"),
        ("forty-five minutes", "45 minutes"),
        ("twelve twelve nineteen seventy", "12 12 1970"),
        ("Forty Five", "45"),
        ("5 5 5 one two", "5 5 5 1 2"),
    ],
)
def test_normalize_view(text: str, view: str) -> None:
    assert normalize(text).text == view


@pytest.mark.parametrize("text", ["Oh, I see.", "t o m", "no numbers at all", "oh well", "a hundred times"])
def test_normalize_leaves_non_numbers(text: str) -> None:
    v = normalize(text)
    assert v.text == text
    assert not v.changed


def test_normalize_is_reexported() -> None:
    assert normalize is normalize_direct


def test_offsets_cover_the_words() -> None:
    text = "my social is one two three forty five sixty seven eighty nine."
    v = normalize(text)
    a = v.text.index("45")
    assert text[slice(*v.to_original(a, a + 2))] == "forty five"
    assert text[slice(*v.to_original(a + 1, a + 2))] == "forty five"  # a part of a number maps to all of it
    a = v.text.index("1 2 3")
    s, e = v.to_original(a, len(v.text) - 1)
    assert text[s:e] == "one two three forty five sixty seven eighty nine"
    assert v.to_original(0, 2) == (0, 2)  # copied text maps one to one
    assert v.to_original(len(v.text), len(v.text)) == (len(text), len(text))
    assert v.has_spoken(a, a + 1) and not v.has_spoken(0, a)
    with pytest.raises(ValueError):
        v.to_original(0, len(v.text) + 1)


_VOCAB = [
    "one", "two", "three", "oh", "o", "ten", "twelve", "nineteen", "forty", "five", "eighty",
    "hundred", "thousand", "and", "double", "triple", "a", "b", "x", "word", "Five", "NINE",
    "7", "42", ",", "-", ".", "'", "’", "é", "ß", "İ", " ", "  ", "\n", "\t", "_", "@", "dot",
]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(st.sampled_from(_VOCAB), max_size=40).map(" ".join),
                 st.lists(st.sampled_from(_VOCAB), max_size=40).map("".join),
                 st.text(max_size=60)))
def test_offset_map_is_monotonic_and_in_range(text: str) -> None:
    v = normalize(text)
    n = len(v.text)
    prev_s = prev_e = 0
    for i in range(n):
        s, e = v.to_original(i, i + 1)
        assert 0 <= s < e <= len(text)
        assert s >= prev_s and e >= prev_e
        if not v.has_spoken(i, i + 1):
            assert e == s + 1 and text[s] == v.text[i]
        prev_s, prev_e = s, e
    for a in range(0, n + 1, 3):
        for b in range(a, n + 1, 4):
            s, e = v.to_original(a, b)
            assert 0 <= s <= e <= len(text)
    if n:
        assert v.to_original(0, n) == (0, len(text))  # the view keeps every character


# -- must be found ------------------------------------------------------------


CARD = "four one one one one one one one one one one one one one one one"


@pytest.mark.parametrize(
    ("text", "span", "kind"),
    [
        ("my social is one two three forty five sixty seven eighty nine",
         "one two three forty five sixty seven eighty nine", "SSN"),
        ("call me back at five ten, five five five, one two one two",
         "five ten, five five five, one two one two", "PHONE"),
        ("zip nine four one one zero", "nine four one one zero", "ZIP"),
        ("my date of birth is january fifth nineteen eighty", "january fifth nineteen eighty", "DOB"),
        ("member id is x y z one two three four five six", "x y z one two three four five six", "HEALTH_PLAN"),
        ("card number " + CARD, CARD, "CREDIT_CARD"),
        ("call me at 5 5 5 one two one two", "5 5 5 one two one two", "PHONE"),
        ("my number is double five five, one two one two", "double five five, one two one two", "PHONE"),
        ("the fax is two one two five five five one two one two", "two one two five five five one two one two", "FAX"),
        ("my mrn is double four seven oh oh nine one", "double four seven oh oh nine one", "MRN"),
        ("account number one two three four five six seven", "one two three four five six seven", "ACCOUNT"),
        ("it's one eight hundred five five five one two one two",
         "one eight hundred five five five one two one two", "PHONE"),
        ("phone is five five five uh one two one two", "five five five uh one two one two", "PHONE"),
        ("my zip is nine four one one zero dash one two three four",
         "nine four one one zero dash one two three four", "ZIP"),
        ("the last four of my social are six seven eight nine", "six seven eight nine", "SSN"),
        ("I was born twelve twelve nineteen seventy", "twelve twelve nineteen seventy", "DOB"),
        ("birthday is oh one one five nineteen eighty", "oh one one five nineteen eighty", "DOB"),
        ("my birthday is the twenty first of june", "twenty first of june", "DOB"),
        ("born march third eighty two", "march third eighty two", "DOB"),
        ("the visit was on the fifth of january nineteen eighty", "fifth of january nineteen eighty", "DATE"),
        ("admitted january fifth two thousand five", "january fifth two thousand five", "DATE"),
        ("my name is raghu, spelled r a g h u", "r a g h u", "NAME"),
        ("last name, that's b e double l", "b e double l", "NAME"),
        ("It's Kwame here, K W A M E, calling back", "K W A M E", "NAME"),  # spells the word said before it
        ("o c o n n o r, that's my surname, oconnor", "o c o n n o r", "NAME"),
        ("g i double l, Gill", "g i double l", "NAME"),
        ("my license number is d one two three four five six seven", "d one two three four five six seven", "LICENSE"),
        ("my email is tom dot becker at gmail dot com", "tom dot becker at gmail dot com", "EMAIL"),
        ("it's t o m one two at yahoo dot com", "t o m one two at yahoo dot com", "EMAIL"),
        ("j o h n underscore smith at outlook dot com please", "j o h n underscore smith at outlook dot com", "EMAIL"),
        ("email me at john dot doe at gmail dot com", "john dot doe at gmail dot com", "EMAIL"),
        ("I live at twelve hundred main street apartment four b",
         "twelve hundred main street apartment four b", "ADDRESS"),
        ("she is ninety two years old", "ninety two", "AGE"),
        ("My Social Is One Two Three Forty Five Sixty Seven Eighty Nine",
         "One Two Three Forty Five Sixty Seven Eighty Nine", "SSN"),
        ("CALL ME AT FIVE TEN FIVE FIVE FIVE ONE TWO ONE TWO", "FIVE TEN FIVE FIVE FIVE ONE TWO ONE TWO", "PHONE"),
        ("My date of birth is January Fifth, Nineteen Eighty.", "January Fifth, Nineteen Eighty", "DOB"),
    ],
)
def test_found(text: str, span: str, kind: str) -> None:
    assert (span, kind) in found(text)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("my social security number is one two three forty five sixty seven eighty nine", "SSN"),
        ("routing number zero two one zero zero zero zero two one", "ACCOUNT"),
        ("my insurance card number is one two three four five six seven", "HEALTH_PLAN"),
        ("my number's five five five one two one two", "PHONE"),
    ],
)
def test_specific_cue_beats_the_generic_number_cue(text: str, kind: str) -> None:
    assert [s.kind for s in PASS.detect(text)] == [kind]
    assert PASS.detect(text)[0].confidence >= 0.85


def test_two_entities_in_one_utterance() -> None:
    text = "my social is one two three forty five sixty seven eighty nine and my zip is nine four one one zero"
    assert found(text) == [
        ("one two three forty five sixty seven eighty nine", "SSN"),
        ("nine four one one zero", "ZIP"),
    ]


def test_chain_is_cut_at_a_pause_when_the_cue_fixes_the_length() -> None:
    text = "zip nine four one one zero, one two three main street"
    assert found(text) == [("nine four one one zero", "ZIP"), ("one two three main street", "ADDRESS")]


def test_misheard_length_still_masked_under_the_cue() -> None:
    text = "my social is one two three four five six seven eight"  # a digit short
    [span] = PASS.detect(text)
    assert span.kind == "SSN" and 0.6 <= span.confidence < 0.9


def test_uncued_shapes() -> None:
    assert found("it's five one zero five five five one two one two") == [
        ("five one zero five five five one two one two", "PHONE")
    ]
    assert found(CARD) == [(CARD, "CREDIT_CARD")]


def test_span_fields() -> None:
    text = "zip nine four one one zero"
    [span] = PASS.detect(text)
    assert isinstance(span, Span)
    assert (span.start, span.end) == (4, len(text))
    assert span.pass_name == "spoken" and span.detector == "spoken_zip"
    assert 0.0 <= span.confidence <= 1.0


def test_cue_raises_confidence() -> None:
    bare = PASS.detect("five five five one two one two")
    cued = PASS.detect("call me at five five five one two one two")
    assert bare[0].kind == cued[0].kind == "PHONE"
    assert cued[0].confidence > bare[0].confidence


# -- must not be flagged ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "take two tablets twice a day",
        "I waited forty five minutes",
        "one hundred milligrams",
        "press one for billing",
        "blood pressure one forty over ninety",
        "I have two kids and one dog",
        "see you at three thirty",
        "rate it one to ten",
        "Take Two Tablets Twice A Day",
        "five blocks down the street",
        "may I have one more",
        "we march forward two steps",
        "I was born in nineteen eighty",
        "Oh, I see, two of them",
        "first of all, I need a refill",
        "email me at your convenience",
        "the u s a",
        "the i c u team moved him to the step down unit",  # spells no word said nearby
        "vitamin d three",
        "count with me: one two three four five six seven eight nine ten",
        "ten nine eight seven six five four three two one",
        "it was ninety degrees",
        "my social is 123-45-6789",  # written digits: the regex pass's job
        "call 555 123 4567",
        "tom@gmail.com",
        "January 5, 1980",
        "ABG 7.41/37/109/0/24 O2 sats 95-98%",  # "O2" is oxygen, not a spoken zero
        "MIN VERBALIZATION T/O RX",  # letters joined by "/" are shorthand, not spelling
        "pt aware of events d/t prolonged stay, s/p CABG, c/o pain",
        "",
    ],
)
def test_not_flagged(text: str) -> None:
    assert PASS.detect(text) == []


# -- policy -------------------------------------------------------------------


def test_policy_context_adds_cue_words() -> None:
    text = "my kaiser number is one two three four five six"
    assert all(kind != "HEALTH_PLAN" for _, kind in found(text))
    pass_ = SpokenPass(make_policy(HEALTH_PLAN=EntityRule("HEALTH_PLAN", context=("kaiser number",))))
    assert found(text, pass_) == [("one two three four five six", "HEALTH_PLAN")]


def test_kinds_the_policy_keeps_from_this_pass_are_not_reported() -> None:
    text = "my social is one two three forty five sixty seven eighty nine"
    pass_ = SpokenPass(make_policy(SSN=EntityRule("SSN", regex=False)))
    assert pass_.detect(text) == []


def test_kinds_are_known() -> None:
    assert KINDS <= ALL_KINDS
    texts = [
        "my social is one two three forty five sixty seven eighty nine",
        "member id is x y z one two three four five six",
        "my email is tom dot becker at gmail dot com",
        "born march third eighty two",
    ]
    assert {s.kind for t in texts for s in PASS.detect(t)} <= KINDS


# -- long texts ---------------------------------------------------------------------


def test_linear_on_long_transcripts() -> None:
    chunk = (
        "caller: yeah my number is five five five one two one two and I waited forty five minutes, "
        "spelled r a g h u, email tom dot becker at gmail dot com, born january fifth nineteen eighty. "
    )
    text = chunk * 400  # ~76 KB: every repetition found, none merged across repetitions
    spans = PASS.detect(text)
    assert len(spans) == 4 * 400


def test_texts_without_spoken_forms_give_nothing() -> None:
    text = "Patient reports mild headache since Tuesday; advised rest and fluids. " * 2000
    assert PASS.detect(text) == []


# -- the pre-check ------------------------------------------------------------------

_VOCAB = (
    # number words, digits, zero-ish, repeats
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "oh", "o",
    "ten", "twelve", "nineteen", "twenty", "forty", "ninety", "hundred", "thousand", "double",
    "5", "55", "555", "1234", "0",
    # separators and fillers inside chains
    ",", "-", ".", "/", "uh", "um", "dash",
    # cues, dates, ages, streets, emails
    "my", "social", "phone", "number", "member", "id", "mrn", "zip", "born", "dob", "age", "aged",
    "years", "old", "yo", "january", "march", "may", "fifth", "third", "of", "the",
    "main", "elm", "street", "st", "avenue", "apartment", "unit", "b",
    "tom", "becker", "at", "gmail", "dot", "com", "spelled", "r", "a", "g", "h", "u", "I'm",
    # plain words
    "days", "pills", "left", "and", "I", "have", "about", "patient", "doses", "mg",
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(_VOCAB), min_size=1, max_size=18))
def test_pre_check_never_skips_a_text_with_findings(words: list[str]) -> None:
    """Skipping the walk must be invisible: any text the pre-check skips has no spoken span."""
    from masker.detect.spoken.cues import Cues as _Cues
    from masker.detect.spoken.precheck import worth_scanning as _worth_scanning
    from masker.detect.spoken.scan import Scan as _Scan
    from masker.detect.spoken.view import tokenize_items

    text = " ".join(words)
    if not _worth_scanning(text):
        assert _Scan(tokenize_items(text), _Cues(None)).run() == []


def test_pre_check_skips_everyday_text_with_a_lone_number_word() -> None:
    from masker.detect.spoken.precheck import worth_scanning as _worth_scanning

    assert not _worth_scanning("I'm out of pills in three days, can you call the pharmacy? Ref 555-123-4567.")
    assert _worth_scanning("my member id is three 4 five six")
    assert _worth_scanning("I live at three main street")
