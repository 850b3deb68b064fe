"""A report says what is true: its statements follow the policies and events it covers (issue #21).

Events are made by the real TokenApplier (the shapes the sidecar journals);
values are synthetic and never printed.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from pypdf import PdfReader

from masker.audit.events import Event
from masker.audit.journal import Journal
from masker.audit.report import build_report
from masker.audit.statements import (
    FROM_EVENTS,
    FROM_POLICY,
    masking_statement,
    pci_section,
    policy_handling,
)
from masker.detect.spans import Span
from masker.policy.load import default_policy_path, load_policy
from masker.policy.model import Policy
from masker.scope import Scope
from masker.tokens.apply import TokenApplier
from masker.tokens.keys import Keyring
from masker.tokens.vault import Vault

KEY = bytes(range(32))
SK = SigningKey(b"\x07" * 32)
CREATED = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
SESSION = "intake-42"
TEXT = "Call Ada Quill at 415-555-0142, card 4111 1111 1111 1111."  # synthetic
SPANS = [
    Span(5, 14, "NAME", "ner", "ner", 0.9),
    Span(18, 30, "PHONE", "phone_nanp", "regex", 0.95),
    Span(37, 56, "CREDIT_CARD", "card", "regex", 0.99),
]
COVERAGE: dict = {}


@pytest.fixture(scope="module")
def shipped() -> Policy:
    return load_policy(default_policy_path())


def variant(base: Policy, name: str, *, action: str | None = None, card: str | None = None,
            tokenization: str | None = None, drop_card: bool = False) -> Policy:
    """``base`` with every rule's action (and the card's) changed; a distinct hash per variant."""
    entities = {k: replace(r, action=action or r.action) for k, r in base.entities.items()}
    if card is not None:
        entities["CREDIT_CARD"] = replace(entities["CREDIT_CARD"], action=card)
    if drop_card:
        del entities["CREDIT_CARD"]
    return replace(base, name=name, entities=entities, tokenization=tokenization or base.tokenization,
                   hash=(name * 64)[:64])


def journal_session(tmp_path: Path, *policies: Policy, spans: list[Span] = SPANS) -> Path:
    """A journal where the session sends TEXT once under each policy (real events)."""
    jdir = tmp_path / "journal"
    keyring = Keyring({"K_HEALTHCARE": KEY})
    with Journal(jdir, KEY, SK, checkpoint_dir=tmp_path / "cp") as j, Vault(tmp_path / "v.sqlite", keyring) as v:
        for policy in policies:
            j.append([Event(kind="policy_loaded", policy=policy.name, policy_hash=policy.hash,
                            detail={"tokenization": policy.tokenization, "kid": policy.kid})])
            _, events = TokenApplier(policy, keyring, v).apply(TEXT, spans, Scope("bot", SESSION))
            j.append(events)
    return jdir


def report(tmp_path: Path, jdir: Path, policy: Policy | None, **kw) -> tuple[dict, str]:
    json_path, pdf_path = build_report(jdir, KEY, SESSION, SK, coverage=COVERAGE, policy=policy,
                                       out_dir=tmp_path / "out", created=CREATED, **kw)
    text = "\n".join(p.extract_text() for p in PdfReader(pdf_path).pages)
    return json.loads(json_path.read_bytes()), " ".join(text.split())


def test_shipped_policy_redacts_cards_and_the_pci_paragraph_says_so(tmp_path: Path, shipped: Policy) -> None:
    assert shipped.rule("CREDIT_CARD").action == "redact"  # the shipped default this issue is about
    doc, pdf = report(tmp_path, journal_session(tmp_path, shipped), shipped)
    note = doc["pci"]["note"]
    assert "redacts detected PANs" in note and "tokenizes" not in note
    assert doc["pci"]["card_detections"] == 1
    assert doc["pci"]["by_policy"] == [{"policy": shipped.name, "hash": shipped.hash, "treatment": "redact"}]
    assert "redacts detected PANs" in pdf and "tokenizes detected PANs" not in pdf
    # names and phones are tokenized under the shipped policy: the pseudonym sentence stays, cards are placeholders
    assert "NAME" in doc["handling"][0]["kinds"] and doc["handling"][0]["kinds"]["NAME"] == "token-vault"
    assert "pseudonyms (re-identification codes)" in doc["statement"]
    assert "CREDIT_CARD" in doc["statement"].split("[REDACTED:KIND]")[0].rsplit("\n", 1)[-1]


def test_redact_only_policy_claims_no_tokens(tmp_path: Path, shipped: Policy) -> None:
    redact = variant(shipped, "all-redact", action="redact")
    doc, pdf = report(tmp_path, journal_session(tmp_path, redact), redact)
    statement = doc["statement"]
    assert "token" not in statement.lower().replace("[redacted:kind]", "")
    assert "pseudonym" not in statement
    assert "[REDACTED:KIND] placeholders, which hold no re-identification code" in statement
    assert "not claimed to be de-identified" in statement
    assert "redacts detected PANs" in doc["pci"]["note"]
    assert "pseudonym" not in pdf and "hold no re-identification code" in pdf


@pytest.mark.parametrize(("tokenization", "sentence", "pci"), [
    ("vault-deterministic", "replaced with MSKV1 tokens", "tokenizes detected PANs before they leave (MSKV1"),
    ("reversible-aead", "replaced with MSK1 tokens", "tokenizes detected PANs before they leave (MSK1"),
])
def test_tokenizing_policy_says_pseudonyms(tmp_path: Path, shipped: Policy, tokenization: str, sentence: str,
                                            pci: str) -> None:
    policy = variant(shipped, f"tok-{tokenization}", action="tokenize", tokenization=tokenization)
    if tokenization == "reversible-aead":
        policy = replace(policy, token_scope=None)
    doc, _ = report(tmp_path, journal_session(tmp_path, policy), policy)
    assert sentence in doc["statement"] and "CREDIT_CARD" in doc["statement"]
    assert "pseudonyms (re-identification codes) under 45 CFR 164.514(c)" in doc["statement"]
    assert "NOT de-identified" in doc["statement"]
    assert pci in doc["pci"]["note"] and "redacts" not in doc["pci"]["note"]


def test_synthetic_policy_says_surrogates_not_tokens(tmp_path: Path, shipped: Policy) -> None:
    policy = variant(shipped, "synth", action="tokenize", tokenization="synthetic")
    doc, _ = report(tmp_path, journal_session(tmp_path, policy), policy)
    assert "replaced with synthetic surrogates" in doc["statement"]
    assert "MSKV1" not in doc["statement"] and "pseudonym" not in doc["statement"]
    assert "synthetic Luhn-valid test card numbers" in doc["pci"]["note"]
    assert set(doc["handling"][0]["kinds"].values()) == {"synthetic"}


def test_passthrough_cards_are_said_to_leave_in_clear(tmp_path: Path, shipped: Policy) -> None:
    policy = variant(shipped, "cards-clear", card="passthrough")
    doc, pdf = report(tmp_path, journal_session(tmp_path, policy), policy)
    assert "passes them through to the provider in clear" in doc["pci"]["note"]
    assert "CREDIT_CARD: detected but sent to the provider in clear" in doc["statement"]
    assert "the provider receives card numbers" in pdf


def test_pci_paragraph_is_absent_without_a_card_rule_or_detection(tmp_path: Path, shipped: Policy) -> None:
    policy = variant(shipped, "no-cards", drop_card=True)
    doc, pdf = report(tmp_path, journal_session(tmp_path, policy, spans=SPANS[:2]), policy)
    assert "pci" not in doc and "PCI DSS scope" not in pdf
    # a card rule alone (no detection) keeps the paragraph: the policy does look for cards
    doc, _ = report(tmp_path / "b", journal_session(tmp_path / "b", shipped, spans=SPANS[:2]), shipped)
    assert doc["pci"]["card_detections"] == 0 and "redacts detected PANs" in doc["pci"]["note"]


def test_mixed_policies_each_get_their_paragraph(tmp_path: Path, shipped: Policy) -> None:
    redact = variant(shipped, "all-redact", action="redact")
    clear = variant(shipped, "cards-clear", card="passthrough")
    jdir = journal_session(tmp_path, redact, clear)
    doc, pdf = report(tmp_path, jdir, redact)  # made with the redact policy's file: the other is known by events
    assert [(h["name"], h["source"]) for h in doc["handling"]] == [("all-redact", FROM_POLICY),
                                                                     ("cards-clear", FROM_EVENTS)]
    statement = doc["statement"]
    assert statement.startswith("The session's events name 2 policies")
    first, second = statement.split("\n")[1:3]
    assert first.startswith("Under policy all-redact") and "pseudonym" not in first
    assert second.startswith("Under policy cards-clear") and "whose rules are not those" in second
    assert "NAME, PHONE: replaced with MSKV1 tokens" in second and "pseudonyms" in second
    assert "CREDIT_CARD: detected but sent to the provider in clear" in second
    note = doc["pci"]["note"]
    assert "all-redact" in note and "redacts detected PANs" in note
    assert "cards-clear" in note and "passes them through" in note
    assert {p["hash"] for p in doc["policy"]["seen"]} == {redact.hash, clear.hash}
    assert "cards-clear" in pdf and "all-redact" in pdf


def test_handling_from_events_alone_uses_what_was_written() -> None:
    """A journal without the action field: the token written says what was done."""
    bodies = [
        {"kind": "redaction_applied", "entity_kind": "NAME", "token": "MSK1.NAME.K.ABC", "policy_hash": "h1",
         "policy": "old"},
        {"kind": "redaction_applied", "entity_kind": "SSN", "token": "[REDACTED:SSN]", "policy_hash": "h1"},
        {"kind": "detection", "entity_kind": "EMAIL", "policy_hash": "h1"},
    ]
    (entry,) = policy_handling(bodies, None)
    assert entry["kinds"] == {"EMAIL": "unrecorded", "NAME": "token-aead", "SSN": "redact"}
    statement = masking_statement([entry])
    assert "EMAIL: detected; the events do not record what was done" in statement
    assert "MSK1 tokens" in statement and "pseudonyms" in statement
    assert pci_section([entry], 0) is None
    assert masking_statement([]).startswith("The session's events name no policy")
