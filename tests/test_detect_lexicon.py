"""The common-word list that tells an ordinary word from a name the model guessed."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import pytest

from masker.detect.vocab import lexicon
from masker.detect.ner import NerPass, default_model_dir
from masker.detect.ner import filters as ner_module
from masker.detect.pipeline import Detector
from masker.detect.recognizers.facility import facility_initials
from masker.detect.recognizers.staff import staff_names
from masker.detect.vocab.lexicon import (
    WORDS_FILE,
    common_words,
    drug_words,
    is_drug_prefix,
    is_english_word,
    is_misspelling,
    name_words,
    only_common_words,
)
from masker.policy.load import default_policy_path, load_policy


def test_the_word_list_ships_with_the_package_and_is_lowercase() -> None:
    words = common_words()
    assert WORDS_FILE.is_file() and len(words) > 50_000
    assert all(w == w.lower() and w.isalpha() for w in list(words)[:2000])


@pytest.mark.parametrize("value", ["AWAKE", "lethargic", "Anasarca", "SHEATH", "S. FAMILY", "pul edema", "Nausea",
                                   "we're", "i'm", "they've", "don't", "won’t", "it's"])  # contractions by their stem
def test_ordinary_words_are_common(value: str) -> None:
    assert only_common_words(value)


@pytest.mark.parametrize(
    "value",
    [
        "Rose",  # a first name that is also a word
        "BILL",
        "Hunter",  # a frequent surname
        "Baltimore",  # a place
        "J. Smith",
        "Katrine",  # a Danish first name (Faker's lists)
        "Okonkwo",  # not an English word at all
        "Dr. Alert",  # a title is never a common word
        "B.",  # an initial alone says nothing either way
        "",
        "awake Okonkwo",  # one unknown word keeps the span
        "o'neill",  # an apostrophe in a name, no contraction
        "Rosa's",
    ],
)
def test_names_places_titles_and_unknown_words_are_not_common(value: str) -> None:
    assert not only_common_words(value)


def test_words_that_are_also_names_are_english_but_not_common() -> None:
    assert "reach" in name_words() and "reach" not in common_words()
    assert is_english_word("REACH") and is_english_word("bedside")
    assert not is_english_word("GH") and not is_english_word("Okonkwo") and not is_english_word("a")


@pytest.mark.parametrize(
    ("word", "misspelt"),
    [
        ("duaghter", True),  # two letters swapped
        ("ADMSSION", True),  # a letter dropped, in capitals
        ("tommorrow", True),  # a letter added
        ("radialolgy", False),  # two slips away
        ("Duaghter", False),  # title case: taken as a name ("Marchand" is no slip either)
        ("turgeon", False),  # a changed letter is no slip: a surname, not "surgeon"
        ("ANDREWS", False),  # an English word that is also a name
        ("florian", False),  # a known name one slip from a word ("floria" + n)
        ("socail", False),  # too short to tell from a name
        ("Okonkwo", False),
    ],
)
def test_a_long_one_case_word_one_slip_from_a_common_word_is_a_misspelling(word: str, misspelt: bool) -> None:
    assert is_misspelling(word) is misspelt


def test_medicine_names_ship_without_the_names_of_people_or_places() -> None:
    drugs = drug_words()
    assert {"prednisone", "crestor", "amiodarone"} <= drugs
    assert "allegra" not in drugs and "boston" not in drugs  # a first name, a city


@pytest.mark.parametrize("word,clipped", [
    ("amio", True), ("LEVO", True), ("vanco", True), ("Ceftriax", True),
    ("amiodarone", False),  # the whole name, not a clipping of a longer one
    ("brindlemoor", False), ("hartwell", False),
])
def test_a_clipped_medicine_name_is_the_start_of_a_longer_one(word: str, clipped: bool) -> None:
    assert is_drug_prefix(word) is clipped


def test_staff_rule_skips_an_initial_before_an_ordinary_word() -> None:
    text = "RR 20-30'S. FAMILY MADE AWARE OF PLAN. Seen by Q. Haverford RN."
    found = [text[s:e] for s, e in staff_names(text)]
    assert found == ["Q. Haverford"]


def test_facility_rule_skips_an_ordinary_word_after_a_transfer_cue() -> None:
    text = "SPECIMENS SENT FROM THE BILE DUCT. PT TRANSFERRED TO WBH TODAY."
    assert [text[s:e] for s, e in facility_initials(text)] == ["WBH"]


MODEL = default_model_dir()


@pytest.mark.skipif(MODEL is None, reason="no shipped NER model")
def test_ner_name_made_of_common_words_is_dropped_but_a_titled_one_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    ner = NerPass(MODEL)
    text = "PATIENT AWAKE, ALERT, APPEARS RESTLESS. CALLED MRS. AWAKE AT HOME."
    monkeypatch.setattr(ner_module, "_only_ordinary_words", lambda value: False)
    unfiltered = {text[s.start : s.end] for s in ner.detect_batch([text])[0] if s.kind == "NAME"}
    monkeypatch.undo()
    filtered = {(s.start, text[s.start : s.end]) for s in ner.detect_batch([text])[0] if s.kind == "NAME"}
    assert "AWAKE" in unfiltered  # the model alone calls the word a name
    assert (8, "AWAKE") not in filtered
    assert any(value == "AWAKE" and start > 40 for start, value in filtered)  # "MRS. AWAKE" stays


@pytest.mark.skipif(MODEL is None, reason="no shipped NER model")
def test_a_common_word_given_as_a_name_is_kept() -> None:
    text = "hi my name is haze and i am calling about a refill"
    spans = NerPass(MODEL).detect_batch([text])[0]
    assert only_common_words("haze")
    assert ("NAME", "haze") in {(s.kind, text[s.start : s.end]) for s in spans}


@pytest.mark.parametrize(
    ("text", "span", "names", "dropped"),
    [
        ("PT AWAKE, ALERT", (3, 8), [], True),
        ("Seen by Mrs. Haze today", (13, 17), [], False),  # a title before it
        ("Name: haze", (6, 10), [], False),  # a name cue before it
        ("NEURO: MS WORSENING", (10, 19), [], True),  # "MS" here is mental status
        ("Seen by Ms Haze", (11, 15), [], False),  # ... "Ms" a title
        ("Ngozi S Haze", (8, 12), [(0, 5)], False),  # another name beside it
        ("Ngozi went out in the haze", (22, 26), [(0, 5)], True),  # a name far away is no help
    ],
)
def test_ner_common_word_filter_guards(text: str, span: tuple[int, int], names: list, dropped: bool) -> None:
    assert ner_module._ordinary_words(text, *span, names) is dropped


@pytest.mark.parametrize(
    ("text", "value", "dropped"),
    [
        ("PT SENT TO CATH LAB. TRIPLE LUMEN PLACED.", "TRIPLE LUMEN", True),  # all-caps note: words decide
        ("body released to the morgue at 0300", "morgue", True),
        ("seen at UCLA clinic last week", "UCLA", False),  # an acronym in mixed-case text
        ("went to Cedars-Sinai for the scan", "Cedars-Sinai", False),  # title case
        ("transferred to sacred heart hospital", "sacred heart hospital", False),  # a facility word
        ("transferred from sacred heart hosp today", "sacred heart", False),  # ... right after it
        ("FAMILY FROM GLENBROOK AT BEDSIDE", "GLENBROOK", False),  # not a common word
        ("pt admitted to the CSRU s/p thoracotomy", "the CSRU s/p thoracotomy", True),  # shorthand is no acronym
        ("cx sent from the RLE ulcer", "the RLE ulcer", True),
        ("asked about socail work", "socail work", False),  # a short slip is not guessed at
        ("discharged back to assisted living facility with hospice", "assisted living facility", True),  # a kind
        ("my pharmacy is out of Crestor", "Crestor", True),  # a medicine, title case or not
        ("my pharmacy is out of Crestor and Zumbrota", "Crestor and Zumbrota", False),
        ("TRANSFERRED FROM NURSING HOME", "NURSING HOME", True),
        ("transferred from sacred heart hosp today", "sacred heart hosp", False),  # a name
        ("discussed with family about plans tommorrow", "plans tommorrow", True),  # a long one is
    ],
)
def test_ner_place_or_organisation_of_plain_words(text: str, value: str, dropped: bool) -> None:
    start = text.index(value)
    assert ner_module._plain_words(text, start, start + len(value)) is dropped


@pytest.mark.parametrize(
    ("text", "value", "dropped"),
    [
        ("Neuro: He was somnolent this am, step duaghter called", "duaghter", True),
        ("AMIO CONT AT .5", "AMIO CONT", False),  # "AMIO" is in no list: kept
        ("CV- HR 80S. TODAY- NEURO CONSULTED", "TODAY- NEURO", True),
        ("What's your last name? Turgeon", "Turgeon", False),
    ],
)
def test_ner_name_of_misspelt_words_or_shorthand(text: str, value: str, dropped: bool) -> None:
    start = text.index(value)
    assert ner_module._ordinary_words(text, start, start + len(value), []) is dropped


@pytest.mark.skipif(MODEL is None, reason="no shipped NER model")
def test_ner_drops_a_medicine_the_model_takes_for_an_organisation(monkeypatch: pytest.MonkeyPatch) -> None:
    ner = NerPass(MODEL)
    text = "my pharmacy is out of Crestor, can you call Dr. Haverford?"
    monkeypatch.setattr(ner_module, "_plain_words", lambda text, start, end: False)
    unfiltered = {(s.kind, text[s.start : s.end]) for s in ner.detect_batch([text])[0]}
    monkeypatch.undo()
    filtered = {text[s.start : s.end] for s in ner.detect_batch([text])[0]}
    assert ("ORGANIZATION", "Crestor") in unfiltered  # the model alone calls the medicine a company
    assert "Crestor" not in filtered and "Haverford" in filtered


def _regex_only_policy():
    keys = {"MASKER_KEY_K_HEALTHCARE": base64.b64encode(b"k" * 32).decode()}
    return replace(load_policy(default_policy_path(), keys), passes=("regex",))


def test_the_detector_reads_every_word_list_when_built() -> None:
    lexicon._read_words.cache_clear()
    lexicon._sorted_drug_words.cache_clear()
    Detector(_regex_only_policy())
    assert lexicon._read_words.cache_info().currsize == 4
    assert lexicon._sorted_drug_words.cache_info().currsize == 1


def test_a_missing_word_list_stops_the_detector_at_start_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    lexicon._read_words.cache_clear()
    lexicon._sorted_drug_words.cache_clear()
    monkeypatch.setattr(lexicon, "DRUG_WORDS_FILE", tmp_path / "missing.txt")
    try:
        with pytest.raises(FileNotFoundError):
            Detector(_regex_only_policy())
    finally:
        lexicon._read_words.cache_clear()
        lexicon._sorted_drug_words.cache_clear()
