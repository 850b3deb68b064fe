"""Rehydration: restore in scope, fail closed to [REDACTED:KIND] everywhere else."""

from __future__ import annotations

import base64
import json
import os

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from masker.audit.events import REHYDRATION, REHYDRATION_FAILED
from masker.detect.spans import Span
from masker.policy.model import EntityRule, Policy
from masker.scope import Scope
from masker.tokens import aead
from masker.tokens.apply import TokenApplier
from masker.tokens.keys import Keyring
from masker.tokens.normalize import normalize
from masker.tokens.rehydrate import FOREIGN_KID, NO_VAULT, Rehydrator
from masker.tokens.scheme import TOKEN_RE
from masker.tokens.vault import DROPPED, FOREIGN_SCOPE, UNDECRYPTABLE, UNKNOWN_KID, UNKNOWN_TOKEN, Vault, mint

KID = "K_TEST"
KINDS = ("NAME", "PHONE", "EMAIL", "MRN", "DATE")
A = Scope("agent-a", "s1")


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def keyring(raw: bytes, old: bytes | None = None) -> Keyring:
    env = {f"MASKER_KEY_{KID}": b64(raw)}
    if old:
        env[f"MASKER_KEY_{KID}_OLD"] = b64(old)
    return Keyring.from_env(env)


def policy(tokenization: str, kid: str = KID, token_scope: str = "session") -> Policy:
    return Policy(name="test", version=1, description="", kid=kid, token_scope=token_scope,
                  tokenization=tokenization, passes=("regex",),
                  entities={k: EntityRule(k) for k in KINDS}, hash="h")


@pytest.fixture(scope="module")
def kr() -> Keyring:
    return keyring(os.urandom(32))


@pytest.fixture
def vault(tmp_path, kr):
    v = Vault(tmp_path / "vault.sqlite", kr)
    yield v
    v.close()


def mask(kr: Keyring, vault: Vault | None, tokenization: str, text: str, spans, scope=A,
         token_scope: str = "session") -> str:
    return TokenApplier(policy(tokenization, token_scope=token_scope), kr, vault).apply(text, spans, scope)[0]


TEXT = "Patient Jane Doe, phone 555-123-4567."
SPANS = [Span(8, 16, "NAME", "ner", "ner", 0.9), Span(24, 36, "PHONE", "regex", "phone", 0.99)]


@pytest.mark.parametrize("tokenization", ["vault-deterministic", "reversible-aead"])
def test_round_trip_and_events(kr, vault, tokenization):
    masked = mask(kr, vault, tokenization, TEXT, SPANS)
    out, events = Rehydrator(kr, vault, policy(tokenization)).rehydrate(masked, A)
    assert out == TEXT
    assert [(e.kind, e.entity_kind) for e in events] == [(REHYDRATION, "NAME"), (REHYDRATION, "PHONE")]
    tokens = TOKEN_RE.findall(masked)
    assert len(tokens) == 2
    for e in events:
        assert e.token in masked and e.agent == "agent-a" and e.session == "s1" and e.policy == "test"
        assert "Jane" not in json.dumps(e.to_json()) and "4567" not in json.dumps(e.to_json())


def test_json_escape(kr, vault):
    value = 'Zoë "Z" O\\Brien'
    masked = mask(kr, vault, "vault-deterministic", value, [Span(0, len(value), "NAME", "ner", "ner", 1)])
    out, _ = Rehydrator(kr, vault).rehydrate(json.dumps({"arg": masked})[1:-1], A, json_escape=True)
    assert json.loads("{" + out + "}") == {"arg": value}


def test_foreign_scope_vault_token_is_redacted(kr, vault):
    masked = mask(kr, vault, "vault-deterministic", TEXT, SPANS)
    out, events = Rehydrator(kr, vault).rehydrate(masked, Scope("agent-a", "s2"))
    assert out == "Patient [REDACTED:NAME], phone [REDACTED:PHONE]."
    assert [(e.kind, e.reason) for e in events] == [(REHYDRATION_FAILED, FOREIGN_SCOPE)] * 2


def test_session_scope_tokens_rehydrate_in_their_own_session_only(kr, vault):
    s2 = Scope("agent-a", "s2")
    masked1 = mask(kr, vault, "vault-deterministic", TEXT, SPANS, A)
    masked2 = mask(kr, vault, "vault-deterministic", TEXT, SPANS, s2)
    assert masked1 != masked2 and not set(TOKEN_RE.findall(masked1)) & set(TOKEN_RE.findall(masked2))
    rh = Rehydrator(kr, vault, policy("vault-deterministic"))
    assert rh.rehydrate(masked1, A)[0] == TEXT and rh.rehydrate(masked2, s2)[0] == TEXT
    out, events = rh.rehydrate(masked1, s2)
    assert out == "Patient [REDACTED:NAME], phone [REDACTED:PHONE]."
    assert {e.reason for e in events} == {FOREIGN_SCOPE}


def test_agent_scope_shares_tokens_but_rehydrates_per_session(kr, vault):
    s2, s3 = Scope("agent-a", "s2"), Scope("agent-a", "s3")
    masked = mask(kr, vault, "vault-deterministic", TEXT, SPANS, A, "agent")
    assert mask(kr, vault, "vault-deterministic", TEXT, SPANS, s2, "agent") == masked
    rh = Rehydrator(kr, vault, policy("vault-deterministic", token_scope="agent"))
    assert rh.rehydrate(masked, A)[0] == TEXT and rh.rehydrate(masked, s2)[0] == TEXT
    # a session that never minted the token does not restore it
    out, events = rh.rehydrate(masked, s3)
    assert "Jane" not in out and {e.reason for e in events} == {FOREIGN_SCOPE}
    # erasure stays per (agent, session): dropping s1 leaves s2's rows
    vault.drop(session="s1", agent="agent-a")
    assert {e.reason for e in rh.rehydrate(masked, A)[1]} == {DROPPED}
    assert rh.rehydrate(masked, s2)[0] == TEXT
    vault.drop(agent="agent-a")
    assert {e.reason for e in rh.rehydrate(masked, s2)[1]} == {DROPPED}


@pytest.mark.parametrize("token_scope", ["session", "agent"])
def test_rotation_keeps_scoped_tokens_rehydrating(tmp_path, token_scope):
    old, new = os.urandom(32), os.urandom(32)
    path = tmp_path / "v.sqlite"
    with Vault(path, keyring(old)) as v:
        masked = mask(keyring(old), v, "vault-deterministic", TEXT, SPANS, A, token_scope)
    rotated = keyring(new, old=old)
    with Vault(path, rotated) as v:
        rh = Rehydrator(rotated, v, policy("vault-deterministic", token_scope=token_scope))
        assert rh.rehydrate(masked, A)[0] == TEXT
        remasked = mask(rotated, v, "vault-deterministic", TEXT, SPANS, A, token_scope)
        assert remasked != masked and rh.rehydrate(remasked, A)[0] == TEXT  # new key, new tokens
        assert "Jane" not in rh.rehydrate(masked, Scope("agent-b", "s1"))[0]  # still scope-bound


def test_aead_tokens_are_not_scope_bound(kr):
    masked = mask(kr, None, "reversible-aead", TEXT, SPANS)
    assert Rehydrator(kr, None).rehydrate(masked, Scope("other", "x"))[0] == TEXT


def test_dropped_tokens_never_come_back(kr, vault):
    masked = mask(kr, vault, "vault-deterministic", TEXT, SPANS)
    vault.drop(session="s1")
    out, events = Rehydrator(kr, vault).rehydrate(masked, A)
    assert out == "Patient [REDACTED:NAME], phone [REDACTED:PHONE]."
    assert {e.reason for e in events} == {DROPPED}
    # masking the same values again in the same scope does not resurrect them
    assert mask(kr, vault, "vault-deterministic", TEXT, SPANS) == masked
    assert Rehydrator(kr, vault).rehydrate(masked, A)[0] == out


def test_unknown_and_unknown_kid_and_no_vault(kr, vault):
    unknown = mint(kr, "NAME", KID, "Never Stored", A)
    other_kid = Keyring.from_env({"MASKER_KEY_K_OTHER": b64(os.urandom(32))})
    foreign = mint(other_kid, "NAME", "K_OTHER", "Jane", A)
    aead_foreign = aead.seal(other_kid, "NAME", "K_OTHER", "Jane")
    text = f"a {unknown} b {foreign} c {aead_foreign}"
    out, events = Rehydrator(kr, vault).rehydrate(text, A)
    assert out == "a [REDACTED:NAME] b [REDACTED:NAME] c [REDACTED:NAME]"
    assert [e.reason for e in events] == [UNKNOWN_TOKEN, UNKNOWN_KID, UNKNOWN_KID]
    assert Rehydrator(kr, None).rehydrate(unknown, A)[1][0].reason == NO_VAULT


def test_policy_restricts_to_its_kid(kr):
    both = Keyring.from_env({f"MASKER_KEY_{KID}": b64(kr.current(KID)), "MASKER_KEY_K_B": b64(os.urandom(32))})
    token = aead.seal(both, "NAME", "K_B", "Jane")
    assert Rehydrator(both, None).rehydrate(token, A)[0] == "Jane"
    out, events = Rehydrator(both, None, policy("reversible-aead")).rehydrate(token, A)
    assert out == "[REDACTED:NAME]" and events[0].reason == FOREIGN_KID


def _tampered_variants(token: str) -> list[str]:
    scheme, kind, kid, body = token.split(".")
    variants = [f"{scheme}.PHONE.{kid}.{body}", f"{scheme}.{kind}.K_TESX.{body}"]
    for i, c in enumerate(body):
        for repl in {"A" if c != "A" else "B", "7" if c != "7" else "2"}:
            variants.append(f"{scheme}.{kind}.{kid}.{body[:i]}{repl}{body[i + 1:]}")
    return variants


def test_every_tampered_aead_token_fails_closed(kr):
    token = aead.seal(kr, "NAME", KID, "Jane Doe")
    both = Keyring.from_env({f"MASKER_KEY_{KID}": b64(kr.current(KID)), "MASKER_KEY_K_TESX": b64(kr.current(KID))})
    rh = Rehydrator(both, None)
    variants = _tampered_variants(token)
    assert len(variants) == 2 + 2 * len(token.split(".")[3])
    for bad in variants:
        out, events = rh.rehydrate(f"<{bad}>", A)
        kind = bad.split(".")[1]
        assert out == f"<[REDACTED:{kind}]>", bad
        assert events[0].kind == REHYDRATION_FAILED and events[0].reason == UNDECRYPTABLE


def test_rotation_old_key_still_rehydrates(tmp_path):
    old, new = os.urandom(32), os.urandom(32)
    with Vault(tmp_path / "v.sqlite", keyring(old)) as v:
        masked_v = mask(keyring(old), v, "vault-deterministic", TEXT, SPANS)
    masked_a = mask(keyring(old), None, "reversible-aead", TEXT, SPANS)
    rotated = keyring(new, old=old)
    with Vault(tmp_path / "v.sqlite", rotated) as v:
        rh = Rehydrator(rotated, v)
        assert rh.rehydrate(masked_v, A)[0] == TEXT
        assert rh.rehydrate(masked_a, A)[0] == TEXT
        assert mask(rotated, None, "reversible-aead", TEXT, SPANS) != masked_a  # new tokens use the new key
    retired = keyring(new)
    with Vault(tmp_path / "v.sqlite", retired) as v:
        out, events = Rehydrator(retired, v).rehydrate(masked_v + masked_a, A)
        assert "Jane" not in out and {e.reason for e in events} == {UNDECRYPTABLE}


def test_letters_glued_to_an_aead_token_are_kept(kr):
    token = aead.seal(kr, "NAME", KID, "Jane")
    out, events = Rehydrator(kr, None).rehydrate(f"{token}S and {token}ABCDEFGH. {token}2{token}", A)
    assert out == "JaneS and JaneABCDEFGH. Jane2Jane"
    assert [e.token for e in events] == [token] * 4


# -- properties -----------------------------------------------------------------


@st.composite
def text_and_spans(draw):
    text = draw(st.text(min_size=1, max_size=60))
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=8)))
    spans = [
        Span(a, b, draw(st.sampled_from(KINDS)), "regex", "prop", 1.0)
        for a, b in zip(cuts[::2], cuts[1::2]) if a < b
    ]
    return text, spans


def _consistent_under_normalization(text: str, spans) -> bool:
    """Two different values of one kind that normalize alike share a vault token
    (by design): the vault then restores one spelling for both."""
    seen: dict[tuple[str, str], str] = {}
    for s in spans:
        value = text[s.start : s.end]
        if seen.setdefault((s.kind, normalize(s.kind, value)), value) != value:
            return False
    return True


@pytest.fixture(scope="module")
def prop_vault(tmp_path_factory, kr):
    v = Vault(tmp_path_factory.mktemp("prop") / "vault.sqlite", kr)
    yield v
    v.close()


@settings(max_examples=150, deadline=None)
@given(data=text_and_spans(), tokenization=st.sampled_from(["vault-deterministic", "reversible-aead"]))
def test_mask_then_rehydrate_is_identity(prop_vault, kr, data, tokenization):
    text, spans = data
    assume(not TOKEN_RE.search(text))
    assume(tokenization == "reversible-aead" or _consistent_under_normalization(text, spans))
    vault = prop_vault
    masked = mask(kr, vault, tokenization, text, spans)
    out, events = Rehydrator(kr, vault).rehydrate(masked, A)
    assert out == text
    assert [e.kind for e in events] == [REHYDRATION] * len(spans)
