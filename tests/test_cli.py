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
    verify = run(["audit", "verify", "--data-dir", str(data)], "", tmp_path)
    assert verify.returncode == 0 and "chain ok" in verify.stdout


def test_audit_prune_keeps_a_verifiable_journal(tmp_path: Path, regex_policy: Path) -> None:
    data = tmp_path / "data"
    run(["mask", "-", "--policy", str(regex_policy), "--data-dir", str(data)], TEXT + "\n", tmp_path)
    pruned = run(["audit", "prune", "--policy", str(regex_policy), "--data-dir", str(data)], "", tmp_path)
    assert pruned.returncode == 0, pruned.stderr
    assert "older than 2555 days" in pruned.stdout  # the policy's audit.retention_days
    verify = run(["audit", "verify", "--data-dir", str(data)], "", tmp_path)
    assert verify.returncode == 0 and "chain ok" in verify.stdout
