"""The people-facing CLI: detect, mask, rehydrate, selfcheck."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from masker.cli import main
from masker.policy.load import default_policy_path

TEXT = "Call 415-555-0142 about SSN 123-45-6789."


@pytest.fixture
def regex_policy(tmp_path: Path) -> Path:
    path = tmp_path / "regex-only.yaml"
    path.write_text(default_policy_path().read_text().replace("passes: [regex, ner]", "passes: [regex]"))
    return path


def run(args: list[str], stdin: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(
        [sys.executable, "-m", "masker.cli", *args], input=stdin, capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def test_detect_output_shape_and_show_values(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": TEXT}) + "\n")
    assert main(["detect", str(src), "--json", "--no-ner"]) == 0
    line = capsys.readouterr().out.strip()
    assert "415-555-0142" not in line
    spans = json.loads(line)["spans"]
    assert {s["kind"] for s in spans} == {"PHONE", "SSN"}
    assert set(spans[0]) == {"start", "end", "kind", "pass", "detector", "confidence"}
    assert TEXT[spans[0]["start"] : spans[0]["end"]] == "415-555-0142"
    assert main(["detect", str(src), "--json", "--no-ner", "--show-values"]) == 0
    assert "415-555-0142" in capsys.readouterr().out


def test_detect_rejects_bad_jsonl_clearly(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("{not json\n")
    assert main(["detect", str(src), "--json", "--no-ner"]) == 1
    assert "line 1" in capsys.readouterr().err


def test_mask_then_rehydrate_round_trip(tmp_path: Path, regex_policy: Path) -> None:
    common = ["--policy", str(regex_policy), "--data-dir", str(tmp_path / "data"), "--session", "s1"]
    masked = run(["mask", "-", *common], TEXT + "\n", tmp_path)
    assert masked.returncode == 0, masked.stderr
    assert "415-555-0142" not in masked.stdout and "MSKV1.PHONE.K_HEALTHCARE." in masked.stdout
    assert "DEV-ONLY" in masked.stderr
    restored = run(["rehydrate", "-", *common], masked.stdout, tmp_path)
    assert restored.stdout.strip() == TEXT
    other = run(["rehydrate", "-", *common[:-1], "s2"], masked.stdout, tmp_path)
    assert "[REDACTED:PHONE]" in other.stdout and "415-555-0142" not in other.stdout


def test_unreadable_input_and_bad_policy_are_clear_errors(tmp_path: Path, regex_policy: Path) -> None:
    missing = run(["mask", str(tmp_path / "nope.txt"), "--policy", str(regex_policy), "--data-dir", str(tmp_path / "d")], "", tmp_path)
    assert missing.returncode == 1 and "nope.txt" in missing.stderr and "Traceback" not in missing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    res = run(["mask", "-", "--policy", str(bad), "--data-dir", str(tmp_path / "d")], TEXT, tmp_path)
    assert res.returncode == 1 and "missing_key" in res.stderr and "Traceback" not in res.stderr


def test_selfcheck(tmp_path: Path, regex_policy: Path) -> None:
    res = run(["selfcheck", "--policy", str(regex_policy), "--data-dir", str(tmp_path / "data")], "", tmp_path)
    assert res.returncode == 0, res.stderr
    assert "selfcheck ok" in res.stdout and "chain ok" in res.stdout


def test_detect_reads_plain_and_jsonl_lines_alike(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "mixed.txt"
    src.write_text(TEXT + "\n" + json.dumps({"text": TEXT, "id": 7}) + "\n{not json but text 415-555-0142\n")
    assert main(["detect", str(src), "--no-ner"]) == 0
    rows = [json.loads(line)["spans"] for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == rows[1] and {s["kind"] for s in rows[0]} == {"PHONE", "SSN"}
    assert [s["kind"] for s in rows[2]] == ["PHONE"]


def test_vault_drop_erases_and_is_journaled(tmp_path: Path, regex_policy: Path) -> None:
    data = tmp_path / "data"
    common = ["--policy", str(regex_policy), "--data-dir", str(data), "--session", "s1"]
    masked = run(["mask", "-", *common], TEXT + "\n", tmp_path)
    dropped = run(["vault", "drop", "--session", "s1", "--data-dir", str(data)], "", tmp_path)
    assert dropped.returncode == 0, dropped.stderr
    assert "dropped 2 vault rows" in dropped.stdout
    restored = run(["rehydrate", "-", *common], masked.stdout, tmp_path)
    assert "415-555-0142" not in restored.stdout and "[REDACTED:PHONE]" in restored.stdout
    journal = "".join(p.read_text() for p in (data / "journal").glob("*.jsonl"))
    assert '"kind":"vault_dropped"' in journal.replace(" ", "")
    verify = run(["audit", "verify", "--data-dir", str(data), "--fingerprint", _dev_fingerprint(data)], "", tmp_path)
    assert verify.returncode == 0 and "chain ok" in verify.stdout


def _dev_fingerprint(data: Path) -> str:
    """The pin of the data dir's dev signing key (audit verify trusts only a pinned key)."""
    from nacl.signing import SigningKey

    from masker.audit.keys import decode_key, fingerprint
    from masker.runtime import read_env_file

    seed = read_env_file(data / "dev-keys.env")["MASKER_SIGNING_KEY"]
    return fingerprint(SigningKey(decode_key(seed)).verify_key)


def test_audit_prune_keeps_a_verifiable_journal(tmp_path: Path, regex_policy: Path) -> None:
    data = tmp_path / "data"
    run(["mask", "-", "--policy", str(regex_policy), "--data-dir", str(data)], TEXT + "\n", tmp_path)
    pruned = run(["audit", "prune", "--policy", str(regex_policy), "--data-dir", str(data)], "", tmp_path)
    assert pruned.returncode == 0, pruned.stderr
    assert "older than 2555 days" in pruned.stdout  # the policy's audit.retention_days
    verify = run(["audit", "verify", "--data-dir", str(data), "--fingerprint", _dev_fingerprint(data)], "", tmp_path)
    assert verify.returncode == 0 and "chain ok" in verify.stdout


def test_audit_prune_dry_run_deletes_nothing_and_old_files_are_listed(tmp_path: Path, regex_policy: Path) -> None:
    data = tmp_path / "data"
    run(["mask", "-", "--policy", str(regex_policy), "--data-dir", str(data)], TEXT + "\n", tmp_path)
    old = data / "journal" / "events-2001-01-01.jsonl"  # an empty day file from long ago, listed first
    old.write_text("")
    dry = run(["audit", "prune", "--days", "30", "--dry-run", "--data-dir", str(data)], "", tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "would prune 1 journal day file(s)" in dry.stdout and old.name in dry.stdout and old.exists()


def test_a_pubkey_path_that_does_not_exist_says_so(tmp_path: Path) -> None:
    from masker.audit.keys import KeyConfigError, load_verify_key

    with pytest.raises(KeyConfigError, match="no such file"):
        load_verify_key(str(tmp_path / "missing.pem"))


def test_detect_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    cmd = f"yes 'call me later' | head -n 20000 | {sys.executable} -m masker.cli detect --no-ner - | head -n 1"
    res = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert res.returncode == 0 and len(res.stdout.splitlines()) == 1
    assert "BrokenPipeError" not in res.stderr and "Traceback" not in res.stderr and "Exception ignored" not in res.stderr


def test_missing_policy_is_file_not_found_and_policy_issues_one_per_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    for cmd in (["detect", "-", "--no-ner"], ["mask", "-"]):
        res = run([*cmd, "--policy", str(missing), "--data-dir", str(tmp_path / "d")], TEXT, tmp_path)
        assert res.returncode == 1 and f"policy file not found: {missing}" in res.stderr, res.stderr
        assert "yaml_error" not in res.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: 1\nbogus: 2\n")
    res = run(["mask", "-", "--policy", str(bad), "--data-dir", str(tmp_path / "d")], TEXT, tmp_path)
    assert f"masker: error: {bad}:3: unknown_key: bogus: unknown key" in res.stderr.splitlines()


def test_audit_commands_say_where_the_missing_key_comes_from(tmp_path: Path) -> None:
    res = run(["audit", "verify", "--data-dir", str(tmp_path / "elsewhere")], "", tmp_path)
    assert res.returncode != 0
    hint = [line for line in res.stderr.splitlines() if line.startswith("hint:")]
    assert len(hint) == 1 and "MASKER_AUDIT_KEY" in hint[0] and "--data-dir" in hint[0]
    assert f"{tmp_path / 'elsewhere' / 'dev-keys.env'}" in hint[0]
    env_prod = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MASKER_ENV": "production"}
    prod = subprocess.run([sys.executable, "-m", "masker.cli", "report", "s1", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, env=env_prod, timeout=120)
    assert "hint: MASKER_AUDIT_KEY and MASKER_SIGNING_KEY must be set" in prod.stderr and "dev-keys" not in prod.stderr


def test_key_hint_and_needed_keys() -> None:
    import argparse

    from masker.cli import key_hint, needed_keys

    assert needed_keys(argparse.Namespace(audit_command="verify")) == ("MASKER_AUDIT_KEY",)
    assert needed_keys(argparse.Namespace(words=["verify", "r.json"], session=None, journal=None)) == ()
    assert needed_keys(argparse.Namespace(words=["verify", "r.json"], session=None, journal="j")) == ("MASKER_AUDIT_KEY",)
    assert needed_keys(argparse.Namespace(words=["s1"], session=None)) == ("MASKER_AUDIT_KEY", "MASKER_SIGNING_KEY")
    assert needed_keys(argparse.Namespace(policy_command="validate")) == ()
    assert key_hint(("MASKER_AUDIT_KEY",), Path("/d"), {"MASKER_AUDIT_KEY": "x"}) is None


def _vault_rows(tmp_path: Path, regex_policy: Path) -> Path:
    data = tmp_path / "data"
    for session in ("s1", "s2"):
        res = run(["mask", "-", "--policy", str(regex_policy), "--data-dir", str(data), "--session", session],
                  TEXT + "\n", tmp_path)
        assert res.returncode == 0, res.stderr
    return data


def test_vault_dry_run_says_what_would_go_and_erases_nothing(tmp_path: Path, regex_policy: Path) -> None:
    data = _vault_rows(tmp_path, regex_policy)
    before = (data / "journal").glob("*.jsonl")
    journal_size = sum(p.stat().st_size for p in before)
    drop = run(["vault", "drop", "--all", "--dry-run", "--data-dir", str(data)], "", tmp_path)
    assert drop.returncode == 0, drop.stderr
    assert "would drop 4 vault rows (2 sessions of 1 agents): every row" in drop.stdout and "nothing was erased" in drop.stdout
    one = run(["vault", "drop", "--session", "s1", "--dry-run", "--data-dir", str(data)], "", tmp_path)
    assert "would drop 2 vault rows (1 sessions of 1 agents)" in one.stdout
    purge = run(["vault", "purge", "--days", "0", "--dry-run", "--data-dir", str(data)], "", tmp_path)
    assert purge.returncode == 0 and "would purge 4 vault rows" in purge.stdout
    assert sum(p.stat().st_size for p in (data / "journal").glob("*.jsonl")) == journal_size  # no event either
    restored = run(["rehydrate", "-", "--policy", str(regex_policy), "--data-dir", str(data), "--session", "s1"],
                   run(["mask", "-", "--policy", str(regex_policy), "--data-dir", str(data), "--session", "s1"],
                       TEXT + "\n", tmp_path).stdout, tmp_path)
    assert restored.stdout.strip() == TEXT


def test_vault_asks_on_a_terminal_unless_yes(tmp_path: Path, regex_policy: Path, monkeypatch, capsys) -> None:
    import io

    from masker.tokens import cli as tokens_cli

    data = _vault_rows(tmp_path, regex_policy)
    monkeypatch.setattr(tokens_cli, "_interactive", lambda: True)
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    assert main(["vault", "drop", "--all", "--data-dir", str(data)]) == 1
    out = capsys.readouterr()
    assert "Drop 4 vault rows (2 sessions of 1 agents)" in out.err and "nothing was erased" in out.err
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    assert main(["vault", "purge", "--days", "0", "--data-dir", str(data)]) == 1
    assert "Purge 4 vault rows" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    assert main(["vault", "purge", "--days", "0", "--data-dir", str(data)]) == 0
    assert "purged 4 vault rows" in capsys.readouterr().out
    _vault_rows(tmp_path, regex_policy)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # --yes: nothing is read
    assert main(["vault", "drop", "--all", "--yes", "--data-dir", str(data)]) == 0
    assert "dropped 4 vault rows" in capsys.readouterr().out
