"""Keys, normalization, MSKV1/MSK1 minting and the TokenApplier."""

from __future__ import annotations

import base64
import os

import pytest

from masker.audit.events import DETECTION, REDACTION_APPLIED
from masker.detect.spans import Span
from masker.policy.model import EntityRule, Policy
from masker.scope import Scope
from masker.tokens import aead
from masker.tokens.apply import TokenApplier
from masker.tokens.keys import InvalidKey, Keyring, MissingKey
from masker.tokens.normalize import normalize
from masker.tokens.scheme import TOKEN_RE
from masker.tokens.vault import Vault, mint

KID = "K_TEST"
S = Scope("agent-1", "sess-1")


def b64key(raw: bytes | None = None) -> str:
    return base64.b64encode(raw or os.urandom(32)).decode()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.from_env({f"MASKER_KEY_{KID}": b64key()})


def policy(tokenization: str, actions: dict[str, str] | None = None, token_scope: str = "session") -> Policy:
    kinds = ("NAME", "PHONE", "SSN", "EMAIL", "DATE")
    entities = {k: EntityRule(k, action=(actions or {}).get(k, "tokenize")) for k in kinds}
    return Policy(name="test", version=1, description="", kid=KID, token_scope=token_scope,
                  tokenization=tokenization, passes=("regex",), entities=entities, hash="abc123")


# -- keys ---------------------------------------------------------------------


def test_keyring_reads_current_and_old_keys_in_order():
    cur, old = os.urandom(32), os.urandom(32)
    kr = Keyring.from_env({"MASKER_KEY_K_A": b64key(cur), "MASKER_KEY_K_A_OLD": b64key(old),
                           "MASKER_AUDIT_KEY": b64key(), "PATH": "/bin"})
    assert kr.has("K_A") and not kr.has("K_B")
    assert kr.keys("K_A") == [cur, old]
    assert kr.current("K_A") == cur


def test_keyring_accepts_urlsafe_unpadded_keys():
    raw = bytes(range(250, 256)) + os.urandom(26)
    text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert Keyring.from_env({"MASKER_KEY_K": text}).current("K") == raw


@pytest.mark.parametrize("text", ["not base64!!", base64.b64encode(b"short").decode(), ""])
def test_malformed_key_fails_loudly_without_echoing_it(text):
    with pytest.raises(InvalidKey) as e:
        Keyring.from_env({"MASKER_KEY_K": text})
    assert "MASKER_KEY_K" in str(e.value)
    if text:
        assert text not in str(e.value)


def test_missing_key_names_the_env_var():
    kr = Keyring.from_env({})
    with pytest.raises(MissingKey, match="MASKER_KEY_K_HEALTHCARE"):
        kr.current("K_HEALTHCARE")
    with pytest.raises(MissingKey):
        kr.keys("K_HEALTHCARE")


def test_subkeys_differ_per_purpose_and_from_the_key(keyring):
    derived = {p: keyring.subkey(KID, p) for p in ("token-hmac", "aead", "vault", "synthetic")}
    assert len(set(derived.values())) == 4
    assert keyring.current(KID) not in derived.values()


def test_repr_never_shows_key_material(keyring):
    assert base64.b64encode(keyring.current(KID)).decode() not in repr(keyring)


# -- normalization and MSKV1 ----------------------------------------------------


@pytest.mark.parametrize("kind,a,b", [
    ("PHONE", "555-123-4567", "(555) 123 4567"),
    ("PHONE", "+1 555.123.4567", "5551234567"),
    ("SSN", "123-45-6789", "123 45 6789"),
    ("CREDIT_CARD", "4111 1111 1111 1111", "4111-1111-1111-1111"),
    ("EMAIL", "Jane.Doe@Example.COM", " jane.doe@example.com"),
    ("NAME", "Jane  DOE", "jane doe"),
    ("NAME", "Ｊａｎｅ", "jane"),  # NFKC fullwidth
    ("MRN", "mrn-00123", "MRN 00123"),
])
def test_normalization_equivalences_share_one_token(keyring, kind, a, b):
    assert normalize(kind, a) == normalize(kind, b)
    assert mint(keyring, kind, KID, a, S) == mint(keyring, kind, KID, b, S)


@pytest.mark.parametrize("kind,a,b", [
    ("PHONE", "five five five one two three four", "five five five"),
    ("PHONE", "555-123-4567", "555-123-4568"),
    ("NAME", "Jane Doe", "Jane Do"),
    ("ACCOUNT", "AC-1234", "BC-1234"),
])
def test_different_values_get_different_tokens(keyring, kind, a, b):
    assert mint(keyring, kind, KID, a, S) != mint(keyring, kind, KID, b, S)


def test_mskv1_token_shape_and_determinism(keyring):
    t = mint(keyring, "PHONE", KID, "555-123-4567", S)
    m = TOKEN_RE.fullmatch(t)
    assert m and m["scheme"] == "MSKV1" and m["kind"] == "PHONE" and m["kid"] == KID
    assert len(m["body"]) == 26
    assert mint(keyring, "PHONE", KID, "555-123-4567", S) == t
    assert mint(keyring, "FAX", KID, "555-123-4567", S) != t  # kind is hashed in


def test_different_kid_or_key_gives_different_token():
    raw = os.urandom(32)
    same_key_two_kids = Keyring.from_env({"MASKER_KEY_K_A": b64key(raw), "MASKER_KEY_K_B": b64key(raw)})
    a = mint(same_key_two_kids, "NAME", "K_A", "Jane", S)
    b = mint(same_key_two_kids, "NAME", "K_B", "Jane", S)
    assert a.split(".")[2:] != b.split(".")[2:]
    other = Keyring.from_env({"MASKER_KEY_K_A": b64key()})
    assert mint(other, "NAME", "K_A", "Jane", S) != a


def test_mskv1_body_always_ends_in_a_letter(keyring):
    # the last base32 character can only be one of A E I M (never the digit 4), so a
    # number written right after a token is never glued to a digit of it
    last = {mint(keyring, "NAME", KID, f"value {i}", S)[-1] for i in range(400)}
    assert last == set("AEIM")


# -- scope binding ----------------------------------------------------------------

S1, S2 = Scope("agent-1", "sess-1"), Scope("agent-1", "sess-2")
OTHER_AGENT = Scope("agent-2", "sess-1")


def test_session_scope_tokens_differ_per_session_and_agent(keyring):
    t = mint(keyring, "NAME", KID, "Jane Doe", S1)
    assert mint(keyring, "NAME", KID, "jane  DOE", S1, "session") == t  # stable within the session
    assert mint(keyring, "NAME", KID, "Jane Doe", S2) != t
    assert mint(keyring, "NAME", KID, "Jane Doe", OTHER_AGENT) != t


def test_agent_scope_tokens_are_stable_across_one_agents_sessions_only(keyring):
    t = mint(keyring, "NAME", KID, "Jane Doe", S1, "agent")
    assert mint(keyring, "NAME", KID, "Jane Doe", S2, "agent") == t
    assert mint(keyring, "NAME", KID, "Jane Doe", OTHER_AGENT, "agent") != t
    assert t != mint(keyring, "NAME", KID, "Jane Doe", S1, "session")  # the two modes never share tokens


@pytest.mark.parametrize(("a", "b"), [
    (Scope("a:b", "c"), Scope("a", "b:c")),
    (Scope('a","b', "c"), Scope("a", 'b","c')),
    (Scope("a\x1fb", "c"), Scope("a", "b\x1fc")),
    (Scope("session", "x"), Scope("agent", "x")),
])
def test_scope_binding_is_unambiguous(keyring, a, b):
    assert a.binding() != b.binding()
    assert mint(keyring, "NAME", KID, "Jane", a) != mint(keyring, "NAME", KID, "Jane", b)
    assert "\x1f" not in a.binding() + b.binding()


def test_unknown_token_scope_is_refused(keyring):
    with pytest.raises(ValueError):
        mint(keyring, "NAME", KID, "Jane", S1, "tenant")


@pytest.mark.parametrize(("token_scope", "same_across_sessions"), [("session", False), ("agent", True)])
def test_applier_binds_tokens_to_the_policys_token_scope(tmp_path, keyring, token_scope, same_across_sessions):
    with Vault(tmp_path / "v.sqlite", keyring) as vault:
        applier = TokenApplier(policy("vault-deterministic", token_scope=token_scope), keyring, vault)
        out1, _ = applier.apply(TEXT, SPANS, S1)
        out2, _ = applier.apply(TEXT, SPANS, S2)
        out3, _ = applier.apply(TEXT, SPANS, OTHER_AGENT)
        assert applier.apply(TEXT, SPANS, S1)[0] == out1  # stable within the scope
        assert (out1 == out2) is same_across_sessions
        assert out1 != out3 and out2 != out3
        assert vault.count() == 9  # one row per (agent, session, token): rows stay scope-bound


def test_msk1_ignores_token_scope(keyring):
    for token_scope in ("session", "agent"):
        applier = TokenApplier(policy("reversible-aead", token_scope=token_scope), keyring, None)
        assert applier.apply(TEXT, SPANS, S1)[0] == applier.apply(TEXT, SPANS, OTHER_AGENT)[0]


# -- MSK1 ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "Jane Doe", "Zoë 🙂 O'Brien", "x" * aead.MAX_VALUE_BYTES])
def test_aead_round_trip_and_determinism(keyring, value):
    t = aead.seal(keyring, "NAME", KID, value)
    m = TOKEN_RE.fullmatch(t)
    assert m and m["scheme"] == "MSK1"
    assert aead.seal(keyring, "NAME", KID, value) == t
    assert aead.open_body(keyring, "NAME", KID, m["body"]) == value


def test_aead_refuses_values_over_the_limit(keyring):
    with pytest.raises(aead.ValueTooLong) as e:
        aead.seal(keyring, "NAME", KID, "y" * (aead.MAX_VALUE_BYTES + 1))
    assert "yyyy" not in str(e.value)


def test_aead_relabelled_token_fails(keyring):
    body = TOKEN_RE.fullmatch(aead.seal(keyring, "NAME", KID, "Jane"))["body"]
    with pytest.raises(aead.Undecryptable):
        aead.open_body(keyring, "PHONE", KID, body)


# -- applier ------------------------------------------------------------------

TEXT = "Call Jane Doe at 555-123-4567, SSN 123-45-6789."
SPANS = [
    Span(5, 13, "NAME", "ner", "ner", 0.91234),
    Span(17, 29, "PHONE", "regex", "phone_nanp", 0.99),
    Span(35, 46, "SSN", "regex", "ssn", 0.98),
]
VALUES = ("Jane Doe", "555-123-4567", "123-45-6789")


@pytest.mark.parametrize("tokenization", ["vault-deterministic", "reversible-aead"])
def test_apply_tokenizes_and_emits_events_without_values(tmp_path, keyring, tokenization):
    scope = Scope("agent-1", "sess-1")
    with Vault(tmp_path / "v.sqlite", keyring) as vault:
        out, events = TokenApplier(policy(tokenization), keyring, vault).apply(TEXT, SPANS, scope)
        assert not any(v in out for v in VALUES)
        assert len(TOKEN_RE.findall(out)) == 3
        assert [e.kind for e in events] == [DETECTION, REDACTION_APPLIED] * 3
        det, red = events[0], events[1]
        assert (det.detector, det.entity_kind, det.span) == ("ner", "NAME", (5, 13))
        assert det.detail == {"pass": "ner", "confidence": 0.9123, "action": "tokenize"}
        assert red.token and red.token in out and red.detail["tokenization"] == tokenization
        for e in events:
            assert (e.agent, e.session, e.policy, e.policy_hash) == ("agent-1", "sess-1", "test", "abc123")
            assert not any(v in str(e.to_json()) for v in VALUES)
        assert vault.count() == (3 if tokenization == "vault-deterministic" else 0)


def test_apply_redact_and_passthrough(keyring):
    pol = policy("reversible-aead", {"NAME": "passthrough", "SSN": "redact"})
    out, events = TokenApplier(pol, keyring, None).apply(TEXT, SPANS, Scope())
    assert out.startswith("Call Jane Doe at MSK1.PHONE.")
    assert out.endswith(", SSN [REDACTED:SSN].")
    kinds = [(e.kind, e.entity_kind) for e in events]
    assert kinds == [(DETECTION, "NAME"), (DETECTION, "PHONE"), (REDACTION_APPLIED, "PHONE"),
                     (DETECTION, "SSN"), (REDACTION_APPLIED, "SSN")]
    assert events[0].detail["action"] == "passthrough"
    assert events[-1].token == "[REDACTED:SSN]"


@pytest.mark.parametrize("spans", [
    [Span(5, 13, "NAME", "ner", "ner", 0.9), Span(10, 20, "PHONE", "regex", "p", 0.9)],  # overlap
    [Span(17, 29, "PHONE", "regex", "p", 0.9), Span(5, 13, "NAME", "ner", "ner", 0.9)],  # unsorted
    [Span(5, 5, "NAME", "ner", "ner", 0.9)],  # empty
    [Span(40, 60, "NAME", "ner", "ner", 0.9)],  # out of range
])
def test_apply_rejects_bad_spans(keyring, spans):
    with pytest.raises(ValueError):
        TokenApplier(policy("reversible-aead"), keyring, None).apply(TEXT, spans, Scope())


def test_apply_without_key_fails_closed():
    with pytest.raises(MissingKey):
        TokenApplier(policy("reversible-aead"), Keyring.from_env({}), None).apply(TEXT, SPANS, Scope())


def test_vault_tokenization_requires_a_vault(keyring):
    with pytest.raises(ValueError):
        TokenApplier(policy("vault-deterministic"), keyring, None)


def test_synthetic_events_do_not_record_the_surrogate(keyring):
    out, events = TokenApplier(policy("synthetic"), keyring, None).apply(TEXT, SPANS, Scope())
    assert not any(v in out for v in VALUES) and not TOKEN_RE.search(out)
    assert [e.token for e in events if e.kind == REDACTION_APPLIED] == [
        "[SYNTHETIC:NAME]", "[SYNTHETIC:PHONE]", "[SYNTHETIC:SSN]"]


def test_digits_of_any_script_and_invisible_characters_give_one_token_form() -> None:
    from masker.tokens.normalize import normalize

    plain = normalize("PHONE", "415-555-0142")
    assert normalize("PHONE", "٤١٥-٥٥٥-٠١٤٢") == plain  # Arabic-Indic digits
    assert normalize("PHONE", "４１５-５５５-０１４２") == plain  # fullwidth
    assert normalize("SSN", "123-45\u200b-6789") == normalize("SSN", "123-45-6789")  # zero-width space
    assert normalize("NAME", "Ma\u00adria Lopez") == normalize("NAME", "maria lopez")  # soft hyphen
    assert normalize("PHONE", "415-555-0142") != normalize("PHONE", "415-555-0143")
