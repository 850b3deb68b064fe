"""Synthetic surrogates: same kind, realistic, reserved ranges, stable per session."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masker.detect.checksums import luhn_ok, npi_ok, vin_ok
from masker.detect.spans import Span
from masker.policy.model import EntityRule, Policy
from masker.scope import Scope
from masker.tokens.apply import TokenApplier
from masker.tokens.keys import Keyring
from masker.tokens.rehydrate import Rehydrator
from masker.tokens.synthetic import FIRST_NAMES, LAST_NAMES, Synthesizer, shift_date

KID = "K_TEST"
S1, S2 = Scope("agent", "s1"), Scope("agent", "s2")


@pytest.fixture(scope="module")
def kr() -> Keyring:
    return Keyring.from_env({f"MASKER_KEY_{KID}": base64.b64encode(os.urandom(32)).decode()})


@pytest.fixture(scope="module")
def syn(kr) -> Synthesizer:
    return Synthesizer(kr, KID)


def test_phone_is_fictional_and_keeps_its_format(syn):
    for value, shape in [("(415) 867-5309", r"\(\d{3}\) 555-01\d\d"),
                         ("415.867.5309", r"\d{3}\.555\.01\d\d"),
                         ("+1 415 867 5309", r"\+1 \d{3} 555 01\d\d"),
                         ("867-5309", r"555-01\d\d"),
                         ("four one five eight six seven", r"\(\d{3}\) 555-01\d\d")]:
        assert re.fullmatch(shape, syn.surrogate(S1, "PHONE", value)), value


def test_ssn_is_in_the_never_issued_9xx_area(syn):
    for i in range(30):
        out = syn.surrogate(S1, "SSN", f"123-45-{i:04d}")
        assert re.fullmatch(r"9\d\d-\d\d-\d{4}", out) and out[4:6] != "00" and out[7:] != "0000"


def test_card_npi_vin_pass_their_checksums(syn):
    card = syn.surrogate(S1, "CREDIT_CARD", "4111 1111 1111 1111")
    assert re.fullmatch(r"4000 00\d\d \d{4} \d{4}", card) and luhn_ok(card.replace(" ", ""))
    assert len(syn.surrogate(S1, "CREDIT_CARD", "378282246310005")) == 15
    assert npi_ok(syn.surrogate(S1, "NPI", "1234567893"))
    assert vin_ok(syn.surrogate(S1, "VIN", "1HGCM82633A004352"))


def test_names_emails_and_others_look_like_their_kind(syn):
    first, last = syn.surrogate(S1, "NAME", "Jane Doe").split()
    assert first in FIRST_NAMES and last in LAST_NAMES
    assert syn.surrogate(S1, "NAME", "jane doe").islower()  # ASR transcripts stay lowercase
    assert syn.surrogate(S1, "NAME", "Dr. Okonkwo").startswith("Dr. ")
    assert syn.surrogate(S1, "EMAIL", "jane@hospital.org").endswith("@example.com")
    assert re.fullmatch(r"000\d\d", syn.surrogate(S1, "ZIP", "94110"))
    assert re.fullmatch(r"(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+", syn.surrogate(S1, "IP_ADDRESS", "10.1.2.3"))
    assert re.fullmatch(r"[A-Z]{3}-\d{6}", syn.surrogate(S1, "MRN", "MRN-123456"))
    assert syn.surrogate(S1, "AGE", "93 years old") == "90 years old"


def test_dates_shift_by_one_offset_per_session(syn):
    shift = syn.date_shift(S1)
    assert shift != 0 and syn.date_shift(S1) == shift
    a = syn.surrogate(S1, "DATE", "2024-03-05")
    b = syn.surrogate(S1, "DOB", "1961-11-30")
    assert dt.date.fromisoformat(a) - dt.date(2024, 3, 5) == dt.timedelta(days=shift)
    assert dt.date.fromisoformat(b) - dt.date(1961, 11, 30) == dt.timedelta(days=shift)
    us = syn.surrogate(S1, "DATE", "03/05/2024")
    assert us == dt.date.fromisoformat(a).strftime("%m/%d/%Y")


@pytest.mark.parametrize("value,days,expected", [
    ("March 5, 2024", 40, "April 14, 2024"),
    ("Mar. 5th", 40, "Apr. 14th"),
    ("5 of march 2024", -4, "1 of march 2024"),
    ("3/5/24", 40, "4/14/24"),
    ("31/12/1999", 1, "01/01/2000"),
    (" 2024-02-29 ", 1, " 2024-03-01 "),
    ("yesterday", 5, None),
])
def test_shift_date_keeps_format(value, days, expected):
    assert shift_date(value, days) == expected


def test_surrogates_differ_between_sessions(syn):
    values = [f"Patient Number{i}" for i in range(20)]
    assert [syn.surrogate(S1, "NAME", v) for v in values] != [syn.surrogate(S2, "NAME", v) for v in values]


def test_synthetic_output_is_not_rehydratable(kr):
    pol = Policy(name="p", version=1, description="", kid=KID, tokenization="synthetic",
                 passes=("regex",), entities={"PHONE": EntityRule("PHONE")})
    text = "call 415-867-5309"
    out, _ = TokenApplier(pol, kr, None).apply(text, [Span(5, 17, "PHONE", "regex", "p", 1.0)], S1)
    assert out != text and "867-5309" not in out
    assert Rehydrator(kr, None, pol).rehydrate(out, S1) == (out, [])


@settings(max_examples=100, deadline=None)
@given(kind=st.sampled_from(["NAME", "PHONE", "SSN", "EMAIL", "DATE", "MRN", "CREDIT_CARD", "ADDRESS", "ZIP"]),
       value=st.text(min_size=1, max_size=30))
def test_surrogate_is_stable_within_a_session(kr, syn, kind, value):
    first = syn.surrogate(S1, kind, value)
    assert syn.surrogate(S1, kind, value) == first
    assert Synthesizer(kr, KID).surrogate(S1, kind, value) == first  # e.g. after a restart


def test_agent_token_scope_keeps_surrogates_across_an_agents_sessions(kr):
    per_agent = Synthesizer(kr, KID, "agent")
    other_agent = Scope("agent-2", "s1")
    values = [("NAME", f"Patient Number{i}") for i in range(20)] + [("PHONE", "415-867-5309"), ("DATE", "2024-03-05")]
    in_s1 = [per_agent.surrogate(S1, k, v) for k, v in values]
    assert in_s1 == [per_agent.surrogate(S2, k, v) for k, v in values]
    assert in_s1 != [per_agent.surrogate(other_agent, k, v) for k, v in values]
    assert per_agent.date_shift(S1) == per_agent.date_shift(S2)
    # the session default and the agent mode never share seeds
    assert in_s1 != [Synthesizer(kr, KID).surrogate(S1, k, v) for k, v in values]


def test_synthetic_applier_follows_the_policys_token_scope(kr):
    def applied(token_scope: str, scope: Scope) -> str:
        pol = Policy(name="p", version=1, description="", kid=KID, tokenization="synthetic", token_scope=token_scope,
                     passes=("regex",), entities={"NAME": EntityRule("NAME")})
        text = "Patient Zebulon Quartermaine"
        return TokenApplier(pol, kr, None).apply(text, [Span(8, len(text), "NAME", "ner", "ner", 1.0)], scope)[0]

    assert applied("session", S1) == applied("session", S1)
    assert applied("agent", S1) == applied("agent", S2)
    assert "Zebulon" not in applied("agent", S1)
    with pytest.raises(ValueError):
        Synthesizer(kr, KID, "tenant")
