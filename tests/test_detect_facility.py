"""Outside facilities right after a transfer cue (masker.detect.recognizers.facility)."""

from __future__ import annotations

import base64
import re
from dataclasses import replace

import pytest

from masker.detect.pipeline import Detector
from masker.detect.recognizers.facility import (
    CUE_CONFIDENCE,
    facility_initials,
    is_generic_facility,
    named_facilities,
    trust_after_movement,
    ward_with_floor,
)
from masker.detect.spans import Span
from masker.policy.load import default_policy_path, load_policy


def initials(text: str) -> list[str]:
    return [text[s:e] for s, e in facility_initials(text)]


@pytest.mark.parametrize("text,value", [
    ("7/23 SEEN AT OSH; REFERRED TO GH.", "GH"),
    ("Pt was med-flighted to BWH for cath", "BWH"),
    ("ADMITTED TO THE NWH FOR CHEST PAIN", "NWH"),
    ("recently d/c'd from SJMC with PNA", "SJMC"),
    ("records requested, seen by WCMC nurse", "WCMC"),
    ("pt rec'd lasix enroute to gh, intubated there", "gh"),  # lower case: hospital-shaped, after the cue
    ("sent to bwh for further eval", "bwh"),
])
def test_initials_after_a_movement_cue_are_a_facility(text: str, value: str) -> None:
    assert initials(text) == [value]


@pytest.mark.parametrize("text,value", [
    ("knows he is in MGH, oriented x3", "MGH"),
    ("CHF clinic at UCH follows her", "UCH"),
    ("old records from the BIDMC", "BIDMC"),
    ("hct 24 at VAMC last week", "VAMC"),
])
def test_hospital_shaped_initials_need_only_a_preposition(text: str, value: str) -> None:
    assert initials(text) == [value]


@pytest.mark.parametrize("text", [
    "LIVES IN OH WITH HER SON",  # a state
    "ABG WNL, IN PH RANGE",
    "SUCTIONED VIA TRACH AT NOON, IN TRACH COLLAR",  # shorthand
    "LOTS OF SECRETIONS IN MUCH OF THE DAY",  # a common word
    "WILL TRY AGAIN TO REACH HIS BROTHER",  # an English word that is also a surname
    "SHEATH PULLED AT 1500 BY TECH",  # a role
])
def test_no_hospital_initials_for_states_shorthand_or_words(text: str) -> None:
    assert initials(text) == []


@pytest.mark.parametrize("text", [
    "TRANSFERRED TO CCU FROM THE ED",  # hospital units
    "SENT TO CT, BACK TO OR AT 1400",
    "PT WENT TO BED AT 2200",  # plain words in an all-caps note
    "GH FOLLOWS HIM",  # no cue before the initials
    "GIVEN TO PT IN AM",  # a preposition with no movement verb
    "transferred to Gh later",  # not written as initials
    "she had a cath at gh in 2019",  # lower case needs the movement cue too
    "transferred to icu, then sent to abc",  # lower case needs a hospital's shape
    "advance diet to mech soft",
])
def test_no_facility_without_the_cue_or_for_units_and_words(text: str) -> None:
    assert initials(text) == []


def test_a_weak_model_organisation_after_a_cue_is_trusted() -> None:
    text = "P: TRANSFER TO PINECREST REHAB. DINNER AT PINECREST REHAB."
    first, second = (Span(m.start(), m.end(), "ORGANIZATION", "ner", "ner", 0.58)
                     for m in re.finditer("PINECREST REHAB", text))
    too_weak = Span(0, 1, "ORGANIZATION", "ner", "ner", 0.3)
    name = Span(0, 1, "NAME", "ner", "ner", 0.58)
    out = trust_after_movement(text, [first, second, too_weak, name])
    assert out[0].confidence == CUE_CONFIDENCE
    assert out[1:] == [second, too_weak, name]  # no cue, below the floor, not a place


class _WeakOrgs:
    """A stand-in model that reports every 'Harborview' as an unsure organisation."""

    provider = "test"

    def detect_batch(self, texts: list[str]) -> list[list[Span]]:
        return [[Span(m.start(), m.end(), "ORGANIZATION", "ner", "ner", 0.6)
                 for m in re.finditer("Harborview", t)] for t in texts]


def test_detector_masks_a_cued_facility_the_model_was_unsure_of() -> None:
    policy = replace(load_policy(default_policy_path(), {"MASKER_KEY_K_HEALTHCARE": base64.b64encode(b"k" * 32).decode()}), passes=("regex", "ner"))
    assert policy.rule("ORGANIZATION").confidence_threshold > 0.6
    detector = Detector(policy, ner=_WeakOrgs())
    text = "Plan to go to Harborview. Harborview called."
    spans = detector.detect(text)
    assert [(s.kind, text[s.start:s.end], s.start) for s in spans] == [
        ("ORGANIZATION", "Harborview", 14)
    ]


@pytest.mark.parametrize("text,value", [
    ("PLAN: TRANSFER TO HARTWELL 12 IN AM", "HARTWELL"),
    ("pt admitted from whitfield 4b overnight", "whitfield"),
    ("Transferred back to Wang 3.", "Wang"),
    # no verb: a preposition is enough for a word no list knows
    ("pt on Hartwell 12", "Hartwell"),
    ("IN RESP DISTRESS ON BRINDLEMOOR 6; CODE CALLED", "BRINDLEMOOR"),
    ("plan: to brindlemoor2 today", "brindlemoor"),
])
def test_a_ward_with_its_floor_after_a_movement_verb_or_a_preposition(text: str, value: str) -> None:
    assert [text[s:e] for s, e in ward_with_floor(text)] == [value]


@pytest.mark.parametrize("text", [
    "switched to dopamine 5 mcg/kg/min",  # a dose, not a floor
    "transferred to floor 4 this am",  # a word for a place, not its name
    "transferred to Hartwell 4 days ago",  # a duration
    "transferred to ICU 3 at 1400",  # a unit
    "seen in Sept 5 by cardiology",  # a date
    "ON VANCO 1 GM Q12H",  # a dose in grams
    "started on hepat 1 pm",  # a time
    "FOLEY TO GD-UO 20-30CC/HR",  # a range
    # without a verb, a word any list knows is no ward
    "pt on levo 5 now",  # a medicine's clipped name
    "i am on ozempic 2 now",  # a medicine
    "stage 2 ulcer on sacrum, now in stage 3",  # an English word
    "remains on combiventQ4",  # not written as a name
])
def test_no_ward_for_doses_dates_units_or_known_words(text: str) -> None:
    assert ward_with_floor(text) == []


@pytest.mark.parametrize("text,value", [
    ("83 y.o. female admitted from Brightwater Adventist for cath", "Brightwater Adventist"),
    ("MedFlight from Greater Pinecrest Med Ctr for w/u", "Greater Pinecrest Med Ctr"),
    ("seen at St. Luke's Hospital last year", "St. Luke's Hospital"),
    ("transferred from the University of Eastmoor Medical Center", "University of Eastmoor Medical Center"),
    ("PT ADMITTED FROM UNIVERSITY OF EASTMOOR MEDICAL YESTERDAY", "UNIVERSITY OF EASTMOOR MEDICAL"),
    ("recieved from university of eastmoor hospital. intubated", "university of eastmoor hospital"),
    ("insulin gtt per U Maryland scale.", "U Maryland"),
    ("PRESENTED TO U OF MD WITH SEPSIS", "U OF MD"),
    ("sister works at U. new york", "U. new york"),
])
def test_facility_names_ending_in_a_facility_word(text: str, value: str) -> None:
    assert [text[s:e] for s, e in named_facilities(text)] == [value]


@pytest.mark.parametrize("text", [
    "Transfer to Rehab when stable", "Await Rehab placement", "TO LAKEVIEW HOSP",
    "son went to university of the west for college",  # a university, but no hospital
    "given 10 U of insulin",  # units
    "insulin 8 U Maryland protocol",  # a number before the "U": units
    "can u maryland folks hear me",  # lower-case "u" is "you"
    "EMU OF MD",  # "U" inside a word
])
def test_no_facility_name_from_plan_words_or_capitals(text: str) -> None:
    assert named_facilities(text) == []


def test_a_model_place_before_a_facility_word_becomes_the_facility() -> None:
    text = "P: TRANSFER TO PINECREST REHAB | MONITOR BS"
    start = text.index("PINECREST")
    [span] = trust_after_movement(text, [Span(start, start + 9, "LOCATION", "ner", "ner", 0.6)])
    assert (text[span.start:span.end], span.kind, span.confidence) == ("PINECREST REHAB", "ORGANIZATION", CUE_CONFIDENCE)


@pytest.mark.parametrize("value,generic", [
    ("nursing home", True),
    ("assisted living facility", True),
    ("THEN NURSING HOMES", True),
    ("rehab/nursing home", True),
    ("sacred heart hospital", False),
    ("Lakeview Hosp", False),
])
def test_a_kind_of_facility_is_not_a_facility_name(value: str, generic: bool) -> None:
    assert is_generic_facility(value) is generic
