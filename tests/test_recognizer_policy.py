"""The policy's recognizer switches, allow list and deny list: validation, detection, explanations."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from masker.audit.events import DETECTION
from masker.detect.pipeline import Detector
from masker.detect.registry import recognizer_ids, recognizers
from masker.policy.load import default_policy_path, parse_policy, policy_hash
from masker.scope import Scope
from masker.tokens.apply import TokenApplier
from masker.tokens.keys import Keyring

KEY_ENV = {"MASKER_KEY_K_HEALTHCARE": "YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI="}
SHIPPED = default_policy_path().read_text(encoding="utf-8")
REPO = Path(__file__).resolve().parents[1]


def policy_with(extra: str):
    policy, issues = parse_policy(SHIPPED + "\n" + extra, KEY_ENV)
    assert policy is not None, [(i.code, i.path) for i in issues]
    return policy


def issues_with(extra: str) -> list[tuple[str, str]]:
    policy, issues = parse_policy(SHIPPED + "\n" + extra, KEY_ENV)
    assert policy is None
    return [(i.code, i.path) for i in issues]


def kinds_found(policy, text: str) -> list[tuple[str, str]]:
    return [(s.kind, text[s.start : s.end]) for s in Detector(policy).detect(text)]


# ------------------------------------------------------------ registry


def test_every_recognizer_has_a_unique_id_kinds_detectors_and_a_description():
    infos = recognizers()
    assert len({r.id for r in infos}) == len(infos)
    for r in infos:
        assert r.id and r.id == r.id.lower() and " " not in r.id
        assert r.pass_name in {"regex", "spoken", "ner", "tenant"}
        assert r.description and r.detectors
    assert {"ssn", "ner", "deny_list"} <= recognizer_ids()


def test_every_span_of_a_mixed_text_names_a_registered_recognizer():
    text = ("SSN 123-45-6789, call 555-867-5309, mail jane.doe@example.org, card 4111 1111 1111 1111, "
            "born 03/04/1961, MRN: 88412297, my number is five five five one two one two")
    policy = policy_with("")
    spans = Detector(policy).detect(text)
    assert spans
    registry = {r.id: r for r in recognizers()}
    for s in spans:
        assert s.why is not None, s
        entry = registry[s.why.recognizer]
        assert s.pass_name == entry.pass_name and s.detector in entry.detectors


# ------------------------------------------------------------ validation


def test_a_policy_without_the_new_keys_keeps_its_hash():
    before = parse_policy(SHIPPED, KEY_ENV)[0]
    after = policy_with("recognizers: {}\nallow:\ndeny: []\n")
    assert before is not None and before.hash == after.hash == policy_hash(after)


def test_the_new_keys_change_the_hash():
    base = policy_with("").hash
    assert policy_with("recognizers: {ssn: {enabled: false}}\n").hash != base
    assert policy_with("allow: {values: [Mercy Clinic]}\n").hash != base
    assert policy_with("deny: [{kind: NAME, values: [Zorblatt]}]\n").hash != base


@pytest.mark.parametrize(("extra", "expected"), [
    ("recognizers: {snn: {enabled: false}}\n", [("unknown_recognizer", "recognizers.snn")]),
    ("recognizers: {ssn: {enabled: maybe}}\n", [("invalid_type", "recognizers.ssn.enabled")]),
    ("recognizers: {ssn: {confidence_threshold: 1.5}}\n", [("out_of_range", "recognizers.ssn.confidence_threshold")]),
    ("recognizers: {ssn: {threshold: 0.5}}\n", [("unknown_key", "recognizers.ssn.threshold")]),
    ("recognizers: [ssn]\n", [("invalid_type", "recognizers")]),
    ("allow: {values: [ok], patterns: ['(']}\n", [("invalid_pattern", "allow.patterns[0]")]),
    ("allow: {words: [x]}\n", [("unknown_key", "allow.words")]),
    ("allow: {patterns: ['a*']}\n", [("invalid_pattern", "allow.patterns[0]")]),
    ("deny: [{kind: NAMES, values: [x]}]\n", [("unknown_entity", "deny[0].kind")]),
    ("deny: [{values: [x]}]\n", [("missing_key", "deny[0].kind")]),
    ("deny: [{kind: NAME}]\n", [("invalid_value", "deny[0]")]),
    ("deny: [{kind: NAME, patterns: ['[a-']}]\n", [("invalid_pattern", "deny[0].patterns[0]")]),
    ("deny: {kind: NAME}\n", [("invalid_type", "deny")]),
])
def test_invalid_switches_and_lists_are_reported_with_codes_and_paths(extra, expected):
    assert issues_with(extra) == expected


def test_a_deny_entry_for_a_kind_the_policy_does_not_mask_is_refused():
    text = SHIPPED.replace("ner: true, confidence_threshold: 0.6, action: tokenize}   # A",
                           "ner: true, confidence_threshold: 0.6, action: passthrough}   # A", 1)
    assert text != SHIPPED
    policy, issues = parse_policy(text + "\ndeny: [{kind: NAME, values: [Zorblatt]}]\n", KEY_ENV)
    assert policy is None and [(i.code, i.path) for i in issues] == [("invalid_value", "deny[0].kind")]


def test_unknown_recognizer_suggests_the_near_id():
    policy, issues = parse_policy(SHIPPED + "\nrecognizers: {SSN: {enabled: false}}\n", KEY_ENV)
    assert policy is None and "did you mean ssn?" in issues[0].message


# ------------------------------------------------------------ detection


def test_a_switched_off_recognizer_reports_nothing_and_the_others_still_do():
    text = "SSN 123-45-6789, call 555-867-5309"
    assert ("SSN", "123-45-6789") in kinds_found(policy_with(""), text)
    found = kinds_found(policy_with("recognizers: {ssn: {enabled: false}}\n"), text)
    assert ("SSN", "123-45-6789") not in found
    assert ("PHONE", "555-867-5309") in found


def test_a_recognizer_threshold_replaces_the_kind_threshold():
    text = "call 555-867-5309"
    (span,) = Detector(policy_with("")).detect(text)
    assert span.why is not None
    rid = span.why.recognizer
    above = min(1.0, span.confidence + 0.01)
    assert kinds_found(policy_with(f"recognizers: {{{rid}: {{confidence_threshold: {above}}}}}\n"), text) == []
    assert kinds_found(policy_with(f"recognizers: {{{rid}: {{confidence_threshold: {span.confidence}}}}}\n"), text)


def test_the_allow_list_keeps_listed_values_in_clear():
    text = "Crisis line 988-555-0100, or my cell 555-867-5309"
    policy = policy_with("allow: {values: ['988-555-0100']}\n")
    assert kinds_found(policy, text) == [("PHONE", "555-867-5309")]
    policy = policy_with("allow: {patterns: ['988-[0-9-]+']}\n")
    assert kinds_found(policy, text) == [("PHONE", "555-867-5309")]


def test_an_allow_pattern_must_match_the_whole_value():
    text = "call 555-867-5309"
    assert kinds_found(policy_with("allow: {patterns: ['555']}\n"), text) == [("PHONE", "555-867-5309")]


def test_the_deny_list_masks_listed_values_and_patterns_as_their_kind():
    policy = policy_with(
        "deny:\n"
        "  - kind: NAME\n    values: [zorblatt quux]\n"
        "  - kind: MRN\n    patterns: ['ZQ-[0-9]{3}']\n"
    )
    text = "Patient Zorblatt   Quux (ref ZQ-123) and zorblattquux"
    found = kinds_found(policy, text)
    assert ("NAME", "Zorblatt   Quux") in found
    assert ("MRN", "ZQ-123") in found
    assert not any(v == "zorblattquux" for _, v in found)  # whole words only
    spans = [s for s in Detector(policy).detect(text) if s.pass_name == "tenant"]
    assert {s.why.to_json()["cue"] for s in spans if s.why} == {"deny:value", "deny:pattern"}


def test_deny_wins_over_allow():
    policy = policy_with("allow: {values: [Zorblatt]}\ndeny: [{kind: NAME, values: [Zorblatt]}]\n")
    assert kinds_found(policy, "ask Zorblatt") == [("NAME", "Zorblatt")]


def test_a_catastrophic_tenant_pattern_fails_closed():
    policy = policy_with("deny: [{kind: MRN, patterns: ['(a|aa)+$']}]\n")  # exponential backtracking
    with pytest.raises(TimeoutError):
        Detector(policy).detect("a" * 40 + "!")


# ------------------------------------------------------------ explanations


def test_detection_events_carry_the_explanation_and_no_value():
    policy = replace(policy_with(""), passes=("regex",), tokenization="reversible-aead", token_scope=None)
    text = "SSN: 123-45-6789, card 4111 1111 1111 1111"
    spans = Detector(policy).detect(text)
    applier = TokenApplier(policy, Keyring.from_env(KEY_ENV), None)
    _, events = applier.apply(text, spans, Scope("a", "s"))
    whys = {e.entity_kind: e.detail["why"] for e in events if e.kind == DETECTION}
    assert whys["SSN"]["recognizer"] == "ssn" and whys["SSN"]["cue"]
    assert whys["CREDIT_CARD"]["validator"]
    journaled = json.dumps([e.to_json() for e in events])
    assert "6789" not in journaled and "4111" not in journaled


def _masker(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "masker.cli", *args], input=stdin, capture_output=True,
                          text=True, cwd=REPO, timeout=120, check=False)


def test_masker_detect_explain_names_recognizer_cue_and_validator():
    out = _masker("detect", "--no-ner", "--explain", "-", stdin="card 4111 1111 1111 1111 and SSN: 123-45-6789\n")
    assert out.returncode == 0, out.stderr
    spans = json.loads(out.stdout)["spans"]
    whys = {s["kind"]: s["why"] for s in spans}
    assert whys["CREDIT_CARD"]["validator"]
    assert whys["SSN"]["recognizer"] == "ssn" and whys["SSN"].get("cue")
    assert "4111" not in json.dumps(whys) and "6789" not in json.dumps(whys)


def test_masker_detect_recognizers_lists_the_registry_with_the_policy_switches(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(SHIPPED + "\nrecognizers: {ssn: {enabled: false}, phone: {confidence_threshold: 0.9}}\n")
    out = _masker("detect", "--policy", str(path), "--recognizers", stdin="")
    assert out.returncode == 0, out.stderr
    rows = {r["id"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert set(rows) == recognizer_ids()
    assert rows["ssn"]["enabled"] is False
    assert rows["phone"]["confidence_threshold"] == 0.9
    assert rows["ner"]["enabled"] is True

