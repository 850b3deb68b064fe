"""Starting Masker: keys (dev keys only outside production), policy, journal."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from masker.audit.verify import verify_journal
from masker.engine import TextField
from masker.policy.load import PolicyError, default_policy_path
from masker.runtime import DEV_KEYS_FILE, StartupError, open_runtime, read_env_file
from masker.scope import Scope

KEY = base64.b64encode(b"r" * 32).decode()
PROD_KEYS = {
    "MASKER_ENV": "production",
    "MASKER_KEY_K_HEALTHCARE": KEY,
    "MASKER_AUDIT_KEY": base64.b64encode(b"a" * 32).decode(),
    "MASKER_SIGNING_KEY": base64.b64encode(b"s" * 32).decode(),
}


@pytest.fixture
def regex_policy(tmp_path: Path) -> Path:
    text = default_policy_path().read_text()
    path = tmp_path / "regex-only.yaml"
    path.write_text(text.replace("passes: [regex, ner]", "passes: [regex]"))
    assert "passes: [regex]" in path.read_text()
    return path


def test_dev_keys_are_generated_once_marked_and_private(tmp_path: Path, regex_policy: Path) -> None:
    data = tmp_path / "data"
    rt = open_runtime(regex_policy, data, {})
    rt.close()
    keys_file = data / DEV_KEYS_FILE
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert "DEV-ONLY" in keys_file.read_text()
    first = read_env_file(keys_file)
    assert set(first) == {"MASKER_KEY_K_HEALTHCARE", "MASKER_AUDIT_KEY", "MASKER_SIGNING_KEY"}
    open_runtime(regex_policy, data, {}).close()
    assert read_env_file(keys_file) == first  # reused, not regenerated


def test_production_refuses_to_generate_keys(tmp_path: Path, regex_policy: Path) -> None:
    with pytest.raises(StartupError) as err:
        open_runtime(regex_policy, tmp_path / "data", {"MASKER_ENV": "production"})
    assert "MASKER_KEY_K_HEALTHCARE" in str(err.value)
    assert not (tmp_path / "data" / DEV_KEYS_FILE).exists()


def test_production_refuses_an_invalid_policy(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(default_policy_path().read_text().replace("tokenization: vault-deterministic", "tokenization: rot13"))
    with pytest.raises(PolicyError):
        open_runtime(bad, tmp_path / "data", PROD_KEYS)


def test_policy_with_ner_needs_a_model(tmp_path: Path) -> None:
    empty = tmp_path / "no-model"
    empty.mkdir()
    with pytest.raises(StartupError):
        open_runtime(default_policy_path(), tmp_path / "data", PROD_KEYS, model_dir=empty)


def test_runtime_masks_journals_and_the_chain_verifies(tmp_path: Path, regex_policy: Path) -> None:
    rt = open_runtime(regex_policy, tmp_path / "data", PROD_KEYS)
    scope = Scope("a", "s")
    [masked] = rt.engine.mask_texts([TextField("call 415-555-0142", "user", "m/0")], scope)
    assert "415-555-0142" not in masked
    assert rt.engine.rehydrate(masked, scope) == "call 415-555-0142"
    rt.close()
    result = verify_journal(tmp_path / "data" / "journal", rt.audit_key)
    assert result.ok and result.message == "chain ok"
    journal_text = "".join(p.read_text() for p in (tmp_path / "data" / "journal").glob("*.jsonl"))
    assert "policy_loaded" in journal_text and "415-555-0142" not in journal_text
    assert "5550142" not in journal_text
    assert os.environ.get("MASKER_ENV") != "production"  # the test did not leak into the process env


def test_rotation_is_journaled_and_old_tokens_still_rehydrate(tmp_path: Path, regex_policy: Path) -> None:
    scope = Scope("a", "s")
    aead_policy = tmp_path / "aead.yaml"
    aead_policy.write_text(regex_policy.read_text().replace("tokenization: vault-deterministic", "tokenization: reversible-aead"))
    rt = open_runtime(aead_policy, tmp_path / "data", PROD_KEYS)
    [masked] = rt.engine.mask_texts([TextField("call 415-555-0142", "user", "m/0")], scope)
    rt.close()
    new_key = base64.b64encode(b"n" * 32).decode()
    rotated = {**PROD_KEYS, "MASKER_KEY_K_HEALTHCARE": new_key, "MASKER_KEY_K_HEALTHCARE_OLD": KEY}
    rt = open_runtime(aead_policy, tmp_path / "data", rotated)
    assert rt.engine.rehydrate(masked, scope) == "call 415-555-0142"
    rt.close()
    journal = "".join(p.read_text() for p in (tmp_path / "data" / "journal").glob("*.jsonl"))
    assert journal.count('"key_rotated"') == 1
    assert KEY not in journal and new_key not in journal
