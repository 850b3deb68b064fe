"""Regex pass: per-detector positives and negatives (values are synthetic)."""

from __future__ import annotations

import pytest

from masker.detect.merge import merge_spans
from masker.detect.regex import KINDS, RegexPass
from masker.kinds import ALL_KINDS
from masker.policy.model import EntityRule, Policy

RP = RegexPass()
THRESHOLD = 0.6  # the shipped default confidence threshold


def found(text: str, rp: RegexPass = RP) -> list[tuple[str, str]]:
    """(kind, value) after thresholding and merging, as the pipeline does."""
    spans = [s for s in rp.detect(text) if s.confidence >= THRESHOLD]
    return [(s.kind, text[s.start : s.end]) for s in merge_spans(spans, text=text)]


def kinds_of(text: str) -> set[str]:
    return {k for k, _ in found(text)}


def test_kinds_are_known() -> None:
    assert KINDS <= ALL_KINDS


def test_spans_carry_offsets_pass_detector_confidence() -> None:
    text = "SSN 123-45-6789"
    (span,) = [s for s in RP.detect(text) if s.kind == "SSN"]
    assert (span.start, span.end, span.pass_name, span.detector) == (4, 15, "regex", "ssn")
    assert 0.0 <= span.confidence <= 1.0


@pytest.mark.parametrize(
    "text,value",
    [
        ("call (555) 234-5678 today", "(555) 234-5678"),
        ("reach me on 555.234.5678", "555.234.5678"),
        ("number 555 234 5678 ok", "555 234 5678"),
        ("dial +1 555-234-5678 now", "+1 555-234-5678"),
        ("phone 5552345678", "5552345678"),
        ("UK office +44 20 7946 0958.", "+44 20 7946 0958"),
        ("E.164 +14155552671 here", "+14155552671"),
        ("tel: 020 7946 0958", "020 7946 0958"),
        ("desk 555-234-5678 x1234", "555-234-5678 x1234"),
    ],
)
def test_phone_positive(text: str, value: str) -> None:
    assert ("PHONE", value) in found(text)


def test_bare_ten_digits_need_a_cue() -> None:
    assert "PHONE" not in kinds_of("lot 5552345678 shipped")


def test_fax_by_cue_and_nearest_cue_wins() -> None:
    assert found("Phone: 555-234-5678, Fax: 555-234-5679") == [
        ("PHONE", "555-234-5678"),
        ("FAX", "555-234-5679"),
    ]


def test_email_and_url() -> None:
    text = "mail Jane.Doe+x@mail.example.org or see https://portal.example.com/p?id=7. or www.example.net"
    out = found(text)
    assert ("EMAIL", "Jane.Doe+x@mail.example.org") in out
    assert ("URL", "https://portal.example.com/p?id=7") in out
    assert ("URL", "www.example.net") in out


@pytest.mark.parametrize("text", ["SSN 123-45-6789", "ss# 123 45 6789", "social security number 123456789"])
def test_ssn_positive(text: str) -> None:
    assert kinds_of(text) == {"SSN"}


@pytest.mark.parametrize("value", ["000-45-6789", "666-45-6789", "900-45-6789", "123-00-6789", "123-45-0000"])
def test_ssa_invalid_numbers_are_still_masked(value: str) -> None:
    # After an SSN cue: an SSN (ITINs start with 9; test data breaks the ranges) ...
    (span,) = [s for s in RP.detect(f"SSN {value}") if s.kind == "SSN"]
    assert THRESHOLD <= span.confidence < 0.98
    # ... and a dash-formatted 3-2-4 number without any cue is a generic identifier.
    assert found(f"the number {value} was given") == [("MRN", value)]
    assert found(f"the number {value.replace('-', ' ')} was given") == []


def test_valid_ssn_without_cue_and_ssn_shape_after_other_id_cue() -> None:
    assert found("on file: 123-45-6789.") == [("SSN", "123-45-6789")]
    # The nearest cue names the value: a record number written 3-2-4, an NPI-valid MRN.
    assert found("SSN on file, MRN 123-45-6789") == [("MRN", "123-45-6789")]
    assert found("MRN 1234567893") == [("MRN", "1234567893")]
    assert found("NPI 1234567893") == [("NPI", "1234567893")]


def test_nine_bare_digits_need_an_ssn_cue() -> None:
    assert "SSN" not in kinds_of("batch 123456789 arrived")


def test_zip_needs_context() -> None:
    assert ("ZIP", "02139") in found("Cambridge, MA 02139")
    assert ("ZIP", "02139-4307") in found("Cambridge, Massachusetts 02139-4307")
    assert ("ZIP", "94110") in found("zip code 94110")
    assert found("room 12345") == []
    assert found("we counted 12345 cells") == []


@pytest.mark.parametrize(
    "text,value",
    [
        ("seen 01/05/1980.", "01/05/1980"),
        ("seen 1-5-80.", "1-5-80"),
        ("at 1980-01-05T10:30:00Z", "1980-01-05T10:30:00Z"),
        ("on Jan 5, 1980 she", "Jan 5, 1980"),
        ("on January 5th 1980 she", "January 5th 1980"),
        ("on 5 January 1980 she", "5 January 1980"),
        ("since the 5th of January.", "5th of January"),
        ("ADMITTED 03-JAN-2021", "03-JAN-2021"),
        ("returning march 3rd twenty", "march 3rd"),
    ],
)
def test_date_positive(text: str, value: str) -> None:
    assert ("DATE", value) in found(text)


@pytest.mark.parametrize("text", [
    "meet at 10:30", "BP 140/90", "take 2 tablets", "ratio 13/45/2020x", "v 1.2.3",
    "on for ~3 1/2 hours",  # a fraction after a whole number
    "currently on 10/5/50%. Tolerating",  # pressures and FiO2
    "PLACED ON 600X12/5/65%",  # rate x pressures
    "ABG 7.35/66/55 ON 10/5 BIPAP",  # a ventilator mode right after
])
def test_not_dates(text: str) -> None:
    assert "DATE" not in kinds_of(text)


def test_dob_is_a_date_after_a_birth_cue_only() -> None:
    out = found("DOB: 02/03/1950, admitted 04/05/2021; born on March 3, 1950")
    assert out == [("DOB", "02/03/1950"), ("DATE", "04/05/2021"), ("DOB", "March 3, 1950")]


def test_age_over_89_only() -> None:
    assert found("a 92-year-old man, age 95, 91 y/o") == [("AGE", "92"), ("AGE", "95"), ("AGE", "91")]
    assert found("a 45-year-old, age 89, page 95") == []


def test_mrn_by_cue_and_tenant_pattern() -> None:
    assert ("MRN", "00123456") in found("MRN: 00123456")
    assert ("MRN", "A-77812") in found("medical record number A-77812")
    policy = Policy(
        name="t", version=1, description="", kid="K", tokenization="vault-deterministic",
        passes=("regex",), entities={"MRN": EntityRule("MRN", patterns=(r"\bHX\d{6}\b",), context=("chart ref",))},
    )
    rp = RegexPass(policy)
    spans = [s for s in rp.detect("note HX123456") if s.detector == "tenant_pattern"]
    assert [(s.kind, s.start, s.end) for s in spans] == [("MRN", 5, 13)]
    # A policy's extra cue word drives the cue-value detector too.
    assert ("MRN", "Q12345") in found("chart ref Q12345", rp)


def test_account_and_routing() -> None:
    assert ("ACCOUNT", "12345678") in found("account number 12345678")
    assert ("ACCOUNT", "021000021") in found("routing 021000021")
    assert found("routing 021000022") == []  # bad ABA check digit


def test_card_luhn_and_grouping() -> None:
    assert found("card 4111 1111 1111 1111") == [("CREDIT_CARD", "4111 1111 1111 1111")]
    assert found("4111-1111-1111-1111") == [("CREDIT_CARD", "4111-1111-1111-1111")]
    assert found("card 4111 1111 1111 1112") == []  # Luhn fails: not a card
    # The trailing group is not glued onto the card.
    assert ("CREDIT_CARD", "4111 1111 1111 1111") in found("4111 1111 1111 1111 1234")
    # SSN-shaped groups never form a card.
    assert "CREDIT_CARD" not in kinds_of("000-12-3456 666-12-3456 900-12-3456")


def test_vin_check_digit() -> None:
    assert found("car 1HGCM82633A004352") == [("VIN", "1HGCM82633A004352")]
    assert found("car 1HGCM82643A004352") == []


def test_network_identifiers() -> None:
    out = found("hosts 192.168.1.10, 2001:db8:85a3::8a2e:370:7334 and 00:1A:2B:3C:4D:5E")
    assert out == [
        ("IP_ADDRESS", "192.168.1.10"),
        ("IP_ADDRESS", "2001:db8:85a3::8a2e:370:7334"),
        ("MAC_ADDRESS", "00:1A:2B:3C:4D:5E"),
    ]
    assert found("at 10:30:45 and 999.1.1.1 and 1.2.3.4.5") == []
    # A version number that is a valid IPv4 is reported only weakly.
    assert found("version 1.2.3.4") == []


def test_cue_driven_identifiers() -> None:
    text = (
        "serial number SN-4471-AB; IMEI 490154203237518; member id XYZ123456789; "
        "Medicare 1EG4-TE5-MK73; driver's license D1234567; DEA AB1234563; license plate 7ABC123; NPI 1234567893"
    )
    out = found(text)
    for pair in [
        ("DEVICE", "SN-4471-AB"),
        ("HEALTH_PLAN", "XYZ123456789"),
        ("HEALTH_PLAN", "1EG4-TE5-MK73"),
        ("LICENSE", "D1234567"),
        ("LICENSE", "AB1234563"),
        ("VEHICLE", "7ABC123"),
        ("NPI", "1234567893"),
    ]:
        assert pair in out, pair[0]
    assert ("DEVICE", "490154203237518") in out  # the IMEI passes Luhn but is not a card


def test_cues_are_whole_words() -> None:
    assert found("public 12345678") == []
    assert found("lic 12345678") == [("LICENSE", "12345678")]
    assert found("the mrn-free note 2 tablets") == []


def test_street_addresses() -> None:
    out = found("lives at 123 Main St Apt 4B, moved from 42 W 42nd Street; 77 elm street; P.O. Box 123")
    assert out == [
        ("ADDRESS", "123 Main St Apt 4B"),
        ("ADDRESS", "42 W 42nd Street"),
        ("ADDRESS", "77 elm street"),
        ("ADDRESS", "P.O. Box 123"),
    ]
    assert found("seen 3 times by Dr Smith") == [("NAME", "Smith")]  # "3 times by Dr" is no street
    assert found("SEEN 3 TIMES BY DR SMITH") == []


def test_case_insensitive_where_it_makes_sense() -> None:
    assert found("PT DOB 01/05/1980, MRN 00123456") == [("DOB", "01/05/1980"), ("MRN", "00123456")]
    assert found("his date of birth is january fifth or jan 5 1980") == [("DOB", "jan 5 1980")]


def test_negative_cues_lower_confidence() -> None:
    assert found("order # 555-2345") == []
    assert ("PHONE", "555-2345") in found("call 555-2345")


def test_text_without_digits_is_cheap_and_clean() -> None:
    assert found("Patient reports mild chest pain, no fever, plans follow-up with cardiology.") == []
    assert RP.detect("") == []


@pytest.mark.parametrize(
    "text,kind,value",
    [
        ("insurance is QB-773312, copay due", "HEALTH_PLAN", "QB-773312"),
        ("ins plan #QT-4417082", "HEALTH_PLAN", "QT-4417082"),
        ("member ZK55102938 called", "HEALTH_PLAN", "ZK55102938"),
        ("her chart: RM-220931", "MRN", "RM-220931"),
        ("claim # CL-8812093 denied", "ACCOUNT", "CL-8812093"),
        ("Staff ID: QZ4821", "MRN", "QZ4821"),
        ("ID: 48213 on the wristband", "MRN", "48213"),
        ("ref code QA-4821 attached", "MRN", "QA-4821"),
        ("hbn 771-203-114 on the card", "HEALTH_PLAN", "771-203-114"),
    ],
)
def test_identifiers_typed_by_nearest_cue(text: str, kind: str, value: str) -> None:
    assert (kind, value) in found(text)


def test_letter_prefixed_codes_without_cue() -> None:
    # The shape alone is a generic identifier with 6+ digits or a leading "#".
    assert found("transfer for QX-2209311 tomorrow") == [("MRN", "QX-2209311")]
    assert found("see #KV-40917 before") == [("MRN", "KV-40917")]
    assert found("see KV-40917 before") == []
    # Gene, drug, billing and registry codes are not identifiers.
    assert found("COVID-19, HER2, CYP2D6, L4-L5, E11.9, J1100, PHQ-9 and trial NCT01234567") == []


def test_weak_cues_need_an_identifier_shaped_value() -> None:
    assert found("ID consult for 2 days; plan: 2 weeks rest; insurance 2024 renewal; record 120/80") == []
    assert found("Plan is 1000 units of heparin") == []


def test_iban_by_checksum() -> None:
    assert found("pay to GB82 WEST 1234 5698 7654 32 today") == [("ACCOUNT", "GB82 WEST 1234 5698 7654 32")]
    assert found("wire DE89370400440532013000.") == [("ACCOUNT", "DE89370400440532013000")]
    assert found("pay to GB83 WEST 1234 5698 7654 32 today") == []


def test_pager_numbers_and_slashed_phones() -> None:
    assert ("PHONE", "41234") in found("PAGE VIA PAGER #41234 IF NEEDED")
    assert ("PHONE", "41234") in found("beeper number 41234")
    assert found("call 617/555/0182") == [("PHONE", "617/555/0182")]
    assert "PHONE" not in kinds_of("pager 12 hours")


def test_month_day_dates_in_nursing_notes() -> None:
    assert found("TRACH PLACED 3/14, S/P MI 4/98") == [("DATE", "3/14"), ("DATE", "4/98")]
    # Ventilator settings, scales, strengths and fluids are not dates.
    text = "ON PSV 10/5, CPAP 5/5 TRIED ON 12/5/40; PAIN 3/10; STRENGTH 4/5; D5 1/2 NS; 2/6 SEM; A/C 500 X 14"
    assert found(text) == []


def test_month_day_with_a_one_digit_day_in_notes() -> None:
    assert found("EXTUBATED 7/2. LBM 11/4") == [("DATE", "7/2"), ("DATE", "11/4")]
    assert found("pan cx'd 10/7, plan for CABG 9/9") == [("DATE", "10/7"), ("DATE", "9/9")]
    # Fractions, counts, chest pain scores, culture bottles and doses are not dates.
    text = "CRACKLES 1/3 UP BILAT; 2/3 WAY UP; GIVEN 1/2 AMP D50; 4/4 BOTTLES; 2/4 BL CX; 6/10 CP; 3/4 STR"
    assert found(text) == []
    assert found("SWITCHED TO 5/5 AT 0500") == []


def test_clinical_abbreviations_are_not_street_suffixes() -> None:
    assert found("1 DEG AV BLOCK; GAVE 10 U NPH SQ; 2 SINUS ST; 5MG IV PUSH CT") == []
    assert found("LIVES AT 42 ELM ST WITH DAUGHTER") == [("ADDRESS", "42 ELM ST")]
    # A sentence ending, a lone number or a dash is no street name: "DR", "CT" start the next clause.
    assert found("CK DRAWN AT 1515 373. DR JONES AWARE.") == [("NAME", "JONES")]
    assert found("ABG 44 - CHEST CT NOTED") == []
    assert found("2L LR. 3 UPRBCS. CT INITIALLY OOZY") == []
    assert found("mail it to 100 N. Main St") == [("ADDRESS", "100 N. Main St")]


def test_weak_id_cues_need_an_id_in_the_same_sentence() -> None:
    assert found("PLAN: OR 0930->CABG.") == []  # the operating room at 09:30
    assert found("FS WITH SSREG COVERAGE. BS 176-211.") == []  # blood sugar, next sentence
    assert found("plan XYZ 123456") == [("HEALTH_PLAN", "XYZ 123456")]
